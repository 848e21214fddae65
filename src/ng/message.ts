/** Framing of one ng datagram: `<cookie> <dictionary>`, the dictionary in bencode or JSON. */
import { NgProtocolError } from '../errors.js';
import { DEFAULT_DECODE_LIMITS, decode, encode, setKey, type BencodeDict, type BencodeValue, type DecodeLimits, type Encodable } from './bencode.js';

export type NgDict = BencodeDict;
export type NgFormat = 'bencode' | 'json';

export interface NgMessage {
  cookie: string;
  dict: NgDict;
  /** Replies go back in the format the request came in. */
  format: NgFormat;
}

export type NgReplyBody = { readonly [key: string]: Encodable | undefined };

export const MAX_COOKIE_LENGTH = 256;
const SPACE = 0x20;

/**
 * Parses a request datagram; every failure is an NgProtocolError (NG_MALFORMED or NG_TOO_LARGE).
 * Byte offsets in bencode errors count from the start of the dictionary, not of the datagram.
 */
export function parseNgMessage(buf: Buffer, limits: Partial<DecodeLimits> = {}): NgMessage {
  if (buf.length === 0) throw malformed('empty message');
  const space = buf.indexOf(SPACE);
  if (space <= 0) throw malformed('no cookie: message must start with "<cookie> "');
  if (space > MAX_COOKIE_LENGTH) throw malformed(`cookie longer than ${MAX_COOKIE_LENGTH} bytes`);
  const cookie = buf.toString('latin1', 0, space);
  if (!isPrintable(cookie)) throw malformed('cookie contains non-printable bytes');

  return { cookie, ...parseNgBody(buf.subarray(space + 1), limits) };
}

/** A dictionary without a cookie (HTTP `/ng-plain`, WebSocket `ng-plain.rtpengine.com`), bencode or JSON. */
export function parseNgBody(body: Buffer, limits: Partial<DecodeLimits> = {}): { dict: NgDict; format: NgFormat } {
  if (body.length === 0) throw malformed('empty message body');
  const json = body[0] === 0x7b /* { */ || body[0] === 0x5b; /* [ */
  const value = json ? decodeJson(body, { ...DEFAULT_DECODE_LIMITS, ...limits }) : decode(body, limits);
  if (!isDict(value)) throw malformed('message is not a dictionary');
  return { dict: value, format: json ? 'json' : 'bencode' };
}

/** A reply body in `format`, without a cookie. */
export function encodeNgBody(reply: NgReplyBody, format: NgFormat): Buffer {
  return format === 'json' ? Buffer.from(JSON.stringify(reply, bufferAsText)) : encode(reply);
}

/** `<cookie> <reply>` in the request's format. */
export function encodeNgReply(cookie: string, reply: NgReplyBody, format: NgFormat): Buffer {
  return Buffer.concat([Buffer.from(`${cookie} `), encodeNgBody(reply, format)]);
}

/**
 * The cookie of a datagram whose body could not be parsed, so the error reply still matches the
 * request and the proxy stops retransmitting; undefined if there is no plausible cookie.
 */
export function salvageCookie(buf: Buffer): string | undefined {
  const space = buf.subarray(0, MAX_COOKIE_LENGTH + 1).indexOf(SPACE);
  if (space <= 0) return undefined;
  const cookie = buf.toString('latin1', 0, space);
  return isPrintable(cookie) ? cookie : undefined;
}

function malformed(message: string): NgProtocolError {
  return new NgProtocolError('NG_MALFORMED', message);
}

function isPrintable(s: string): boolean {
  return /^[\x21-\x7e]+$/.test(s);
}

function isDict(v: BencodeValue): v is NgDict {
  return typeof v === 'object' && !Array.isArray(v);
}

function bufferAsText(this: unknown, key: string, value: unknown): unknown {
  // `value` has already been through Buffer#toJSON; the holder still has the Buffer itself.
  const raw = (this as Record<string, unknown>)[key];
  return Buffer.isBuffer(raw) ? raw.toString('utf8') : value;
}

/** JSON bodies are mapped onto the bencode value model so the rest of the adapter sees one shape. */
function decodeJson(body: Buffer, limits: DecodeLimits): BencodeValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw malformed(`invalid JSON: ${(err as Error).message}`);
  }
  let elements = 0;
  const convert = (v: unknown, depth: number): BencodeValue => {
    if (++elements > limits.maxElements) throw new NgProtocolError('NG_TOO_LARGE', `JSON message has more than ${limits.maxElements} elements`);
    if (typeof v === 'string') return v;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw malformed(`JSON number ${v} is not an integer`);
      return v;
    }
    // bencode has no booleans; 1/0 is what a bencode client would send for a yes/no value.
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v === null) throw malformed('JSON null is not allowed');
    if (depth > limits.maxDepth) throw new NgProtocolError('NG_TOO_LARGE', `JSON nesting deeper than ${limits.maxDepth}`);
    if (Array.isArray(v)) return v.map((item) => convert(item, depth + 1));
    const out: NgDict = {};
    for (const [k, item] of Object.entries(v as object)) setKey(out, k, convert(item, depth + 1));
    return out;
  };
  return convert(parsed, 1);
}
