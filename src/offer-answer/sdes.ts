/**
 * SDES-SRTP negotiation (RFC 4568) and OSRTP (RFC 8643), rtpengine's way: the relay terminates SRTP on
 * each leg with its own keys, so every a=crypto line it sends is its own and each leg settles its suite
 * independently. The result per leg is the key pair the data plane uses: the participant's key to
 * decrypt what it sends, the relay's key to encrypt what it receives.
 */
import { randomBytes } from 'node:crypto';
import { SrtpError } from '../errors.js';
import type { SrtpKeyPair } from '../srtp/keys.js';
import { formatCrypto, keyMaterial, parseCryptoLines, type SdesCrypto } from '../sdp/crypto.js';
import type { SdpMedia } from '../sdp/parse.js';
import { SRTP_SUITES, type SrtpSuite } from '../srtp/suites.js';
import type { OsrtpOptions, SdesOptions, SignalRequest } from '../api/requests.js';

/** One participant's SDES state for one m= line. */
export interface SdesState {
  /** Usable lines from the participant's last offer or answer. */
  theirs: SdesCrypto[];
  /** Lines the relay last sent the participant. */
  ours: SdesCrypto[];
  /** The relay's key per suite for this participant, stable across re-offers. */
  readonly keys: Map<string, Buffer>;
  /** The SDES options of the offer this participant made, applied again to its answer. */
  options: SdesOptions;
  osrtp: OsrtpOptions;
}

export function newSdesState(): SdesState {
  return { theirs: [], ours: [], keys: new Map(), options: {}, osrtp: {} };
}

export function isSecureProtocol(protocol: string): boolean {
  return /SAVP/i.test(protocol);
}

/** Whether this m= line, with these options, may need the relay to do SRTP. */
export function mediaMayNeedSrtp(media: SdpMedia, req: Pick<SignalRequest, 'transportProtocol' | 'osrtp'>): boolean {
  if (req.osrtp?.offer || (req.transportProtocol !== undefined && isSecureProtocol(req.transportProtocol))) return true;
  return isSecureProtocol(media.protocol) || media.lines.some((l) => l.startsWith('a=crypto:'));
}

/** The profile an offer goes on with: the ng `transport-protocol`, unless absent or `accept`. */
export function offeredProfile(media: SdpMedia, requested: string | undefined): string {
  return requested === undefined || requested === 'accept' ? media.protocol : requested;
}

/** A leg with no SRTP on either side: only the profile may change (AVP <-> AVPF). */
export function plainLeg(media: SdpMedia, requested: string | undefined): LegCrypto {
  return { protocol: offeredProfile(media, requested), lines: [] };
}

/** What one leg's m= line carries: its protocol and the a=crypto lines to write. */
export interface LegCrypto {
  protocol: string;
  /** Lines written in place of the sender's a=crypto lines (none for a plain leg). */
  lines: string[];
}

/** Which legs DTLS-SRTP keys instead of SDES: the sender's offer, what the relay offers on. */
export interface DtlsKeying {
  /** The sender (offer) or the offerer (answer) does DTLS-SRTP with the relay. */
  sender: boolean;
  /** The recipient is offered DTLS-SRTP (offer) or the answerer chose it (answer). */
  recipient: boolean;
}

/** The sender's usable SDES lines; an SRTP m= line whose lines are all unusable is an error, not a silent downgrade. */
function senderLines(media: SdpMedia): SdesCrypto[] {
  const { usable, present } = parseCryptoLines(media.lines);
  if (present > 0 && usable.length === 0 && isSecureProtocol(media.protocol)) {
    throw new SrtpError(`m= line ${media.index} has no usable a=crypto line (unknown suites or malformed keys)`);
  }
  return usable;
}

/** The SDES state of both participants of an m= line. */
export interface SdesParties {
  offerer: SdesState;
  answerer: SdesState;
}

/** The ng options SDES negotiation reads: `transport-protocol`, `SDES` and `OSRTP`. */
export type SdesRequest = Pick<SignalRequest, 'transportProtocol' | 'sdes' | 'osrtp'>;

/**
 * Offer from `offerer` to `answerer`: remembers what the offerer offered and returns what the answerer
 * is offered.
 */
export function offerCrypto(media: SdpMedia, { offerer, answerer }: SdesParties, req: SdesRequest, dtls: DtlsKeying): LegCrypto {
  const requested = req.transportProtocol;
  const sdes = req.sdes ?? {};
  const osrtp = req.osrtp ?? {};
  const offered = senderLines(media);
  const protocol = offeredProfile(media, requested);
  const secureIn = isSecureProtocol(media.protocol);
  const secureOut = isSecureProtocol(protocol);
  if (secureIn && offered.length === 0 && !dtls.sender) {
    throw new SrtpError(`m= line ${media.index} offers ${media.protocol} with neither usable a=crypto nor a=fingerprint (or DTLS is off)`);
  }
  if (secureOut && !secureIn && sdes.off && !dtls.recipient) throw new SrtpError(`transport protocol ${protocol} needs keys, but both SDES and DTLS are off`);
  // Checked first, so a refused re-offer leaves the call's SDES state as it was.
  offerer.theirs = offered;
  offerer.options = sdes;
  offerer.osrtp = osrtp;
  const isOsrtpOffer = !secureIn && offered.length > 0;
  const wantSdes = secureOut || osrtp.offer === true || isOsrtpOffer;
  answerer.ours = wantSdes && !sdes.off ? offerLines(offered, sdes, answerer.keys) : [];
  return { protocol, lines: answerer.ours.map((c) => formatCrypto(c, sdes.pad === true)) };
}

/**
 * Answer from `answerer` back to `offerer`, who offered `offeredProtocol`: settles both legs and returns
 * what the offerer is answered, with each side's key pair (null for a plain leg).
 */
export function answerCrypto(
  media: SdpMedia,
  { offerer, answerer }: SdesParties,
  offeredProtocol: string,
  req: SdesRequest,
  dtls: DtlsKeying,
): { leg: LegCrypto; answererSrtp: SrtpKeyPair | null; offererSrtp: SrtpKeyPair | null } {
  const sdes = req.sdes ?? {};
  const osrtp = req.osrtp ?? {};
  const wanted = req.transportProtocol === 'accept' ? undefined : req.transportProtocol;
  // An answerer that chose DTLS-SRTP gets its keys from the handshake, whatever a=crypto it also sent.
  const answered = dtls.recipient ? [] : senderLines(media);
  const answererSrtp = settleAnswerer(media, answered, answerer);
  answerer.theirs = answered;

  const options = { ...offerer.options, ...sdes };
  const accept = isSecureProtocol(offeredProtocol) || answererSrtp !== null || dtls.recipient || offerer.osrtp.accept === true || osrtp.accept === true;
  // rtpengine favours DTLS over SDES when the offerer offered both.
  const chosen = accept && !dtls.sender ? chooseOffererLine(offerer.theirs, options) : undefined;
  let offererSrtp: SrtpKeyPair | null = null;
  offerer.ours = [];
  if (chosen) {
    const ours = ourLine(chosen.tag, chosen.suite, chosen.params, options, offerer.keys);
    offerer.ours = [ours];
    offererSrtp = { decrypt: keyMaterial(chosen), encrypt: keyMaterial(ours) };
  }
  // Answer in the offerer's profile: an SRTP offerer gets SRTP back even from a plain answerer, and vice versa.
  const protocol = wanted ?? (isSecureProtocol(offeredProtocol) !== isSecureProtocol(media.protocol) ? offeredProtocol : media.protocol);
  return {
    leg: { protocol, lines: offerer.ours.map((c) => formatCrypto(c, options.pad === true)) },
    answererSrtp,
    offererSrtp,
  };
}

/** The answerer picked one of the relay's offered lines (same tag and suite), or answered plain. */
function settleAnswerer(media: SdpMedia, answered: SdesCrypto[], answerer: SdesState): SrtpKeyPair | null {
  if (answered.length === 0) return null;
  for (const line of answered) {
    const ours = answerer.ours.find((o) => o.tag === line.tag && o.suite === line.suite);
    if (ours) return { decrypt: keyMaterial(line), encrypt: keyMaterial(ours) };
  }
  throw new SrtpError(`m= line ${media.index}: the answer's a=crypto matches no offered tag and suite`);
}

function allowed(suite: SrtpSuite, options: SdesOptions): boolean {
  if (options.only?.length) return options.only.includes(suite.name);
  return !options.no?.includes(suite.name);
}

/** The offerer's first acceptable line; like rtpengine, its top line if filters leave nothing. */
function chooseOffererLine(lines: SdesCrypto[], options: SdesOptions): SdesCrypto | undefined {
  return lines.find((l) => allowed(l.suite, options)) ?? lines[0];
}

/** The offerer's suites first (same tags, fresh keys), then every other allowed suite in rtpengine's order. */
function offerLines(offered: SdesCrypto[], options: SdesOptions, keys: Map<string, Buffer>): SdesCrypto[] {
  const out: SdesCrypto[] = [];
  for (const line of offered) {
    if (allowed(line.suite, options) && !out.some((o) => o.suite === line.suite)) out.push(ourLine(line.tag, line.suite, line.params, options, keys));
  }
  if (options.nonew) return out;
  let tag = Math.max(0, ...offered.map((l) => l.tag));
  for (const suite of SRTP_SUITES) {
    if (allowed(suite, options) && !out.some((o) => o.suite === suite)) out.push(ourLine(++tag, suite, [], options, keys));
  }
  return out;
}

function ourLine(tag: number, suite: SrtpSuite, params: readonly string[], options: SdesOptions, keys: Map<string, Buffer>): SdesCrypto {
  let keySalt = keys.get(suite.name);
  if (!keySalt) {
    keySalt = randomBytes(suite.keyLength + suite.saltLength);
    keys.set(suite.name, keySalt);
  }
  const adjusted = params.filter((p) => options.params?.[p] !== false);
  for (const [param, on] of Object.entries(options.params ?? {})) if (on && !adjusted.includes(param)) adjusted.push(param);
  return { tag, suite, keySalt, lifetime: options.lifetime ? '|2^31' : '', mkiLength: 0, params: adjusted };
}
