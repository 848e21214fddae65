/**
 * Typed requests and results of the Relay API. The ng adapter (src/ng) turns bencode dictionaries
 * into these and the results back into rtpengine's reply keys; library users call them directly.
 */
import type { AddressFamily, DropCounts, EndpointInfo, EndpointLearning } from '../shared/vocabulary.js';
import type { SsrcQuality } from '../quality/tracker.js';
import type { DtmfSecurityMode } from '../dtmf/security.js';

export type { DropCounts, DropReason, EndpointInfo } from '../shared/vocabulary.js';
export type { QualityPoint, SsrcQuality } from '../quality/tracker.js';

/** rtpengine's `DTLS` key: `off` (also `no`, `disable`) never offers or accepts DTLS-SRTP; `passive` prefers the server role. */
export type DtlsMode = 'off' | 'passive' | 'active';

export type IceMode = 'remove' | 'force' | 'default' | 'force-relay' | 'optional';
export type RtcpMuxFlag = 'offer' | 'require' | 'demux' | 'accept' | 'reject';
export type ReplaceFlag = 'origin' | 'session-connection' | 'sdp-version' | 'force-increment-sdp-ver' | 'username' | 'session-name' | 'origin-full' | 'zero-address';

/** Boolean behaviour flags from the ng `flags` list, normalised to hyphenated lower case. */
export interface SignalFlags {
  trustAddress: boolean;
  sipSourceAddress: boolean;
  asymmetric: boolean;
  strictSource: boolean;
  portLatching: boolean;
  noRtcpAttribute: boolean;
  fullRtcpAttribute: boolean;
  /** Mark the SDP sent on (`a=rtpengine:`), and pass an SDP this relay marked back untouched (`loop-protect`). */
  loopProtect: boolean;
  /** Give every m= line of an offer without a=mid one, numbered from 1 (`generate-mid`). */
  generateMid: boolean;
  /** Listen for DTMF tones in the audio (G.711) of the call's participants (`detect DTMF`). */
  detectDtmf: boolean;
  /** Do not forward the telephone events of the participant sending this SDP (`block DTMF`). */
  blockDtmf: boolean;
  /** Leave only the first codec (with its telephone-event and CN) in an answer (`single codec`). */
  singleCodec: boolean;
  /** Let `play DTMF` put key presses into what the participant sending this SDP is sent (`inject DTMF`). */
  injectDtmf: boolean;
  /** Flags we parsed but do not act on yet, reported back as a warning-free no-op. */
  ignored: string[];
}

/** rtpengine's `SDES` list (also `SDES-...` flags): which suites to offer and how to write them. */
export interface SdesOptions {
  /** Offer no SDES (`SDES-off`). */
  off?: boolean;
  /** Suites never offered or accepted (`SDES-no-<suite>`). */
  no?: string[];
  /** Only these suites (`SDES-only-<suite>`); takes precedence over `no`. */
  only?: string[];
  /** Offer only what the offerer offered (`SDES-nonew`). */
  nonew?: boolean;
  /** Keep base64 `=` padding in keys (`SDES-pad`). */
  pad?: boolean;
  /** Add `|2^31` to each key (`SDES-lifetime`). */
  lifetime?: boolean;
  /** Session parameters to add (true) or remove (false): UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP, UNAUTHENTICATED_SRTP. */
  params?: Record<string, boolean>;
}

/** rtpengine's `OSRTP` list: opportunistic SRTP (RFC 8643). */
export interface OsrtpOptions {
  /** Turn a plain offer into an OSRTP offer (RTP/AVP with a=crypto). */
  offer?: boolean;
  /** Answer an OSRTP offer with SRTP even when the answerer is plain. */
  accept?: boolean;
}

/**
 * rtpengine's codec flags (`codec` dictionary, `codec-strip-X` and the like), codec specs as
 * `name[/clock[/channels]]` or `all`. They act on offers only. Without transcoding, `strip`, `mask` and
 * `consume` remove codecs from the offer sent on, `except` keeps codecs from `all`, and `offer` and
 * `transcode` keep codecs the offer has (those it lacks are reported in the reply's `warning`).
 * `accept`, `ignore` and `set` concern transcoding and have no effect yet.
 */
export interface CodecOptions {
  strip?: string[];
  mask?: string[];
  consume?: string[];
  except?: string[];
  offer?: string[];
  transcode?: string[];
  accept?: string[];
  ignore?: string[];
  set?: string[];
}

export interface SignalRequest {
  callId: string;
  fromTag: string;
  toTag?: string;
  viaBranch?: string;
  sdp: string;
  flags?: Partial<SignalFlags>;
  replace?: ReplaceFlag[];
  /** Logical interface names: [0] faces the sender of this message, [1] faces its recipient. */
  direction?: [string, string];
  /** SIP source address of the message, used with SIP-source-address or when SDP has no usable address. */
  receivedFrom?: { family: AddressFamily; address: string };
  /** Overrides both SDP addresses and receivedFrom. */
  mediaAddress?: string;
  /** Offers only: milliseconds of audio per packet towards the recipient, repacketized by the relay (`ptime`). */
  ptime?: number;
  /** Offers only: the same towards the offerer, written into the answer (`ptime-reverse`). */
  ptimeReverse?: number;
  /** Family of the address advertised to the recipient. */
  addressFamily?: AddressFamily;
  ice?: IceMode;
  rtcpMux?: RtcpMuxFlag[];
  transportProtocol?: string;
  sdes?: SdesOptions;
  osrtp?: OsrtpOptions;
  dtls?: DtlsMode;
  /** Hash for the relay's a=fingerprint (`DTLS-fingerprint`): sha-256 unless the participant used another. */
  dtlsFingerprint?: string;
  endpointLearning?: EndpointLearning;
  codec?: CodecOptions;
  label?: string;
  /** Remote address of the ng client, for statistics. */
  controller?: string;
}

export interface OfferRequest extends SignalRequest {}

export interface AnswerRequest extends SignalRequest {
  toTag: string;
}

export interface SdpResult {
  sdp: string;
  warning?: string;
}

export interface DeleteRequest {
  callId: string;
  fromTag?: string;
  toTag?: string;
  viaBranch?: string;
  /** Seconds; overrides the relay default. 0 frees ports at once. */
  deleteDelay?: number;
  /** Unknown call is an error instead of a warning. */
  fatal?: boolean;
  /** Omit statistics from the result. */
  fast?: boolean;
}

export interface DeleteResult {
  /** Present when the call or tag was not found and `fatal` was not set. */
  warning?: string;
  /** Call state at deletion (absent with `fast` or when nothing was found). */
  call?: CallInfo;
}

/** `block DTMF` / `unblock DTMF`: one participant's telephone events (`fromTag`), or the whole call's. */
export interface DtmfBlockRequest {
  callId: string;
  fromTag?: string;
  /**
   * `DTMF-security`: drop the events (the default), put silence or a tone in the audio in their place,
   * send them on as another key (`zero`, `DTMF` with `digit`, `random`), or `off` (unblock).
   */
  mode?: 'drop' | 'off' | DtmfSecurityMode;
  /** The key `DTMF` sends (event 0-15). */
  digit?: number;
  /** dB below 0 dBm0 of the tone and the replacing events (10 unless given). */
  volume?: number;
  /** Hz of `tone`, one per press in turn, from the first again after the last (400 unless given). */
  frequencies?: number[];
}

/**
 * `play DTMF`: a key press put into the call as if `fromTag` (or, with `all`, every participant) had
 * pressed it, towards the others; the call must have been marked with `inject DTMF`.
 */
export interface PlayDtmfRequest {
  callId: string;
  fromTag?: string;
  all?: boolean;
  /** RFC 4733 event 0-15 (0-9, *, #, A-D). */
  event: number;
  durationMs: number;
  /** dB below 0 dBm0, 0-63. */
  volume: number;
  pauseMs: number;
}

export interface QueryRequest {
  callId: string;
  fromTag?: string;
  toTag?: string;
}

export interface StreamStats {
  packets: number;
  bytes: number;
  errors: number;
}

export interface StreamInfo {
  kind: 'RTP' | 'RTCP';
  localPort?: number;
  localAddress?: string;
  /** Where packets for this side are sent (learned or from SDP). */
  endpoint?: EndpointInfo;
  /** What the side's SDP said. */
  advertisedEndpoint?: EndpointInfo;
  /** Unix seconds of the last packet received from this side, 0 if none. */
  lastPacket: number;
  /** rtpengine's stream flags: RTP/RTCP, filled, confirmed. */
  flags: string[];
  stats: StreamStats;
  /** The SSRC this side sends (from its RTCP), the key of its quality under CallInfo.ssrc; RTP only. */
  ssrc?: number;
}

export interface MediaInfo {
  index: number;
  type: string;
  protocol: string;
  flags: string[];
  streams: StreamInfo[];
}

export interface TagInfo {
  tag: string;
  created: number;
  label?: string;
  inDialogueWith?: string;
  medias: MediaInfo[];
}

export interface CallInfo {
  callId: string;
  /** The forwarding engine carrying the call's media now: `native` (the addon) or `workers`. Not in ng replies. */
  engine: string;
  created: number;
  lastSignal: number;
  tags: TagInfo[];
  totals: { RTP: StreamStats; RTCP: StreamStats };
  /** Quality per SSRC (decimal), from the RTCP report blocks about it; absent before any RTCP. */
  ssrc?: Record<string, SsrcQuality>;
  /** The latest DTMF key presses (RFC 4733), oldest first; absent before the first. */
  dtmf?: DtmfInfo[];
}

/** One key press, as `query`, the `dtmf` event and `--dtmf-log-dest` report it. */
export interface DtmfInfo {
  /** The tag of the participant that pressed it. */
  tag: string;
  /** RFC 4733 event number (0-9, 10 = *, 11 = #, 12-15 = A-D, 16 = flash). */
  event: number;
  digit: string;
  /** Milliseconds. */
  duration: number;
  /** dBm0 below zero (0-63). */
  volume: number;
  /** Unix ms it was detected. */
  timestamp: number;
}

export interface RelayStatistics {
  uptime: number;
  currentSessions: number;
  /** Calls followed from other relays (standby), not carried here until taken over. */
  foreignSessions: number;
  managedSessions: number;
  timeoutSessions: number;
  regularTerminatedSessions: number;
  forcedTerminatedSessions: number;
  /** Packets per second received / forwarded, over the last second. */
  packetRateIn: number;
  packetRateOut: number;
  /** Media packets received on relay ports / forwarded, and their UDP payload bytes. */
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Packets not forwarded, by reason. */
  dropped: DropCounts;
  /** RTP/RTCP port pairs currently bound. */
  portPairsInUse: number;
  /** Forwarding engine (`native` addon or TypeScript `workers`) and its thread count. */
  engine: string;
  threads: number;
}
