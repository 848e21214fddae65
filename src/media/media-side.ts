import type { Endpoint, InterfaceAddress } from '../shared/vocabulary.js';
import type { LearningPolicy, SideConfig, SideDtls, SideIce, SideId, SrtpKeyPair, SideState, StreamState } from '../dataplane/types.js';
import type { Conversion } from '../codecs/transcoder.js';
import type { DtmfFormat } from '../codecs/format.js';
import type { AudioFormat } from '../codecs/stand-in.js';
import type { InjectionTarget } from '../dtmf/injector.js';
import type { DtmfSecurity } from '../dtmf/security.js';

/**
 * The control plane's view of one participant's port pair for one m= line: what the data plane is told
 * (sinks, mux, learning policy, advertised addresses, keys) and the last state it reported back.
 */
export class MediaSide {
  /** Where what this side's participant sends goes: the other party's side in a plain call. */
  sinks: readonly MediaSide[] = NO_SINKS;
  /** The participant multiplexes RTCP onto its RTP port (RFC 5761). */
  mux = false;
  /** RTCP arriving on the RTP port is taken as RTCP: the participant muxes or was offered mux. */
  demux = false;
  policy: LearningPolicy;
  /** Addresses from the participant's SDP. */
  rtp: Endpoint | null = null;
  rtcp: Endpoint | null = null;
  /** Keys once the offer/answer settled SRTP for this participant; null while plain. */
  srtp: SrtpKeyPair | null = null;
  /** RFC 4733 telephone-event formats the participant may send (payload type, clock rate). */
  dtmf: readonly DtmfFormat[] = NO_DTMF;
  /** What the participant sends as telephone events is not forwarded (`block DTMF`). */
  blockDtmf = false;
  /** ... but turned into something else (`DTMF-security`); set only then. */
  declare dtmfSecurity?: DtmfSecurity;
  /** Its audio is copied to the control plane, which listens for DTMF tones in it (`detect DTMF`). */
  detectDtmf = false;
  /** Conversions of what is sent to the participant (`transcode`); set only while converting. */
  declare transcode?: Conversion[];
  /** How `play DTMF` reaches the participant; set only when the call was marked with `inject DTMF`. */
  declare inject?: InjectionTarget;
  /** Codecs the participant's SDP put on dynamic payload types (Opus...), for DTMF in its audio; set only when there are any. */
  declare codecs?: readonly AudioFormat[];
  // Set only for participants that do ICE or DTLS: `declare`d, so plain sides carry no slots for them.
  /** The relay answers ICE checks on these ports with these credentials. */
  declare ice?: SideIce | null;
  /** DTLS-SRTP with the participant: the relay's role and the participant's fingerprint. */
  declare dtls?: SideDtls | null;
  /** Pairs on the interface's other addresses, bound once ICE is offered to the participant. */
  declare aliases?: Array<{ address: InterfaceAddress; rtpPort: number }>;
  /** Last state the data plane reported; a shared empty one until then (thousands of idle calls). */
  state: SideState = EMPTY_STATE;

  constructor(
    readonly id: SideId,
    readonly address: InterfaceAddress,
    readonly rtpPort: number,
    policy: LearningPolicy,
  ) {
    this.policy = policy;
  }

  get rtcpPort(): number {
    return this.rtpPort + 1;
  }

  /** Unix ms of the last packet from the participant, as of the last sweep or query. */
  lastPacketMs = 0;

  config(): SideConfig {
    return { sinks: this.sinks.map((s) => s.id), mux: this.mux, demux: this.demux, policy: this.policy, rtp: this.rtp, rtcp: this.rtcp, srtp: this.srtp, ice: this.ice ?? null, dtls: this.dtls ?? null, dtmf: this.dtmf.map((f) => f.pt), blockDtmf: this.blockDtmf, dtmfSecurity: this.dtmfSecurity ?? null, detectDtmf: this.detectDtmf, transcode: this.transcode ?? [], inject: this.inject ?? null, codecs: this.codecs ? [...this.codecs] : [] };
  }
}

const NO_SINKS: readonly MediaSide[] = Object.freeze([]);
const NO_DTMF: readonly DtmfFormat[] = Object.freeze([]);
const EMPTY_STREAM: StreamState = Object.freeze({ packets: 0, bytes: 0, errors: 0, lastPacketMs: 0, endpoint: null, confirmed: false });
const EMPTY_STATE: SideState = Object.freeze({ rtp: EMPTY_STREAM, rtcp: EMPTY_STREAM });
