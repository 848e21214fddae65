/**
 * The offer/answer decisions that do not touch sockets or keys: where a participant wants media,
 * rtcp-mux, a=mid, hold, and the SDP version.
 */
import type { AddressFamily, Endpoint } from '../shared/vocabulary.js';
import type { ParsedSdp, SdpMedia } from '../sdp/parse.js';
import type { MediaPlan } from '../sdp/rewrite.js';
import { isUnspecified } from '../util/address.js';
import type { Monologue, MonologueMedia } from '../call/call.js';
import type { SignalRequest } from '../api/requests.js';
import { learningPolicy } from '../dataplane/policy.js';
import type { MediaStep } from './context.js';

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
 * rtcp-mux (RFC 5761) rtpengine's way: by default go along with the offerer; `offer`/`require` add it
 * towards the answerer, `demux` hides it from the answerer but still accepts it from the offerer,
 * `reject` refuses it. The answer settles what each side actually does.
 */
export const settleRtcpMux: MediaStep = ({ kind, req, media, mine, theirs, plan }) => {
  const flags = new Set(req.rtcpMux ?? []);
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
  // RTCP is taken off the RTP port only from a participant whose SDP says it muxes, or that was offered
  // mux (RFC 5761); from any other, a packet there is RTP, whatever its type byte says.
  mine.side.demux = media.rtcpMux || mine.muxOffered || mine.side.mux;
  theirs.side.demux ||= theirs.muxOffered || theirs.side.mux;
  plan.rtcpMux = mux;
  plan.rtcpMuxOnly = muxOnly;
  // An offer cannot know yet whether mux will be accepted, so it keeps naming the separate RTCP port.
  plan.rtcpPort = mux && kind === 'answer' ? theirs.side.rtpPort : theirs.side.rtcpPort;
};

/** Where the sender wants its media, and how the relay learns where it really comes from. */
export const settleEndpoints: MediaStep = ({ req, media, mine, useSipSource }, { options }) => {
  mine.side.policy = learningPolicy(req.endpointLearning ?? options.endpointLearning, req.flags?.asymmetric ?? false, (req.flags?.strictSource ?? false) || options.strictSource === true);
  const remote = remoteEndpoints(media, req, useSipSource);
  mine.side.rtp = remote.rtp;
  mine.side.rtcp = remote.rtcp;
};

/**
 * a=mid: kept from the offer, repeated in the answer that goes back to its sender. `generate-mid`
 * gives an offer's m= lines without one their number from 1, as rtpengine does.
 */
export const carryMid: MediaStep = ({ kind, req, media, mine, theirs, plan }) => {
  if (kind === 'offer' && media.mid === undefined && req.flags?.generateMid) plan.mid = String(media.index + 1);
  // Set only when there is one, so plain calls' media objects keep their shape (memory budget).
  if (kind === 'offer' && (media.mid !== undefined || mine.mid !== undefined)) mine.mid = media.mid;
  else if (kind === 'answer') plan.mid = theirs.mid;
};

/**
 * A zero address is the legacy "hold" signal; pass it on rather than inviting media the relay must drop.
 * Not with ICE: there it is only the placeholder of an agent whose candidates say where media goes
 * (browsers write `c=IN IP4 0.0.0.0` and port 9), and the recipient must get the relay's address.
 */
export const passHold: MediaStep = ({ media, replace, plan }) => {
  if (media.address !== undefined && isUnspecified(media.address) && !media.hasIce && !replace.has('zero-address')) plan.holdAddress = media.address;
};

/** The outgoing m= line before the steps: the recipient's relay address and ports. */
export function basePlan(media: SdpMedia, theirs: MonologueMedia): MediaPlan {
  const a = theirs.address;
  return { index: media.index, rejected: false, address: a.advertised, family: a.family, rtpPort: theirs.side.rtpPort, rtcpPort: theirs.side.rtcpPort, rtcpMux: false };
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
