/**
 * DTLS-SRTP negotiation (RFC 5763): who offers it, which role the relay takes, and the attributes it
 * writes. The relay terminates DTLS on every leg that uses it, with its own certificate, the way
 * rtpengine does; the handshake itself runs in the forwarding threads (src/dataplane/handshakes.ts).
 */
import { SrtpError } from '../errors.js';
import type { DtlsFingerprint, SideDtls } from '../dataplane/types.js';
import { FINGERPRINT_HASHES } from '../dtls/identity.js';
import type { SdpMedia } from '../sdp/parse.js';
import type { DtlsMode, SignalRequest } from '../api/requests.js';
import { isSecureProtocol, offeredProfile } from './sdes.js';

/** A participant's DTLS-SRTP parameters from its SDP. */
export interface DtlsParams {
  /** actpass, active, passive or holdconn; '' when absent. */
  setup: string;
  fingerprint: DtlsFingerprint;
}

const HEX_PAIRS = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+$/;

/** The participant's DTLS-SRTP offer or acceptance: a secure profile with a=fingerprint, unless DTLS is off. */
export function participantDtls(media: SdpMedia, mode: DtlsMode | undefined): DtlsParams | undefined {
  const fp = media.fingerprint;
  if (mode === 'off' || fp === undefined || !isSecureProtocol(media.protocol)) return undefined;
  if (!Object.hasOwn(FINGERPRINT_HASHES, fp.hash.toLowerCase())) throw new SrtpError(`m= line ${media.index}: unsupported a=fingerprint hash '${fp.hash}'`);
  if (!HEX_PAIRS.test(fp.value)) throw new SrtpError(`m= line ${media.index}: malformed a=fingerprint value`);
  return { setup: (media.setup ?? '').toLowerCase(), fingerprint: { hash: fp.hash.toLowerCase(), value: fp.value.toUpperCase() } };
}

/** The relay offers DTLS (actpass) on an offer that goes on with a secure profile, unless DTLS is off. */
export function relayOffersDtls(media: SdpMedia, req: Pick<SignalRequest, 'dtls' | 'transportProtocol'>): boolean {
  return req.dtls !== 'off' && isSecureProtocol(offeredProfile(media, req.transportProtocol));
}

/** Whether DTLS may run on this m= line: its sender does DTLS, or (in an offer) the relay will offer it. */
export function mayNeedDtls(media: SdpMedia, req: Pick<SignalRequest, 'dtls' | 'transportProtocol'>, offer: boolean): boolean {
  return (req.dtls !== 'off' && media.fingerprint !== undefined && isSecureProtocol(media.protocol)) || (offer && relayOffersDtls(media, req));
}

/** The relay's a=setup answering `offererSetup`: the opposite role, and for actpass rtpengine's preference (active). */
export function answerSetup(offererSetup: string, mode: DtlsMode | undefined, passiveByDefault: boolean): 'active' | 'passive' {
  if (offererSetup === 'active') return 'passive';
  if (offererSetup === 'passive') return 'active';
  return mode === 'passive' || (passiveByDefault && mode !== 'active') ? 'passive' : 'active';
}

/** The relay's side of an association it answered with `setup`, or offered (actpass) and got `theirSetup` back. */
export function sideDtls(ourSetup: 'active' | 'passive', fingerprint: DtlsFingerprint | null): SideDtls {
  return { role: ourSetup === 'active' ? 'client' : 'server', fingerprint };
}

/** The answerer's a=setup decides our role; absent means active (RFC 4145 §4), so the relay serves. */
export function setupAgainst(answererSetup: string): 'active' | 'passive' {
  return answererSetup === 'passive' ? 'active' : 'passive';
}

export function dtlsLines(setup: 'actpass' | 'active' | 'passive', hash: string, fingerprint: string): string[] {
  return [`a=setup:${setup}`, `a=fingerprint:${hash} ${fingerprint}`];
}

/** Same peer certificate and role: the keys from the finished handshake stay valid. */
export function sameAssociation(a: SideDtls | null | undefined, b: SideDtls): boolean {
  return a != null && a.role === b.role && a.fingerprint?.hash === b.fingerprint?.hash && a.fingerprint?.value === b.fingerprint?.value;
}
