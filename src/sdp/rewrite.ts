/**
 * Produces the SDP the relay sends on: same body, but addresses and ports point at the relay.
 *
 * Works on the original lines rather than re-serialising a parsed object: a generic SDP writer emits
 * attributes in its grammar's order and moves unknown lines to the end, while the relay must pass
 * every line it does not own through unchanged and in place.
 */
import type { AddressFamily } from '../shared/vocabulary.js';
import { isIP } from 'node:net';
import type { ParsedSdp, SdpMedia } from './parse.js';
import { isUnspecified } from '../util/address.js';

export interface MediaPlan {
  /** m= line this plan is for. */
  index: number;
  /** Keep port 0 and leave the media exactly as it was. */
  rejected: boolean;
  /** Relay address to advertise. */
  address: string;
  /** The sender's zero address (a legacy hold), written in c= in place of `address`. */
  holdAddress?: string;
  family: AddressFamily;
  rtpPort: number;
  /** Advertised in a=rtcp: the RTP port once mux is agreed, RTP+1 while it is only offered. */
  rtcpPort: number;
  /** Emit a=rtcp-mux. */
  rtcpMux: boolean;
  /** rtcp-mux=require: no a=rtcp line at all, only a=rtcp-mux. */
  rtcpMuxOnly?: boolean;
  /** Transport protocol override for the m= line. */
  protocol?: string;
  /** a=crypto lines written in place of the sender's (which are always dropped). */
  crypto?: string[];
  /** The relay's a=setup and a=fingerprint; the sender's are always dropped (the relay terminates DTLS). */
  dtls?: string[];
  /** The relay's ICE attributes (ufrag, pwd, candidates); the sender's are always dropped. */
  ice?: string[];
  /** a=mid to add when the sender's media has none (an answer to an offer that had one). */
  mid?: string;
  /** The payload types to keep, in this order; the others leave the m= line with their a=rtpmap, a=fmtp and a=rtcp-fb. */
  formats?: readonly string[];
  /** Lines the relay adds after the sender's (a=rtpmap of a codec it converts to). */
  addedLines?: readonly string[];
  /** a=ptime to write in place of the sender's, last, as rtpengine places it (`ptime`). */
  ptime?: number;
}

export interface RewritePlan {
  /** One per SdpMedia, matched by index. */
  medias: MediaPlan[];
  /** o= address := relay address (and family) of the first non-rejected media. */
  replaceOrigin: boolean;
  /** When set, the o= session version becomes this. */
  originVersion?: string | number;
  /** Session-level lines added after the sender's (a=ice-lite). */
  sessionLines?: readonly string[];
  /** a=rtcp:PORT | a=rtcp:PORT IN IP4 ADDR | omitted. */
  rtcpAttribute: 'short' | 'full' | 'none';
}

const DIRECTION = /^a=(?:sendrecv|sendonly|recvonly|inactive)\s*$/;
const ICE_ATTRIBUTE = /^a=(?:candidate|ice-ufrag|ice-pwd|ice-options|remote-candidates|end-of-candidates|ice-lite)(?::|\s*$)/;
const RTCP_MUX = /^a=rtcp-mux\s*$/;
const RTCP_MUX_ONLY = /^a=rtcp-mux-only\s*$/;
const CRYPTO = /^a=crypto:/;
const DTLS_ATTRIBUTE = /^a=(?:fingerprint|setup|tls-id):/;

/** SDP address type of a literal address; anything not IPv6 is written as IP4. */
export function sdpFamily(address: string): AddressFamily {
  return isIP(address) === 6 ? 'IP6' : 'IP4';
}

/** Renders `parsed` for the recipient; `parsed` is never modified, so it can be rendered again. */
export function rewriteSdp(parsed: ParsedSdp, plan: RewritePlan): string {
  const plans = parsed.medias.map((media) => {
    const p = plan.medias.find((mp) => mp.index === media.index);
    if (!p) throw new Error(`no media plan for m= line ${media.index}`);
    return p;
  });
  const first = plans.find((p) => !p.rejected);
  // Medias fall back to the session-level c= only if one exists; otherwise each needs its own. A hold
  // written at session level stays there; one written in a media leaves the session line the relay's.
  const session = parsed.sessionAddress;
  const sessionConnection =
    session !== undefined && first ? { family: first.family, address: first.holdAddress !== undefined && isUnspecified(session) ? first.holdAddress : first.address } : undefined;

  const out = rewriteSession(parsed.sessionLines, plan, first, sessionConnection);
  parsed.medias.forEach((media, i) => out.push(...rewriteMedia(media, plans[i]!, plan, sessionConnection)));
  return out.join('\r\n') + '\r\n';
}

function rewriteSession(lines: readonly string[], plan: RewritePlan, first: MediaPlan | undefined, connection: Connection | undefined): string[] {
  const out: string[] = [];
  for (const line of lines) {
    // A session-level direction moves to each m= line, where the relay writes one explicitly.
    if (ICE_ATTRIBUTE.test(line) || DTLS_ATTRIBUTE.test(line) || DIRECTION.test(line)) continue;
    if (line.startsWith('o=')) out.push(rewriteOrigin(line, plan, first));
    else if (line.startsWith('c=') && connection) out.push(connectionLine(connection));
    else out.push(line);
  }
  out.push(...(plan.sessionLines ?? []));
  return out;
}

function rewriteOrigin(line: string, plan: RewritePlan, first: MediaPlan | undefined): string {
  const replaceAddress = plan.replaceOrigin && first !== undefined;
  if (!replaceAddress && plan.originVersion === undefined) return line;
  // parseSdp guarantees six fields: username sess-id sess-version nettype addrtype address.
  const fields = line.slice(2).trim().split(/\s+/);
  if (plan.originVersion !== undefined) fields[2] = String(plan.originVersion);
  if (replaceAddress) {
    fields[4] = first.family;
    fields[5] = first.address;
  }
  return `o=${fields.join(' ')}`;
}

/** Attributes about one payload type. */
const FORMAT_LINE = /^a=(rtpmap|fmtp|rtcp-fb):/;

function rewriteMedia(media: SdpMedia, mp: MediaPlan, plan: RewritePlan, sessionConnection: Connection | undefined): string[] {
  const connection = { family: mp.family, address: mp.holdAddress ?? mp.address };
  if (mp.rejected) return [...media.lines];
  const [mLine, ...rest] = media.lines;
  const body: string[] = [];
  let hasConnection = false;
  for (const line of rest) {
    if (line.startsWith('c=')) {
      // One c= per media is all a unicast relay can advertise.
      if (!hasConnection) body.push(connectionLine(connection));
      hasConnection = true;
    } else if (!dropped(line, mp) && !otherFormat(line, mp.formats) && !(mp.ptime !== undefined && line.startsWith('a=ptime:'))) {
      body.push(line);
    }
  }
  // Codecs the relay adds go with the sender's own format lines (after the last of them), else at the end.
  const added = (mp.addedLines ?? []).filter((line) => !body.includes(line));
  let at = body.length;
  while (at > 0 && !FORMAT_LINE.test(body[at - 1]!)) at--;
  body.splice(at === 0 ? body.length : at, 0, ...added);
  if (mp.mid !== undefined && !body.some((l) => l.startsWith('a=mid:'))) body.push(`a=mid:${mp.mid}`);
  // Every m= line states its direction, as rtpengine writes it: the sender's, else the session's, else sendrecv.
  if (!body.some((l) => DIRECTION.test(l))) body.push(`a=${media.direction ?? 'sendrecv'}`);
  const inherits = sessionConnection !== undefined && sessionConnection.address === connection.address && sessionConnection.family === connection.family;
  if (!hasConnection && !inherits) {
    // RFC 8866 order: m=, i=, c=, then b= and a=.
    let at = 0;
    while (body[at]?.startsWith('i=')) at++;
    body.splice(at, 0, connectionLine(connection));
  }
  if (!mp.rtcpMuxOnly && plan.rtcpAttribute !== 'none') body.push(rtcpLine(mp, plan.rtcpAttribute));
  if (mp.rtcpMux) body.push('a=rtcp-mux');
  if (mp.crypto) body.push(...mp.crypto);
  body.push(...(mp.dtls ?? []), ...(mp.ice ?? []));
  if (mp.ptime !== undefined) body.push(`a=ptime:${mp.ptime}`);
  const protocol = mp.protocol ?? media.protocol;
  const formats = mp.formats ? ` ${mp.formats.join(' ')}` : undefined;
  // A replacer function, so `$` in a client-supplied protocol is not read as a substitution.
  return [mLine!.replace(/^m=(\S+) +\S+ +\S+(.*)$/, (_, type: string, rest: string) => `m=${type} ${mp.rtpPort} ${protocol}${formats ?? rest}`), ...body];
}

/** The relay owns transport attributes: ICE candidates would let endpoints bypass it, DTLS is terminated here. */
function dropped(line: string, mp: MediaPlan): boolean {
  return (
    line.startsWith('a=rtcp:') || // re-emitted from the plan
    RTCP_MUX.test(line) || // likewise
    (RTCP_MUX_ONLY.test(line) && !mp.rtcpMux) ||
    (mp.crypto !== undefined && CRYPTO.test(line)) ||
    DTLS_ATTRIBUTE.test(line) ||
    ICE_ATTRIBUTE.test(line)
  );
}

const FORMAT_ATTRIBUTE = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[\s]/;

/** An a=rtpmap, a=fmtp or a=rtcp-fb line of a payload type the plan leaves out. */
function otherFormat(line: string, formats: readonly string[] | undefined): boolean {
  if (!formats) return false;
  const pt = FORMAT_ATTRIBUTE.exec(line)?.[1];
  return pt !== undefined && !formats.includes(pt);
}

interface Connection {
  family: AddressFamily;
  address: string;
}

function connectionLine(c: Connection): string {
  return `c=IN ${c.family} ${c.address}`;
}

function rtcpLine(mp: MediaPlan, form: 'short' | 'full'): string {
  return form === 'full' ? `a=rtcp:${mp.rtcpPort} IN ${mp.family} ${mp.address}` : `a=rtcp:${mp.rtcpPort}`;
}
