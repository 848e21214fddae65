import { randomInt } from 'node:crypto';
import type { AddressFamily } from '../shared/vocabulary.js';
import type { DataPlane, SideId } from '../dataplane/types.js';
import { RelayError } from '../errors.js';

/** How long a freed pair rests before it is handed out again: late packets of the old call die out. */
const REST_MS = 5000;
/** How long a pair another process holds rests before it is tried again. */
const TAKEN_MS = 60_000;

const FREE = 0;
const HELD = 1;
const RESTING = 2;

/**
 * Slots waiting for a time, in the order they were added (one rest length per queue, so also by time):
 * a ring of typed arrays, since a busy relay rests thousands of pairs a second for seconds each, and an
 * object per entry would be garbage that lives long enough to be promoted.
 */
class RestQueue {
  private slots = new Int32Array(64);
  private until = new Float64Array(64);
  private head = 0;
  private count = 0;

  push(slot: number, until: number): void {
    if (this.count === this.slots.length) this.grow();
    const at = (this.head + this.count) % this.slots.length;
    this.slots[at] = slot;
    this.until[at] = until;
    this.count++;
  }

  /** The oldest slot, if its time has come (or at all, with `early`). */
  shift(now: number, early = false): number | undefined {
    if (this.count === 0 || (!early && this.until[this.head]! > now)) return undefined;
    const slot = this.slots[this.head]!;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    return slot;
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const until = new Float64Array(this.slots.length * 2);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % this.slots.length;
      slots[i] = this.slots[from]!;
      until[i] = this.until[from]!;
    }
    this.slots = slots;
    this.until = until;
    this.head = 0;
  }
}

/**
 * The pairs of one local address: a free list picked from at random in O(1), and queues of pairs
 * resting after use or after another process was found holding them.
 */
class AddressPool {
  /** Slot (pair index) per state; `free` holds the first `freeCount` entries, `position` indexes them. */
  private readonly state: Uint8Array;
  private readonly free: Int32Array;
  private readonly position: Int32Array;
  private freeCount: number;
  /** Resting slots (freed, or found taken); a slot claimed meanwhile is skipped when it comes up. */
  private readonly resting = new Map<number, RestQueue>([
    [REST_MS, new RestQueue()],
    [TAKEN_MS, new RestQueue()],
  ]);
  held = 0;

  constructor(readonly pairCount: number) {
    this.state = new Uint8Array(pairCount);
    this.free = Int32Array.from({ length: pairCount }, (_, i) => i);
    this.position = Int32Array.from({ length: pairCount }, (_, i) => i);
    this.freeCount = pairCount;
  }

  /** A random free slot, now held; one resting after use if none is free (better than refusing); -1 if none. */
  take(now: number): number {
    this.wake(now);
    if (this.freeCount > 0) {
      const slot = this.free[randomInt(this.freeCount)]!;
      this.unfree(slot);
      return this.hold(slot);
    }
    // A pair this relay freed a moment ago rather than none; never one another process was found holding
    // (trying those again at once would be the bind storm this avoids).
    const freed = this.resting.get(REST_MS)!;
    for (let slot = freed.shift(now, true); slot !== undefined; slot = freed.shift(now, true)) if (this.state[slot] === RESTING) return this.hold(slot);
    return -1;
  }

  /** Holds exactly `slot`; false when it is held already. */
  claim(slot: number): boolean {
    if (this.state[slot] === HELD) return false;
    if (this.state[slot] === FREE) this.unfree(slot);
    this.hold(slot);
    return true;
  }

  /** Back to the free list at once (a bind failed for another reason than the port). */
  giveBack(slot: number): void {
    if (this.state[slot] !== HELD) return;
    this.held--;
    this.state[slot] = FREE;
    this.position[slot] = this.freeCount;
    this.free[this.freeCount++] = slot;
  }

  /** Rests a held slot for `ms` before it is free again. */
  rest(slot: number, now: number, ms: number): void {
    if (this.state[slot] !== HELD) return;
    this.held--;
    this.state[slot] = RESTING;
    let queue = this.resting.get(ms);
    if (!queue) this.resting.set(ms, (queue = new RestQueue()));
    queue.push(slot, now + ms);
  }

  private hold(slot: number): number {
    this.state[slot] = HELD;
    this.held++;
    return slot;
  }

  private unfree(slot: number): void {
    const at = this.position[slot]!;
    const last = this.free[--this.freeCount]!;
    this.free[at] = last;
    this.position[last] = at;
    this.position[slot] = -1;
  }

  /** Moves the slots whose rest is over back to the free list. */
  private wake(now: number): void {
    for (const queue of this.resting.values()) {
      for (let slot = queue.shift(now); slot !== undefined; slot = queue.shift(now)) {
        if (this.state[slot] !== RESTING) continue;
        this.state[slot] = FREE;
        this.position[slot] = this.freeCount;
        this.free[this.freeCount++] = slot;
      }
    }
  }
}

/**
 * Hands out RTP/RTCP port pairs (even, even+1) from [portMin, portMax] per local address, in O(1) and
 * at random, so the next call's ports cannot be told from the last one's. The relay knows what it
 * holds, so a pair costs one bind, unless another process holds it (then it rests a minute before it
 * is tried again). A freed pair rests a few seconds before it is handed out again: late packets of an
 * old call must not land in a new one, and by then the data plane has closed its sockets.
 */
export class PortAllocator {
  private readonly pools = new Map<string, AddressPool>();
  private readonly firstEven: number;
  private readonly pairCount: number;

  constructor(
    portMin: number,
    portMax: number,
    private readonly dataPlane: DataPlane,
    private readonly now: () => number = Date.now,
  ) {
    this.firstEven = portMin % 2 === 0 ? portMin : portMin + 1;
    this.pairCount = Math.max(0, Math.floor((portMax - this.firstEven + 1) / 2));
    if (this.pairCount === 0) throw new RelayError('CONFIG_INVALID', `port range ${portMin}-${portMax} holds no RTP/RTCP pair`);
  }

  /** Port pairs held and free on one local address. */
  usage(local: string): { used: number; free: number } {
    const used = this.pools.get(local)?.held ?? 0;
    return { used, free: this.pairCount - used };
  }

  get pairsInUse(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.held;
    return n;
  }

  /** Binds a free pair for `side` on `shard` (with `alias`, one more for an ICE candidate); resolves to its RTP port. */
  async allocate(side: SideId, shard: number, local: string, family: AddressFamily, alias = false): Promise<number> {
    const pool = this.pool(local);
    // Bounded: every failed try rests a slot for a minute, so each slot is tried at most once here.
    for (let tried = 0; tried < this.pairCount; tried++) {
      const slot = pool.take(this.now());
      if (slot < 0) break;
      const rtpPort = this.firstEven + slot * 2;
      if ((await this.bind(pool, slot, side, shard, local, family, rtpPort, alias)) === 'bound') return rtpPort;
      pool.rest(slot, this.now(), TAKEN_MS);
    }
    throw new RelayError('NO_PORTS', `no free media ports on ${local}`);
  }

  /**
   * Binds exactly `rtpPort` (and the RTCP port above) for `side`: a call taken over keeps its ports.
   * False when the relay or another process holds them.
   */
  async claim(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<boolean> {
    const slot = (rtpPort - this.firstEven) / 2;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.pairCount) return false;
    const pool = this.pool(local);
    if (!pool.claim(slot)) return false;
    if ((await this.bind(pool, slot, side, shard, local, family, rtpPort, alias)) === 'bound') return true;
    pool.rest(slot, this.now(), TAKEN_MS);
    return false;
  }

  /** Frees the side's pair and its aliases (`more`), whose sockets the data plane closes with the side's. */
  release(side: SideId, local: string, rtpPort: number, more: ReadonlyArray<{ local: string; rtpPort: number }> = []): void {
    const now = this.now();
    this.pools.get(local)?.rest((rtpPort - this.firstEven) / 2, now, REST_MS);
    for (const pair of more) this.pools.get(pair.local)?.rest((pair.rtpPort - this.firstEven) / 2, now, REST_MS);
    void this.dataPlane.release(side);
  }

  private pool(local: string): AddressPool {
    let pool = this.pools.get(local);
    if (!pool) this.pools.set(local, (pool = new AddressPool(this.pairCount)));
    return pool;
  }

  /** The data plane's bind of a held slot; a failure other than "in use" gives the slot back and throws. */
  private async bind(pool: AddressPool, slot: number, side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias: boolean) {
    try {
      return await this.dataPlane.bind(side, shard, local, family, rtpPort, alias);
    } catch (err) {
      pool.giveBack(slot);
      throw err;
    }
  }
}
