import type { RemoteInfo, Socket } from 'node:dgram';
import type { EndpointLearning } from '../config/options.js';
import { normaliseAddress, sameEndpoint, type Endpoint } from '../util/address.js';
import type { BoundPair } from './port-allocator.js';

export type StreamKind = 'RTP' | 'RTCP';

/** rtpengine commits to a learned source 3 s after media starts ("delayed"/"heuristic" learning). */
export const LEARNING_WINDOW_MS = 3000;

export interface LearningPolicy {
  mode: EndpointLearning;
  /** The peer sends from elsewhere than it receives: never learn (rtpengine `asymmetric`). */
  asymmetric: boolean;
  /** After learning, drop packets from any other source (rtpengine `strict source`). */
  strictSource: boolean;
}

/** Process-wide counters the relay reports in `statistics`. */
export interface RelayCounters {
  relayedPackets: number;
  relayedBytes: number;
  relayedPacketErrors: number;
  droppedMalformed: number;
  droppedUnknownSource: number;
  droppedNoDestination: number;
}

export function newRelayCounters(): RelayCounters {
  return { relayedPackets: 0, relayedBytes: 0, relayedPacketErrors: 0, droppedMalformed: 0, droppedUnknownSource: 0, droppedNoDestination: 0 };
}

/** One local socket of a side and what the relay knows of the remote peer behind it. */
export class PacketStream {
  /** Address from the peer's SDP. */
  advertised: Endpoint | undefined;
  /** Where packets for the peer go: the advertised address until a source is learned. */
  endpoint: Endpoint | undefined;
  confirmed = false;
  /** Heuristic learning keeps the best-ranked source seen so far. */
  learnRank = 0;
  firstPacketAt = 0;
  lastPacketAt = 0;
  packets = 0;
  bytes = 0;
  errors = 0;

  constructor(
    readonly kind: StreamKind,
    readonly socket: Socket,
    readonly localPort: number,
  ) {}

  /** New SDP from the peer: start over with learning only when the address really changed. */
  setAdvertised(ep: Endpoint | undefined): void {
    if (sameEndpoint(ep, this.advertised) || (ep === undefined && this.advertised === undefined)) return;
    this.advertised = ep;
    this.endpoint = ep;
    this.confirmed = false;
    this.learnRank = 0;
    this.firstPacketAt = 0;
  }
}

export type LearnedListener = (side: MediaSide, stream: PacketStream) => void;

/**
 * The relay's ports facing one call participant for one m= line. Packets from that participant arrive
 * here and leave through the peer side's sockets, so each participant sees symmetric RTP from the
 * relay's port it was given in SDP.
 */
export class MediaSide {
  readonly rtp: PacketStream;
  readonly rtcp: PacketStream;
  /** The participant multiplexes RTCP onto its RTP port (RFC 5761). */
  mux = false;
  peer: MediaSide | undefined;
  policy: LearningPolicy;

  constructor(
    readonly pair: BoundPair,
    policy: LearningPolicy,
    private readonly counters: RelayCounters,
    private readonly onLearned: LearnedListener,
  ) {
    this.policy = policy;
    this.rtp = new PacketStream('RTP', pair.rtp, pair.rtpPort);
    this.rtcp = new PacketStream('RTCP', pair.rtcp, pair.rtcpPort);
    // RTCP may arrive on the RTP port whenever mux was offered, before the answer settles it: always demux.
    pair.rtp.on('message', (msg, rinfo) => this.receive(isRtcp(msg) ? this.rtcp : this.rtp, msg, rinfo));
    pair.rtcp.on('message', (msg, rinfo) => this.receive(this.rtcp, msg, rinfo));
    // A send to an unreachable peer surfaces as an async socket error; it must never kill the relay.
    const onError = (): void => {
      this.counters.relayedPacketErrors++;
    };
    pair.rtp.on('error', onError);
    pair.rtcp.on('error', onError);
  }

  get lastPacketAt(): number {
    return Math.max(this.rtp.lastPacketAt, this.rtcp.lastPacketAt);
  }

  private receive(stream: PacketStream, msg: Buffer, rinfo: RemoteInfo): void {
    const now = Date.now();
    if (!isWellFormed(stream.kind, msg)) {
      stream.errors++;
      this.counters.droppedMalformed++;
      return;
    }
    if (!this.acceptSource(stream, normaliseAddress(rinfo.address), rinfo.port, now)) {
      stream.errors++;
      this.counters.droppedUnknownSource++;
      return;
    }
    stream.packets++;
    stream.bytes += msg.length;
    stream.lastPacketAt = now;
    this.forward(stream.kind, msg);
  }

  /** Endpoint learning as rtpengine does it; returns false when strict-source rejects the packet. */
  private acceptSource(stream: PacketStream, address: string, port: number, now: number): boolean {
    const current = stream.endpoint;
    const isCurrent = current !== undefined && current.address === address && current.port === port;
    if (stream.firstPacketAt === 0) stream.firstPacketAt = now;
    if (this.policy.asymmetric || this.policy.mode === 'off') return !this.policy.strictSource || isCurrent || current === undefined;
    if (stream.confirmed) return isCurrent || !this.policy.strictSource;

    const windowOver = this.policy.mode === 'immediate' || now - stream.firstPacketAt >= LEARNING_WINDOW_MS;
    const rank = this.policy.mode === 'heuristic' ? heuristicRank(stream.advertised, address, port) : 1;
    if (!isCurrent && rank >= stream.learnRank) {
      stream.endpoint = { address, port };
      stream.learnRank = rank;
      this.onLearned(this, stream);
    }
    if (windowOver) stream.confirmed = true;
    return true;
  }

  private forward(kind: StreamKind, msg: Buffer): void {
    const peer = this.peer;
    const out = peer === undefined ? undefined : kind === 'RTP' || peer.mux ? peer.rtp : peer.rtcp;
    const dest = kind === 'RTCP' && peer !== undefined && !peer.mux ? peer.rtcp.endpoint : peer?.rtp.endpoint;
    if (out === undefined || dest === undefined) {
      this.counters.droppedNoDestination++;
      return;
    }
    try {
      out.socket.send(msg, dest.port, dest.address);
    } catch {
      // A destination the socket cannot reach (family mismatch, closed socket) must cost one packet, not the relay.
      this.counters.relayedPacketErrors++;
      return;
    }
    this.counters.relayedPackets++;
    this.counters.relayedBytes += msg.length;
  }
}

/** RFC 5761 §4: on a muxed port, packet types 192-223 are RTCP (RTP avoids payload types 64-95). */
function isRtcp(msg: Buffer): boolean {
  const pt = msg[1];
  return pt !== undefined && pt >= 192 && pt <= 223;
}

/** Version 2 and at least a fixed header; anything else on a media port is not ours to forward. */
function isWellFormed(kind: StreamKind, msg: Buffer): boolean {
  const first = msg[0];
  return first !== undefined && first >> 6 === 2 && msg.length >= (kind === 'RTP' ? 12 : 8);
}

/** rtpengine's heuristic: exact SDP match beats same address, beats same port, beats anything. */
function heuristicRank(advertised: Endpoint | undefined, address: string, port: number): number {
  if (advertised === undefined) return 1;
  if (advertised.address === address) return advertised.port === port ? 4 : 3;
  return advertised.port === port ? 2 : 1;
}
