/**
 * The native addon for plain calls beside TypeScript workers for calls with SRTP, which the addon does
 * not do yet (nor ICE or DTLS). Shards 0..n-1 are the addon's, n.. the workers'; a call lives on one shard, so its sides
 * never straddle the two engines.
 */
import type { AddressFamily } from '../config/options.js';
import { addCounters, zeroCounters } from './counters.js';
import type { DtlsIdentity } from '../dtls/identity.js';
import type { BindResult, DataPlane, DataPlaneCounters, LearnedEvent, SecuredEvent, SideConfig, SideId, SideState } from './types.js';

export class MixedDataPlane implements DataPlane {
  readonly engine: string;
  readonly shards: number;
  readonly secureShards: readonly number[];
  private readonly owner = new Map<SideId, DataPlane>();

  constructor(
    private readonly plain: DataPlane,
    private readonly secure: DataPlane,
  ) {
    this.engine = `${plain.engine}+${secure.engine}`;
    this.shards = plain.shards + secure.shards;
    this.secureShards = secure.secureShards.map((s) => s + plain.shards);
  }

  async bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number): Promise<BindResult> {
    const [plane, planeShard] = shard < this.plain.shards ? [this.plain, shard] : [this.secure, shard - this.plain.shards];
    const result = await plane.bind(side, planeShard, local, family, rtpPort);
    if (result === 'bound') this.owner.set(side, plane);
    return result;
  }

  configure(side: SideId, config: SideConfig): void {
    this.owner.get(side)?.configure(side, config);
  }

  release(side: SideId): void {
    this.owner.get(side)?.release(side);
    this.owner.delete(side);
  }

  async read(sides: readonly SideId[]): Promise<Map<SideId, SideState>> {
    const [a, b] = await Promise.all([this.plain.read(this.ownedBy(this.plain, sides)), this.secure.read(this.ownedBy(this.secure, sides))]);
    return new Map([...a, ...b]);
  }

  async lastPackets(sides: readonly SideId[]): Promise<Float64Array> {
    const plainSides = this.ownedBy(this.plain, sides);
    const secureSides = this.ownedBy(this.secure, sides);
    const [a, b] = await Promise.all([this.plain.lastPackets(plainSides), this.secure.lastPackets(secureSides)]);
    const at = new Map<SideId, number>();
    plainSides.forEach((s, i) => at.set(s, a[i]!));
    secureSides.forEach((s, i) => at.set(s, b[i]!));
    return Float64Array.from(sides, (s) => at.get(s) ?? 0);
  }

  async counters(): Promise<DataPlaneCounters> {
    const total = zeroCounters();
    for (const c of await Promise.all([this.plain.counters(), this.secure.counters()])) addCounters(total, c);
    return total;
  }

  onLearned(listener: (event: LearnedEvent) => void): void {
    this.plain.onLearned(listener);
    this.secure.onLearned(listener);
  }

  onSecured(listener: (event: SecuredEvent) => void): void {
    this.secure.onSecured(listener);
  }

  setDtlsIdentity(identity: DtlsIdentity): void {
    this.secure.setDtlsIdentity(identity);
  }

  async close(): Promise<void> {
    await Promise.all([this.plain.close(), this.secure.close()]);
    this.owner.clear();
  }

  private ownedBy(plane: DataPlane, sides: readonly SideId[]): SideId[] {
    return sides.filter((s) => this.owner.get(s) === plane);
  }
}
