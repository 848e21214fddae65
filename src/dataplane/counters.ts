/** Process-wide forwarding counters: the zero value and summing over threads or engines. */
import type { DataPlaneCounters } from './types.js';

export function zeroCounters(): DataPlaneCounters {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, dropped: { malformed: 0, unknownSource: 0, noDestination: 0, sendError: 0, srtp: 0, stun: 0, dtls: 0 } };
}

export function addCounters(into: DataPlaneCounters, c: DataPlaneCounters): void {
  into.packetsIn += c.packetsIn;
  into.bytesIn += c.bytesIn;
  into.packetsOut += c.packetsOut;
  into.bytesOut += c.bytesOut;
  for (const k of Object.keys(into.dropped) as Array<keyof DataPlaneCounters['dropped']>) into.dropped[k] += c.dropped[k];
}
