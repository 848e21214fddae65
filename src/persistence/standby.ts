/**
 * A standby relay follows other relays' call state (`--subscribe-keyspace=DB`): it reads every call
 * stored in those databases at start-up and keeps up with Redis keyspace notifications, holding them
 * as *foreign* calls: listed and queryable, never timed out, never written back, their ports not
 * bound. `rtpbridge-ctl active` (or, with `--active-switchover`, the first ng command or packet for a call)
 * takes them over on the same ports, which is how a standby replaces a relay that died.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { KEY_PREFIX, describeTarget, type RedisTarget } from './redis-store.js';
import { parseSnapshot, type CallSnapshot } from './snapshot.js';

/** Keyspace events for string writes ($), deletes (g) and expiries (x), on the keyspace channel (K). */
const NOTIFY_EVENTS = 'K$gx';

/** A call another relay keeps, and the database it keeps it in. */
export interface Followed {
  snapshot: CallSnapshot;
  db: number;
  /** The rescan (or notification) that last saw it: older ones are gone from Redis. */
  seen: number;
  /** Handed back by this relay (`standby`): not announced to onChange while it stays in that database. */
  held?: boolean;
}

export class StandbyFollower {
  /** Foreign calls by call-id. */
  private readonly foreign = new Map<string, Followed>();
  private readonly readers = new Map<number, Redis>();
  private subscriber: Redis | undefined;
  private generation = 0;
  /** Told whenever a foreign call appears, changes (its snapshot) or goes (undefined). */
  onChange: (callId: string, snapshot: CallSnapshot | undefined) => void = () => undefined;

  constructor(
    private readonly target: RedisTarget,
    private readonly dbs: number[],
    private readonly connectTimeout: number,
    private readonly log: Logger,
    /** Whether a call is this relay's own (its own writes, seen when it follows its own database). */
    private readonly isOwn: (callId: string) => boolean,
  ) {}

  get size(): number {
    return this.foreign.size;
  }

  ids(): string[] {
    return [...this.foreign.keys()];
  }

  get(callId: string): CallSnapshot | undefined {
    return this.foreign.get(callId)?.snapshot;
  }

  /**
   * Holds a call this relay hands back (`standby`) as foreign, as if another relay had stored it in
   * `db`. Not announced to onChange: its ports were just freed here for the relay taking it over, and
   * must not be watched (and taken back) by this one.
   */
  hold(snapshot: CallSnapshot, db: number): void {
    this.foreign.set(snapshot.callId, { snapshot, db, seen: this.generation, held: true });
  }

  /** Removes and returns a foreign call, to be taken over. */
  take(callId: string): Followed | undefined {
    const followed = this.foreign.get(callId);
    this.drop(callId);
    return followed;
  }

  /**
   * Deletes a taken-over call's key from the database it was followed in: this relay owns it now, and
   * the relay that stored it must not restore it again when it comes back.
   */
  async release(callId: string, db: number): Promise<void> {
    await this.readers
      .get(db)
      ?.del(KEY_PREFIX + callId)
      .catch((err: unknown) => this.log.warn({ err, callId, db }, 'standby: could not remove a taken-over call from the database it came from'));
  }

  async start(): Promise<void> {
    const subscriber = (this.subscriber = new Redis({ ...this.options(), lazyConnect: true }));
    subscriber.on('error', (err) => this.log.warn({ err }, 'standby: Redis subscription failed; retrying'));
    subscriber.on('pmessage', (_pattern: string, channel: string, event: string) => void this.changed(channel, event));
    await subscriber.connect();
    // Notifications sent while the subscription was down are lost: read every database again.
    subscriber.on('ready', () => void this.rescan());
    await subscriber.config('SET', 'notify-keyspace-events', NOTIFY_EVENTS).catch((err: unknown) =>
      this.log.warn({ err, redis: describeTarget(this.target) }, `standby: could not enable keyspace notifications; set notify-keyspace-events ${NOTIFY_EVENTS} on the Redis server`),
    );
    for (const db of [...this.dbs]) await this.subscribe(db);
    this.log.info({ dbs: this.dbs, foreign: this.foreign.size }, 'standby: following other relays');
  }

  /** Follows one more database (a relay that handed its calls back follows its own). */
  async follow(db: number): Promise<void> {
    if (this.dbs.includes(db)) return;
    this.dbs.push(db);
    if (this.subscriber) await this.subscribe(db);
  }

  async close(): Promise<void> {
    await Promise.all([...this.readers.values(), ...(this.subscriber ? [this.subscriber] : [])].map((c) => c.quit().catch(() => c.disconnect())));
  }

  private options() {
    return { host: this.target.host, port: this.target.port, ...(this.target.password ? { password: this.target.password } : {}), connectTimeout: this.connectTimeout * 1000, maxRetriesPerRequest: 1 };
  }

  private async subscribe(db: number): Promise<void> {
    const reader = new Redis({ ...this.options(), db });
    reader.on('error', (err) => this.log.warn({ err, db }, 'standby: Redis connection failed; retrying'));
    this.readers.set(db, reader);
    await this.subscriber!.psubscribe(`__keyspace@${db}__:${KEY_PREFIX}*`);
    await this.loadAll(db);
  }

  private async rescan(): Promise<void> {
    try {
      for (const db of this.dbs) await this.loadAll(db);
    } catch (err) {
      this.log.warn({ err }, 'standby: could not read the followed databases again');
    }
  }

  /** Reads every call stored in `db`; those followed from it but no longer there are forgotten. */
  private async loadAll(db: number): Promise<void> {
    const reader = this.readers.get(db)!;
    const generation = ++this.generation;
    let cursor = '0';
    // Bounded: SCAN's cursor returns to 0 after one pass over the keyspace.
    do {
      const [next, keys] = await reader.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 500);
      for (const key of keys) await this.read(db, key);
      cursor = next;
    } while (cursor !== '0');
    // Anything seen during the pass (scanned, or notified meanwhile) has this generation or a newer one.
    for (const [callId, f] of [...this.foreign]) if (f.db === db && f.seen < generation) this.drop(callId);
  }

  /** `__keyspace@DB__:KEY` with the event name as message. */
  private async changed(channel: string, event: string): Promise<void> {
    const m = /^__keyspace@(\d+)__:(.*)$/.exec(channel);
    if (!m || !m[2]!.startsWith(KEY_PREFIX)) return;
    const db = Number(m[1]);
    const callId = m[2]!.slice(KEY_PREFIX.length);
    if (event === 'set') await this.read(db, m[2]!);
    else if ((event === 'del' || event === 'expired') && this.foreign.get(callId)?.db === db) this.drop(callId);
  }

  private async read(db: number, key: string): Promise<void> {
    try {
      const value = await this.readers.get(db)?.get(key);
      if (value === null || value === undefined) return;
      const snapshot = parseSnapshot(value);
      if (!this.isOwn(snapshot.callId)) this.set(snapshot, db);
    } catch (err) {
      this.log.warn({ err, db, key }, 'standby: cannot follow a stored call');
    }
  }

  private set(snapshot: CallSnapshot, db: number): void {
    // This relay's own write of a call it handed back (or a later one of the same) stays held.
    const held = this.foreign.get(snapshot.callId)?.held === true && this.foreign.get(snapshot.callId)?.db === db;
    this.foreign.set(snapshot.callId, { snapshot, db, seen: this.generation, ...(held ? { held } : {}) });
    if (!held) this.onChange(snapshot.callId, snapshot);
  }

  private drop(callId: string): void {
    if (this.foreign.delete(callId)) this.onChange(callId, undefined);
  }
}
