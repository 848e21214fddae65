import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { DataPlane } from './types.js';
import { WorkerDataPlane } from './workers.js';

/** rtpengine's default is one thread per core; the main thread needs one for signalling. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function createDataPlane(threads: number, log?: Logger): DataPlane {
  return new WorkerDataPlane(threads, log);
}
