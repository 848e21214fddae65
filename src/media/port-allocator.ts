import type { AddressFamily } from '../shared/vocabulary.js';
import type { DataPlane, SideId } from '../dataplane/types.js';
import { RelayError } from '../errors.js';

/**
 * Hands out RTP/RTCP port pairs (even, even+1) from [portMin, portMax] per local address. The data plane
 * proves a pair free by binding it (another process may hold some), and a cursor walks the range so a
 * freed pair is not reused at once: late packets of an old call must not land in a new one.
 */
export class PortAllocator {
  private readonly used = new Map<string, Set<number>>();
  private readonly cursor = new Map<string, number>();
  private readonly firstEven: number;
  private readonly pairCount: number;

  constructor(
    portMin: number,
    portMax: number,
    private readonly dataPlane: DataPlane,
  ) {
    this.firstEven = portMin % 2 === 0 ? portMin : portMin + 1;
    this.pairCount = Math.max(0, Math.floor((portMax - this.firstEven + 1) / 2));
    if (this.pairCount === 0) throw new RelayError('CONFIG_INVALID', `port range ${portMin}-${portMax} holds no RTP/RTCP pair`);
  }

  /** Port pairs held and free on one local address. */
  usage(local: string): { used: number; free: number } {
    const used = this.used.get(local)?.size ?? 0;
    return { used, free: this.pairCount - used };
  }

  get pairsInUse(): number {
    let n = 0;
    for (const set of this.used.values()) n += set.size;
    return n;
  }

  /** Binds the next free pair for `side` on `shard` (with `alias`, one more for an ICE candidate); resolves to its RTP port. */
  async allocate(side: SideId, shard: number, local: string, family: AddressFamily, alias = false): Promise<number> {
    let used = this.used.get(local);
    if (!used) this.used.set(local, (used = new Set()));
    let slot = this.cursor.get(local) ?? Math.floor(Math.random() * this.pairCount);
    for (let tried = 0; tried < this.pairCount; tried++, slot = (slot + 1) % this.pairCount) {
      const rtpPort = this.firstEven + slot * 2;
      if (used.has(rtpPort)) continue;
      if ((await this.dataPlane.bind(side, shard, local, family, rtpPort, alias)) === 'in-use') continue;
      used.add(rtpPort);
      this.cursor.set(local, (slot + 1) % this.pairCount);
      return rtpPort;
    }
    throw new RelayError('NO_PORTS', `no free media ports on ${local}`);
  }

  /**
   * Binds exactly `rtpPort` (and the RTCP port above) for `side`: a call taken over keeps its ports.
   * False when the relay or another process holds them.
   */
  async claim(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<boolean> {
    let used = this.used.get(local);
    if (!used) this.used.set(local, (used = new Set()));
    if (used.has(rtpPort)) return false;
    if ((await this.dataPlane.bind(side, shard, local, family, rtpPort, alias)) === 'in-use') return false;
    used.add(rtpPort);
    return true;
  }

  /** Frees the side's pair and its aliases (`more`), whose sockets the data plane closes with the side's. */
  release(side: SideId, local: string, rtpPort: number, more: ReadonlyArray<{ local: string; rtpPort: number }> = []): void {
    for (const pair of [{ local, rtpPort }, ...more]) this.used.get(pair.local)?.delete(pair.rtpPort);
    this.dataPlane.release(side);
  }
}
