/**
 * A standby relay follows other relays' call state (`--subscribe-keyspace=DB`): it reads every call
 * stored in those databases at start-up and keeps up with Redis keyspace notifications, holding them
 * as *foreign* calls: listed and queryable, never timed out, never written back, their ports not
 * bound. `rtpbridge-ctl active` (or, with `--active-switchover`, the first ng command for a call)
 * takes them over on the same ports, which is how a standby replaces a relay that died.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { KEY_PREFIX, describeTarget, type RedisTarget } from './redis-store.js';
import { parseSnapshot, type CallSnapshot } from './snapshot.js';

/** Keyspace events for string writes ($), deletes (g) and expiries (x), on the keyspace channel (K). */
const NOTIFY_EVENTS = 'K$gx';

export class StandbyFollower {
  /** Foreign calls by call-id. */
  private readonly foreign = new Map<string, CallSnapshot>();
  private readonly readers = new Map<number, Redis>();
  private subscriber: Redis | undefined;

  constructor(
    private readonly target: RedisTarget,
    private readonly dbs: readonly number[],
    private readonly connectTimeout: number,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.foreign.size;
  }

  ids(): string[] {
    return [...this.foreign.keys()];
  }

  get(callId: string): CallSnapshot | undefined {
    return this.foreign.get(callId);
  }

  /** Holds a call this relay hands back (`standby`) as foreign, as if another relay had stored it. */
  hold(snapshot: CallSnapshot): void {
    this.foreign.set(snapshot.callId, snapshot);
  }

  /** Removes and returns a foreign call, to be taken over. */
  take(callId: string): CallSnapshot | undefined {
    const snapshot = this.foreign.get(callId);
    this.foreign.delete(callId);
    return snapshot;
  }

  async start(): Promise<void> {
    const options = { host: this.target.host, port: this.target.port, ...(this.target.password ? { password: this.target.password } : {}), connectTimeout: this.connectTimeout * 1000, maxRetriesPerRequest: 1 };
    for (const db of this.dbs) {
      const reader = new Redis({ ...options, db });
      reader.on('error', (err) => this.log.warn({ err, db }, 'standby: Redis connection failed; retrying'));
      this.readers.set(db, reader);
    }
    const subscriber = (this.subscriber = new Redis(options));
    subscriber.on('error', (err) => this.log.warn({ err }, 'standby: Redis subscription failed; retrying'));
    await subscriber.config('SET', 'notify-keyspace-events', NOTIFY_EVENTS).catch((err: unknown) =>
      this.log.warn({ err, redis: describeTarget(this.target) }, `standby: could not enable keyspace notifications; set notify-keyspace-events ${NOTIFY_EVENTS} on the Redis server`),
    );
    subscriber.on('pmessage', (_pattern: string, channel: string, event: string) => void this.changed(channel, event));
    await subscriber.psubscribe(...this.dbs.map((db) => `__keyspace@${db}__:${KEY_PREFIX}*`));
    for (const db of this.dbs) await this.loadAll(db);
    this.log.info({ dbs: this.dbs, foreign: this.foreign.size }, 'standby: following other relays');
  }

  async close(): Promise<void> {
    await Promise.all([...this.readers.values(), ...(this.subscriber ? [this.subscriber] : [])].map((c) => c.quit().catch(() => c.disconnect())));
  }

  private async loadAll(db: number): Promise<void> {
    const reader = this.readers.get(db)!;
    let cursor = '0';
    do {
      const [next, keys] = await reader.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 500);
      for (const key of keys) await this.read(db, key);
      cursor = next;
    } while (cursor !== '0');
  }

  /** `__keyspace@DB__:KEY` with the event name as message. */
  private async changed(channel: string, event: string): Promise<void> {
    const m = /^__keyspace@(\d+)__:(.*)$/.exec(channel);
    if (!m || !m[2]!.startsWith(KEY_PREFIX)) return;
    const callId = m[2]!.slice(KEY_PREFIX.length);
    if (event === 'set') await this.read(Number(m[1]), m[2]!);
    else if (event === 'del' || event === 'expired') this.foreign.delete(callId);
  }

  private async read(db: number, key: string): Promise<void> {
    try {
      const value = await this.readers.get(db)?.get(key);
      if (value === null || value === undefined) return;
      const snapshot = parseSnapshot(value);
      this.foreign.set(snapshot.callId, snapshot);
    } catch (err) {
      this.log.warn({ err, db, key }, 'standby: cannot follow a stored call');
    }
  }
}
