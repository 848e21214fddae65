/**
 * The relay's part in a highly available tier, in one place: call state kept in Redis (restored at
 * start-up, written at every commit), other relays' calls followed as a standby, and calls taken over
 * (`active`, --active-switchover) or handed back (`standby`). The Relay facade delegates to it.
 */
import type { Logger } from 'pino';
import type { CallRegistry } from '../call/registry.js';
import type { RelayOptions } from '../config/options.js';
import type { DataPlane, SideId } from '../dataplane/types.js';
import { RelayError } from '../errors.js';
import type { InterfaceSet } from '../media/interfaces.js';
import type { PortAllocator } from '../media/port-allocator.js';
import type { Placement } from '../placement/placement.js';
import { CallPersister } from './persister.js';
import { PortWatch, watchedPorts } from './port-watch.js';
import { rebuildCall } from './rebuild.js';
import { RedisStore, describeTarget } from './redis-store.js';
import { parseSnapshot, snapshotCall, type CallSnapshot } from './snapshot.js';
import { StandbyFollower } from './standby.js';
import { isByteMap } from '../codecs/transcoder.js';

export interface HighAvailabilityDeps {
  redis: NonNullable<RelayOptions['redis']>;
  activeSwitchover: boolean;
  registry: CallRegistry;
  dataPlane: DataPlane;
  ports: PortAllocator;
  placement: Placement;
  interfaces: InterfaceSet;
  nextSideId: () => SideId;
  log: Logger;
}

export class HighAvailability {
  private readonly store: RedisStore;
  private readonly persister: CallPersister;
  private follower: StandbyFollower | undefined;
  /** With --active-switchover: foreign calls' ports, listened on for the packet that takes a call over. */
  private watch: PortWatch | undefined;
  private closed = false;

  constructor(private readonly deps: HighAvailabilityDeps) {
    const { redis, registry, dataPlane, log } = deps;
    this.store = new RedisStore(redis, log);
    const persister = (this.persister = new CallPersister(this.store, dataPlane, (call) => registry.get(call.callId) === call, log, () => registry.all(), redis.srtpRefresh, redis.writeDelayMs ?? 20));
    this.store.onResync = () => persister.rewrite(registry.all());
    registry.observe(persister.observe);
  }

  /** Connects to Redis, restores the stored calls and starts following others' (Relay.create). */
  async start(): Promise<void> {
    const { redis, log } = this.deps;
    try {
      await this.store.connect();
    } catch (err) {
      const where = describeTarget(redis.read);
      if (redis.required) throw new RelayError('PERSISTENCE_FAILED', `cannot reach Redis at ${where} (${(err as Error).message}); start with --no-redis-required to run without it`);
      log.warn({ err, redis: where }, 'Redis not reachable; running without it until it comes back');
      return;
    }
    await this.restoreAll();
    if (redis.subscribe?.length) await this.startFollowing(redis.subscribe);
  }

  /** What a standby knows of a foreign call, if it follows one by that id. */
  foreign(callId: string): CallSnapshot | undefined {
    return this.follower?.get(callId);
  }

  foreignIds(): string[] {
    return this.follower?.ids() ?? [];
  }

  get foreignCount(): number {
    return this.follower?.size ?? 0;
  }

  /** Takes over every foreign call; resolves to how many were. */
  async activate(): Promise<number> {
    let taken = 0;
    for (const callId of this.foreignIds()) if (await this.deps.registry.run(callId, () => this.takeOver(callId))) taken++;
    return taken;
  }

  /** Hands every own call back, to be followed as foreign; resolves to how many were. */
  async standby(): Promise<number> {
    const { registry, dataPlane } = this.deps;
    const follower = this.follower ?? (await this.startFollowing([]));
    // Following its own database, it learns when the relay that takes its calls over deletes them.
    const ownDb = this.ownDb;
    if (ownDb !== undefined) await follower.follow(ownDb);
    let handed = 0;
    for (const call of [...registry.all()]) {
      await registry.run(call.callId, async () => {
        if (registry.get(call.callId) !== call) return;
        const snapshot = snapshotCall(call, await dataPlane.read([...call.sides()].map((s) => s.id)));
        follower.hold(snapshot, ownDb ?? -1);
        // What the next relay takes over must be the call as it is now (learned endpoints, SRTP progress).
        await this.store.write(call.callId, JSON.stringify(snapshot));
        registry.commit({ kind: 'ended', call, reason: 'standby' });
        handed++;
      });
    }
    return handed;
  }

  /**
   * Called in a call's turn before a request for it: a call another relay holds is taken over with
   * --active-switchover, and the request refused otherwise.
   */
  async claimForeign(callId: string): Promise<void> {
    if (this.deps.registry.get(callId) || !this.follower?.get(callId)) return;
    if (!this.deps.activeSwitchover) throw new RelayError('CALL_NOT_FOUND', 'Call is held by another relay: this one is standby (rtpbridge-ctl active, or --active-switchover)');
    await this.takeOver(callId);
  }

  /** Writes every call as it is now (a graceful stop, before the calls end). */
  async save(): Promise<void> {
    // Calls deleted in the last write-delay window are removed too: a restart must not bring them back.
    await Promise.all([this.persister.removeNow(), this.persister.save(this.deps.registry.all())]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.persister.stop();
    await Promise.all([this.store.close(), this.follower?.close(), this.watch?.close()]);
  }

  /** Follows other relays' databases as a standby (and, with --active-switchover, watches their ports). */
  private async startFollowing(dbs: number[]): Promise<StandbyFollower> {
    const { redis, registry, log } = this.deps;
    const follower = (this.follower = new StandbyFollower(redis.read, [...dbs], redis.connectTimeout, log, (callId) => registry.get(callId) !== undefined));
    if (this.deps.activeSwitchover) {
      const watch = (this.watch = new PortWatch((callId) => void registry.run(callId, () => this.takeOver(callId)), log));
      follower.onChange = (callId, snapshot) => (snapshot ? watch.watch(callId, watchedPorts(snapshot)) : void watch.unwatch(callId));
    }
    await follower.start();
    return follower;
  }

  /** The database this relay writes its calls to, when it is on the server it follows others on. */
  private get ownDb(): number | undefined {
    const { read, write } = this.deps.redis;
    const own = write ?? read;
    return own.host === read.host && own.port === read.port ? own.db : undefined;
  }

  /** One foreign call taken over, in its turn of the call queue; false when it is gone or cannot be. */
  private async takeOver(callId: string): Promise<boolean> {
    if (this.closed) return false;
    const followed = this.follower?.take(callId);
    if (!followed || this.deps.registry.get(callId)) return false;
    try {
      await this.watch?.unwatch(callId);
      await this.restoreCall(followed.snapshot);
      this.deps.log.info({ callId }, 'foreign call taken over');
      if (followed.db !== this.ownDb) await this.follower!.release(callId, followed.db);
      return true;
    } catch (err) {
      this.deps.log.error({ err, callId }, 'cannot take over foreign call');
      return false;
    }
  }

  /** Takes over every stored call; one that cannot be restored is logged and removed, the others still come back. */
  private async restoreAll(): Promise<void> {
    let restored = 0;
    for (const { key, value } of await this.store.loadAll()) {
      try {
        await this.restoreCall(parseSnapshot(value ?? ''));
        restored++;
      } catch (err) {
        this.deps.log.error({ err, key }, 'cannot restore call from Redis; removing it');
        await this.store.discard(key);
      }
    }
    this.deps.log.info({ restored }, 'calls restored from Redis');
  }

  /** Rebuilds a stored call on its own ports and commits it; all or nothing. */
  private async restoreCall(snapshot: CallSnapshot): Promise<void> {
    const { registry, ports, placement, interfaces, dataPlane, nextSideId } = this.deps;
    if (registry.get(snapshot.callId)) throw new RelayError('CONFIG_INVALID', `call ${snapshot.callId} is already live`);
    const handshakes = snapshot.monologues.some((m) => m.medias.some((media) => media && (media.side.ice || media.side.dtls)));
    const transcoding = snapshot.monologues.some((m) => m.medias.some((media) => !(media?.side.transcode ?? []).every(isByteMap) || media?.side.inject !== undefined || media?.side.dtmfSecurity !== undefined));
    const { call, states } = rebuildCall(snapshot, placement.place({ handshakes, transcoding }), interfaces, nextSideId);
    const claimed: Array<{ id: number; local: string; rtpPort: number; aliases: Array<{ local: string; rtpPort: number }> }> = [];
    try {
      for (const side of call.sides()) {
        if (!(await ports.claim(side.id, call.shard, side.address.local, side.address.family, side.rtpPort))) {
          throw new RelayError('NO_PORTS', `port ${side.rtpPort} on ${side.address.local} is taken`);
        }
        const entry = { id: side.id, local: side.address.local, rtpPort: side.rtpPort, aliases: [] as Array<{ local: string; rtpPort: number }> };
        claimed.push(entry);
        for (const alias of side.aliases ?? []) {
          if (!(await ports.claim(side.id, call.shard, alias.address.local, alias.address.family, alias.rtpPort, true))) {
            throw new RelayError('NO_PORTS', `port ${alias.rtpPort} on ${alias.address.local} is taken`);
          }
          entry.aliases.push({ local: alias.address.local, rtpPort: alias.rtpPort });
        }
      }
      registry.add(call);
      registry.commit({ kind: 'restored', call });
      for (const [side, state] of states) dataPlane.restore(side, state);
    } catch (err) {
      if (registry.get(call.callId) === call) registry.discard(call, false);
      else for (const c of claimed) ports.release(c.id, c.local, c.rtpPort, c.aliases);
      throw err;
    }
  }
}
