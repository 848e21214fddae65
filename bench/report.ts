/** Turns the repetitions into the printed table, the sizing paragraph, or JSON. */
import type { BenchOptions } from './cli.js';
import type { Machine } from './machine.js';
import { relayLabel, type RelayName } from './relays.js';
import type { SearchResult } from './search.js';
import type { TrialResult } from './trial.js';

export interface RelayRun {
  capacity?: SearchResult;
  calls?: SearchResult;
  light?: TrialResult;
  /** Capacity with SDES-SRTP callers bridged to plain callees (`--srtp`). */
  srtpCapacity?: SearchResult;
  /** Capacity with PCMU callers converted to PCMA-only callees (`--transcode`). */
  transcodeCapacity?: SearchResult;
  /** Concurrent calls with PCMU callers converted to Opus-only callees, at 50 pps per direction (`--transcode`). */
  opusCalls?: SearchResult;
  error?: string;
}
export type Repetition = Partial<Record<RelayName, RelayRun>>;

/** Share of the measured limit an operator should plan to use: headroom for bursts and failover. */
const PLAN_LOAD = 0.7;
/** Cores per relay assumed in the sizing example. */
const EXAMPLE_CORES = 4;

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread | undefined {
  const v = values.filter((x) => Number.isFinite(x) && x > 0).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, min: v[0]!, max: v[v.length - 1]! };
}

/** Per repetition `pick(relay) / pick(baseline)`: ratios only compare runs of the same sitting. */
function ratios(reps: Repetition[], relay: RelayName, baseline: RelayName, pick: (r: RelayRun) => number | undefined): Spread | undefined {
  return spread(reps.map((rep) => {
    const a = rep[relay] && pick(rep[relay]);
    const b = rep[baseline] && pick(rep[baseline]);
    return a && b ? a / b : NaN;
  }));
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits: number): string => n.toFixed(digits);

function cell(s: Spread | undefined, fmt: (n: number) => string, showRange: boolean): string {
  if (!s) return '-';
  return showRange && s.min !== s.max ? `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})` : fmt(s.median);
}

/** "≥" when some repetition only gave a lower bound (cap reached or generator saturated). */
type Mode = 'capacity' | 'calls' | 'srtpCapacity' | 'transcodeCapacity' | 'opusCalls';

function bound(reps: Repetition[], relay: RelayName, mode: Mode): string {
  const results = reps.map((r) => r[relay]?.[mode]).filter((r): r is SearchResult => r !== undefined);
  return results.some((r) => r.atCap || r.generatorBound) ? '≥' : '';
}

const value = (mode: Mode) => (r: RelayRun): number | undefined => r[mode]?.value;

/** Packets per second per core of relay CPU at a search's best trial: comparable when the generator, not the relay, was the limit. */
function perCore(r: SearchResult | undefined): number {
  const cpu = r?.best?.relayCpuPct;
  return r && cpu ? r.value / (cpu / 100) : NaN;
}

/** A converting or SRTP mode over the same relay's plain figure, per repetition: the value, or the value per core of relay CPU. */
function flavourCost(reps: Repetition[], relay: RelayName, pick: (r: SearchResult | undefined) => number = (r) => r?.value ?? NaN, mode: 'srtpCapacity' | 'transcodeCapacity' | 'opusCalls' = 'srtpCapacity'): Spread | undefined {
  return spread(reps.map((rep) => {
    const run = rep[relay];
    // Calls are compared with the plain calls figure, packets per second with plain capacity.
    return run ? pick(run[mode]) / pick(mode === 'opusCalls' ? run.calls : run.capacity) : NaN;
  }));
}

/** Calls the relay carries per core of CPU it used at its calls limit. */
function callsPerCore(r: RelayRun): number | undefined {
  const best = r.calls?.best;
  return best && best.relayCpuPct > 0 ? r.calls!.value / (best.relayCpuPct / 100) : undefined;
}

export function table(machine: Machine, reps: Repetition[], relays: RelayName[], options: BenchOptions, notes: string[]): string {
  const many = reps.length > 1;
  const pick = (relay: RelayName, f: (r: RelayRun) => number | undefined): Spread | undefined =>
    spread(reps.map((rep) => (rep[relay] ? (f(rep[relay]) ?? NaN) : NaN)));
  const header = ['relay', 'capacity pps', '×naive', '×rtpengine', 'calls@50pps', '×naive', '×rtpengine', 'light p50/p99 µs', 'CPU', 'ns/pkt'];
  const rows = relays.map((relay) => {
    const light = (q: 'p50Us' | 'p99Us'): string => cell(pick(relay, (r) => r.light?.[q]), (n) => fixed(n, 1), false);
    return [
      relayLabel(relay),
      bound(reps, relay, 'capacity') + cell(pick(relay, value('capacity')), int, many),
      cell(ratios(reps, relay, 'naive', value('capacity')), (n) => fixed(n, 2), many),
      cell(ratios(reps, relay, 'rtpengine', value('capacity')), (n) => fixed(n, 2), many),
      bound(reps, relay, 'calls') + cell(pick(relay, value('calls')), int, many),
      cell(ratios(reps, relay, 'naive', value('calls')), (n) => fixed(n, 2), many),
      cell(ratios(reps, relay, 'rtpengine', value('calls')), (n) => fixed(n, 2), many),
      `${light('p50Us')}/${light('p99Us')}`,
      cell(pick(relay, (r) => r.capacity?.best?.relayCpuPct), (n) => `${fixed(n, 0)}%`, false),
      cell(pick(relay, (r) => r.capacity?.best?.relayNsPerPkt), int, false),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  const out = [
    `rtpbridge bench  ${machine.date}  ${machine.cpu}, ${machine.cores} cores  Node ${machine.node}`,
    `${options.quick ? 'quick' : 'full'} method, ${reps.length} repetition(s)${many ? ' (median, min-max)' : ''}, ` +
      (options.pin ? 'relay on CPU 1, generator on CPU 0' : 'unpinned'),
    '',
    line(header),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...rows.map(line),
    '',
    'capacity: 500 calls, loss < 0.1 % and p99 < 10 ms; calls: 50 pps per direction, same rule; light: 100 calls, 10 kpps.',
    'CPU, ns/pkt: relay (all threads) at its capacity point. ≥: lower bound (cap reached, or the generator was saturated).',
    ...notes,
  ];
  if (options.srtp) out.push('', srtpTable(reps, relays, many));
  if (options.transcode) {
    out.push('', transcodeTable(reps, relays, many, 'transcodeCapacity', 'PCMU <-> PCMA (500 calls, PCMU callers, PCMA-only callees, the relay converting both ways; same pass rule):', 'pps'));
    out.push('', transcodeTable(reps, relays, many, 'opusCalls', 'Opus <-> PCMU calls at 50 pps per direction (PCMU callers, Opus-only callees, the relay converting both ways; packets matched by sequence number; p99 < 30 ms: one 20 ms frame a codec may hold on top of the usual 10 ms):', 'calls'));
  }
  if (options.sizing) out.push('', sizing(reps, relays, options.tierCalls));
  return out.join('\n');
}

function srtpTable(reps: Repetition[], relays: RelayName[], many: boolean): string {
  const lines = ['SRTP <-> RTP (500 calls, SDES AES_CM_128_HMAC_SHA1_80 callers, plain callees; same pass rule):'];
  for (const relay of relays) {
    const pps = spread(reps.map((rep) => rep[relay]?.srtpCapacity?.value ?? NaN));
    if (!pps) continue;
    const ratio = cell(flavourCost(reps, relay), (n) => fixed(n, 2), many);
    const perCoreRatio = cell(flavourCost(reps, relay, perCore), (n) => fixed(n, 2), many);
    lines.push(`  ${relayLabel(relay)}: ${bound(reps, relay, 'srtpCapacity')}${cell(pps, int, many)} pps = ${ratio} x its plain capacity; per core of relay CPU ${perCoreRatio} x`);
  }
  lines.push('  (per core: pps / relay CPU at the best trial, the fair figure when the generator saturated before the relay did)');
  return lines.join('\n');
}

function transcodeTable(reps: Repetition[], relays: RelayName[], many: boolean, mode: 'transcodeCapacity' | 'opusCalls', title: string, unit: 'pps' | 'calls'): string {
  const lines = [title];
  const engineRun = (rep: Repetition): RelayRun | undefined => rep.rtpengine;
  for (const relay of relays) {
    const pps = spread(reps.map((rep) => rep[relay]?.[mode]?.value ?? NaN));
    if (!pps) continue;
    const ratio = cell(flavourCost(reps, relay, undefined, mode), (n) => fixed(n, 2), many);
    const coreOf = (run: RelayRun | undefined): number => perCore(run?.[mode]);
    const core = spread(reps.map((rep) => coreOf(rep[relay])));
    const vsEngine = relay === 'rtpengine' ? undefined : spread(reps.map((rep) => coreOf(rep[relay]) / coreOf(engineRun(rep))));
    lines.push(
      `  ${relayLabel(relay)}: ${bound(reps, relay, mode)}${cell(pps, int, many)} ${unit} = ${ratio} x its plain ${unit === 'pps' ? 'capacity' : 'calls'}; ` +
        `${core ? cell(core, int, many) : '-'} ${unit} per core of relay CPU${vsEngine ? ` = ${cell(vsEngine, (n) => fixed(n, 2), many)} x rtpengine's` : ''}`,
    );
  }
  lines.push(`  (per core: ${unit} / relay CPU at the best trial${unit === 'pps' ? '; at 50 pps per direction, 500 calls are 50,000 pps' : ''})`);
  return lines.join('\n');
}

function sizing(reps: Repetition[], relays: RelayName[], tierCalls: number): string {
  const lines = [`Sizing for a media tier of ${int(tierCalls)} concurrent calls (50 pps per direction, 172-byte RTP):`];
  for (const relay of relays) {
    const perCore = spread(reps.map((rep) => (rep[relay] ? (callsPerCore(rep[relay]) ?? NaN) : NaN)));
    if (!perCore) continue;
    const cores = Math.ceil(tierCalls / (perCore.median * PLAN_LOAD));
    const boxes = Math.ceil(cores / EXAMPLE_CORES);
    lines.push(`  ${relayLabel(relay)}: ${int(perCore.median)} calls per core -> ${cores} cores, e.g. ${boxes} relay(s) of ${EXAMPLE_CORES} cores`);
  }
  lines.push(
    `Calls per core = calls result / relay CPU (all threads, signalling included) at that point. Cores are planned at`,
    `${PLAN_LOAD * 100} % of the measured limit and assume forwarding scales with cores (each call lives on one thread;`,
    'scaling is not measured here). Loopback figures: a real NIC adds interrupt and driver cost per packet, so confirm',
    'on the target hardware, and add one relay for failover (N+1).',
  );
  return lines.join('\n');
}

/** Medians and same-sitting ratios per relay, then every trial of every repetition. */
export function json(machine: Machine, reps: Repetition[], relays: RelayName[], options: BenchOptions, notes: string[]): string {
  const summary = Object.fromEntries(relays.map((relay) => {
    const pick = (f: (r: RelayRun) => number | undefined): Spread | undefined => spread(reps.map((rep) => (rep[relay] ? (f(rep[relay]) ?? NaN) : NaN)));
    return [relay, {
      label: relayLabel(relay),
      capacityPps: pick(value('capacity')),
      capacityLowerBound: bound(reps, relay, 'capacity') !== '',
      capacityVsNaive: ratios(reps, relay, 'naive', value('capacity')),
      capacityVsRtpengine: ratios(reps, relay, 'rtpengine', value('capacity')),
      calls: pick(value('calls')),
      callsLowerBound: bound(reps, relay, 'calls') !== '',
      callsVsNaive: ratios(reps, relay, 'naive', value('calls')),
      callsVsRtpengine: ratios(reps, relay, 'rtpengine', value('calls')),
      callsPerCore: pick(callsPerCore),
      lightP50Us: pick((r) => r.light?.p50Us),
      lightP99Us: pick((r) => r.light?.p99Us),
      cpuPctAtCapacity: pick((r) => r.capacity?.best?.relayCpuPct),
      nsPerPktAtCapacity: pick((r) => r.capacity?.best?.relayNsPerPkt),
      nsPerPktLight: pick((r) => r.light?.relayNsPerPkt),
      srtpCapacityPps: pick(value('srtpCapacity')),
      srtpVsPlain: flavourCost(reps, relay),
      srtpVsPlainPerCore: flavourCost(reps, relay, perCore),
      transcodeCapacityPps: pick(value('transcodeCapacity')),
      transcodeVsPlainPerCore: flavourCost(reps, relay, perCore, 'transcodeCapacity'),
      opusCalls: pick(value('opusCalls')),
      opusCallsPerCore: pick((r) => perCore(r.opusCalls)),
    }];
  }));
  return JSON.stringify({ machine, options, notes, summary, repetitions: reps }, null, 2);
}
