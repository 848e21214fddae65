/**
 * The native addon (plain RTP and SDES-SRTP) beside TypeScript workers for calls with ICE or DTLS, whose
 * handshakes the addon does not run. Shards 0..n-1 are the addon's, n.. the workers'; a call lives on
 * one shard, so its sides never straddle the two engines.
 */
import type { AddressFamily } from '../shared/vocabulary.js';
import { addCounters, zeroCounters } from './counters.js';
import type { DtlsIdentity } from '../dtls/identity.js';
import type { BindResult, DataPlane, DataPlaneCounters, LearnedEvent, TappedPacket, SecuredEvent, SideConfig, SideId, SideState } from './types.js';
import type { DtmfTone } from '../dtmf/injector.js';

export class MixedDataPlane implements DataPlane {
  readonly engine: string;
  readonly shards: number;
  readonly handshakeShards: readonly number[];
  private readonly owner = new Map<SideId, DataPlane>();

  constructor(
    private readonly native: DataPlane,
    private readonly workers: DataPlane,
  ) {
    this.engine = `${native.engine}+${workers.engine}`;
    this.shards = native.shards + workers.shards;
    this.handshakeShards = workers.handshakeShards.map((s) => s + native.shards);
  }

  engineOf(shard: number): string {
    return shard < this.native.shards ? this.native.engine : this.workers.engine;
  }

  async bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<BindResult> {
    const [plane, planeShard] = shard < this.native.shards ? [this.native, shard] : [this.workers, shard - this.native.shards];
    const result = await plane.bind(side, planeShard, local, family, rtpPort, alias);
    if (result === 'bound') this.owner.set(side, plane);
    return result;
  }

  configure(side: SideId, config: SideConfig): void {
    this.owner.get(side)?.configure(side, config);
  }

  restore(side: SideId, state: SideState): void {
    this.owner.get(side)?.restore(side, state);
  }

  async release(side: SideId, rebindNow = false): Promise<void> {
    await this.owner.get(side)?.release(side, rebindNow);
    this.owner.delete(side);
  }

  async read(sides: readonly SideId[]): Promise<Map<SideId, SideState>> {
    const [a, b] = await Promise.all([this.native.read(this.ownedBy(this.native, sides)), this.workers.read(this.ownedBy(this.workers, sides))]);
    return new Map([...a, ...b]);
  }

  async lastPackets(sides: readonly SideId[]): Promise<Float64Array> {
    const nativeSides = this.ownedBy(this.native, sides);
    const workerSides = this.ownedBy(this.workers, sides);
    const [a, b] = await Promise.all([this.native.lastPackets(nativeSides), this.workers.lastPackets(workerSides)]);
    const at = new Map<SideId, number>();
    nativeSides.forEach((s, i) => at.set(s, a[i]!));
    workerSides.forEach((s, i) => at.set(s, b[i]!));
    return Float64Array.from(sides, (s) => at.get(s) ?? 0);
  }

  async counters(): Promise<DataPlaneCounters> {
    const total = zeroCounters();
    for (const c of await Promise.all([this.native.counters(), this.workers.counters()])) addCounters(total, c);
    return total;
  }

  onLearned(listener: (event: LearnedEvent) => void): void {
    this.native.onLearned(listener);
    this.workers.onLearned(listener);
  }

  onTapped(listener: (event: TappedPacket) => void): void {
    this.native.onTapped(listener);
    this.workers.onTapped(listener);
  }

  onSecured(listener: (event: SecuredEvent) => void): void {
    this.workers.onSecured(listener);
  }

  playDtmf(side: SideId, tone: DtmfTone): Promise<boolean> {
    return this.owner.get(side)?.playDtmf(side, tone) ?? Promise.resolve(false);
  }

  setDtlsIdentity(identity: DtlsIdentity): void {
    this.workers.setDtlsIdentity(identity);
  }

  async close(): Promise<void> {
    await Promise.all([this.native.close(), this.workers.close()]);
    this.owner.clear();
  }

  private ownedBy(plane: DataPlane, sides: readonly SideId[]): SideId[] {
    return sides.filter((s) => this.owner.get(s) === plane);
  }
}
