/**
 * `npm run bench`: sizes a media tier. Drives each relay daemon over ng with real RTP both ways
 * (bench/loadgen.c) and prints capacity, concurrent calls and light-load latency, as absolute figures
 * and as ratios to a naive Node relay (and to rtpengine when installed) measured in the same sitting.
 *
 * The harness is TypeScript compiled by bench/tsconfig.json (the repo's own toolchain, type-checked
 * against src/) rather than plain JavaScript: it reuses src/ng/bencode.ts instead of a second codec.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseOptions, plans, USAGE, type Plans } from './cli.js';
import { buildLoadgen, machine } from './machine.js';
import { relayLabel, relayUnavailable, setBaselineTree, startRelay, type RelayName } from './relays.js';
import { json, table, type RelayRun, type Repetition } from './report.js';
import { searchMax } from './search.js';
import { runTrial, type TrialResult } from './trial.js';

const RELAY_CPU = 1;
/** Relays that bridge SDES-SRTP to RTP and convert PCMU to PCMA (the naive baseline does neither). */
const SRTP_RELAYS: readonly RelayName[] = ['native', 'workers', 'rtpengine'];
/** Relays that convert codecs; an rtpbridge baseline tree is measured too, to compare a change's conversions in the same run. */
const CONVERTING_RELAYS: readonly RelayName[] = [...SRTP_RELAYS, 'baseline'];
const GENERATOR_CPU = 0;
/** Load from other processes above which the figures are flagged as noisy. */
const FOREIGN_NOTE_PCT = 15;

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function describe(r: TrialResult): string {
  if (r.error) return `FAIL (${r.error})`;
  return `${r.passed ? 'pass' : 'FAIL'} loss ${(r.loss * 100).toFixed(3)}% p50/p99 ${r.p50Us.toFixed(1)}/${r.p99Us.toFixed(1)} µs ` +
    `relay CPU ${r.relayCpuPct.toFixed(0)}% gen CPU ${r.genCpuPct.toFixed(0)}% other ${r.foreignCpuPct.toFixed(0)}%${r.generatorBound ? ' GENERATOR-BOUND' : ''}`;
}

/** Each mode gets a freshly started relay, so no mode inherits another's backlog or state. */
async function measureRelay(name: RelayName, p: Plans, pin: boolean, srtp: boolean, transcode: boolean, tag: string): Promise<RelayRun> {
  const relayCpu = pin ? RELAY_CPU : undefined;
  const genCpu = pin ? GENERATOR_CPU : undefined;
  const run: RelayRun = {};
  const modes = {
    capacity: async (relay: Awaited<ReturnType<typeof startRelay>>) => {
      run.capacity = await searchMax(p.capacity, async (pps) => {
        const r = await runTrial(relay, p.capacity.calls, pps, p.timing, genCpu);
        progress(`${tag} capacity ${pps} pps: ${describe(r)}`);
        return r;
      });
    },
    calls: async (relay: Awaited<ReturnType<typeof startRelay>>) => {
      run.calls = await searchMax(p.calls, async (calls) => {
        const r = await runTrial(relay, calls, calls * p.calls.ppsPerCall, p.timing, genCpu);
        progress(`${tag} calls ${calls}: ${describe(r)}`);
        return r;
      });
    },
    light: async (relay: Awaited<ReturnType<typeof startRelay>>) => {
      run.light = await runTrial(relay, p.light.calls, p.light.pps, p.timing, genCpu);
      progress(`${tag} light ${p.light.pps} pps: ${describe(run.light)}`);
    },
    srtp: async (relay: Awaited<ReturnType<typeof startRelay>>) => {
      run.srtpCapacity = await searchMax(p.srtpCapacity, async (pps) => {
        const r = await runTrial(relay, p.srtpCapacity.calls, pps, p.timing, genCpu, 'srtp');
        progress(`${tag} SRTP<->RTP capacity ${pps} pps: ${describe(r)}`);
        return r;
      });
    },
    transcode: async (relay: Awaited<ReturnType<typeof startRelay>>) => {
      run.transcodeCapacity = await searchMax(p.transcodeCapacity, async (pps) => {
        const r = await runTrial(relay, p.transcodeCapacity.calls, pps, p.timing, genCpu, 'transcode');
        progress(`${tag} PCMU<->PCMA capacity ${pps} pps: ${describe(r)}`);
        return r;
      });
    },
    opus: async (relay: Awaited<ReturnType<typeof startRelay>>) => {
      run.opusCalls = await searchMax(p.opusCalls, async (calls) => {
        const r = await runTrial(relay, calls, calls * p.opusCalls.ppsPerCall, p.timing, genCpu, 'opus');
        progress(`${tag} Opus<->PCMU calls ${calls}: ${describe(r)}`);
        return r;
      });
    },
  };
  for (const [mode, measure] of Object.entries(modes)) {
    if (mode === 'srtp' && (!srtp || !SRTP_RELAYS.includes(name))) continue;
    if ((mode === 'transcode' || mode === 'opus') && (!transcode || !CONVERTING_RELAYS.includes(name))) continue;
    let relay;
    try {
      relay = await startRelay(name, relayCpu);
    } catch (err) {
      run.error = (err as Error).message;
      progress(`${tag} ${mode}: ${run.error}`);
      return run;
    }
    try {
      await measure(relay);
    } finally {
      await relay.stop();
    }
  }
  return run;
}

/** The ng benches, each its own script: `npm run bench -- --signalling` runs bench/signalling.ts, and so on. */
const NG_MODES: Record<string, string[]> = {
  '--signalling': [join(import.meta.dirname, 'signalling.js')],
  '--burst': [join(import.meta.dirname, 'burst.js')],
  '--churn': [join(import.meta.dirname, 'churn.js')],
  // Heap and RSS while 1,000 calls carry media for an hour (bench/memory.mjs).
  '--soak': ['--expose-gc', join(import.meta.dirname, '../../memory.mjs'), '--calls=1000', '--soak-seconds=3600'],
};

async function main(): Promise<void> {
  const mode = process.argv.slice(2).find((a) => a in NG_MODES);
  if (mode) {
    const rest = process.argv.slice(2).filter((a) => a !== mode);
    process.exit(spawnSync(process.execPath, [...NG_MODES[mode]!, ...rest], { stdio: 'inherit' }).status ?? 1);
  }
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(message ? `bench: ${message}\n${USAGE}` : USAGE);
    process.exitCode = message ? 2 : 0;
    return;
  }
  if (options.baseline) setBaselineTree(options.baseline);
  const loadgen = buildLoadgen();
  const p = plans(options.quick);
  const notes: string[] = [];
  if (options.srtp && !loadgen.srtp) {
    notes.push('SRTP: skipped, the load generator was built without libsrtp2 (Debian: libsrtp2-dev).');
    options.srtp = false;
  }
  const relays = options.relays.filter((name) => {
    const why = relayUnavailable(name);
    if (why) notes.push(`${relayLabel(name)}: skipped, ${why}.`);
    return !why;
  });
  const started = Date.now();
  const reps: Repetition[] = [];
  for (let i = 0; i < options.reps; i++) {
    const rep: Repetition = {};
    for (const name of relays) rep[name] = await measureRelay(name, p, options.pin, options.srtp, options.transcode, `[rep ${i + 1}/${options.reps} ${name}]`);
    reps.push(rep);
  }
  for (const name of relays) {
    const failed = reps.map((rep) => rep[name]?.error).find((e) => e !== undefined);
    if (failed) notes.push(`${relayLabel(name)}: ${failed}`);
  }
  const generatorBusy = reps.some((rep) => Object.values(rep).some((run) =>
    [run.capacity?.best, run.calls?.best, run.srtpCapacity?.best, run.transcodeCapacity?.best, run.opusCalls?.best, run.light].some((t) => t && t.genCpuPct > 90)));
  if (generatorBusy) notes.push('generator-bound: the load generator used > 90 % of its core in a passing trial; such figures are lower bounds.');
  const trials = reps.flatMap((rep) => Object.values(rep).flatMap((run) => [...(run.capacity?.trials ?? []), ...(run.calls?.trials ?? []), ...(run.srtpCapacity?.trials ?? []), ...(run.transcodeCapacity?.trials ?? []), ...(run.opusCalls?.trials ?? []), ...(run.light ? [run.light] : [])]));
  const busiest = Math.max(0, ...trials.map((t) => t.foreignCpuPct));
  if (busiest > FOREIGN_NOTE_PCT) notes.push(`Other processes used up to ${busiest.toFixed(0)} % of a core during some windows: expect noise (rerun on an idle machine, or use --reps).`);
  notes.push(`Run time ${((Date.now() - started) / 60_000).toFixed(1)} min; relay logs in bench/.build/logs/.`);
  const m = machine();
  process.stdout.write(`${options.json ? json(m, reps, relays, options, notes) : table(m, reps, relays, options, notes)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
