import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/**
 * Calls every listener of `event` in turn; one that throws (or returns a promise that rejects) is
 * logged and the others still run. Monitoring must never break, or undo, the operation it watches.
 */
export function emitSafely(emitter: EventEmitter, event: string, payload: unknown, log: Logger): void {
  // Raw listeners, so a `once` wrapper removes itself as it runs.
  for (const listener of emitter.rawListeners(event) as Array<(arg: unknown) => unknown>) {
    try {
      const result = listener.call(emitter, payload);
      if (isThenable(result)) result.then(undefined, (err: unknown) => log.error({ err, event }, 'event listener failed'));
    } catch (err) {
      log.error({ err, event }, 'event listener failed');
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
