/**
 * Retransmission handling: SIP proxies resend an ng request with the same cookie when the reply is
 * late or lost. A resent request gets the exact bytes of the first reply and is never executed twice,
 * even while the first run is still in flight. Unlike rtpengine, which keys by cookie alone, the key
 * is the source address, the cookie and a digest of the request: a datagram forged from another
 * address, or a different request under a reused cookie, never gets a stored reply (no reflection of
 * large replies by repeating a cookie). Memory is bounded in bytes; the oldest replies go first.
 *
 * The replies themselves live outside the JavaScript heap, in one ring of bytes written in order:
 * tens of thousands of replies kept for 30 s, as heap objects, were copied by every young-generation
 * collection and then promoted, and cost a busy relay a seventh of its throughput.
 */
import { hash } from 'node:crypto';

export interface ReplyCacheOptions {
  /** How long a reply is kept after it was produced (rtpengine: 30 s). */
  ttlMs?: number;
  /** Upper bound on the memory of stored replies (bytes, keys and bookkeeping); the oldest go first. */
  maxBytes?: number;
  /** Clock in milliseconds, injectable for tests. */
  now?: () => number;
}

/** What an entry costs beyond its reply's bytes: the key string, the entry object, the map slot. */
const ENTRY_OVERHEAD = 256;

interface Entry {
  /** Where the reply's bytes are in the ring. */
  offset: number;
  length: number;
  expires: number;
  bytes: number;
}

export class ReplyCache {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  private readonly done = new Map<string, Entry>();
  /**
   * The stored entries oldest first (insertion order is expiry order: one TTL for all), so the oldest
   * is found in O(1): iterating the map would first step over every slot emptied since it last
   * rehashed, on every store. An entry forgotten out of turn stays here until it reaches the front.
   */
  private orderKeys: string[] = [];
  private orderEntries: Entry[] = [];
  private first = 0;
  private readonly pending = new Map<string, Promise<Buffer>>();
  private readonly timer: NodeJS.Timeout;
  private storedBytes = 0;
  /** Made at the first store and dropped by the sweep once empty, so an idle relay holds none of it. */
  private ring: Buffer | undefined;
  /** Where the next reply goes in the ring. */
  private head = 0;

  constructor(options: ReplyCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.sweep(), Math.max(1000, Math.min(this.ttlMs, 10_000)));
    this.timer.unref();
  }

  /** Number of stored replies (in-flight requests not included). */
  get size(): number {
    return this.done.size;
  }

  /** Memory held by stored replies, as counted against `maxBytes`. */
  get bytes(): number {
    return this.storedBytes;
  }

  /** The key of one request: who sent it, its cookie, and what it asked. */
  static key(source: string, cookie: string, body: Buffer): string {
    return `${source} ${cookie} ${hash('sha1', body, 'base64')}`;
  }

  /** A stored reply or the in-flight run for `key`, if there is one: the request is a retransmission. */
  lookup(key: string): Promise<Buffer> | undefined {
    const hit = this.done.get(key);
    if (hit) {
      if (hit.expires > this.now()) return Promise.resolve(Buffer.from(this.ring!.subarray(hit.offset, hit.offset + hit.length)));
      this.forget(key, hit);
    }
    return this.pending.get(key);
  }

  /**
   * The stored reply for `key`, or the in-flight run's result, or the result of running `fn` now.
   * A failed run is not stored, so a retransmission retries it.
   */
  run(key: string, fn: () => Promise<Buffer>): Promise<Buffer> {
    const known = this.lookup(key);
    if (known) return known;
    // The executor form also turns a synchronous throw from `fn` into a rejection.
    const promise = new Promise<Buffer>((resolve) => resolve(fn())).then(
      (reply) => {
        this.pending.delete(key);
        this.store(key, reply);
        return reply;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, promise);
    return promise;
  }

  /** Drops expired replies; also runs on an unref'd timer. */
  sweep(): void {
    const now = this.now();
    for (let i = this.oldest(); i >= 0 && this.orderEntries[i]!.expires <= now; i = this.oldest()) this.forgetOldest(i);
    if (this.done.size === 0) this.empty();
  }

  close(): void {
    clearInterval(this.timer);
    this.empty();
  }

  /** Forgets every reply and lets the ring go. */
  private empty(): void {
    this.done.clear();
    this.orderKeys = [];
    this.orderEntries = [];
    this.first = 0;
    this.storedBytes = 0;
    this.ring = undefined;
    this.head = 0;
  }

  private store(key: string, reply: Buffer): void {
    const old = this.done.get(key);
    if (old) this.forget(key, old); // keep insertion order == expiry order
    const bytes = reply.length + 2 * key.length + ENTRY_OVERHEAD;
    if (bytes > this.maxBytes) return;
    const ring = (this.ring ??= Buffer.allocUnsafeSlow(this.maxBytes));
    // Contiguous room at the head, else from the start; what lies past the head when wrapping is the
    // oldest (the last lap's), and goes first.
    let at = this.head;
    if (at + reply.length > ring.length) {
      at = 0;
      for (let i = this.oldest(); i >= 0 && this.orderEntries[i]!.offset >= this.head; i = this.oldest()) this.forgetOldest(i);
    }
    // Then the oldest replies in the way, and the oldest of all while over the byte bound.
    for (let i = this.oldest(); i >= 0; i = this.oldest()) {
      const e = this.orderEntries[i]!;
      const inTheWay = e.offset < at + reply.length && at < e.offset + e.length;
      if (!inTheWay && this.storedBytes + bytes <= this.maxBytes) break;
      this.forgetOldest(i);
    }
    reply.copy(ring, at);
    this.head = at + reply.length;
    const entry = { offset: at, length: reply.length, expires: this.now() + this.ttlMs, bytes };
    this.done.set(key, entry);
    this.orderKeys.push(key);
    this.orderEntries.push(entry);
    this.storedBytes += bytes;
  }

  /** Position in the order of the oldest stored entry, or -1; stale positions in front are dropped. */
  private oldest(): number {
    while (this.first < this.orderKeys.length) {
      if (this.done.get(this.orderKeys[this.first]!) === this.orderEntries[this.first]) return this.first;
      this.first++;
    }
    return -1;
  }

  private forgetOldest(i: number): void {
    this.forget(this.orderKeys[i]!, this.orderEntries[i]!);
    this.first = i + 1;
    // The arrays are cut once their dead front is as long as the rest: amortised O(1) per entry.
    if (this.first > 1024 && this.first * 2 > this.orderKeys.length) {
      this.orderKeys = this.orderKeys.slice(this.first);
      this.orderEntries = this.orderEntries.slice(this.first);
      this.first = 0;
    }
  }

  private forget(key: string, entry: Entry): void {
    this.done.delete(key);
    this.storedBytes -= entry.bytes;
  }
}
