/**
 * Turns ng request dictionaries into the typed requests of src/call/requests.ts, with rtpengine's
 * leniency (spaces, hyphens and underscores are interchangeable in names; unknown keys and flags are
 * ignored; options may also arrive inside `flags` or the daemon-parsed `rtpp_flags` string) but
 * strict about types: a wrong type is an NG_BAD_PARAM error that names the key.
 */
import { ENDPOINT_LEARNING, type AddressFamily, type EndpointLearning } from '../shared/vocabulary.js';
import { isIP } from 'node:net';
import type {
  AnswerRequest,
  CodecOptions,
  DeleteRequest,
  DtmfBlockRequest,
  PlayDtmfRequest,
  DtlsMode,
  IceMode,
  OfferRequest,
  OsrtpOptions,
  QueryRequest,
  ReplaceFlag,
  RtcpMuxFlag,
  SdesOptions,
  SignalFlags,
  SignalRequest,
} from '../api/requests.js';
import { NgProtocolError } from '../errors.js';
import { compact } from '../util/compact.js';
import { parseCodecSpec } from '../codecs/selection.js';
import { FINGERPRINT_HASHES } from '../dtls/identity.js';
import { suiteByFlag } from '../srtp/suites.js';
import { setKey, type BencodeValue } from './bencode.js';
import type { NgDict } from './message.js';
import { digitEvent } from '../dtmf/rfc4733.js';

export type { NgDict } from './message.js';

export interface ListRequest {
  limit: number;
}

const MAX_ID_LENGTH = 1024;
const MAX_SDP_BYTES = 64 * 1024;
const DEFAULT_LIST_LIMIT = 32;

const ICE_MODES: readonly IceMode[] = ['remove', 'force', 'default', 'force-relay', 'optional'];
const RTCP_MUX_FLAGS: readonly RtcpMuxFlag[] = ['offer', 'require', 'demux', 'accept', 'reject'];
const REPLACE_FLAGS: readonly ReplaceFlag[] = [
  'origin',
  'session-connection',
  'sdp-version',
  'force-increment-sdp-ver',
  'username',
  'session-name',
  'origin-full',
  'zero-address',
];
const TRANSPORT_PROTOCOLS = ['RTP/AVP', 'RTP/AVPF', 'RTP/SAVP', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF', 'accept'];

// ---------------------------------------------------------------------------------------------
// Public entry points

export function commandName(dict: NgDict): string {
  const found = new Keys(dict).get('command');
  if (!found) throw missing('command');
  if (typeof found.value !== 'string') throw bad(found.name, 'must be a string');
  return found.value;
}

/** The request's `supports` list names `load limit`: it takes `result: load limit` instead of an error. */
export function supportsLoadLimit(dict: NgDict): boolean {
  const supports = dict.supports;
  if (supports === undefined) return false;
  try {
    return stringList('supports', supports).some((s) => normaliseName(s) === 'load-limit');
  } catch {
    return false;
  }
}

export function parseOffer(dict: NgDict): OfferRequest {
  return parseSignal(dict, false);
}

export function parseAnswer(dict: NgDict): AnswerRequest {
  return parseSignal(dict, true) as AnswerRequest;
}

export function parseDelete(dict: NgDict): DeleteRequest {
  const keys = new Keys(dict);
  const callId = requiredId(keys, 'call-id');
  const fromTag = optionalId(keys, 'from-tag');
  const o = collect<DeleteOptions>(keys, DELETE_GRAMMAR, {});
  // rtpengine only narrows a delete to the to-tag when the `to-tag` flag asks for it.
  const toTag = o.toTagFlag ? optionalId(keys, 'to-tag') : undefined;
  return compact({ callId, fromTag, toTag, viaBranch: o.viaBranch, deleteDelay: o.deleteDelay, fatal: o.fatal, fast: o.fast });
}

const DTMF_SECURITY = ['drop', 'silence', 'tone', 'zero', 'DTMF', 'random', 'off'] as const;

/** `block DTMF` / `unblock DTMF`, with rtpengine's `DTMF-security` modes and their `digit`, `volume` (-10 dB) and `frequency`/`frequencies` (400 Hz). */
export function parseDtmfBlock(dict: NgDict): DtmfBlockRequest {
  const keys = new Keys(dict);
  const security = keys.get('dtmf-security');
  const mode = security && DTMF_SECURITY.find((m) => typeof security.value === 'string' && m.toLowerCase() === security.value.toLowerCase());
  if (security && !mode) throw bad(security.name, `must be one of ${DTMF_SECURITY.join(', ')}`);
  const code = keys.get('digit') ?? keys.get('code');
  const frequency = keys.get('frequency') ?? keys.get('frequencies');
  return compact({
    callId: requiredId(keys, 'call-id'),
    fromTag: optionalId(keys, 'from-tag'),
    mode,
    digit: code && keyEvent(code.name, code.value),
    volume: keys.get('volume') && Math.min(63, Math.abs(bounded(keys, 'volume', -10, -63, 63))),
    frequencies: frequency && frequencyList(frequency.name, frequency.value),
  });
}

/** A DTMF key as `code`/`digit` give it: 0-9, *, #, A-D, or an event number 0-15. */
function keyEvent(name: string, value: BencodeValue): number {
  const event = typeof value === 'number' ? value : typeof value === 'string' ? digitEvent(value) : -1;
  if (!Number.isInteger(event) || event < 0 || event > 15) throw bad(name, 'must be a DTMF key (0-9, *, #, A-D) or an event number 0-15');
  return event;
}

/** Tone frequencies as a list, a comma-separated string or one number; each 20-3999 Hz, 32 at most. */
function frequencyList(name: string, value: BencodeValue): number[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [value];
  if (items.length === 0 || items.length > MAX_FREQUENCIES) throw bad(name, `must list 1 to ${MAX_FREQUENCIES} frequencies`);
  return items.map((item) => integerIn(name, item, 20, 3999));
}

const MAX_FREQUENCIES = 32;

function integerIn(name: string, value: BencodeValue | undefined, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,6}\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw bad(name, `must be an integer from ${min} to ${max}`);
  return n;
}

/** `play DTMF`, with rtpengine's defaults and bounds: 250 ms (100-5000), -8 dB, 100 ms pause (100-5000). */
export function parsePlayDtmf(dict: NgDict): PlayDtmfRequest {
  const keys = new Keys(dict);
  const code = keys.get('code') ?? keys.get('digit');
  const event = keyEvent(code?.name ?? 'code', code?.value ?? '');
  const flags = keys.get('flags');
  const all = flags !== undefined && stringList(flags.name, flags.value, /\s+/).some((f) => f.toLowerCase() === 'all');
  const fromTag = optionalId(keys, 'from-tag');
  if (fromTag === undefined && !all) throw missing('from-tag');
  return compact({
    callId: requiredId(keys, 'call-id'),
    fromTag,
    all: all || undefined,
    event,
    durationMs: bounded(keys, 'duration', 250, 100, 5000),
    // rtpengine takes the level as negative dB and reads a positive one as negative too.
    volume: Math.min(63, Math.abs(bounded(keys, 'volume', -8, -63, 63))),
    pauseMs: bounded(keys, 'pause', 100, 100, 5000),
  });
}

/** A packet time in whole milliseconds; beyond 1-300 ms no codec packs audio (RFC 3551 suggests at most 200). */
function packetTime(name: string, value: BencodeValue): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 300) throw bad(name, 'must be a packet time of 1 to 300 ms');
  return n;
}

/** An integer option, `fallback` when absent, held within [min, max] as rtpengine holds it. */
function bounded(keys: Keys, key: string, fallback: number, min: number, max: number): number {
  const found = keys.get(key);
  if (!found) return fallback;
  const n = typeof found.value === 'number' ? found.value : typeof found.value === 'string' && /^-?\d{1,9}$/.test(found.value) ? Number(found.value) : NaN;
  if (!Number.isInteger(n)) throw bad(found.name, 'must be an integer');
  return Math.max(min, Math.min(max, n));
}

export function parseQuery(dict: NgDict): QueryRequest {
  const keys = new Keys(dict);
  return compact({ callId: requiredId(keys, 'call-id'), fromTag: optionalId(keys, 'from-tag'), toTag: optionalId(keys, 'to-tag') });
}

export function parseList(dict: NgDict): ListRequest {
  const found = new Keys(dict).get('limit');
  if (!found) return { limit: DEFAULT_LIST_LIMIT };
  const limit = nonNegativeInteger(found.name, found.value);
  if (limit === 0) throw bad(found.name, 'must be greater than 0');
  return { limit };
}

// ---------------------------------------------------------------------------------------------
// Key lookup and scalar readers

function bad(name: string, what: string): NgProtocolError {
  return new NgProtocolError('NG_BAD_PARAM', `"${name}" ${what}`);
}

/** rtpengine's wording, so proxy logs read the same whichever relay answered. */
function missing(name: string): NgProtocolError {
  const text = name === 'command' ? 'Dictionary contains no key "command"' : name === 'sdp' ? 'No SDP body in message' : `No ${name} in message`;
  return new NgProtocolError('NG_MISSING_PARAM', text);
}

/** rtpengine treats space, hyphen and underscore in names as the same character. */
function normaliseName(name: string): string {
  // Most keys arrive already in the normal form: test before building a new string.
  return /[^a-z0-9-]/.test(name) ? name.toLowerCase().replace(/[ _]/g, '-') : name;
}

/** A dictionary indexed by normalised key, remembering how the client spelled each key for errors. */
class Keys implements Iterable<[string, { name: string; value: BencodeValue }]> {
  private readonly byName = new Map<string, { name: string; value: BencodeValue }>();

  constructor(dict: NgDict) {
    // With two spellings of one key (`received from` and `received-from`) the first one wins.
    for (const name in dict) {
      const key = normaliseName(name);
      if (!this.byName.has(key)) this.byName.set(key, { name, value: dict[name]! });
    }
  }

  get(key: string): { name: string; value: BencodeValue } | undefined {
    return this.byName.get(key);
  }

  [Symbol.iterator](): Iterator<[string, { name: string; value: BencodeValue }]> {
    return this.byName.entries();
  }
}

/** Call-IDs, tags, branches and labels: bencode clients sometimes send numeric ones as integers. */
function id(name: string, value: BencodeValue): string {
  const s = typeof value === 'number' ? String(value) : value;
  if (typeof s !== 'string') throw bad(name, 'must be a string');
  if (s.length > MAX_ID_LENGTH) throw bad(name, `is longer than ${MAX_ID_LENGTH} characters`);
  return s;
}

function requiredId(keys: Keys, key: string, allowEmpty = false): string {
  const found = keys.get(key);
  if (!found) throw missing(key);
  const s = id(found.name, found.value);
  if (s === '' && !allowEmpty) throw bad(found.name, 'must not be empty');
  return s;
}

/** Absent and empty are the same for optional identifiers. */
function optionalId(keys: Keys, key: string): string | undefined {
  const found = keys.get(key);
  return found ? id(found.name, found.value) || undefined : undefined;
}

function sdpBody(keys: Keys): string {
  const found = keys.get('sdp');
  if (!found) throw missing('sdp');
  if (typeof found.value !== 'string') throw bad(found.name, 'must be a string');
  if (found.value === '') throw bad(found.name, 'must not be empty');
  if (Buffer.byteLength(found.value) > MAX_SDP_BYTES) throw new NgProtocolError('NG_TOO_LARGE', `"${found.name}" is larger than ${MAX_SDP_BYTES} bytes`);
  return found.value;
}

function nonEmptyString(name: string, value: BencodeValue): string {
  if (typeof value !== 'string' || value === '') throw bad(name, 'must be a non-empty string');
  return value;
}

/** An integer, or a string of digits as some clients send (`"delete delay": "0"`). */
function nonNegativeInteger(name: string, value: BencodeValue): number {
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || n < 0) throw bad(name, 'must be a non-negative integer');
  return n;
}

/** A list of strings, or one string holding several separated by `separator`. */
function stringList(name: string, value: BencodeValue, separator = /[\s,]+/): string[] {
  if (typeof value === 'string') return value.split(separator).filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return value;
  throw bad(name, 'must be a string or a list of strings');
}

function oneOf<T extends string>(name: string, value: BencodeValue, allowed: readonly T[]): T {
  const s = typeof value === 'string' ? allowed.find((a) => a.toLowerCase() === value.toLowerCase()) : undefined;
  if (s === undefined) throw bad(name, `must be one of ${allowed.join(', ')}`);
  return s;
}

function ipAddress(name: string, value: BencodeValue): string {
  if (typeof value !== 'string' || isIP(value) === 0) throw bad(name, 'must be an IPv4 or IPv6 address');
  return value;
}

function addressFamily(name: string, value: BencodeValue): AddressFamily {
  return oneOf(name, value, ['IP4', 'IP6'] as const);
}

// ---------------------------------------------------------------------------------------------
// Options that may come as dictionary keys, as `key=value` entries in `flags`, or in `rtpp_flags`

/** `flag` marks the `key=value` form inside a flags list, where the value is always one string. */
type Source = 'key' | 'flag';
type OptionHandler<A> = (acc: A, value: BencodeValue, name: string, source: Source) => void;

interface Grammar<A> {
  /** Normalised option name -> handler. */
  options: Readonly<Record<string, OptionHandler<A>>>;
  /** Normalised bare flag -> effect. */
  flags: Readonly<Record<string, (acc: A) => void>>;
  /** Options that may also be written as a bare `name-value` flag (`ICE-remove`, `replace-origin`). */
  prefixed: readonly string[];
  unknownFlag?: (acc: A, flag: string) => void;
}

/** Applies `rtpp_flags`, then `flags`, then dictionary keys, so explicit keys win over flag forms. */
function collect<A>(keys: Keys, grammar: Grammar<A>, acc: A): A {
  const rtpp = keys.get('rtpp-flags');
  if (rtpp) {
    if (typeof rtpp.value !== 'string') throw bad(rtpp.name, 'must be a string');
    for (const token of tokeniseRtppFlags(rtpp.name, rtpp.value)) {
      if (token.key === undefined) applyFlag(grammar, acc, token.raw);
      else if (typeof token.value === 'string') applyKeyed(grammar, acc, token.key, token.value, 'flag', token.raw);
      else applyKeyed(grammar, acc, token.key, token.value, 'key', token.raw);
    }
  }
  const flags = keys.get('flags');
  if (flags) for (const flag of stringList(flags.name, flags.value, /\s+/)) applyFlag(grammar, acc, flag);
  for (const [key, { name, value }] of keys) own(grammar.options, key)?.(acc, value, name, 'key');
  return acc;
}

function applyFlag<A>(grammar: Grammar<A>, acc: A, raw: string): void {
  const eq = raw.indexOf('=');
  if (eq > 0) return applyKeyed(grammar, acc, raw.slice(0, eq), raw.slice(eq + 1), 'flag', raw);
  const flag = normaliseName(raw);
  const effect = own(grammar.flags, flag);
  if (effect) return effect(acc);
  for (const prefix of grammar.prefixed) {
    const handler = own(grammar.options, prefix);
    if (handler && flag.length > prefix.length + 1 && flag.startsWith(`${prefix}-`)) {
      return handler(acc, flag.slice(prefix.length + 1), prefix, 'flag');
    }
  }
  grammar.unknownFlag?.(acc, raw);
}

function applyKeyed<A>(grammar: Grammar<A>, acc: A, key: string, value: BencodeValue, source: Source, raw: string): void {
  const handler = own(grammar.options, normaliseName(key));
  if (handler) handler(acc, value, key, source);
  else grammar.unknownFlag?.(acc, raw);
}

// ---------------------------------------------------------------------------------------------
// offer / answer

type BooleanFlag = Exclude<keyof SignalFlags, 'ignored'>;

interface SignalOptions {
  flags: Partial<Record<BooleanFlag, boolean>>;
  ignored: string[];
  replace: ReplaceFlag[];
  rtcpMux: RtcpMuxFlag[];
  direction: [string | undefined, string | undefined];
  /** How many `direction=X` flags were seen; each fills the next slot. */
  directionFlags: number;
  viaBranch?: string;
  label?: string;
  mediaAddress?: string;
  ptime?: number;
  ptimeReverse?: number;
  addressFamily?: AddressFamily;
  receivedFrom?: { family: AddressFamily; address: string };
  ice?: IceMode;
  transportProtocol?: string;
  endpointLearning?: EndpointLearning;
  sdes: SdesOptions;
  osrtp: OsrtpOptions;
  dtls?: DtlsMode;
  dtlsFingerprint?: string;
  codec: CodecOptions;
}

/** The lists of the `codec` dictionary; each also comes as `codec-<list>-<spec>` (and `transcode-<spec>`). */
const CODEC_LISTS = ['strip', 'mask', 'consume', 'except', 'offer', 'transcode', 'accept', 'ignore', 'set'] as const satisfies ReadonlyArray<keyof CodecOptions>;

function addCodecs(o: SignalOptions, list: (typeof CODEC_LISTS)[number], name: string, value: BencodeValue): void {
  // Codec specs may carry fmtp options (`set`), whose commas are not separators.
  const specs = stringList(name, value, /\s+/);
  // Checked here, before the offer touches any state.
  specs.forEach(parseCodecSpec);
  (o.codec[list] ??= []).push(...specs);
}

function codecDictionary(o: SignalOptions, name: string, value: BencodeValue): void {
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(name, 'must be a dictionary');
  for (const [key, items] of Object.entries(value)) {
    const list = CODEC_LISTS.find((l) => l === normaliseName(key));
    if (list) addCodecs(o, list, `${name}.${key}`, items);
    else o.ignored.push(`${name}.${key}`);
  }
}

const SIGNAL_BOOLEAN_FLAGS: Readonly<Record<string, BooleanFlag | undefined>> = {
  'trust-address': 'trustAddress',
  'sip-source-address': 'sipSourceAddress',
  asymmetric: 'asymmetric',
  // rtpengine's default behaviour; accepted so it is not reported as ignored.
  symmetric: undefined,
  'strict-source': 'strictSource',
  'port-latching': 'portLatching',
  'no-rtcp-attribute': 'noRtcpAttribute',
  'full-rtcp-attribute': 'fullRtcpAttribute',
  'loop-protect': 'loopProtect',
  'generate-mid': 'generateMid',
  'detect-dtmf': 'detectDtmf',
  'block-dtmf': 'blockDtmf',
  'inject-dtmf': 'injectDtmf',
  'single-codec': 'singleCodec',
  // The legacy spelling of `codec-accept=all`, which is how this relay picks what it converts from anyway.
  'always-transcode': undefined,
  // Only for answers to `subscribe request`, which this relay does not take: nothing to allow.
  'allow-transcoding': undefined,
};

/** Adds the known values of a list-valued option; unknown ones are ignored as rtpengine does. */
function addKnown<T extends string>(o: SignalOptions, into: T[], name: string, value: BencodeValue, known: readonly T[]): void {
  for (const item of stringList(name, value)) {
    const v = known.find((k) => k === normaliseName(item));
    if (v === undefined) o.ignored.push(`${name}=${item}`);
    else if (!into.includes(v)) into.push(v);
  }
}

const SIGNAL_GRAMMAR: Grammar<SignalOptions> = {
  options: {
    'via-branch': (o, v, n) => void (o.viaBranch = id(n, v) || undefined),
    label: (o, v, n) => void (o.label = id(n, v)),
    'from-label': (o, v, n) => void (o.label = id(n, v)),
    'media-address': (o, v, n) => void (o.mediaAddress = ipAddress(n, v)),
    ptime: (o, v, n) => void (o.ptime = packetTime(n, v)),
    'ptime-reverse': (o, v, n) => void (o.ptimeReverse = packetTime(n, v)),
    'address-family': (o, v, n) => void (o.addressFamily = addressFamily(n, v)),
    'received-from': (o, v, n) => void (o.receivedFrom = receivedFrom(n, v)),
    direction: (o, v, n, source) => {
      if (source === 'flag') {
        if (o.directionFlags >= 2) throw bad(n, 'given more than twice in flags');
        o.direction[o.directionFlags++] = nonEmptyString(n, v);
        return;
      }
      if (!Array.isArray(v) || v.length !== 2 || !v.every((s) => typeof s === 'string' && s !== '')) {
        throw bad(n, 'must be a list of two interface names');
      }
      o.direction = [v[0] as string, v[1] as string];
    },
    'from-interface': (o, v, n) => void (o.direction[0] = nonEmptyString(n, v)),
    'to-interface': (o, v, n) => void (o.direction[1] = nonEmptyString(n, v)),
    ice: (o, v, n) => {
      for (const item of stringList(n, v)) {
        const mode = ICE_MODES.find((m) => m === normaliseName(item));
        if (mode) o.ice = mode;
        else o.ignored.push(`${n}=${item}`); // trickle, lite-*, ice2: ICE features we do not implement
      }
    },
    'rtcp-mux': (o, v, n) => addKnown(o, o.rtcpMux, n, v, RTCP_MUX_FLAGS),
    replace: (o, v, n) => addKnown(o, o.replace, n, v, REPLACE_FLAGS),
    'transport-protocol': (o, v, n) => void (o.transportProtocol = oneOf(n, v, TRANSPORT_PROTOCOLS)),
    'endpoint-learning': (o, v, n) => void (o.endpointLearning = oneOf(n, v, ENDPOINT_LEARNING)),
    sdes: (o, v, n) => {
      for (const item of stringList(n, v)) sdesOption(o, n, item);
    },
    dtls: (o, v, n) => {
      const mode = normaliseName(nonEmptyString(n, v));
      o.dtls = mode === 'no' || mode === 'disable' ? 'off' : oneOf(n, mode, ['off', 'passive', 'active'] as const);
    },
    'dtls-fingerprint': (o, v, n) => void (o.dtlsFingerprint = oneOf(n, v, Object.keys(FINGERPRINT_HASHES))),
    codec: (o, v, n) => codecDictionary(o, n, v),
    ...Object.fromEntries(CODEC_LISTS.map((list) => [`codec-${list}`, (o: SignalOptions, v: BencodeValue, n: string) => addCodecs(o, list, n, v)])),
    // rtpengine's older spelling of codec-transcode.
    transcode: (o, v, n) => addCodecs(o, 'transcode', n, v),
    osrtp: (o, v, n) => {
      for (const item of stringList(n, v)) {
        const mode = normaliseName(item);
        if (mode === 'offer' || mode === 'offer-rfc') o.osrtp.offer = true;
        else if (mode === 'accept' || mode === 'accept-rfc') o.osrtp.accept = true;
        else o.ignored.push(`${n}=${item}`); // legacy (duplicated m= line) OSRTP is not implemented
      }
    },
  },
  flags: {
    ...Object.fromEntries(
      Object.entries(SIGNAL_BOOLEAN_FLAGS).map(([flag, field]) => [flag, (o: SignalOptions) => void (field && (o.flags[field] = true))]),
    ),
    'pad-crypto': (o) => void (o.sdes.pad = true),
  },
  prefixed: ['replace', 'ice', 'rtcp-mux', 'endpoint-learning', 'sdes', 'osrtp', 'dtls', ...CODEC_LISTS.map((list) => `codec-${list}`), 'transcode'],
  unknownFlag: (o, flag) => void o.ignored.push(flag),
};

const SDES_PARAMS: Readonly<Record<string, [string, boolean]>> = {
  'unencrypted-srtp': ['UNENCRYPTED_SRTP', true],
  'unencrypted-srtcp': ['UNENCRYPTED_SRTCP', true],
  'unauthenticated-srtp': ['UNAUTHENTICATED_SRTP', true],
  'encrypted-srtp': ['UNENCRYPTED_SRTP', false],
  'encrypted-srtcp': ['UNENCRYPTED_SRTCP', false],
  'authenticated-srtp': ['UNAUTHENTICATED_SRTP', false],
};

function sdesOption(o: SignalOptions, name: string, item: string): void {
  const v = normaliseName(item);
  const sdes = o.sdes;
  const suiteList = (prefix: string): string[] | undefined => {
    if (!v.startsWith(prefix)) return undefined;
    const suite = suiteByFlag(v.slice(prefix.length));
    return suite ? [suite.name] : [];
  };
  const no = suiteList('no-');
  const only = suiteList('only-');
  if (v === 'off' || v === 'no' || v === 'disable') sdes.off = true;
  else if (v === 'pad' || v === 'nonew' || v === 'lifetime') sdes[v] = true;
  else if (SDES_PARAMS[v]) (sdes.params ??= {})[SDES_PARAMS[v][0]] = SDES_PARAMS[v][1];
  else if (no?.length) (sdes.no ??= []).push(...no);
  else if (only?.length) (sdes.only ??= []).push(...only);
  else o.ignored.push(`${name}=${item}`); // unknown suites, order:, offerer_pref:, static, prefer
}

function receivedFrom(name: string, value: BencodeValue): { family: AddressFamily; address: string } {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    throw bad(name, 'must be a list of two strings: address family and address');
  }
  const family = addressFamily(name, value[0]);
  const version = isIP(value[1]);
  if (version === 0) throw bad(name, `has an invalid address '${value[1]}'`);
  if ((version === 4) !== (family === 'IP4')) throw bad(name, `address '${value[1]}' is not ${family}`);
  return { family, address: value[1] };
}

function parseSignal(dict: NgDict, isAnswer: boolean): SignalRequest {
  const keys = new Keys(dict);
  const callId = requiredId(keys, 'call-id');
  const fromTag = requiredId(keys, 'from-tag', true);
  const toTag = isAnswer ? requiredId(keys, 'to-tag') : optionalId(keys, 'to-tag');
  const sdp = sdpBody(keys);
  const o = collect<SignalOptions>(keys, SIGNAL_GRAMMAR, {
    flags: {},
    ignored: [],
    replace: [],
    rtcpMux: [],
    direction: [undefined, undefined],
    directionFlags: 0,
    sdes: {},
    osrtp: {},
    codec: {},
  });
  // rtpengine's own example leaves `ignore` without effect on an answer that picks the ignored codec: listed as ignored.
  for (const item of o.codec.ignore ?? []) o.ignored.push(`codec-ignore-${item}`);

  const [from, to] = o.direction;
  if ((from === undefined) !== (to === undefined)) throw bad('direction', 'needs two interfaces, got only one');
  const hasFlags = Object.keys(o.flags).length > 0 || o.ignored.length > 0;
  return compact<SignalRequest>({
    callId,
    fromTag,
    toTag,
    viaBranch: o.viaBranch,
    sdp,
    flags: hasFlags ? compact({ ...o.flags, ignored: o.ignored.length > 0 ? o.ignored : undefined }) : undefined,
    replace: o.replace.length > 0 ? o.replace : undefined,
    direction: from !== undefined && to !== undefined ? [from, to] : undefined,
    receivedFrom: o.receivedFrom,
    mediaAddress: o.mediaAddress,
    ptime: o.ptime,
    ptimeReverse: o.ptimeReverse,
    addressFamily: o.addressFamily,
    ice: o.ice,
    rtcpMux: o.rtcpMux.length > 0 ? o.rtcpMux : undefined,
    transportProtocol: o.transportProtocol,
    sdes: Object.keys(o.sdes).length > 0 ? o.sdes : undefined,
    osrtp: Object.keys(o.osrtp).length > 0 ? o.osrtp : undefined,
    dtls: o.dtls,
    dtlsFingerprint: o.dtlsFingerprint,
    endpointLearning: o.endpointLearning,
    codec: Object.keys(o.codec).length > 0 ? o.codec : undefined,
    label: o.label,
  });
}

// ---------------------------------------------------------------------------------------------
// delete

interface DeleteOptions {
  viaBranch?: string;
  deleteDelay?: number;
  fatal?: boolean;
  fast?: boolean;
  toTagFlag?: boolean;
}

const DELETE_GRAMMAR: Grammar<DeleteOptions> = {
  options: {
    'via-branch': (o, v, n) => void (o.viaBranch = id(n, v) || undefined),
    'delete-delay': (o, v, n) => void (o.deleteDelay = nonNegativeInteger(n, v)),
  },
  flags: {
    fatal: (o) => void (o.fatal = true),
    fast: (o) => void (o.fast = true),
    'to-tag': (o) => void (o.toTagFlag = true),
  },
  prefixed: [],
};

// ---------------------------------------------------------------------------------------------
// rtpp_flags: `flag key=value key=[a b] key=[k=v k=[x y]]`, as Kamailio passes it unparsed

/** `raw` is the token as written, for the ignored-flags report. */
type RtppToken = { raw: string; key?: undefined } | { raw: string; key: string; value: BencodeValue };

function tokeniseRtppFlags(name: string, input: string): RtppToken[] {
  let pos = 0;
  const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);
  const readWord = (stops: string): string => {
    const start = pos;
    while (pos < input.length && !isSpace(input[pos]) && !stops.includes(input[pos] as string)) pos++;
    return input.slice(start, pos);
  };
  const items = (nested: boolean): RtppToken[] => {
    const out: RtppToken[] = [];
    while (true) {
      while (isSpace(input[pos])) pos++;
      if (pos >= input.length) {
        if (nested) throw bad(name, 'has an unterminated "["');
        return out;
      }
      if (input[pos] === ']') {
        if (!nested) throw bad(name, `has an unexpected "]" at offset ${pos}`);
        pos++;
        return out;
      }
      const start = pos;
      const word = readWord('=[]');
      if (input[pos] === '[') throw bad(name, `has an unexpected "[" at offset ${pos}`);
      if (input[pos] !== '=') {
        out.push({ raw: word });
        continue;
      }
      pos++;
      let value: BencodeValue;
      if (input[pos] === '[') {
        pos++;
        value = listValue(name, items(true));
      } else {
        value = readWord(']');
      }
      out.push({ raw: input.slice(start, pos), key: word, value });
    }
  };
  return items(false);
}

/** `[a b]` is a list; `[k=v k2=v2]` a dictionary, as in rtpengine's own flag syntax. */
function listValue(name: string, tokens: RtppToken[]): BencodeValue {
  if (tokens.every((t) => t.key === undefined)) return tokens.map((t) => t.raw);
  const dict: NgDict = {};
  for (const t of tokens) {
    if (t.key === undefined) throw bad(name, 'mixes plain values and key=value pairs in one "[ ]"');
    setKey(dict, t.key, t.value);
  }
  return dict;
}

// ---------------------------------------------------------------------------------------------

/** Table lookup that cannot hit Object.prototype members such as `constructor` or `__proto__`. */
function own<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

