/**
 * SDP validation and extraction: what the relay needs to know about each m= line, read straight off
 * the lines (one pass per section), which are kept because rewriting works on them (see rewrite.ts).
 */
import type { AddressFamily } from '../shared/vocabulary.js';
import { SdpError } from '../errors.js';
import { familyOf } from '../util/address.js';

// Sanity bounds: real offers are a few KiB; anything beyond is garbage or an attack.
const MAX_BYTES = 64 * 1024;
const MAX_LINES = 2000;
const MAX_MEDIAS = 64;

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpMedia {
  /** 0-based position of the m= line. */
  index: number;
  /** audio, video, application... */
  type: string;
  /** m= port; 0 means the stream is rejected. */
  port: number;
  /** RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVP... */
  protocol: string;
  /** Effective connection address: media-level c= else session-level c=. */
  address?: string;
  /** Family of `address`. */
  family?: AddressFamily;
  /** From a=rtcp: (undefined if absent). */
  rtcpPort?: number;
  /** From `a=rtcp:PORT IN IP4 ADDR`. */
  rtcpAddress?: string;
  /** a=rtcp-mux present. */
  rtcpMux: boolean;
  /** Media-level direction attribute, else the session-level one. */
  direction?: MediaDirection;
  /** ICE candidates, ufrag or pwd present at media or session level. */
  hasIce: boolean;
  /** a=fingerprint, media level else session level (RFC 8122): hash name and colon-separated hex. */
  fingerprint?: { hash: string; value: string };
  /** a=setup (RFC 4145): actpass, active, passive or holdconn; media level else session level. */
  setup?: string;
  /** a=mid (RFC 5888). */
  mid?: string;
  /** The media section's original lines without line endings, starting with the m= line. */
  lines: readonly string[];
}

export interface ParsedSdp {
  /** Original lines before the first m= line, without line endings. */
  sessionLines: readonly string[];
  medias: SdpMedia[];
  /** o= unicast address, verbatim (may be a host name). */
  originAddress: string;
  /** Family of `originAddress` when it is a literal IP. */
  originFamily?: AddressFamily;
  /** o= session version, verbatim: it may exceed Number.MAX_SAFE_INTEGER. */
  originVersion: string;
  /** Address of the session-level c=, when there is one. */
  sessionAddress?: string;
}

interface Connection {
  address: string;
  family: AddressFamily;
}

export function parseSdp(text: string): ParsedSdp {
  const lines = splitLines(text);
  const starts: number[] = [];
  for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith('m=')) starts.push(i);
  if (starts.length > MAX_MEDIAS) throw new SdpError(`SDP has ${starts.length} m= lines, more than ${MAX_MEDIAS}`);
  const sessionLines = lines.slice(0, starts[0] ?? lines.length);
  const sections = starts.map((start, i) => lines.slice(start, starts[i + 1] ?? lines.length));

  const origin = parseOrigin(sessionLines);
  const session = attributesOf(sessionLines);
  const sessionConnection = firstConnection(sessionLines);
  const medias = sections.map((section, index) => parseMedia(index, section, sessionConnection, session));
  return { sessionLines, medias, ...origin, ...(sessionConnection ? { sessionAddress: sessionConnection.address } : {}) };
}

/** The attributes the relay reads, at one level (session or media); where one repeats, the last counts. */
interface Attributes {
  ice: boolean;
  rtcpMux: boolean;
  direction?: MediaDirection;
  fingerprint?: { hash: string; value: string };
  setup?: string;
  mid?: string;
}

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function attributesOf(lines: readonly string[]): Attributes {
  const out: Attributes = { ice: false, rtcpMux: false };
  for (const line of lines) {
    if (!line.startsWith('a=')) continue;
    const colon = line.indexOf(':');
    const name = (colon < 0 ? line.slice(2) : line.slice(2, colon)).trimEnd();
    const value = colon < 0 ? '' : line.slice(colon + 1).trim();
    if (name === 'ice-ufrag' || name === 'ice-pwd' || name === 'candidate') out.ice = true;
    else if (name === 'rtcp-mux') out.rtcpMux = true;
    else if (DIRECTIONS.has(name)) out.direction = name as MediaDirection;
    else if (name === 'setup') out.setup = /^\w*/.exec(value)![0];
    else if (name === 'mid') out.mid = /^\S*/.exec(value)![0];
    else if (name === 'fingerprint') {
      // `a=fingerprint:<hash-func> <fingerprint>`; one without both parts is ignored.
      const f = /^(\S+)\s+(\S+)/.exec(value);
      if (f) out.fingerprint = { hash: f[1]!, value: f[2]! };
    }
  }
  return out;
}

function splitLines(text: string): string[] {
  if (text.trim() === '') throw new SdpError('SDP is empty');
  if (Buffer.byteLength(text) > MAX_BYTES) throw new SdpError(`SDP is larger than ${MAX_BYTES} bytes`);
  // CRLF, CR or LF: senders mix them; blank lines carry nothing.
  const lines: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) if (line !== '') lines.push(line);
  if (lines.length > MAX_LINES) throw new SdpError(`SDP has ${lines.length} lines, more than ${MAX_LINES}`);
  if (lines[0]?.trimEnd() !== 'v=0') throw new SdpError('SDP does not start with v=0');
  for (const line of lines) {
    // <type>=<value>, the type one lowercase letter.
    const type = line.charCodeAt(0);
    if (type < 0x61 || type > 0x7a || line.charCodeAt(1) !== 0x3d) throw new SdpError(`SDP line is not <type>=<value>: '${excerpt(line)}'`);
  }
  return lines;
}

function parseOrigin(sessionLines: readonly string[]): Pick<ParsedSdp, 'originAddress' | 'originFamily' | 'originVersion'> {
  const line = sessionLines.find((l) => l.startsWith('o='));
  if (line === undefined) throw new SdpError('SDP has no o= line');
  // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
  const fields = line.slice(2).trim().split(/\s+/);
  if (fields.length !== 6) throw new SdpError(`malformed o= line: '${excerpt(line)}'`);
  const originAddress = fields[5]!;
  return { originAddress, originFamily: familyOf(originAddress), originVersion: fields[2]! };
}

function parseMedia(index: number, lines: readonly string[], sessionConnection: Connection | undefined, session: Attributes): SdpMedia {
  const mLine = lines[0]!;
  const m = /^m=(\S+) +(\S+)(?: +(\S+))?/.exec(mLine);
  if (!m) throw new SdpError(`malformed m= line: '${excerpt(mLine)}'`);
  const port = parsePort(m[2]!.replace(/\/\d+$/, ''), 0); // `PORT/COUNT` form: the relay uses one pair
  if (port === undefined) throw new SdpError(`m= line has an invalid port: '${excerpt(mLine)}'`);
  if (m[3] === undefined) throw new SdpError(`m= line has no protocol: '${excerpt(mLine)}'`);

  const connection = firstConnection(lines) ?? sessionConnection;
  if (port !== 0 && connection === undefined) throw new SdpError(`m= line ${index} has no connection address (c=)`);
  const rtcp = parseRtcp(lines);
  const own = attributesOf(lines);
  return {
    index,
    type: m[1]!,
    port,
    protocol: m[3],
    address: connection?.address,
    family: connection?.family,
    rtcpPort: rtcp?.port,
    rtcpAddress: rtcp?.address,
    rtcpMux: own.rtcpMux,
    direction: own.direction ?? session.direction,
    hasIce: session.ice || own.ice,
    fingerprint: own.fingerprint ?? session.fingerprint,
    setup: own.setup ?? session.setup,
    mid: own.mid,
    lines,
  };
}

/** Parses (and so validates) every line of a section that starts with `prefix`; the first one's result. */
function firstParsed<T>(lines: readonly string[], prefix: string, parse: (line: string) => T): T | undefined {
  let first: T | undefined;
  for (const line of lines) {
    if (!line.startsWith(prefix)) continue;
    const parsed = parse(line);
    first ??= parsed;
  }
  return first;
}

function firstConnection(lines: readonly string[]): Connection | undefined {
  return firstParsed(lines, 'c=', parseConnection);
}

function parseConnection(line: string): Connection {
  // Multicast addresses may carry `/ttl[/count]`; the address itself must still be literal.
  const m = /^c=IN (IP4|IP6) ([^\s/]+)(?:\/\S*)?\s*$/.exec(line);
  if (!m) throw new SdpError(`malformed c= line: '${excerpt(line)}'`);
  const family = m[1] as AddressFamily;
  const address = m[2]!;
  if (familyOf(address) !== family) throw new SdpError(`c= address '${excerpt(address)}' is not a literal ${family} address`);
  return { address, family };
}

function parseRtcp(lines: readonly string[]): { port: number; address?: string } | undefined {
  return firstParsed(lines, 'a=rtcp:', parseRtcpLine);
}

function parseRtcpLine(line: string): { port: number; address?: string } {
  const m = /^a=rtcp:(\d+)(?: +IN +(IP4|IP6) +(\S+))?\s*$/.exec(line);
  const port = m ? parsePort(m[1]!, 1) : undefined;
  if (!m || port === undefined) throw new SdpError(`a=rtcp line has a bad port or address: '${excerpt(line)}'`);
  const address = m[3];
  if (address !== undefined && familyOf(address) !== m[2]) {
    throw new SdpError(`a=rtcp address '${excerpt(address)}' is not a literal ${m[2]} address`);
  }
  return { port, address };
}

function parsePort(token: string, min: number): number | undefined {
  if (!/^\d{1,5}$/.test(token)) return undefined;
  const port = Number(token);
  return port >= min && port <= 65535 ? port : undefined;
}

/** Error messages quote the offending text, but never a whole hostile line. */
function excerpt(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
