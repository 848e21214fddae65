/**
 * Keeps Redis in step with the calls: a commit observer that marks a call dirty and, once the commits
 * of the moment are done, writes its snapshot (with what the data plane has learned, read just then).
 * Deleted and timed-out calls are removed; a graceful shutdown saves its calls as they are, so the next
 * start (or a standby) takes them over. No per-packet work: only committed changes cause writes.
 */
import type { Logger } from 'pino';
import type { Call } from '../call/call.js';
import type { CallChange } from '../call/registry.js';
import type { DataPlane } from '../dataplane/types.js';
import type { RedisStore } from './redis-store.js';
import { snapshotCall } from './snapshot.js';


/**
 * Changes whose snapshot needs the data plane's state as of now: what it learned, the keys a handshake
 * gave. Signalling changes do not (they change the model; the state they would read is what the last
 * read said, kept on each side): their writes skip a round trip to the forwarding threads.
 */
const READS_STATE: ReadonlySet<CallChange['kind']> = new Set(['learned', 'secured', 'restored', 'moved']);

/** Calls serialised and sent per pipeline before the event loop gets a turn. */
const CALLS_PER_WRITE = 8;

export class CallPersister {
  /** Calls to write, and whether their snapshot must read the data plane first. */
  private readonly dirty = new Map<Call, boolean>();
  /** Call-ids to remove from Redis, sent with the writes of the moment. */
  private removals: string[] = [];
  private scheduled = false;
  private readonly refresher: NodeJS.Timeout;
  /** Calls that are (or may be) in Redis: only these need a removal when they end. */
  private readonly stored = new WeakSet<Call>();

  constructor(
    private readonly store: RedisStore,
    private readonly dataPlane: DataPlane,
    /** Whether the call is still the live one under its id (not ended or replaced meanwhile). */
    private readonly isLive: (call: Call) => boolean,
    private readonly log: Logger,
    /** The live calls, for the periodic SRTP refresh. */
    calls: () => Iterable<Call>,
    /**
     * Seconds between rewrites of calls with SRTP, whose rollover counters move with the media, not with
     * commits (one wraps every 65,536 packets: 22 min at 50 packets a second).
     */
    srtpRefreshSeconds = 30,
    /**
     * Milliseconds the writes of a moment wait, so that an offer and its answer (or a call set up and
     * torn down at once) cost one write, or none (`--redis-write-delay`).
     */
    private readonly writeDelayMs = 0,
  ) {
    this.refresher = setInterval(() => {
      for (const call of calls()) if ([...call.sides()].some((s) => s.srtp)) this.mark(call, true);
    }, srtpRefreshSeconds * 1000).unref();
  }

  stop(): void {
    clearInterval(this.refresher);
  }

  readonly observe = (change: CallChange): void => {
    if (change.kind !== 'ended') {
      // A restored call is in Redis already, whether or not this relay writes it again.
      if (change.kind === 'restored') this.stored.add(change.call);
      this.mark(change.call, READS_STATE.has(change.kind));
      return;
    }
    this.dirty.delete(change.call);
    // A call that ended before its first write never reached Redis: nothing to remove.
    if (change.reason === 'shutdown' || change.reason === 'standby' || !this.stored.has(change.call)) return;
    this.removals.push(change.call.callId);
    this.schedule();
  };

  /** Sends the removals still waiting for the write delay (a graceful stop must not leave them undone). */
  async removeNow(): Promise<void> {
    const removals = this.removals;
    this.removals = [];
    await this.store.removeMany(removals);
  }

  /** Writes every given call again (Redis came back, or was empty). */
  rewrite(calls: Iterable<Call>): void {
    for (const call of calls) this.mark(call, true);
  }

  private mark(call: Call, readState: boolean): void {
    this.dirty.set(call, this.dirty.get(call) === true || readState);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.writeDelayMs > 0) setTimeout(() => void this.flush(), this.writeDelayMs);
    else setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = [...this.dirty];
    this.dirty.clear();
    // Removals first (sent before removeNow yields), on the same connection: a call-id used again by a
    // new call is written after the old call's key is gone.
    const removed = this.removeNow();
    await Promise.all([removed, this.save(batch.filter(([, read]) => read).map(([call]) => call)), this.save(batch.filter(([, read]) => !read).map(([call]) => call), false)]);
  }

  /**
   * Writes the calls as they are now, data-plane state read just then; resolves once Redis has them
   * (or failed). A graceful stop saves every call this way, so the next relay resumes from the latest.
   */
  async save(calls: Iterable<Call>, readState = true): Promise<void> {
    const list = [...calls];
    if (list.length === 0) return;
    try {
      const sides = list.flatMap((c) => [...c.sides()]);
      const states = readState ? await this.dataPlane.read(sides.map((s) => s.id)) : new Map(sides.map((s) => [s.id, s.state]));
      // What was read is the sides' last known state: a later write without a read starts from it.
      if (readState) for (const side of sides) side.state = states.get(side.id) ?? side.state;
      // A few calls at a time, the event loop turning between them: a moment's writes (dozens of calls
      // at a few thousand calls a second) would otherwise hold up the ng requests that arrive meanwhile.
      const writes: Array<Promise<void>> = [];
      for (let i = 0; i < list.length; i += CALLS_PER_WRITE) {
        if (i > 0) await new Promise((resolve) => setImmediate(resolve));
        // A call that ended meanwhile must not be written back after its removal.
        const live = list.slice(i, i + CALLS_PER_WRITE).filter(this.isLive);
        // Counted as stored before the write returns: a removal must follow a write that is under way.
        for (const call of live) this.stored.add(call);
        writes.push(this.store.writeMany(live.map((call) => [call.callId, JSON.stringify(snapshotCall(call, states))] as const)));
      }
      await Promise.all(writes);
    } catch (err) {
      this.log.warn({ err }, 'could not snapshot calls for Redis');
    }
  }
}
