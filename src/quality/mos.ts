/**
 * MOS from what RTCP reports, by the ITU-T G.107 E-model with its default parameters (R0 93.2) for a
 * narrow-band codec with packet-loss concealment (G.711 Appendix I: Ie 0, Bpl 25.1, G.113):
 *
 *   d      = RTT/2 + 2 x jitter + 10 ms        one-way delay, the jitter buffer and packetization included
 *   Id     = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)
 *   Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)   Ppl: packet loss in percent
 *   R      = 93.2 - Id - Ie,eff
 *   MOS    = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6, clipped to 1..4.5 (G.107 Annex B)
 */

const R0 = 93.2;
const BPL = 25.1;
const IE = 0;
const PACKETIZATION_MS = 10;

export interface QualitySample {
  rttMs: number;
  jitterMs: number;
  lossPercent: number;
}

export function rFactor({ rttMs, jitterMs, lossPercent }: QualitySample): number {
  const d = rttMs / 2 + 2 * jitterMs + PACKETIZATION_MS;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const ie = IE + ((95 - IE) * lossPercent) / (lossPercent + BPL);
  return R0 - id - ie;
}

/** G.107's mapping of R to an estimated MOS (conversational quality). */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

export function mos(sample: QualitySample): number {
  return mosFromR(rFactor(sample));
}
