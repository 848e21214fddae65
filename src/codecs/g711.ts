/**
 * G.711 (ITU-T G.711) μ-law and A-law, one byte per 8 kHz sample, to and from 16-bit linear PCM.
 * Decoding goes through 256-entry tables; encoding finds the segment of the sample's magnitude.
 */

function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a & 0x70) >> 4;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

const ULAW = Int16Array.from({ length: 256 }, (_, i) => ulawToLinear(i));
const ALAW = Int16Array.from({ length: 256 }, (_, i) => alawToLinear(i));

export type G711Law = 'PCMU' | 'PCMA';

/** Linear samples of a G.711 payload. */
export function decodeG711(law: G711Law, payload: Uint8Array): Int16Array {
  const table = law === 'PCMU' ? ULAW : ALAW;
  const out = new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = table[payload[i]!]!;
  return out;
}

/** G.711 bytes of linear samples. */
export function encodeG711(law: G711Law, samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = law === 'PCMU' ? linearToUlaw(samples[i]!) : linearToAlaw(samples[i]!);
  return out;
}

function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function linearToAlaw(sample: number): number {
  // A-law works on 13-bit magnitudes: segment s (0-7) covers up to 2^(s+5) - 1, each in 16 steps.
  const positive = sample >= 0;
  const magnitude = Math.min((positive ? sample : -sample - 1) >> 3, 0xfff);
  let segment = 0;
  while (segment < 7 && magnitude >= 0x20 << segment) segment++;
  const step = (segment < 2 ? magnitude >> 1 : magnitude >> segment) & 0x0f;
  return ((segment << 4) | step) ^ (positive ? 0xd5 : 0x55);
}

/** The byte each G.711 code of `from` becomes in `to`: converting a payload is one lookup per sample. */
export function g711Table(from: G711Law, to: G711Law): Uint8Array {
  return encodeG711(to, decodeG711(from, Uint8Array.from({ length: 256 }, (_, i) => i)));
}

/** Peak of a sine at `db` below 0 dBm0, in G.711's 16-bit scale (the laws peak at +3.17 dBm0). */
export function dbm0Amplitude(db: number): number {
  return 22_700 * 10 ** (-db / 20);
}
