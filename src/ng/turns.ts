/**
 * Turn-taking for ng requests. A request that arrives is queued with its arrival time, and requests
 * start in arrival order, a few per turn of the event loop, with a bounded number executing at once.
 *
 * Why not run each request as it is read: an offer on the native engine completes within the callback
 * that read it, so the relay read no faster than it worked, and a burst waited in the kernel's buffer,
 * where nobody can see how long it has waited (a slower machine answered the last of it seconds
 * late). Starting requests on the next turn lets the reads run ahead: the backlog waits here, stamped,
 * and a request whose wait outgrew the proxy's patience is refused when its turn comes, in microseconds,
 * instead of executed late.
 */

/**
 * While requests wait, a turn of the event loop is kept to about this long: long enough to start many
 * requests together (a relay starting 20 at once makes half again as many calls per second as one
 * taking them one by one), short enough that the loop soon reads again (up to 32 datagrams per socket
 * a turn), so a burst waits here, where its wait is seen, rather than in the kernel.
 */
const TURN_MS = 4;
/** Below the window, so a turn of the native engine's requests, which finish within it, never fills it. */
const MAX_PER_TURN = 16;

interface Waiting {
  job: (waitedMs: number) => Promise<unknown>;
  at: number;
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
}

export class Turns {
  private readonly waiting: Array<Waiting | undefined> = [];
  private head = 0;
  private executing = 0;
  private scheduled = false;
  /** Requests started per turn, halved or doubled as turns take longer or shorter than TURN_MS. */
  private perTurn = MAX_PER_TURN;
  /** When the previous turn started, if it left requests waiting and scheduled the next one at once. */
  private backlogTurnAt = 0;

  /** `window`: requests executing at once; the rest wait their turn. */
  constructor(private readonly window: number) {}

  /** Requests waiting or executing. */
  get size(): number {
    return this.waiting.length - this.head + this.executing;
  }

  /** Runs `job` (an async function: it must not throw) when its turn comes, telling it how long it waited. */
  take<T>(job: (waitedMs: number) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ job, at: performance.now(), resolve: resolve as (result: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Schedules a turn for what waits, if there is room to start it; false when none is due. */
  private schedule(): boolean {
    if (this.scheduled) return true;
    if (this.head === this.waiting.length || this.executing >= this.window) return false;
    this.scheduled = true;
    setImmediate(() => this.turn());
    return true;
  }

  private turn(): void {
    this.scheduled = false;
    const now = performance.now();
    // The time since the previous turn is that turn's work and the reads after it.
    if (this.backlogTurnAt > 0) {
      const took = now - this.backlogTurnAt;
      if (took > TURN_MS) this.perTurn = Math.max(1, this.perTurn >> 1);
      else if (took < TURN_MS / 2) this.perTurn = Math.min(MAX_PER_TURN, this.perTurn * 2);
    }
    for (let started = 0; started < this.perTurn && this.executing < this.window && this.head < this.waiting.length; started++) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined;
      this.executing++;
      next.job(now - next.at).then(
        (result) => {
          this.finished();
          next.resolve(result);
        },
        (err: unknown) => {
          this.finished();
          next.reject(err);
        },
      );
    }
    // Drop the started front of the array now and then, not on every start (a shift is O(n)).
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    this.backlogTurnAt = this.schedule() ? now : 0;
  }

  private finished(): void {
    this.executing--;
    this.schedule();
  }
}
