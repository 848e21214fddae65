/**
 * The offer/answer decisions that do not touch sockets: where a participant wants media, what each
 * m= line of the outgoing SDP says, rtcp-mux negotiation, transport profile and SDP version.
 */
import type { AddressFamily, Endpoint } from '../shared/vocabulary.js';
import type { ParsedSdp, SdpMedia } from '../sdp/parse.js';
import type { MediaPlan } from '../sdp/rewrite.js';
import { isUnspecified } from '../util/address.js';
import type { Monologue, MonologueMedia } from '../call/call.js';
import type { RtcpMuxFlag, SignalRequest } from '../api/requests.js';

export type SignalKind = 'offer' | 'answer';

/**
 * Where the sender of this SDP wants its media: the SDP address, unless SIP-source-address says to use
 * the SIP source, or `media address` overrides both. A zero (hold) address means nowhere.
 */
export function remoteEndpoints(media: SdpMedia, req: SignalRequest, useSipSource: boolean): { rtp: Endpoint | null; rtcp: Endpoint | null } {
  const override = req.mediaAddress ?? (useSipSource ? req.receivedFrom?.address : undefined);
  const address = override ?? media.address;
  if (address === undefined || isUnspecified(address)) return { rtp: null, rtcp: null };
  const rtcpPort = media.rtcpPort ?? (media.rtcpMux ? media.port : media.port + 1);
  return {
    rtp: { address, port: media.port },
    // m= port 65535 leaves no room for RTCP above it: nowhere to send RTCP rather than an invalid port.
    rtcp: rtcpPort > 65535 ? null : { address: override === undefined && media.rtcpAddress ? media.rtcpAddress : address, port: rtcpPort },
  };
}

/**
 * The outgoing m= line for `theirs` (the recipient), settling rtcp-mux (RFC 5761) rtpengine's way: by
 * default go along with the offerer; `offer`/`require` add it towards the answerer, `demux` hides it
 * from the answerer but still accepts it from the offerer, `reject` refuses it. The answer settles
 * what each side actually does.
 */
export function planMedia(kind: SignalKind, muxFlags: readonly RtcpMuxFlag[], media: SdpMedia, mine: MonologueMedia, theirs: MonologueMedia): MediaPlan {
  const flags = new Set(muxFlags);
  let mux: boolean;
  let muxOnly = false;
  if (kind === 'offer') {
    mine.muxPolicy = flags.has('reject') ? 'reject' : flags.has('demux') || flags.has('accept') || flags.has('require') ? 'accept' : 'follow';
    mine.muxOffered = media.rtcpMux && mine.muxPolicy !== 'reject';
    mux = flags.has('offer') || flags.has('require') || (mine.muxOffered && !flags.has('demux'));
    muxOnly = flags.has('require');
    theirs.muxOffered = mux;
    // Until the answer, keep sending RTCP to the offerer's RTCP port unless it already insists on mux.
    mine.side.mux = mine.muxOffered && muxOnly;
  } else {
    // `theirs` is the offerer here; `mine` the answerer.
    mine.side.mux = media.rtcpMux && mine.muxOffered;
    mux = theirs.muxOffered && (theirs.muxPolicy === 'accept' || (theirs.muxPolicy === 'follow' && mine.side.mux));
    theirs.side.mux = mux;
  }
  const a = theirs.address;
  return {
    index: media.index,
    rejected: false,
    address: a.advertised,
    family: a.family,
    rtpPort: theirs.side.rtpPort,
    // An offer cannot know yet whether mux will be accepted, so it keeps naming the separate RTCP port.
    rtcpPort: mux && kind === 'answer' ? theirs.side.rtpPort : theirs.side.rtcpPort,
    rtcpMux: mux,
    rtcpMuxOnly: muxOnly,
    protocol: theirs.protocol,
  };
}

export function rejectedPlan(media: SdpMedia): MediaPlan {
  return { index: media.index, rejected: true, address: '', family: media.family ?? 'IP4', rtpPort: 0, rtcpPort: 0, rtcpMux: false };
}

export function markRejected(sender: Monologue, recipient: Monologue, index: number): void {
  for (const m of [sender.medias[index], recipient.medias[index]]) if (m) m.rejected = true;
}

/** Keep a side's family once chosen; otherwise match the family the SDP used. */
export function preferredFamily(mono: Monologue, index: number, sdpFamily: AddressFamily | undefined): AddressFamily | undefined {
  return mono.medias[index]?.address.family ?? sdpFamily;
}

export function rtcpAttribute(req: SignalRequest): 'short' | 'full' | 'none' {
  return req.flags?.noRtcpAttribute ? 'none' : req.flags?.fullRtcpAttribute ? 'full' : 'short';
}

/** `replace: SDP-version`: bump o= version only when what we send to this participant changed. */
export function nextSdpVersion(recipient: Monologue, rendered: string, sdp: ParsedSdp, force: boolean): number {
  const body = rendered.replace(/^o=.*$/m, '');
  const prev = recipient.sdpHistory;
  const base = Number(sdp.originVersion);
  const version = prev === undefined ? (Number.isSafeInteger(base) ? base : 1) : prev.body === body && !force ? prev.version : prev.version + 1;
  recipient.sdpHistory = { body, version };
  return version;
}
