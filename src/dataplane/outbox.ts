/**
 * Messages between the main thread and a forwarding worker go out in arrays: each postMessage costs a
 * serialisation and a wake-up of the other thread (with the relay on one core, two context switches),
 * and a call change is several messages (a configure per side, a release per side). Order is kept;
 * the receiver handles a batch's messages in turn.
 *
 * `by: 'microtask'` sends before anything awaiting the current operation resumes, so a change the
 * main thread reports as done has been posted (a packet sent after `answer` resolves finds the new
 * sinks); `'turn'` collects a whole event-loop turn, for the worker's replies and events, which no
 * one orders packets by.
 */
import type { Transferable } from 'node:worker_threads';

export class Outbox<T> {
  private queue: T[] = [];
  private transfers: Transferable[] = [];
  private scheduled = false;

  constructor(
    private readonly send: (batch: T[], transfers: Transferable[]) => void,
    private readonly by: 'microtask' | 'turn',
  ) {}

  push(msg: T, transfers?: readonly Transferable[]): void {
    this.queue.push(msg);
    if (transfers) this.transfers.push(...transfers);
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.by === 'microtask') queueMicrotask(() => this.flush());
    else setImmediate(() => this.flush());
  }

  /** Sends what is queued now (the scheduled flush then finds nothing). */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    const transfers = this.transfers;
    this.queue = [];
    this.transfers = [];
    this.send(batch, transfers);
  }

  /** Forgets what is queued: its receiver is gone. */
  clear(): void {
    this.queue = [];
    this.transfers = [];
  }
}
