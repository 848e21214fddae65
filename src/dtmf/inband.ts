/**
 * In-band DTMF: key presses heard in G.711 audio, for trunks that send tones instead of RFC 4733
 * events. Each 20 ms block of 8 kHz samples is measured at the eight DTMF frequencies (Goertzel); a
 * block holds a digit when one row and one column tone carry most of its energy, each well above the
 * other tones of its group, at a twist a phone can produce. A press starts after two such blocks of the
 * same digit and ends after two without it.
 */
import type { DtmfPress } from './press.js';
import { eventDigit } from './rfc4733.js';
import { COLUMNS, EVENTS, ROWS } from './keypad.js';

const RATE = 8000;
const BLOCK = 160;
const COEFFICIENTS = [...ROWS, ...COLUMNS].map((f) => 2 * Math.cos((2 * Math.PI * f) / RATE));
/** Share of the block's energy the two tones must carry. */
const PURITY = 0.6;
/** How far the strongest tone of a group must be above the next one (power ratio, about 6 dB). */
const DOMINANCE = 4;
/** Column over row power ratio allowed (about -8 dB to +4 dB). */
const TWIST = [0.16, 2.5] as const;
/** Mean square below which a block is silence (about -45 dBm0). */
const FLOOR = 30_000;
/** Blocks that start and end a press. */
const CONFIRM = 2;

/** The digit a block of BLOCK samples holds, with its mean square; undefined for none. */
function blockDigit(samples: Int16Array, at: number): { event: number; power: number } | undefined {
  let energy = 0;
  const s1 = new Float64Array(8);
  const s2 = new Float64Array(8);
  for (let n = 0; n < BLOCK; n++) {
    const x = samples[at + n]!;
    energy += x * x;
    for (let k = 0; k < 8; k++) {
      const s = x + COEFFICIENTS[k]! * s1[k]! - s2[k]!;
      s2[k] = s1[k]!;
      s1[k] = s;
    }
  }
  const power = energy / BLOCK;
  if (power < FLOOR) return undefined;
  const tone = (k: number): number => s1[k]! * s1[k]! + s2[k]! * s2[k]! - COEFFICIENTS[k]! * s1[k]! * s2[k]!;
  const best = (from: number): [index: number, power: number, second: number] => {
    const p = [0, 1, 2, 3].map((i) => tone(from + i));
    const i = p.indexOf(Math.max(...p));
    return [i, p[i]!, Math.max(...p.filter((_, j) => j !== i))];
  };
  const [row, rowPower, rowSecond] = best(0);
  const [column, columnPower, columnSecond] = best(4);
  // A pure tone of amplitude A gives a Goertzel power of (A N / 2)^2 and a block energy of N A^2 / 2.
  const share = (rowPower + columnPower) / ((energy * BLOCK) / 2);
  const twist = columnPower / rowPower;
  if (share < PURITY || rowPower < DOMINANCE * rowSecond || columnPower < DOMINANCE * columnSecond || twist < TWIST[0] || twist > TWIST[1]) return undefined;
  return { event: EVENTS[row]![column]!, power };
}

export class InbandDtmf {
  /** Samples not yet in a full block. */
  private pending = new Int16Array(0);
  private current: { event: number; blocks: number; power: number } | undefined;
  private candidate: { event: number; blocks: number } | undefined;
  private quiet = 0;

  /** Feeds decoded 8 kHz samples; returns the presses they complete. */
  receive(samples: Int16Array, atMs: number): DtmfPress[] {
    const all = new Int16Array(this.pending.length + samples.length);
    all.set(this.pending);
    all.set(samples, this.pending.length);
    const out: DtmfPress[] = [];
    let at = 0;
    for (; at + BLOCK <= all.length; at += BLOCK) {
      const press = this.block(blockDigit(all, at), atMs);
      if (press) out.push(press);
    }
    this.pending = all.slice(at);
    return out;
  }

  private block(found: { event: number; power: number } | undefined, atMs: number): DtmfPress | undefined {
    const current = this.current;
    if (current && found?.event === current.event) {
      current.blocks++;
      current.power += found.power;
      this.quiet = 0;
      return undefined;
    }
    if (current) {
      if (++this.quiet < CONFIRM) return undefined;
      this.current = undefined;
      this.quiet = 0;
      return press(current, atMs);
    }
    this.candidate = found && this.candidate?.event === found.event ? { event: found.event, blocks: this.candidate.blocks + 1 } : found && { event: found.event, blocks: 1 };
    if (this.candidate && this.candidate.blocks >= CONFIRM) {
      this.current = { event: this.candidate.event, blocks: this.candidate.blocks, power: (found?.power ?? 0) * this.candidate.blocks };
      this.candidate = undefined;
    }
    return undefined;
  }
}

function press(p: { event: number; blocks: number; power: number }, atMs: number): DtmfPress {
  // G.711 full scale is +3.14 dBm0; the volume is the level below 0 dBm0, as RFC 4733 writes it.
  const dbm0 = 10 * Math.log10(p.power / p.blocks / (32768 * 32768)) + 3.14;
  return { event: p.event, digit: eventDigit(p.event), duration: (p.blocks * BLOCK * 1000) / RATE, volume: Math.max(0, Math.min(63, Math.round(-dbm0))), at: atMs };
}
