/**
 * Prometheus metrics under rtpengine's names (`sessions{type}`, `closed_sessions_total{reason}`,
 * `packets_total`, `requests_total{proxy,request}` ...), so dashboards built for rtpengine need only
 * the prefix changed (`rtpbridge_` by default, `--metrics-prefix`). Everything is read when scraped
 * from what the relay counts anyway: nothing is added to the packet path.
 */
import { readdir, readFile } from 'node:fs/promises';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControlStats } from '../ng/replies.js';
import type { ControlAcl } from '../control/acl.js';
import type { Relay } from '../relay.js';
import { DROP_REASONS } from '../shared/vocabulary.js';

export const DEFAULT_METRICS_PREFIX = 'rtpbridge_';

/** Closed-session reasons in rtpengine's words. */
const CLOSED_REASONS = { timeout: 'timeout', terminated: 'terminated', force_terminated: 'forced' } as const;

/** The control plane's parts the metrics read besides the relay (a daemon has them all; tests some). */
export interface ControlMetrics {
  acl?: ControlAcl;
  /** ng requests the kernel dropped (receive buffer full). */
  kernelDrops?: () => Promise<number>;
}

export function createMetrics(relay: Relay, control: ControlStats, prefix = DEFAULT_METRICS_PREFIX, more: ControlMetrics = {}): Registry {
  const { acl, kernelDrops } = more;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  const p = (name: string): string => `${prefix}${name}`;
  // One statistics read per scrape, shared by the collectors below.
  let pending: ReturnType<Relay['statistics']> | undefined;
  const stats = (): ReturnType<Relay['statistics']> => (pending ??= relay.statistics().finally(() => queueMicrotask(() => (pending = undefined))));

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void> | void): void =>
    void new Gauge({
      name: p(name),
      help,
      labelNames,
      registers: [registry],
      collect() {
        return collect(this);
      },
    });
  // prom-client counters only go up by inc(); these mirror totals kept elsewhere, so each scrape sets them afresh.
  type Set = (labels: Record<string, string>, value: number) => void;
  const counter = (name: string, help: string, labelNames: string[], collect: (set: Set) => Promise<void> | void): void =>
    void new Counter({
      name: p(name),
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        return collect((labels, value) => this.inc(labels, value));
      },
    });

  gauge('sessions', 'Current sessions by type (own: signalled here; foreign: followed from another relay)', ['type'], async (g) => {
    g.set({ type: 'own' }, (await stats()).currentSessions);
    g.set({ type: 'foreign' }, (await stats()).foreignSessions);
  });
  counter('sessions_total', 'Sessions managed since start', [], async (set) => set({}, (await stats()).managedSessions));
  counter('closed_sessions_total', 'Sessions closed, by reason', ['reason'], async (set) => {
    const s = await stats();
    const counts = { timeout: s.timeoutSessions, terminated: s.regularTerminatedSessions, forced: s.forcedTerminatedSessions };
    for (const [label, key] of Object.entries(CLOSED_REASONS)) set({ reason: label }, counts[key]);
  });
  counter('packets_total', 'Packets relayed', ['type'], async (set) => set({ type: 'userspace' }, (await stats()).packetsOut));
  counter('bytes_total', 'Bytes relayed', ['type'], async (set) => set({ type: 'userspace' }, (await stats()).bytesOut));
  counter('packet_errors_total', 'Packets received but not relayed', ['type'], async (set) => {
    const dropped = (await stats()).dropped;
    set({ type: 'userspace' }, DROP_REASONS.reduce((sum, r) => sum + dropped[r], 0));
  });
  counter('packets_received_total', 'Media packets received on relay ports', [], async (set) => set({}, (await stats()).packetsIn));
  counter('bytes_received_total', 'Media bytes received on relay ports', [], async (set) => set({}, (await stats()).bytesIn));
  counter('dropped_packets_total', 'Packets dropped, by reason', ['reason'], async (set) => {
    const dropped = (await stats()).dropped;
    for (const reason of DROP_REASONS) set({ reason }, dropped[reason]);
  });
  gauge('uptime_seconds', 'Seconds since the relay started', [], async (g) => g.set((await stats()).uptime));
  counter('requests_total', 'ng requests, by proxy and command', ['proxy', 'request'], (set) => {
    for (const e of control.entries()) if (e.command !== 'error' && e.command !== 'shed') set({ proxy: e.proxy, request: e.command }, e.count);
  });
  counter('requests_shed_total', 'ng requests refused unexecuted (load limit) because too many were in progress, by proxy', ['proxy'], (set) => {
    for (const e of control.entries()) if (e.command === 'shed') set({ proxy: e.proxy }, e.count);
  });
  if (acl) {
    counter('control_denied_total', 'Control requests or connections dropped unanswered: source not in --ng-allow, by transport', ['transport'], (set) => {
      for (const [transport, n] of Object.entries(acl.denied)) set({ transport }, n);
    });
  }
  if (kernelDrops) counter('ng_receive_drops_total', 'ng requests the kernel dropped because the receive buffer was full (a burst)', [], async (set) => set({}, await kernelDrops()));
  counter('request_seconds_total', 'Seconds spent on ng requests, by proxy and command', ['proxy', 'request'], (set) => {
    for (const e of control.entries()) if (e.command !== 'error' && e.command !== 'shed') set({ proxy: e.proxy, request: e.command }, e.seconds);
  });
  counter('errors_total', 'ng requests answered with an error, by proxy', ['proxy'], (set) => {
    for (const e of control.entries()) if (e.command === 'error') set({ proxy: e.proxy }, e.count);
  });
  // rtpengine's quality sums: divide by the samples for averages, use the squares for deviations.
  const q = relay.quality;
  counter('mos_samples_total', 'Call-quality samples (RTCP report blocks) taken', [], (set) => set({}, q.samples));
  for (const [name, help] of [
    ['mos', 'MOS'],
    ['jitter', 'jitter (ms)'],
    ['packetloss', 'packet loss (%)'],
    ['rtt_dsct', 'round-trip time of the relay-reporter leg (s)'],
  ] as const) {
    const key = name === 'rtt_dsct' ? 'rtt' : name;
    counter(`${name}_total`, `Sum of all ${help} samples`, [], (set) => set({}, q.sums[key]));
    counter(`${name}2_total`, `Sum of the squares of all ${help} samples`, [], (set) => set({}, q.sums[`${key}2`]));
  }
  gauge('ports_used', 'Media port pairs in use, by interface and address', ['interface', 'address'], (g) => {
    for (const u of relay.interfaceUsage()) g.set({ interface: u.name, address: u.address }, u.used);
  });
  gauge('ports_free', 'Media port pairs free, by interface and address', ['interface', 'address'], (g) => {
    for (const u of relay.interfaceUsage()) g.set({ interface: u.name, address: u.address }, u.free);
  });
  gauge('forwarding_threads', 'Forwarding threads, by engine', ['engine'], (g) => g.set({ engine: relay.forwarding.engine }, relay.forwarding.threads));
  counter('forwarding_cpu_seconds_total', 'CPU time of each native forwarding thread', ['thread'], async (set) => {
    for (const [thread, seconds] of await forwardingCpu()) set({ thread }, seconds);
  });
  return registry;
}

const CLOCK_TICKS = 100;

/** utime+stime of this process's threads named rtpbridge-fwd (the addon's), from /proc; none elsewhere. */
async function forwardingCpu(): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  const tasks = await readdir('/proc/self/task').catch(() => [] as string[]);
  for (const tid of tasks) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((rtpbridge-fwd[^)]*)\) (.*)$/.exec(stat.trim());
    if (!m) continue;
    const fields = m[2]!.split(' ');
    out.push([tid, (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS]);
  }
  return out;
}
