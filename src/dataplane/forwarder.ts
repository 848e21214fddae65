/**
 * The TypeScript packet path: one forwarding thread's sockets and what it knows of each participant.
 * It runs inside a worker thread (src/dataplane/worker.ts); the native addon implements the same rules
 * in C++, and the test suite runs against both.
 */
import type { AddressFamily, DropReason, Endpoint } from '../shared/vocabulary.js';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { RelayError } from '../errors.js';
import { literalLookup, normaliseAddress, sameEndpoint } from '../util/address.js';
import type { DtlsIdentity } from '../dtls/identity.js';
import { srtpPairId } from '../srtp/keys.js';
import { conversionChain, EMPTY_CHAIN, runChain, runEgress, securityChains, srtpContexts, type Chain, type EgressChain, type SrtpContexts } from './processors.js';
import { SideHandshakes } from './handshakes.js';
import { DtmfInjector, type DtmfTone } from '../dtmf/injector.js';
import { DtmfReplacer } from '../dtmf/security.js';
import { zeroCounters } from './counters.js';
import { learningPolicy } from './policy.js';
import type { BindResult, DataPlaneCounters, LearnedEvent, LearningPolicy, TappedPacket, SecuredEvent, SideConfig, SideId, SrtpKeyPair, SideState, StreamKind, StreamState } from './types.js';

/** rtpengine commits to a learned source 3 s after media starts ("delayed"/"heuristic" learning). */
export const LEARNING_WINDOW_MS = 3000;
/**
 * Packets per second a stream takes from sources other than its current endpoint, and the burst
 * allowed: enough for a participant behind NAT to be learned, far below what would make the SRTP
 * check or the learning logic a target for a flood.
 */
const STRANGER_RATE = 100;
const STRANGER_BURST = 100;
/** Above every heuristic rank: the exact address and port of the participant's SDP. */
const SIGNALLED_RANK = 5;

class Stream {
  advertised: Endpoint | null = null;
  endpoint: Endpoint | null = null;
  confirmed = false;
  /** Heuristic learning keeps the best-ranked source seen so far. */
  learnRank = 0;
  firstPacketMs = 0;
  lastPacketMs = 0;
  packets = 0;
  bytes = 0;
  errors = 0;

  /** The port the participant nominated over ICE when it is one of the side's aliases; `declare`d, so plain streams carry no slot. */
  declare via?: Socket;
  /** Token bucket for packets from other sources than `endpoint`; created by the first such packet. */
  declare strangerTokens?: number;
  declare strangerAt?: number;

  constructor(
    readonly kind: StreamKind,
    /** The port bound for this stream; packets to the participant leave from it unless ICE chose an alias. */
    readonly socket: Socket,
  ) {}

  /** New SDP from the participant: start over with learning only when the address really changed. */
  advertise(ep: Endpoint | null): void {
    if (ep === this.advertised || (ep !== null && sameEndpoint(ep, this.advertised ?? undefined))) return;
    this.advertised = ep;
    this.endpoint = ep;
    this.confirmed = false;
    this.learnRank = 0;
    this.firstPacketMs = 0;
  }

  state(): StreamState {
    const { packets, bytes, errors, lastPacketMs, endpoint, confirmed } = this;
    return { packets, bytes, errors, lastPacketMs, endpoint, confirmed };
  }
}

/** What the packet path reads of a side's config; the rest is applied by configure() and not kept (idle-call heap budget). */
interface SideRules {
  mux: boolean;
  demux: boolean;
  policy: LearningPolicy;
  /** RFC 4733 payload types to copy to the control plane; the shared empty set when there are none. */
  dtmf: ReadonlySet<number>;
  /** Those packets stop here (`block DTMF`). */
  blockDtmf: boolean;
  /** Every other RTP packet is copied up too (`detect DTMF`). */
  detectDtmf: boolean;
}

const NO_DTMF: ReadonlySet<number> = new Set();

/** A side's egress chain from its parts, without a new array when only one part has processors (most sides run none). */
function egressOf(side: Side): EgressChain {
  const parts = [side.convert, side.injector ? [side.injector] : EMPTY_CHAIN, side.protect].filter((c) => c.length > 0);
  return parts.length === 0 ? EMPTY_CHAIN : parts.length === 1 ? parts[0]! : parts.flat();
}

/**
 * A side's sinks: the bound Side, or its id while it is not bound here (a restart binds sides one by one).
 * The array is the configure message's own, resolved in place: one array per side (idle-call heap).
 */
type Sinks = Array<Side | SideId>;
const NO_SINKS: Sinks = [];

/** The chains of a DTLS leg before its handshake gave keys, named so a repeated configure keeps them. */
const UNKEYED = 'unkeyed';

class Side {
  readonly rtp: Stream;
  readonly rtcp: Stream;
  rules: SideRules | undefined;
  /** Where what the participant sends goes. */
  sinks: Sinks = NO_SINKS;
  /** Processors on what the participant sends (SRTP: its key) and on what it is sent (the relay's key). */
  ingress: Chain = EMPTY_CHAIN;
  egress: EgressChain = EMPTY_CHAIN;
  /** The egress chain's parts: conversions (`transcode`, `ptime`), DTMF presses (`play DTMF`), then SRTP. */
  convert: EgressChain = EMPTY_CHAIN;
  protect: Chain = EMPTY_CHAIN;
  /** Sides whose blocked DTMF becomes something else only (`DTMF-security`); kept while mode and codecs stay. */
  declare replacer?: DtmfReplacer;
  declare replacerId?: string;
  /** Sides of calls marked `inject DTMF` only; kept across configures, so a press under way goes on. */
  declare injector?: DtmfInjector;
  declare injectId?: string;
  /** Identifies the conversions `convert` runs, so a repeated configure keeps the chain. */
  convertId = '';
  /** Identifies the keys the chains use, so a repeated configure keeps their ROC and replay state. */
  srtpId = '';
  /** The contexts the SRTP chains use, for reading and restoring their progress; `declare`d: plain sides have none. */
  declare srtp?: SrtpContexts;
  // Only sides facing ICE or DTLS participants get these: `declare`d so plain sides carry no slots for them
  // (an idle call's heap is a budget, issue 4).
  /** STUN and DTLS on these ports. */
  declare handshakes?: SideHandshakes<Socket>;
  /** The side's pairs on the interface's other addresses, for ICE candidates there (RTP, RTCP, RTP, ...). */
  declare aliases?: Socket[];

  constructor(
    readonly id: SideId,
    rtpSocket: Socket,
    rtcpSocket: Socket,
  ) {
    this.rtp = new Stream('RTP', rtpSocket);
    this.rtcp = new Stream('RTCP', rtcpSocket);
  }
}

export class Forwarder {
  private readonly sides = new Map<SideId, Side>();
  /** For each side id, the sides naming it as a sink: binding or releasing it touches only those. */
  private readonly namedBy = new Map<SideId, Side[]>();
  private readonly totals: DataPlaneCounters = zeroCounters();
  /** The relay's DTLS certificate, once the main thread has sent it. */
  identity: DtlsIdentity | undefined;

  constructor(
    private readonly onLearned: (event: LearnedEvent) => void,
    private readonly onSecured: (event: SecuredEvent) => void,
    private readonly onTapped: (event: TappedPacket) => void,
  ) {}

  async bind(id: SideId, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<BindResult> {
    const existing = this.sides.get(id);
    if (alias && !existing) throw new RelayError('DATAPLANE_FAILED', `no side ${id} to add an address to`);
    const type = family === 'IP6' ? 'udp6' : 'udp4';
    // Both at once; whichever bound is closed again if the other cannot be.
    const [rtp, rtcp] = await Promise.allSettled([bindSocket(type, local, rtpPort), bindSocket(type, local, rtpPort + 1)]);
    const bound = [rtp, rtcp].flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
    if (bound.length < 2) bound.forEach((socket) => socket.close());
    if (rtp.status === 'rejected') throw rtp.reason;
    if (rtcp.status === 'rejected') throw rtcp.reason;
    if (!rtp.value || !rtcp.value) return 'in-use';
    const side = alias ? existing! : new Side(id, rtp.value, rtcp.value);
    this.listen(side, rtp.value, rtcp.value);
    if (alias) {
      (side.aliases ??= []).push(rtp.value, rtcp.value);
      return 'bound';
    }
    this.sides.set(id, side);
    // Sides configured with this one as a sink before it was bound (restart) link up now.
    for (const other of this.namedBy.get(id) ?? []) replaceSink(other.sinks, id, side);
    return 'bound';
  }

  configure(id: SideId, config: SideConfig): void {
    const side = this.sides.get(id);
    if (!side) return;
    // Each message brings its own copy of the policy; share one per combination across thousands of sides.
    const { mode, asymmetric, strictSource } = config.policy;
    side.rules = { mux: config.mux, demux: config.demux, policy: learningPolicy(mode, asymmetric, strictSource), dtmf: config.dtmf.length > 0 ? new Set(config.dtmf) : NO_DTMF, blockDtmf: config.blockDtmf, detectDtmf: config.detectDtmf };
    const security = config.dtmfSecurity;
    const codecsId = config.codecs.length === 0 ? '' : JSON.stringify(config.codecs);
    const replacerId = security ? `${JSON.stringify(security)}${codecsId}` : undefined;
    if (replacerId !== side.replacerId) {
      side.replacerId = replacerId;
      side.replacer = security ? new DtmfReplacer(security, config.codecs) : undefined;
    }
    const sinks: Sinks = config.sinks;
    this.unname(side);
    for (let i = 0; i < sinks.length; i++) {
      const sinkId = sinks[i] as SideId;
      sinks[i] = this.sides.get(sinkId) ?? sinkId;
      const namers = this.namedBy.get(sinkId);
      if (namers) namers.push(side);
      else this.namedBy.set(sinkId, [side]);
    }
    side.sinks = sinks.length === 0 ? NO_SINKS : sinks;
    // DTLS keys come from the handshake here, not from the main thread: until it reports them back, keep them.
    const handshakeKeys = config.srtp === null && config.dtls !== null && side.srtpId !== '' && side.srtpId !== UNKEYED;
    if (!handshakeKeys) this.setSecurity(side, config.srtp, config.dtls !== null);
    const convertId = config.transcode.length === 0 ? '' : JSON.stringify(config.transcode);
    if (convertId !== side.convertId) {
      side.convertId = convertId;
      side.convert = conversionChain(config.transcode);
      side.egress = egressOf(side);
    }
    const injectId = config.inject ? `${config.inject.pt}/${config.inject.clock}${codecsId}` : undefined;
    if (injectId !== side.injectId) {
      side.injectId = injectId;
      side.injector = config.inject ? new DtmfInjector(config.inject, config.codecs) : undefined;
      side.egress = egressOf(side);
    }
    side.rtp.advertise(config.rtp);
    side.rtcp.advertise(config.rtcp);
    if (config.ice !== null || config.dtls !== null || side.handshakes !== undefined) {
      side.handshakes ??= this.newHandshakes(side);
      side.handshakes.configure(config.ice, config.dtls, side.rtp.endpoint);
    }
  }

  /** Puts back what a restarted thread lost: the learned endpoints, the counters and the SRTP progress so far. */
  restore(id: SideId, state: SideState): void {
    const side = this.sides.get(id);
    if (!side) return;
    if (state.srtp && side.srtp) {
      side.srtp.decrypt.resume(state.srtp.decrypt);
      side.srtp.encrypt.resume(state.srtp.encrypt);
    }
    for (const [stream, saved] of [
      [side.rtp, state.rtp],
      [side.rtcp, state.rtcp],
    ] as const) {
      Object.assign(stream, { packets: saved.packets, bytes: saved.bytes, errors: saved.errors, lastPacketMs: saved.lastPacketMs });
      if (saved.endpoint && saved.confirmed) {
        stream.endpoint = saved.endpoint;
        stream.confirmed = true;
      }
    }
  }

  /** Queues a `play DTMF` press on what the side's participant is sent; false without an injector there or with its queue full. */
  play(id: SideId, tone: DtmfTone): boolean {
    return this.sides.get(id)?.injector?.play(tone) ?? false;
  }

  release(id: SideId): void {
    const side = this.sides.get(id);
    if (!side) return;
    this.sides.delete(id);
    side.handshakes?.close();
    for (const socket of [side.rtp.socket, side.rtcp.socket, ...(side.aliases ?? [])]) socket.close();
    this.unname(side);
    for (const other of this.namedBy.get(id) ?? []) replaceSink(other.sinks, side, id);
  }

  /** Takes `side` out of the namers of its current sinks (its sink list is about to change or go). */
  private unname(side: Side): void {
    for (const sink of side.sinks) {
      const sinkId = typeof sink === 'number' ? sink : sink.id;
      const namers = this.namedBy.get(sinkId);
      if (!namers) continue;
      const at = namers.indexOf(side);
      if (at >= 0) namers.splice(at, 1);
      if (namers.length === 0) this.namedBy.delete(sinkId);
    }
  }

  read(ids: readonly SideId[]): Array<[SideId, SideState]> {
    const out: Array<[SideId, SideState]> = [];
    for (const id of ids) {
      const side = this.sides.get(id);
      if (side) out.push([id, { rtp: side.rtp.state(), rtcp: side.rtcp.state(), ...(side.srtp ? { srtp: { decrypt: side.srtp.decrypt.progress(), encrypt: side.srtp.encrypt.progress() } } : {}) }]);
    }
    return out;
  }

  lastPackets(ids: readonly SideId[]): Float64Array {
    const out = new Float64Array(ids.length);
    ids.forEach((id, i) => {
      const side = this.sides.get(id);
      if (side) out[i] = Math.max(side.rtp.lastPacketMs, side.rtcp.lastPacketMs);
    });
    return out;
  }

  counters(): DataPlaneCounters {
    return { ...this.totals, dropped: { ...this.totals.dropped } };
  }

  close(): void {
    for (const id of [...this.sides.keys()]) this.release(id);
  }

  private listen(side: Side, rtp: Socket, rtcp: Socket): void {
    // RTCP may arrive on the RTP port whenever mux was offered, before the answer settles it: always demux.
    rtp.on('message', (msg, rinfo) => this.receive(side, side.rules?.demux === true && isRtcp(msg) ? side.rtcp : side.rtp, msg, rinfo, rtp));
    rtcp.on('message', (msg, rinfo) => this.receive(side, side.rtcp, msg, rinfo, rtcp));
    // An ICMP-reported failure of an earlier send surfaces as a socket error; it must never kill the relay.
    const onError = (): void => {
      this.totals.dropped.sendError++;
    };
    rtp.on('error', onError);
    rtcp.on('error', onError);
  }

  /** `socket`: the port it arrived on (the bound one or an alias). */
  private receive(side: Side, stream: Stream, msg: Buffer, rinfo: RemoteInfo, socket: Socket): void {
    const totals = this.totals;
    totals.packetsIn++;
    totals.bytesIn += msg.length;
    // RFC 7983: below 64 is STUN (0-3) or DTLS (20-63), never RTP; only ICE/DTLS sides look further.
    if (side.handshakes?.active && msg.length > 0 && msg[0]! < 64) return this.handshake(side, stream, msg, rinfo, socket);
    if (!isWellFormed(stream.kind, msg)) return this.drop(stream, 'malformed');
    const now = Date.now();
    // Strangers are rate-limited before any work that costs: SRTP checks, learning.
    if (!fromEndpoint(stream, rinfo) && !admitStranger(stream, now)) return this.drop(stream, 'rateLimited');
    // Authenticate before learning, so a forged packet cannot move the media somewhere else.
    const packet = side.ingress.length === 0 ? msg : runChain(side.ingress, msg, stream.kind);
    if (typeof packet === 'string') return this.drop(stream, packet);
    if (!this.acceptSource(side, stream, rinfo.address, rinfo.port, now)) return this.drop(stream, 'unknownSource');
    stream.packets++;
    stream.bytes += msg.length;
    stream.lastPacketMs = now;
    // RTCP is a packet every few seconds per stream, telephone events a few dozen per key press: the
    // control plane reads call quality and DTMF from copies.
    if (stream.kind === 'RTCP') this.onTapped({ side: side.id, kind: 'rtcp', packet, atMs: now });
    else if (packet.length > 12 && side.rules?.dtmf.has(packet[1]! & 0x7f)) {
      this.onTapped({ side: side.id, kind: 'dtmf', packet, atMs: now });
      // A blocked participant's key presses are seen, not passed on; a policy, not the stream's error.
      if (side.rules.blockDtmf) {
        totals.dropped.dtmfBlocked++;
        const replaced = side.replacer?.replace(packet);
        if (!replaced) return;
        return this.forwardAll(side, stream, replaced);
      }
    } else {
      if (side.rules?.detectDtmf) this.onTapped({ side: side.id, kind: 'audio', packet, atMs: now });
      side.replacer?.noteAudio(packet);
    }
    this.forwardAll(side, stream, packet);
  }

  /** A packet from `side`'s participant to each of its sinks. */
  private forwardAll(side: Side, stream: Stream, packet: Buffer): void {
    const totals = this.totals;
    const sinks = side.sinks;
    if (sinks.length === 0) {
      totals.dropped.noDestination++;
      return;
    }
    for (let i = 0; i < sinks.length; i++) {
      const sink = sinks[i]!;
      if (typeof sink === 'number') totals.dropped.noDestination++;
      else this.forward(sink, stream, packet);
    }
  }

  /** One copy of a (plain) packet to one sink's participant, through the sink's sockets and egress chain. */
  private forward(sink: Side, from: Stream, plain: Buffer): void {
    const totals = this.totals;
    const out = from.kind === 'RTP' || sink.rules?.mux === true ? sink.rtp : sink.rtcp;
    const dest = out.endpoint;
    if (dest === null) {
      totals.dropped.noDestination++;
      return;
    }
    const packet = sink.egress.length === 0 ? plain : runEgress(sink.egress, plain, from.kind);
    if (typeof packet === 'string') return this.drop(from, packet);
    if (!Array.isArray(packet)) return this.send(out, dest, packet);
    for (const each of packet) this.send(out, dest, each);
  }

  private send(out: Stream, dest: Endpoint, packet: Buffer): void {
    try {
      (out.via ?? out.socket).send(packet, dest.port, dest.address);
    } catch {
      // A destination the socket cannot take (family mismatch, bad port) costs one packet, not the relay.
      this.totals.dropped.sendError++;
      return;
    }
    this.totals.packetsOut++;
    this.totals.bytesOut += packet.length;
  }

  private handshake(side: Side, stream: Stream, msg: Buffer, rinfo: RemoteInfo, socket: Socket): void {
    const verdict = side.handshakes!.receive(msg, { address: normaliseAddress(rinfo.address), port: rinfo.port }, stream.kind, Date.now(), socket);
    if (verdict !== 'ok') this.drop(stream, verdict);
  }

  private newHandshakes(side: Side): SideHandshakes<Socket> {
    return new SideHandshakes<Socket>(
      {
        send: (msg, to, via, socket) => {
          try {
            const stream = side[via === 'RTP' ? 'rtp' : 'rtcp'];
            (socket ?? stream.via ?? stream.socket).send(msg, to.port, to.address);
          } catch {
            this.totals.dropped.sendError++;
          }
        },
        nominated: (from, via, socket) => {
          const stream = via === 'RTP' ? side.rtp : side.rtcp;
          // Media to the participant leaves from the address its nominated check reached.
          stream.via = socket === stream.socket ? undefined : socket;
          if (stream.confirmed && sameEndpoint(from, stream.endpoint ?? undefined)) return;
          stream.endpoint = from;
          stream.confirmed = true;
          this.onLearned({ side: side.id, kind: stream.kind, endpoint: from });
        },
        secured: (srtp, association) => {
          this.setSecurity(side, srtp, true);
          if (srtp && association) this.onSecured({ side: side.id, srtp, association });
        },
      },
      () => this.identity,
    );
  }

  /** New chains only for new keys, so a repeated configure keeps ROC and replay state. */
  private setSecurity(side: Side, srtp: SrtpKeyPair | null, dtls: boolean): void {
    const srtpId = srtp ? srtpPairId(srtp) : dtls ? UNKEYED : '';
    if (srtpId === side.srtpId) return;
    side.srtpId = srtpId;
    if (srtp) side.srtp = srtpContexts(srtp);
    else if (side.srtp) side.srtp = undefined;
    ({ ingress: side.ingress, egress: side.protect } = securityChains(side.srtp, dtls));
    side.egress = egressOf(side);
  }

  private drop(stream: Stream, reason: DropReason): void {
    stream.errors++;
    this.totals.dropped[reason]++;
  }

  /** Endpoint learning as rtpengine does it; false when strict-source rejects the packet. */
  private acceptSource(side: Side, stream: Stream, rawAddress: string, port: number, now: number): boolean {
    const policy = side.rules?.policy;
    const current = stream.endpoint;
    const address = normaliseAddress(rawAddress);
    const isCurrent = current !== null && current.port === port && current.address === address;
    if (isCurrent && stream.confirmed) return true;
    if (stream.firstPacketMs === 0) stream.firstPacketMs = now;
    if (policy === undefined || policy.asymmetric || policy.mode === 'off') return !policy?.strictSource || isCurrent || current === null;
    // The exact address of the participant's SDP wins at once and for good: a third party that spoke
    // first (to a callee still silent) cannot keep the media, nor lock the callee out with strict-source.
    const advertised = stream.advertised;
    if (advertised !== null && advertised.port === port && advertised.address === address) {
      if (!isCurrent) {
        stream.endpoint = advertised;
        this.onLearned({ side: side.id, kind: stream.kind, endpoint: advertised });
      }
      stream.learnRank = SIGNALLED_RANK;
      stream.confirmed = true;
      return true;
    }
    if (stream.confirmed) return !policy.strictSource;

    const windowOver = policy.mode === 'immediate' || now - stream.firstPacketMs >= LEARNING_WINDOW_MS;
    const rank = policy.mode === 'heuristic' ? heuristicRank(stream.advertised, address, port) : 1;
    if (!isCurrent && rank >= stream.learnRank) {
      stream.endpoint = { address, port };
      stream.learnRank = rank;
      this.onLearned({ side: side.id, kind: stream.kind, endpoint: stream.endpoint });
    }
    if (windowOver) stream.confirmed = true;
    return true;
  }
}

function fromEndpoint(stream: Stream, rinfo: RemoteInfo): boolean {
  const ep = stream.endpoint;
  return ep !== null && ep.port === rinfo.port && ep.address === normaliseAddress(rinfo.address);
}

/** Takes a token from the stream's bucket for packets from other sources; false when it is empty. */
function admitStranger(stream: Stream, now: number): boolean {
  const tokens = Math.min(STRANGER_BURST, (stream.strangerTokens ?? STRANGER_BURST) + ((now - (stream.strangerAt ?? now)) * STRANGER_RATE) / 1000);
  stream.strangerAt = now;
  if (tokens < 1) {
    stream.strangerTokens = tokens;
    return false;
  }
  stream.strangerTokens = tokens - 1;
  return true;
}

/** Puts `to` where `from` (a Side, or a side's id) stands in a sink list. */
function replaceSink(sinks: Sinks, from: Side | SideId, to: Side | SideId): void {
  for (let i = 0; i < sinks.length; i++) if (sinks[i] === from) sinks[i] = to;
}

/** Resolves undefined when the port is taken; rejects when the address itself is unusable. */
function bindSocket(type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type, ipv6Only: type === 'udp6', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER, lookup: literalLookup });
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close();
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(undefined);
      else reject(new RelayError('NO_INTERFACE', `cannot bind media port on ${address}: ${err.code ?? err.message}`));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** Enough to ride out a scheduling hiccup at a few thousand packets per second per port. */
const SOCKET_BUFFER = 256 * 1024;

/** RFC 5761 §4: on a muxed port, packet types 192-223 are RTCP (RTP avoids payload types 64-95). */
function isRtcp(msg: Buffer): boolean {
  const pt = msg[1];
  return pt !== undefined && pt >= 192 && pt <= 223;
}

/** Larger datagrams are not RTP (both engines drop them; the addon's receive buffers are this size). */
const MAX_PACKET = 2048;

/** Version 2, at least a fixed header, at most MAX_PACKET; anything else on a media port is not ours to forward. */
function isWellFormed(kind: StreamKind, msg: Buffer): boolean {
  const first = msg[0];
  return first !== undefined && first >> 6 === 2 && msg.length >= (kind === 'RTP' ? 12 : 8) && msg.length <= MAX_PACKET;
}

/** rtpengine's heuristic: exact SDP match beats same address, beats same port, beats anything. */
function heuristicRank(advertised: Endpoint | null, address: string, port: number): number {
  if (advertised === null) return 1;
  if (advertised.address === address) return advertised.port === port ? 4 : 3;
  return advertised.port === port ? 2 : 1;
}
