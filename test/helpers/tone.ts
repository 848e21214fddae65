/** Tones for checking audio through a transcoding relay: made, packetised, and measured (Goertzel). */
import { keyFrequencies } from '../../src/dtmf/keypad.js';
import { digitEvent } from '../../src/dtmf/rfc4733.js';

/** `count` samples at `rate` of a `hz` sine at `amplitude`, starting at sample `from`. */
export function tone(hz: number, rate: number, amplitude: number, from: number, count: number): Int16Array {
  return Int16Array.from({ length: count }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * (from + i)) / rate)));
}

/** An RTP packet: V=2, `pt`, `seq`, `ts`, SSRC `ssrc`, and `payload`. */
export function rtp(pt: number, seq: number, ts: number, payload: Uint8Array, ssrc = 0xc0dec): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = pt;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(ts >>> 0, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, payload]);
}

/** Amplitude of `hz` in `samples` at `rate` (Goertzel): exact when they span a whole number of periods. */
export function amplitudeAt(samples: Int16Array, hz: number, rate: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s = x + coefficient * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (2 * Math.sqrt(s1 * s1 + s2 * s2 - coefficient * s1 * s2)) / samples.length;
}

export function rms(samples: Int16Array): number {
  let energy = 0;
  for (const x of samples) energy += x * x;
  return Math.sqrt(energy / samples.length);
}

/** Power of `samples` (at `rate`) at `hz` relative to their whole power (1 for a pure tone there), and their RMS. */
export function toneOf(samples: Int16Array, hz: number, rate = 8000): { share: number; rms: number } {
  const level = rms(samples);
  return { share: amplitudeAt(samples, hz, rate) ** 2 / 2 / level ** 2, rms: level };
}

/** Samples at `rate` of `keys` as a phone dials them: `onMs` of each dual tone (each at `amplitude`), `offMs` of silence. */
export function dial(keys: string, amplitude = 6000, onMs = 100, offMs = 60, rate = 8000): Int16Array {
  const out: number[] = [];
  let n = 0;
  for (const key of keys) {
    const [low, high] = keyFrequencies(digitEvent(key));
    for (let i = 0; i < (onMs * rate) / 1000; i++, n++) out.push(Math.round(amplitude * (Math.sin((2 * Math.PI * low * n) / rate) + Math.sin((2 * Math.PI * high * n) / rate))));
    for (let i = 0; i < (offMs * rate) / 1000; i++, n++) out.push(0);
  }
  return Int16Array.from(out);
}
