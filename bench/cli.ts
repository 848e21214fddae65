/** Command-line options of `npm run bench` and the search plans they select. */
import { RELAY_NAMES, type RelayName } from './relays.js';
import type { SearchPlan } from './search.js';
import type { Timing } from './trial.js';

export interface BenchOptions {
  quick: boolean;
  relays: RelayName[];
  sizing: boolean;
  tierCalls: number;
  json: boolean;
  reps: number;
  pin: boolean;
  /** Also measure SRTP <-> RTP capacity (needs a loadgen built with libsrtp2). */
  srtp: boolean;
  /** Also measure capacity with PCMU callers converted to PCMA callees (`transcode`). */
  transcode: boolean;
  /** A built rtpbridge tree to measure beside this one (relay `baseline`). */
  baseline?: string;
}

export interface Plans {
  capacity: SearchPlan & { calls: number };
  /** SRTP <-> RTP capacity: same calls, a lower start, since a heavily overloaded first trial leaves a backlog behind. */
  srtpCapacity: SearchPlan & { calls: number };
  /** PCMU <-> PCMA capacity: same calls and start as SRTP. */
  transcodeCapacity: SearchPlan & { calls: number };
  opusCalls: SearchPlan & { ppsPerCall: number };
  calls: SearchPlan & { ppsPerCall: number };
  light: { calls: number; pps: number };
  timing: Timing;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick                fewer, shorter trials (smoke run, under 2 minutes)
  --relays=LIST          comma-separated, from ${RELAY_NAMES.join(',')} (default: all but baseline)
  --reps=N               repetitions, relays interleaved within each (default 1)
  --sizing               calls per core and how many relays a media tier needs
  --tier-calls=N         tier size for --sizing (default 10000 concurrent calls)
  --json                 machine-readable output on stdout
  --no-pin               do not pin the relay to CPU 1 and the generator to CPU 0
  --baseline=DIR         also measure the rtpbridge built in DIR (its native addon), e.g. a
                         git worktree of an earlier commit after npm ci: before/after in one run
  --srtp                 also measure capacity with SDES-SRTP callers bridged to plain callees
                         (needs libsrtp2-dev for the generator), as a ratio to plain capacity
  --transcode            also measure capacity with PCMU callers and PCMA-only callees, and with
                         PCMU callers and Opus-only callees, which the relay converts (codec
                         transcode), per core and against rtpengine
other modes (each alone, each against rtpengine in the same run):
  --signalling [--reps=N] [--seconds=S]   offer+answer+delete cycles/s, 1 and 20 clients
  --burst [--reps=N] [--offers=N]         N offers at once: answered within 2 s, late, dropped
  --churn [--calls=N] [--idle=S]          resident memory over N calls created and deleted, then idle
  --soak [--soak-seconds=S] [--calls=N]   heap and RSS while calls carry media (default 1 h, 1,000 calls)
`;

export function parseOptions(argv: string[]): BenchOptions {
  const o: BenchOptions = { quick: false, relays: RELAY_NAMES.filter((n) => n !== 'baseline'), sizing: false, tierCalls: 10_000, json: false, reps: 1, pin: true, srtp: false, transcode: false };
  for (const arg of argv) {
    const [key, value] = arg.split('=', 2) as [string, string | undefined];
    if (key === '--quick') o.quick = true;
    else if (key === '--sizing') o.sizing = true;
    else if (key === '--json') o.json = true;
    else if (key === '--no-pin') o.pin = false;
    else if (key === '--srtp') o.srtp = true;
    else if (key === '--transcode') o.transcode = true;
    else if (key === '--reps') o.reps = positiveInt(key, value);
    else if (key === '--tier-calls') o.tierCalls = positiveInt(key, value);
    else if (key === '--relays') o.relays = relayList(value ?? '');
    else if (key === '--baseline' && value) o.baseline = value;
    else throw new Error(arg === '--help' || arg === '-h' ? '' : `unknown option ${arg}`);
  }
  // The baseline runs right after this tree's native relay, so the two meet the same machine state.
  if (o.baseline && !o.relays.includes('baseline')) o.relays.splice(o.relays.indexOf('native') + 1, 0, 'baseline');
  return o;
}

function positiveInt(key: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${key} needs a positive integer`);
  return n;
}

function relayList(value: string): RelayName[] {
  const names = value.split(',').filter(Boolean);
  const bad = names.filter((n) => !(RELAY_NAMES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new Error(`--relays takes a list from ${RELAY_NAMES.join(',')}`);
  return names as RelayName[];
}

/** Full: x1.25 steps then 3 bisections, 0.5 s warm-up, 2 s window. Quick: x2 steps, 1 bisection, 1 s window. */
export function plans(quick: boolean): Plans {
  const step = quick ? 2 : 1.25;
  const refine = quick ? 1 : 3;
  return {
    capacity: { calls: 500, start: 80_000, step, refine, cap: 2_000_000 },
    srtpCapacity: { calls: 500, start: 20_000, step, refine, cap: 2_000_000 },
    transcodeCapacity: { calls: 500, start: 20_000, step, refine, cap: 2_000_000 },
    // Concurrent Opus <-> PCMU calls at 50 pps per direction, as the calls mode counts them.
    opusCalls: { ppsPerCall: 100, start: 20, step, refine, cap: 2000 },
    calls: { ppsPerCall: 100, start: 400, step, refine, cap: 4000 },
    light: { calls: 100, pps: 10_000 },
    timing: quick ? { warmup: 0.3, window: 1, drain: 0.2, pause: 0.5 } : { warmup: 0.5, window: 2, drain: 0.3, pause: 1 },
  };
}
