/**
 * A data plane that forwards nothing and remembers everything it was told, for relay-level tests: SDP
 * in, SDP out, and the exact binds, configs, restores and releases the control plane produced. Shard 0
 * behaves like the native addon (no ICE/DTLS), shard 1 like a TypeScript worker.
 */
import type { AddressFamily, Endpoint, StreamKind } from '../../src/shared/vocabulary.js';
import { zeroCounters } from '../../src/dataplane/counters.js';
import type { BindResult, DataPlane, DataPlaneCounters, LearnedEvent, TappedPacket, SecuredEvent, SideConfig, SideId, SideState, SrtpKeyPair } from '../../src/dataplane/types.js';
import type { DtmfTone } from '../../src/dtmf/injector.js';

export interface BoundSide {
  shard: number;
  local: string;
  family: AddressFamily;
  rtpPort: number;
  aliases: number[];
  config?: SideConfig;
  state?: SideState;
}

export type Operation = { op: 'bind' | 'configure' | 'restore' | 'release'; side: SideId; shard?: number };

const EMPTY_STREAM = { packets: 0, bytes: 0, errors: 0, lastPacketMs: 0, endpoint: null, confirmed: false };

export class MemoryDataPlane implements DataPlane {
  readonly engine = 'native+workers';
  readonly shards = 2;
  readonly handshakeShards = [1];
  readonly sides = new Map<SideId, BoundSide>();
  readonly log: Operation[] = [];
  /** Ports another process holds: bind says 'in-use'. */
  readonly taken = new Set<number>();
  private learnedListeners: Array<(e: LearnedEvent) => void> = [];
  private securedListeners: Array<(e: SecuredEvent) => void> = [];
  private tapListeners: Array<(e: TappedPacket) => void> = [];

  engineOf(shard: number): string {
    return shard === 0 ? 'native' : 'workers';
  }

  async bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<BindResult> {
    if (this.taken.has(rtpPort)) return 'in-use';
    if (alias && !this.handshakeShards.includes(shard)) throw new Error(`alias on shard ${shard}, which runs no ICE`);
    this.log.push({ op: 'bind', side, shard });
    if (alias) this.sides.get(side)!.aliases.push(rtpPort);
    else this.sides.set(side, { shard, local, family, rtpPort, aliases: [] });
    return 'bound';
  }

  configure(side: SideId, config: SideConfig): void {
    const bound = this.sides.get(side);
    if (!bound) return;
    if ((config.ice || config.dtls) && !this.handshakeShards.includes(bound.shard)) throw new Error(`side ${side} needs handshakes on shard ${bound.shard}`);
    this.log.push({ op: 'configure', side });
    bound.config = config;
  }

  restore(side: SideId, state: SideState): void {
    this.log.push({ op: 'restore', side });
    this.sides.get(side)!.state = state;
  }

  async release(side: SideId): Promise<void> {
    this.log.push({ op: 'release', side });
    this.sides.delete(side);
  }

  async read(sides: readonly SideId[]): Promise<Map<SideId, SideState>> {
    const out = new Map<SideId, SideState>();
    for (const id of sides) {
      const bound = this.sides.get(id);
      if (bound) out.set(id, bound.state ?? { rtp: EMPTY_STREAM, rtcp: EMPTY_STREAM });
    }
    return out;
  }

  async lastPackets(sides: readonly SideId[]): Promise<Float64Array> {
    return Float64Array.from(sides, (id) => {
      const s = this.sides.get(id)?.state;
      return s ? Math.max(s.rtp.lastPacketMs, s.rtcp.lastPacketMs) : 0;
    });
  }

  async counters(): Promise<DataPlaneCounters> {
    return zeroCounters();
  }

  onLearned(listener: (e: LearnedEvent) => void): void {
    this.learnedListeners.push(listener);
  }

  onSecured(listener: (e: SecuredEvent) => void): void {
    this.securedListeners.push(listener);
  }

  onTapped(listener: (e: TappedPacket) => void): void {
    this.tapListeners.push(listener);
  }

  /** Presses asked for, by side. */
  readonly played: Array<[SideId, DtmfTone]> = [];

  async playDtmf(side: SideId, tone: DtmfTone): Promise<boolean> {
    this.played.push([side, tone]);
    return true;
  }

  setDtlsIdentity(): void {}

  async close(): Promise<void> {
    this.sides.clear();
  }

  /** Plays the forwarder: a packet from `endpoint` arrived on `side`'s port. */
  learn(side: SideId, kind: StreamKind, endpoint: Endpoint): void {
    for (const l of this.learnedListeners) l({ side, kind, endpoint });
  }

  /** Plays the forwarder passing an RTCP packet from `side`'s participant. */
  rtcp(side: SideId, packet: Buffer, atMs: number): void {
    for (const l of this.tapListeners) l({ side, packet, atMs });
  }

  /** Plays a finished DTLS handshake on `side`. */
  secure(side: SideId, srtp: SrtpKeyPair): void {
    for (const l of this.securedListeners) l({ side, srtp });
  }

  /** The side bound on `port`. */
  sideAt(port: number): [SideId, BoundSide] {
    const found = [...this.sides].find(([, s]) => s.rtpPort === port);
    if (!found) throw new Error(`no side on port ${port}`);
    return found;
  }
}
