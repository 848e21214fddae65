/**
 * Bencode as the ng protocol uses it: byte strings are read as UTF-8 text (ng keys, values and SDP
 * are text), integers must be safe JS integers, and dictionary key order is not enforced on input
 * because rtpengine does not enforce it either.
 */
import { NgProtocolError } from '../errors.js';

export type BencodeValue = string | number | BencodeValue[] | BencodeDict;
export type BencodeDict = { [key: string]: BencodeValue };

/** What `encode` accepts; `undefined` dictionary values are skipped so optional reply keys can stay unset. */
export type Encodable = string | number | Buffer | readonly Encodable[] | { readonly [key: string]: Encodable | undefined };

export interface DecodeLimits {
  /** Deepest list/dictionary nesting allowed; the top-level dictionary is depth 1. */
  maxDepth: number;
  /** Values (strings, integers, lists, dictionaries) allowed in one message. */
  maxElements: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = { maxDepth: 32, maxElements: 10_000 };

const CH_I = 0x69;
const CH_L = 0x6c;
const CH_D = 0x64;
const CH_E = 0x65;
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/**
 * Sets an own property even for `__proto__`, which plain assignment would treat as the prototype;
 * shared with the JSON path so both formats build dictionaries the same way.
 */
export function setKey(dict: BencodeDict, key: string, value: BencodeValue): void {
  if (key === '__proto__') Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
  else dict[key] = value;
}

/** A value cut short: on a stream transport, more bytes may complete it. */
class TruncatedBencode extends NgProtocolError {}

/**
 * Decodes one bencode value at the start of `buf` and says how many bytes it took; undefined when the
 * bytes so far are a valid beginning of a value (a stream transport waits for more).
 */
export function decodePrefix(buf: Buffer, limits: Partial<DecodeLimits> = {}): { value: BencodeValue; length: number } | undefined {
  const decoder = new Decoder(buf, { ...DEFAULT_DECODE_LIMITS, ...limits });
  try {
    return { value: decoder.value(1), length: decoder.pos };
  } catch (err) {
    if (err instanceof TruncatedBencode) return undefined;
    throw err;
  }
}

/** Decodes exactly one bencode value spanning all of `buf`. */
export function decode(buf: Buffer, limits: Partial<DecodeLimits> = {}): BencodeValue {
  const decoder = new Decoder(buf, { ...DEFAULT_DECODE_LIMITS, ...limits });
  const value = decoder.value(1);
  if (decoder.pos !== buf.length) throw malformed(`trailing garbage after bencode value at byte ${decoder.pos}`);
  return value;
}

function malformed(message: string): NgProtocolError {
  return new NgProtocolError('NG_MALFORMED', message);
}

class Decoder {
  pos = 0;
  private elements = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly limits: DecodeLimits,
  ) {}

  value(depth: number): BencodeValue {
    if (++this.elements > this.limits.maxElements) {
      throw new NgProtocolError('NG_TOO_LARGE', `bencode message has more than ${this.limits.maxElements} elements`);
    }
    const c = this.peek();
    if (c === CH_I) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.string();
    if (c === CH_L || c === CH_D) {
      if (depth > this.limits.maxDepth) throw new NgProtocolError('NG_TOO_LARGE', `bencode nesting deeper than ${this.limits.maxDepth}`);
      return c === CH_L ? this.list(depth) : this.dict(depth);
    }
    throw malformed(`invalid bencode at byte ${this.pos}: unexpected '${String.fromCharCode(c)}'`);
  }

  private peek(): number {
    const c = this.buf[this.pos];
    if (c === undefined) throw new TruncatedBencode('NG_MALFORMED', `truncated bencode at byte ${this.pos}`);
    return c;
  }

  /** Digits up to `end`, no sign; bencode forbids leading zeros except for zero itself. */
  private digits(end: number, what: string): number {
    const start = this.pos;
    let n = 0;
    while (true) {
      const c = this.peek();
      if (c === end) break;
      if (c < CH_0 || c > CH_9) throw malformed(`invalid ${what} at byte ${this.pos}: unexpected '${String.fromCharCode(c)}'`);
      n = n * 10 + (c - CH_0);
      this.pos++;
    }
    if (this.pos === start) throw malformed(`invalid ${what} at byte ${start}: no digits`);
    if (this.buf[start] === CH_0 && this.pos - start > 1) throw malformed(`invalid ${what} at byte ${start}: leading zero`);
    if (!Number.isSafeInteger(n)) throw malformed(`invalid ${what} at byte ${start}: out of range`);
    this.pos++; // the terminator
    return n;
  }

  private integer(): number {
    const start = this.pos++;
    const negative = this.peek() === CH_MINUS;
    if (negative) this.pos++;
    const n = this.digits(CH_E, 'integer');
    if (negative && n === 0) throw malformed(`invalid integer at byte ${start}: negative zero`);
    return negative ? -n : n;
  }

  private string(): string {
    const start = this.pos;
    const length = this.digits(CH_COLON, 'string length');
    if (length > this.buf.length - this.pos) {
      throw new TruncatedBencode('NG_MALFORMED', `truncated bencode at byte ${this.buf.length}: string at byte ${start} needs ${length} bytes, ${this.buf.length - this.pos} left`);
    }
    const s = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return s;
  }

  private list(depth: number): BencodeValue[] {
    this.pos++;
    const out: BencodeValue[] = [];
    while (this.peek() !== CH_E) out.push(this.value(depth + 1));
    this.pos++;
    return out;
  }

  private dict(depth: number): BencodeDict {
    this.pos++;
    const out: BencodeDict = {};
    while (this.peek() !== CH_E) {
      const c = this.peek();
      if (c < CH_0 || c > CH_9) throw malformed(`invalid bencode at byte ${this.pos}: dictionary key is not a string`);
      const key = this.value(depth + 1) as string;
      setKey(out, key, this.value(depth + 1));
    }
    this.pos++;
    return out;
  }
}

/** Encodes with dictionary keys sorted by their bytes, so equal values always give equal bytes. */
export function encode(value: Encodable): Buffer {
  const writer = new Writer();
  writer.value(value);
  return writer.finish();
}

/**
 * Text goes into one string, turned into bytes once at the end (a Buffer per token made a reply cost
 * hundreds of small allocations); only binary values, which have no string form, cut it into chunks.
 */
class Writer {
  private readonly chunks: Buffer[] = [];
  private text = '';

  value(value: Encodable): void {
    if (typeof value === 'string') {
      this.text += `${Buffer.byteLength(value)}:${value}`;
    } else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new NgProtocolError('NG_BAD_PARAM', `cannot bencode non-integer number ${value}`);
      this.text += `i${value}e`;
    } else if (Buffer.isBuffer(value)) {
      this.text += `${value.length}:`;
      this.cut();
      this.chunks.push(value);
    } else if (Array.isArray(value)) {
      this.text += 'l';
      for (const item of value as readonly Encodable[]) this.value(item);
      this.text += 'e';
    } else if (isPlainObject(value)) {
      const keys = sortedKeys(value);
      this.text += 'd';
      for (const key of keys) {
        this.text += `${Buffer.byteLength(key)}:${key}`;
        this.value(value[key]!);
      }
      this.text += 'e';
    } else {
      throw new NgProtocolError('NG_BAD_PARAM', `cannot bencode a value of type ${value === null ? 'null' : typeof value}`);
    }
  }

  finish(): Buffer {
    this.cut();
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  private cut(): void {
    if (this.text === '') return;
    this.chunks.push(Buffer.from(this.text));
    this.text = '';
  }
}

/**
 * The keys with a defined value, in byte order: an insertion sort in place, since a reply's dictionaries
 * have a handful of keys each and Array.prototype.sort allocates working storage on every call.
 */
function sortedKeys(dict: { readonly [key: string]: Encodable | undefined }): string[] {
  const keys: string[] = [];
  for (const key in dict) {
    if (dict[key] === undefined) continue;
    let i = keys.length;
    keys.push(key);
    for (; i > 0 && byBytes(keys[i - 1]!, key) > 0; i--) keys[i] = keys[i - 1]!;
    keys[i] = key;
  }
  return keys;
}

const ASCII = /^[\x00-\x7f]*$/;

/** Byte order of the UTF-8 keys; for ASCII keys that is plain string order. */
function byBytes(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function isPlainObject(value: unknown): value is { readonly [key: string]: Encodable | undefined } {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
