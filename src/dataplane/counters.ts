/** Process-wide forwarding counters: the zero value and summing over threads or engines. */
import { DROP_REASONS, zeroDrops } from '../shared/vocabulary.js';
import type { DataPlaneCounters } from './types.js';

export function zeroCounters(): DataPlaneCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, dropped: zeroDrops() };
}

export function addCounters(into: DataPlaneCounters, c: DataPlaneCounters): void {
  into.packetsIn += c.packetsIn;
  into.bytesIn += c.bytesIn;
  into.packetsOut += c.packetsOut;
  into.bytesOut += c.bytesOut;
  for (const reason of DROP_REASONS) into.dropped[reason] += c.dropped[reason];
}
