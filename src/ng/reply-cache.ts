/**
 * Retransmission handling: SIP proxies resend an ng request with the same cookie when the reply is
 * late or lost. A resent request gets the exact bytes of the first reply and is never executed twice,
 * even while the first run is still in flight. Unlike rtpengine, which keys by cookie alone, the key
 * is the source address, the cookie and a digest of the request: a datagram forged from another
 * address, or a different request under a reused cookie, never gets a stored reply (no reflection of
 * large replies by repeating a cookie). Memory is bounded in bytes; the oldest replies go first.
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

/** What an entry costs beyond its reply's bytes: the key string, the entry and Buffer objects, the map slot. */
const ENTRY_OVERHEAD = 256;

interface Entry {
  reply: Buffer;
  expires: number;
  bytes: number;
}

export class ReplyCache {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  /** Insertion order is expiry order (same TTL for all), which lets sweep() stop early. */
  private readonly done = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  private readonly timer: NodeJS.Timeout;
  private storedBytes = 0;

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
      if (hit.expires > this.now()) return Promise.resolve(hit.reply);
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
    for (const [key, entry] of this.done) {
      if (entry.expires > now) break;
      this.forget(key, entry);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.done.clear();
    this.storedBytes = 0;
  }

  private store(key: string, reply: Buffer): void {
    const old = this.done.get(key);
    if (old) this.forget(key, old); // keep insertion order == expiry order
    // A small reply is a slice of an 8 KiB pool slab that it would keep alive whole: stored replies get
    // their own memory, so the byte bound is what they really hold.
    const own = Buffer.allocUnsafeSlow(reply.length);
    reply.copy(own);
    const entry = { reply: own, expires: this.now() + this.ttlMs, bytes: reply.length + 2 * key.length + ENTRY_OVERHEAD };
    if (entry.bytes > this.maxBytes) return;
    this.done.set(key, entry);
    this.storedBytes += entry.bytes;
    // Only when over the bound: an iteration starts by stepping over every slot the sweep emptied since
    // the map last rehashed (tens of thousands at a few thousand requests a second), on every store.
    if (this.storedBytes <= this.maxBytes) return;
    for (const [oldest, e] of this.done) {
      if (this.storedBytes <= this.maxBytes) break;
      this.forget(oldest, e);
    }
  }

  private forget(key: string, entry: Entry): void {
    this.done.delete(key);
    this.storedBytes -= entry.bytes;
  }
}
