/**
 * Call snapshots in Redis, one key per call (`rtpbridge:call:<call-id>`, a JSON string with an expiry),
 * read from `--redis` at start-up and written to `--redis-write` (default: the same database). Redis
 * being down, slow or flapping is logged and contained: writes fail fast instead of queueing without
 * bound, after `allowedErrors` failures in a row writing pauses for `disableSeconds`. Whatever was
 * missed meanwhile is caught up once Redis takes writes again (reconnected, unpaused, or answering
 * again after a stall): the removals that did not happen are done, and every live call is rewritten.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export const KEY_PREFIX = 'rtpbridge:call:';
/** Removals remembered while Redis misses them; past this the oldest are left to expire by themselves. */
const MAX_PENDING_REMOVALS = 100_000;
/** How soon a failed write is followed by a catch-up attempt, while the connection stays up. */
const RESYNC_RETRY_MS = 1000;

/** `[PASSWORD@]HOST:PORT/DB` as rtpengine's `--redis` takes it. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  password?: string;
}

export interface RedisStoreOptions {
  read: RedisTarget;
  write?: RedisTarget;
  /** Seconds a call's key lives without being rewritten (`--redis-expires`). */
  expires: number;
  /** Consecutive failed writes after which writing pauses (`--redis-allowed-errors`); negative: never. */
  allowedErrors: number;
  /** Seconds writing pauses after that (`--redis-disable-time`). */
  disableSeconds: number;
  /** Seconds to wait for a connection (`--redis-connect-timeout`). */
  connectTimeout: number;
  /**
   * Seconds between rewrites of calls with SRTP (`--redis-srtp-refresh`, default 30): their rollover
   * counters move with the media, not with commits, and a restart must not resume them at an old ROC.
   */
  srtpRefresh?: number;
  /** Milliseconds the writes of a moment wait and coalesce (`--redis-write-delay`, default 20). */
  writeDelayMs?: number;
}

export function parseRedisTarget(spec: string, password?: string): RedisTarget | undefined {
  const m = /^(?:(.*)@)?(\[[^\]]+\]|[^:@/\s]+):(\d{1,5})(?:\/(\d{1,4}))?$/.exec(spec.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const pw = m[1] ?? password;
  return { host: m[2]!.replace(/^\[|\]$/g, ''), port, db: Number(m[4] ?? 0), ...(pw ? { password: pw } : {}) };
}

export function describeTarget(t: RedisTarget): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}/${t.db}`;
}

/** Keys per DEL command: large enough to batch a busy moment, small enough not to stall Redis. */
const REMOVALS_PER_DEL = 500;

export class RedisStore {
  private readonly reader: Redis;
  private readonly writer: Redis;
  private failures = 0;
  private pausedUntil = 0;
  /** While connect() waits for the first connection, that one is no reconnection. */
  private connecting = true;
  /** Calls removed while Redis could not take it: removed when it can again. */
  private readonly pendingRemovals = new Set<string>();
  /** A write or removal was missed: catch up once Redis takes writes again. */
  private behind = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Called to rewrite every live call, once Redis takes writes again after missing some. */
  onResync: () => void = () => undefined;

  constructor(
    private readonly options: RedisStoreOptions,
    private readonly log: Logger,
  ) {
    this.reader = connection(options.read, options.connectTimeout, log);
    this.writer = options.write ? connection(options.write, options.connectTimeout, log) : this.reader;
    this.writer.on('ready', () => {
      this.failures = 0;
      this.pausedUntil = 0;
      // A new connection: whatever happened while there was none is unknown to Redis.
      if (!this.connecting) {
        this.behind = true;
        void this.resync();
      }
    });
  }

  /** Resolves once both connections are up; rejects after the connect timeout. */
  async connect(): Promise<void> {
    try {
      await Promise.all([...new Set([this.reader, this.writer])].map((c) => ready(c, this.options.connectTimeout * 1000)));
    } finally {
      this.connecting = false;
    }
  }

  get connected(): boolean {
    return this.writer.status === 'ready';
  }

  /** Every stored call: key and raw value. */
  async loadAll(): Promise<Array<{ key: string; value: string | null }>> {
    const keys: string[] = [];
    let cursor = '0';
    // Bounded: SCAN's cursor returns to 0 after one pass over the keyspace.
    do {
      const [next, batch] = await this.reader.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 500);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    const out: Array<{ key: string; value: string | null }> = [];
    // In batches: one MGET of every key could outlast the command timeout.
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      const values = await this.reader.mget(...batch);
      batch.forEach((key, j) => out.push({ key, value: values[j] ?? null }));
    }
    return out;
  }

  async write(callId: string, json: string): Promise<void> {
    await this.writeMany([[callId, json]]);
  }

  /** Several calls at once: one command, or one pipeline for many (a burst of commits in one turn). */
  async writeMany(calls: ReadonlyArray<readonly [callId: string, json: string]>): Promise<void> {
    if (calls.length === 0) return;
    // A call-id used again after a removal Redis missed: the new call's key must stay.
    for (const [callId] of calls) this.pendingRemovals.delete(callId);
    const { expires } = this.options;
    if (calls.length === 1) {
      const [callId, json] = calls[0]!;
      await this.guard(() => this.writer.set(KEY_PREFIX + callId, json, 'EX', expires));
      return;
    }
    // One script call sets them all: a pipeline of SETs cost a client-side command, timer and reply
    // each, more than the serialisation of the calls.
    await this.guard(() => (this.writer as ScriptedRedis).rtpbridgeSetCalls(calls.length, ...calls.map(([callId]) => KEY_PREFIX + callId), ...calls.map(([, json]) => json), expires));
  }

  /**
   * Removes the calls' keys, one DEL per 500, all sent before this returns its promise (so a write
   * issued after it reaches Redis after them); what Redis misses is remembered and replayed.
   */
  async removeMany(callIds: readonly string[]): Promise<void> {
    const batches: string[][] = [];
    for (let i = 0; i < callIds.length; i += REMOVALS_PER_DEL) batches.push(callIds.slice(i, i + REMOVALS_PER_DEL));
    await Promise.all(
      batches.map(async (batch) => {
        if (!(await this.guard(() => this.writer.del(...batch.map((id) => KEY_PREFIX + id))))) for (const id of batch) this.rememberRemoval(id);
      }),
    );
  }

  /** How many removals wait for Redis (for tests and logs). */
  get pendingRemovalCount(): number {
    return this.pendingRemovals.size;
  }

  /** Removes a stored value that could not be restored, from the database it was read from. */
  async discard(key: string): Promise<void> {
    await this.reader.del(key).catch((err: unknown) => this.log.warn({ err, key }, 'could not remove an unusable call from Redis'));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.resyncTimer);
    // A close we asked for is no outage.
    await Promise.all([...new Set([this.reader, this.writer])].map((c) => (c.removeAllListeners('close'), c.quit().catch(() => c.disconnect()))));
  }

  /** Runs one write; false when it was skipped or failed, which leaves Redis behind until a resync. */
  private async guard(op: () => Promise<unknown>): Promise<boolean> {
    if (Date.now() < this.pausedUntil || !this.connected) {
      this.fellBehind();
      return false;
    }
    try {
      await op();
      this.failures = 0;
      return true;
    } catch (err) {
      this.failures++;
      this.log.warn({ err, failures: this.failures }, 'Redis write failed');
      if (this.options.allowedErrors >= 0 && this.failures > this.options.allowedErrors) {
        this.pausedUntil = Date.now() + this.options.disableSeconds * 1000;
        this.failures = 0;
        this.log.error({ seconds: this.options.disableSeconds }, 'too many Redis errors: writing paused');
      }
      this.fellBehind();
      return false;
    }
  }

  private rememberRemoval(callId: string): void {
    this.pendingRemovals.add(callId);
    if (this.pendingRemovals.size > MAX_PENDING_REMOVALS) this.pendingRemovals.delete(this.pendingRemovals.values().next().value!);
  }

  /** Schedules one catch-up attempt (at most one pending): when the pause ends, or shortly. */
  private fellBehind(): void {
    this.behind = true;
    if (this.resyncTimer || this.closed) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      void this.resync();
    }, Math.max(RESYNC_RETRY_MS, this.pausedUntil - Date.now())).unref();
  }

  /**
   * Catches Redis up: the missed removals, then every live call rewritten. While disconnected the next
   * 'ready' does it instead; a failure here schedules the next attempt, so it goes on until it succeeds.
   */
  private async resync(): Promise<void> {
    if (!this.behind || this.closed || !this.connected) return;
    if (Date.now() < this.pausedUntil) return this.fellBehind();
    this.behind = false;
    // Sent as any removal is: what fails again is remembered again and marks the store behind.
    const ids = [...this.pendingRemovals];
    this.pendingRemovals.clear();
    await this.removeMany(ids);
    if (this.behind) return;
    if (ids.length) this.log.info({ removed: ids.length }, 'Redis caught up with the calls removed while it missed them');
    this.onResync();
  }
}

/** SET key value EX ttl for every KEYS[i], ARGV[i]; the ttl is the last argument. */
const SET_CALLS_LUA = "local ttl = ARGV[#ARGV] for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'EX', ttl) end return #KEYS";

/** The connection with the script defined on it (ioredis sends EVALSHA, and EVAL once if Redis lacks it). */
type ScriptedRedis = Redis & { rtpbridgeSetCalls(keyCount: number, ...args: Array<string | number>): Promise<number> };

function connection(target: RedisTarget, connectTimeout: number, log: Logger): Redis {
  const redis = new Redis({
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.password ? { password: target.password } : {}),
    connectTimeout: connectTimeout * 1000,
    // Fail commands at once while disconnected, and after a while when Redis stalls: queueing them
    // would grow without bound.
    enableOfflineQueue: false,
    commandTimeout: 2 * connectTimeout * 1000,
    maxRetriesPerRequest: 1,
    // A write cut off by an outage is not sent again after it: by then it may be stale (the call deleted
    // meanwhile), and the reconnection rewrites every live call anyway.
    autoResendUnfulfilledCommands: false,
    // Keep trying to reconnect, backing off to a retry every 2 s.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: false,
  });
  redis.defineCommand('rtpbridgeSetCalls', { lua: SET_CALLS_LUA });
  let reported = false;
  // ioredis reports every failed reconnect: one line per outage, whether it began at start-up (an
  // error) or by losing a connection that was up (a close).
  const failed = (err?: Error): void => {
    if (!reported) log.warn({ err, redis: describeTarget(target) }, 'Redis connection failed; retrying');
    reported = true;
  };
  redis.on('error', (err) => failed(err));
  redis.on('close', () => failed());
  redis.on('ready', () => {
    if (reported) log.info({ redis: describeTarget(target) }, 'Redis connection restored');
    reported = false;
  });
  return redis;
}

function ready(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
