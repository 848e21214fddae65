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


export class CallPersister {
  private readonly dirty = new Set<Call>();
  private scheduled = false;
  private readonly refresher: NodeJS.Timeout;

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
  ) {
    this.refresher = setInterval(() => {
      for (const call of calls()) if ([...call.sides()].some((s) => s.srtp)) this.mark(call);
    }, srtpRefreshSeconds * 1000).unref();
  }

  stop(): void {
    clearInterval(this.refresher);
  }

  readonly observe = (change: CallChange): void => {
    if (change.kind !== 'ended') {
      this.mark(change.call);
      return;
    }
    this.dirty.delete(change.call);
    if (change.reason !== 'shutdown' && change.reason !== 'standby') void this.store.remove(change.call.callId);
  };

  /** Writes every given call again (Redis came back, or was empty). */
  rewrite(calls: Iterable<Call>): void {
    for (const call of calls) this.mark(call);
  }

  private mark(call: Call): void {
    this.dirty.add(call);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const calls = [...this.dirty];
    this.dirty.clear();
    await this.save(calls);
  }

  /**
   * Writes the calls as they are now, data-plane state read just then; resolves once Redis has them
   * (or failed). A graceful stop saves every call this way, so the next relay resumes from the latest.
   */
  async save(calls: Iterable<Call>): Promise<void> {
    const list = [...calls];
    try {
      const states = await this.dataPlane.read(list.flatMap((c) => [...c.sides()].map((s) => s.id)));
      // A call that ended while its state was read must not be written back after its removal.
      await Promise.all(list.filter(this.isLive).map((call) => this.store.write(call.callId, JSON.stringify(snapshotCall(call, states)))));
    } catch (err) {
      this.log.warn({ err }, 'could not snapshot calls for Redis');
    }
  }
}
