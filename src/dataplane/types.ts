/**
 * The seam between the control plane (main thread: ng, calls, SDP) and the data plane (forwarding
 * threads). Everything the packet path needs crosses it as plain data keyed by a side id; nothing on
 * the packet path calls back into the call model except learning events and batched counters.
 */
import type { Conversion } from '../codecs/transcoder.js';
import type { AudioFormat } from '../codecs/stand-in.js';
import type { DtmfTone, InjectionTarget } from '../dtmf/injector.js';
import type { DtmfSecurity } from '../dtmf/security.js';
import type { AddressFamily, DropCounts, Endpoint, EndpointLearning, StreamKind } from '../shared/vocabulary.js';

export type { StreamKind } from '../shared/vocabulary.js';
import type { DtlsIdentity } from '../dtls/identity.js';
import type { SrtpProgress } from '../srtp/context.js';
import type { SrtpKeyPair } from '../srtp/keys.js';

export type { SrtpKeyPair } from '../srtp/keys.js';

/** Identifies one participant's RTP/RTCP port pair for one m= line. Unique per process. */
export type SideId = number;

export interface LearningPolicy {
  mode: EndpointLearning;
  /** The peer sends from elsewhere than it receives: never learn (rtpengine `asymmetric`). */
  asymmetric: boolean;
  /** After learning, drop packets from any other source (rtpengine `strict source`). */
  strictSource: boolean;
}


/** The relay's ICE credentials towards the participant (ICE-lite: it only answers checks). */
export interface SideIce {
  ufrag: string;
  pwd: string;
}

export interface DtlsFingerprint {
  /** RFC 8122 name: sha-256, sha-1, ... */
  hash: string;
  /** Hex bytes separated by colons, as in SDP. */
  value: string;
}

/** DTLS-SRTP towards the participant: the relay's role and the participant's certificate fingerprint. */
export interface SideDtls {
  role: 'client' | 'server';
  /** Null until the participant's SDP named it; a finished handshake waits for it. */
  fingerprint: DtlsFingerprint | null;
}

/** What forwarding needs to know about a side; sent whole on every change (it is small). */
export interface SideConfig {
  /**
   * Sides whose participants get what this side's participant sends, each through its own sockets and
   * keys; empty until the call has two parties. A plain call has one; subscriptions, recording taps and
   * forks have more.
   */
  sinks: SideId[];
  /** The participant multiplexes RTCP onto its RTP port (RFC 5761). */
  mux: boolean;
  /** RTCP on the RTP port is RTCP (the participant muxes or was offered mux); otherwise it is RTP. */
  demux: boolean;
  policy: LearningPolicy;
  /** Addresses from the participant's SDP; a change restarts learning for that stream. */
  rtp: Endpoint | null;
  rtcp: Endpoint | null;
  /** Null: plain RTP towards this participant (or DTLS-SRTP whose handshake has not finished). */
  srtp: SrtpKeyPair | null;
  /** Null: no STUN is answered on this side's ports. */
  ice: SideIce | null;
  /** Null: no DTLS handshake on this side's ports. */
  dtls: SideDtls | null;
  /** Payload types of RFC 4733 telephone events the participant may send: copied to the control plane. */
  dtmf: number[];
  /** Its telephone events are not forwarded (`block DTMF`); they are still copied up and detected. */
  blockDtmf: boolean;
  /** What blocked events become instead of nothing (`DTMF-security`); only the workers do it. */
  dtmfSecurity: DtmfSecurity | null;
  /** Its other RTP is copied up as well, for in-band DTMF (`detect DTMF`). */
  detectDtmf: boolean;
  /** Conversions of what is sent to the participant; only the workers run them. */
  transcode: Conversion[];
  /** Where `play DTMF` presses go into what the participant is sent; only the workers run it. */
  inject: InjectionTarget | null;
  /** The participant's SDP's codecs on dynamic payload types: what the audio of `inject` and `dtmfSecurity` is written in. */
  codecs: AudioFormat[];
}

export interface StreamState {
  packets: number;
  bytes: number;
  errors: number;
  /** Unix ms of the last packet accepted from the participant, 0 if none. */
  lastPacketMs: number;
  /** Where packets for the participant go now (learned or advertised). */
  endpoint: Endpoint | null;
  /** Learning has committed to `endpoint`. */
  confirmed: boolean;
}

export interface SideState {
  rtp: StreamState;
  rtcp: StreamState;
  /** How far the side's SRTP has got (rollover counters, SRTCP index), when it has keys. */
  srtp?: { decrypt: SrtpProgress; encrypt: SrtpProgress };
}

/** Process-wide forwarding counters, reported under `statistics`. */
export interface DataPlaneCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Packets dropped, by reason. */
  dropped: DropCounts;
}

export interface LearnedEvent {
  side: SideId;
  kind: StreamKind;
  endpoint: Endpoint;
}

/** A DTLS handshake finished: the side's SRTP keys, for the control plane to keep (and restore after a restart). */
export interface SecuredEvent {
  side: SideId;
  srtp: SrtpKeyPair;
  /** The role and peer certificate the keys belong to: keys of an association since replaced are stale. */
  association: SideDtls;
}

/**
 * What the forwarding engines copy to the control plane, in the addon's order (native/shard.h):
 * RTCP packets, from which call quality is read (a few per minute per stream), RFC 4733
 * telephone-event packets, from which DTMF is read (a few dozen per key press), and, for sides that
 * listen for in-band DTMF, every other RTP packet.
 */
export const TAP_KINDS = ['rtcp', 'dtmf', 'audio'] as const;
export type TapKind = (typeof TAP_KINDS)[number];

/** A packet a participant sent (decrypted), copied for the control plane. */
export interface TappedPacket {
  side: SideId;
  kind: TapKind;
  packet: Buffer;
  /** Unix ms it arrived. */
  atMs: number;
}

export type BindResult = 'bound' | 'in-use';

/**
 * Implemented by the worker_threads forwarder (TypeScript) and by the native addon. All methods are
 * ordered per side: a configure after a bind applies to that bind.
 */
export interface DataPlane {
  /** Human-readable engine name for logs and the bench: `workers` or `native`. */
  readonly engine: string;
  /** Number of forwarding threads; a call's sides all live on one of them. */
  readonly shards: number;
  /** The engine (`native` or `workers`) that runs `shard`. */
  engineOf(shard: number): string;
  /** The shards that can run ICE and DTLS handshakes: all of the workers', none of the addon's. */
  readonly handshakeShards: readonly number[];
  /**
   * Binds RTP on `rtpPort` and RTCP on `rtpPort + 1`. 'in-use' when either port is taken (the caller
   * tries another); rejects with RelayError NO_INTERFACE when the address itself is unusable. With
   * `alias`, the pair is one more for an already bound side, on another address of its interface: ICE
   * offers a candidate on each, and media follows the one the participant nominates (handshake shards only).
   */
  bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias?: boolean): Promise<BindResult>;
  configure(side: SideId, config: SideConfig): void;
  /**
   * Gives a bound and configured side back the learned endpoints and counters it had elsewhere (another
   * shard, or a thread that died); what the state says was not confirmed is left to learning.
   */
  restore(side: SideId, state: SideState): void;
  /**
   * Closes the side's sockets; its state is gone afterwards. Returns without waiting for the forwarding
   * thread (the allocator rests freed ports anyway), except with `rebindNow`: then the promise resolves
   * once the ports are free, for a caller that binds them again at once (a call moving shards).
   */
  release(side: SideId, rebindNow?: boolean): Promise<void>;
  /** Exact current state of the given sides (flushes whatever the threads have not reported yet). */
  read(sides: readonly SideId[]): Promise<Map<SideId, SideState>>;
  /** Unix ms of each side's last packet (0 if none), in the order asked: all the timeout sweep needs. */
  lastPackets(sides: readonly SideId[]): Promise<Float64Array>;
  counters(): Promise<DataPlaneCounters>;
  onLearned(listener: (event: LearnedEvent) => void): void;
  onSecured(listener: (event: SecuredEvent) => void): void;
  onTapped(listener: (event: TappedPacket) => void): void;
  /** Queues a `play DTMF` press on what the side's participant is sent (a side configured with `inject`); false when its queue is full. */
  playDtmf(side: SideId, tone: DtmfTone): Promise<boolean>;
  /** The certificate DTLS handshakes use; sides configured for DTLS before it is set wait for it. */
  setDtlsIdentity(identity: DtlsIdentity): void;
  close(): Promise<void>;
}
