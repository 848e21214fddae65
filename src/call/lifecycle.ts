/**
 * How calls end on their own: once a delete's delay is over, after `timeout` seconds without media
 * (answered calls) or `offer-timeout` seconds (calls still ringing). A sweep every second decides, from
 * the last-packet times the data plane reports; it also turns packet totals into per-second rates.
 */
import { cpus } from 'node:os';
import type { Logger } from 'pino';
import type { DataPlane, DataPlaneCounters } from '../dataplane/types.js';
import type { RelayOptions } from '../config/options.js';
import type { CallRegistry } from './registry.js';

/** How often calls are checked for expired delete-delays and media timeouts. */
const SWEEP_INTERVAL_MS = 1000;

export interface PacketRates {
  packetsIn: number;
  packetsOut: number;
  /** Bytes relayed per second (`--max-bandwidth` compares it). */
  bytesOut: number;
  /** The machine's CPU use over the last sweep, in percent of all cores (`--max-cpu` compares it). */
  cpuPercent: number;
}

export class CallLifecycle {
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;
  private stopped = false;
  /** Counters at the previous sweep, to turn totals into per-second rates. */
  private last = { at: Date.now(), packetsIn: 0, packetsOut: 0, bytesOut: 0, cpu: cpuTimes() };
  rates: PacketRates = { packetsIn: 0, packetsOut: 0, bytesOut: 0, cpuPercent: 0 };

  constructor(
    private readonly registry: CallRegistry,
    private readonly dataPlane: DataPlane,
    private readonly options: Pick<RelayOptions, 'timeout' | 'offerTimeout'>,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /**
   * One sweep at a time. It asks the forwarders only for last-packet times (a flat array): building full
   * state for thousands of sides every second stole enough CPU from forwarding to show in p99 latency.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const sides = [...this.registry.all()].flatMap((c) => [...c.sides()]);
      const times = await this.dataPlane.lastPackets(sides.map((s) => s.id));
      sides.forEach((side, i) => (side.lastPacketMs = times[i] ?? side.lastPacketMs));
      this.expire(Date.now());
      this.measureRates(await this.dataPlane.counters(), Date.now());
    } catch (err) {
      this.log.warn({ err }, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private expire(now: number): void {
    for (const call of [...this.registry.all()]) {
      if (this.registry.busy(call.callId)) continue;
      const timeoutMs = (call.answered ? this.options.timeout : this.options.offerTimeout) * 1000;
      if (call.deleteAt !== undefined) {
        if (now >= call.deleteAt) this.registry.commit({ kind: 'ended', call, reason: 'delete' });
      } else if (timeoutMs > 0 && now - call.lastActivity() > timeoutMs) {
        this.log.info({ callId: call.callId, answered: call.answered }, 'call timed out: no media');
        this.registry.commit({ kind: 'ended', call, reason: 'timeout' });
      }
    }
  }

  private measureRates(c: DataPlaneCounters, now: number): void {
    const seconds = (now - this.last.at) / 1000;
    if (seconds <= 0) return;
    const rate = (key: 'packetsIn' | 'packetsOut' | 'bytesOut'): number => Math.round((c[key] - this.last[key]) / seconds);
    const cpu = cpuTimes();
    const total = cpu.total - this.last.cpu.total;
    const cpuPercent = total > 0 ? Math.round((100 * (total - (cpu.idle - this.last.cpu.idle))) / total) : 0;
    this.rates = { packetsIn: rate('packetsIn'), packetsOut: rate('packetsOut'), bytesOut: rate('bytesOut'), cpuPercent };
    this.last = { at: now, packetsIn: c.packetsIn, packetsOut: c.packetsOut, bytesOut: c.bytesOut, cpu };
  }
}

/** The machine's CPU time so far, all cores: idle and total, in ms. */
function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}
