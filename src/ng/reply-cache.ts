/**
 * Retransmission handling: SIP proxies resend an ng request with the same cookie when the reply is
 * late or lost. Like rtpengine, the cookie alone is the key; a resent request gets the exact bytes
 * of the first reply and is never executed twice, even while the first run is still in flight.
 */

export interface ReplyCacheOptions {
  /** How long a reply is kept after it was produced (rtpengine: 30 s). */
  ttlMs?: number;
  /** Upper bound on stored replies; the oldest go first. */
  maxEntries?: number;
  /** Clock in milliseconds, injectable for tests. */
  now?: () => number;
}

interface Entry {
  reply: Buffer;
  expires: number;
}

export class ReplyCache {
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  /** Insertion order is expiry order (same TTL for all), which lets sweep() stop early. */
  private readonly done = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  private readonly timer: NodeJS.Timeout;

  constructor(options: ReplyCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.sweep(), Math.max(1000, Math.min(this.ttlMs, 10_000)));
    this.timer.unref();
  }

  /** Number of stored replies (in-flight requests not included). */
  get size(): number {
    return this.done.size;
  }

  /**
   * The cached reply for `cookie`, or the in-flight run's result, or the result of running `fn` now.
   * A failed run is not cached, so a retransmission retries it.
   */
  run(cookie: string, fn: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.done.get(cookie);
    if (hit) {
      if (hit.expires > this.now()) return Promise.resolve(hit.reply);
      this.done.delete(cookie);
    }
    const inFlight = this.pending.get(cookie);
    if (inFlight) return inFlight;

    // The executor form also turns a synchronous throw from `fn` into a rejection.
    const promise = new Promise<Buffer>((resolve) => resolve(fn())).then(
      (reply) => {
        this.pending.delete(cookie);
        this.store(cookie, reply);
        return reply;
      },
      (err: unknown) => {
        this.pending.delete(cookie);
        throw err;
      },
    );
    this.pending.set(cookie, promise);
    return promise;
  }

  /** Drops expired replies; also runs on an unref'd timer. */
  sweep(): void {
    const now = this.now();
    for (const [cookie, entry] of this.done) {
      if (entry.expires > now) break;
      this.done.delete(cookie);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.done.clear();
  }

  private store(cookie: string, reply: Buffer): void {
    this.done.delete(cookie); // keep insertion order == expiry order
    this.done.set(cookie, { reply, expires: this.now() + this.ttlMs });
    if (this.done.size > this.maxEntries) {
      const oldest = this.done.keys().next();
      if (!oldest.done) this.done.delete(oldest.value);
    }
  }
}
