import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { loadNativeDataPlane } from './native.js';
import type { DataPlane } from './types.js';
import { MixedDataPlane } from './mixed.js';
import { WorkerDataPlane } from './workers.js';

/** rtpengine's default is one thread per core; the main thread needs one for signalling. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * The native addon when it was built and is not disabled (RTPBRIDGE_NATIVE=0), with TypeScript workers
 * beside it for SRTP calls; else TypeScript workers for everything.
 */
export function createDataPlane(threads: number, log?: Logger): DataPlane {
  const native = loadNativeDataPlane(threads);
  const workers = new WorkerDataPlane(threads, log);
  return native ? new MixedDataPlane(native, workers) : workers;
}
