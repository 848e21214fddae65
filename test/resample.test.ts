/** Sample-rate conversion (src/codecs/resample.ts): tones keep frequency and level, no aliases or images, chunking changes nothing, exact counts, saturation. */
import t from 'tap';
import { Resampler } from '../src/codecs/resample.js';
import { amplitudeAt, rms, tone } from './helpers/tone.js';


const dB = (ratio: number): number => 20 * Math.log10(ratio);

/** One second of output after the filters' warm-up, for a tone of `hz` fed in 1.2 s at once. */
function convertTone(from: number, to: number, hz: number, amplitude: number): Int16Array {
  const out = new Resampler(from, to).process(tone(hz, from, amplitude, 0, Math.round(from * 1.2)));
  return out.subarray(Math.round(to * 0.1), Math.round(to * 0.1) + to);
}

/** A deterministic sequence in [0, 1): a 32-bit linear congruential generator. */
function random(seed: number): () => number {
  return () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const max = (x: Int16Array): number => x.reduce((a, b) => Math.max(a, b), -32768);
const min = (x: Int16Array): number => x.reduce((a, b) => Math.min(a, b), 32767);

const PAIRS: [number, number][] = [[48000, 8000], [8000, 48000], [16000, 8000], [8000, 16000], [44100, 8000], [8000, 44100]];

// 8000 -> 8001 and 48000 -> 47999 have too many phases for a table of each: rows are interpolated.
for (const [from, to] of [...PAIRS, [8000, 8001], [48000, 47999]] as [number, number][]) {
  t.test(`${from} -> ${to}: passband tones keep their frequency and level`, async (t) => {
    // Up to 0.8 × the lower Nyquist.
    for (const hz of [300, 1000, 2000, 3200]) {
      const out = convertTone(from, to, hz, 10000);
      const amplitude = amplitudeAt(out, hz, to);
      const share = (amplitude ** 2 / 2) / rms(out) ** 2;
      t.ok(share > 0.99, `${hz} Hz: ${(share * 100).toFixed(4)} % of the energy at ${hz} Hz`);
      t.ok(Math.abs(dB(amplitude / 10000)) <= 0.5, `${hz} Hz: level ${dB(amplitude / 10000).toFixed(3)} dB`);
    }
  });
}

t.test('above the target Nyquist: at least 60 dB down, whatever it would fold to', async (t) => {
  const cases: [number, number, number[]][] = [
    [48000, 8000, [4200, 6000, 9000, 13000, 20000]],
    [44100, 8000, [4200, 5000, 12000, 20000]],
    [16000, 8000, [4200, 5000, 7500]],
    [48000, 16000, [8400, 12000, 20000]],
  ];
  for (const [from, to, tones] of cases) {
    for (const hz of tones) {
      const level = dB(rms(convertTone(from, to, hz, 20000)) / (20000 / Math.SQRT2));
      t.ok(level <= -60, `${from} -> ${to}, ${hz} Hz: ${level.toFixed(1)} dB`);
    }
  }
});

t.test('upsampling: images of a tone at least 60 dB down', async (t) => {
  for (const [from, to] of [[8000, 48000], [8000, 44100], [8000, 16000], [16000, 48000]] as [number, number][]) {
    for (const hz of [1000, 3000]) {
      const out = convertTone(from, to, hz, 20000);
      const rest = rms(out) ** 2 - amplitudeAt(out, hz, to) ** 2 / 2;
      const level = dB(Math.sqrt(Math.max(rest, 1e-9)) / (20000 / Math.SQRT2));
      t.ok(level <= -60, `${from} -> ${to}, ${hz} Hz: everything else at ${level.toFixed(1)} dB`);
    }
  }
});

t.test('chunks of any size give the same samples as one call, and every call the exact count', async (t) => {
  const next = random(1);
  const signal = Int16Array.from({ length: 20000 }, () => Math.round((next() - 0.5) * 40000));
  const pairs: [number, number][] = [...PAIRS, [44100, 48000], [48000, 44100], [8000, 11025], [8000, 8001], [48000, 16000]];
  for (const [from, to] of pairs) {
    const whole = new Resampler(from, to).process(signal);
    t.equal(whole.length, Math.ceil((signal.length * to) / from), `${from} -> ${to}: one call`);
    const r = new Resampler(from, to);
    const parts: Int16Array[] = [];
    let fed = 0;
    let got = 0;
    let exact = true;
    while (fed < signal.length) {
      // Mostly small and odd sizes, with empty chunks and single samples among them.
      const size = Math.min(signal.length - fed, Math.floor(next() ** 2 * 400));
      const part = r.process(signal.subarray(fed, fed + size));
      fed += size;
      got += part.length;
      exact &&= got === Math.ceil((fed * to) / from);
      parts.push(part);
    }
    t.ok(exact, `${from} -> ${to}: ceil(input · ${to} / ${from}) out after every chunk`);
    const chunked = new Int16Array(got);
    let at = 0;
    for (const p of parts) {
      chunked.set(p, at);
      at += p.length;
    }
    t.ok(chunked.length === whole.length && chunked.every((v, i) => v === whole[i]), `${from} -> ${to}: same samples`);
  }
});

t.test('ten minutes of 20 ms chunks: no drift', async (t) => {
  const next = random(2);
  for (const [from, to] of [[44100, 8000], [8000, 11025]] as [number, number][]) {
    const chunk = Int16Array.from({ length: from / 50 }, () => Math.round((next() - 0.5) * 20000));
    const r = new Resampler(from, to);
    let total = 0;
    let exact = true;
    for (let n = 1; n <= 30000; n++) {
      total += r.process(chunk).length;
      exact &&= total === Math.ceil((n * chunk.length * to) / from);
    }
    t.ok(exact, `${from} -> ${to}: every chunk's count exact`);
    t.equal(total, 600 * to, `${from} -> ${to}: 600 s of output`);
  }
});

t.test('full scale saturates instead of wrapping; a constant comes out exactly', async (t) => {
  // A full-scale square wave overshoots (Gibbs) once band-limited.
  const square = Int16Array.from({ length: 8000 }, (_, i) => (i % 16 < 8 ? 32767 : -32768));
  for (const [from, to] of [[8000, 48000], [8000, 16000], [8000, 44100]] as [number, number][]) {
    const out = new Resampler(from, to).process(square);
    t.equal(max(out), 32767, `${from} -> ${to}: clipped at the top`);
    t.equal(min(out), -32768, `${from} -> ${to}: clipped at the bottom`);
    // A wrapped sample would jump by about 65536 from its neighbour.
    t.ok(out.every((v, i) => i === 0 || Math.abs(v - out[i - 1]!) < 32768), `${from} -> ${to}: no wrap`);
  }
  for (const [from, to] of [...PAIRS, [44100, 48000], [8000, 8001]] as [number, number][]) {
    for (const level of [32767, -32768, 1000, -3]) {
      const out = new Resampler(from, to).process(new Int16Array(from / 10).fill(level));
      // After 10 ms, the longest the filters take to fill with the constant.
      t.ok(out.subarray(Math.round(to / 100)).every((v) => v === level), `${from} -> ${to}: ${level} stays ${level}`);
    }
  }
});

t.test('delay: an impulse comes out within 3 ms', async (t) => {
  for (const [from, to] of [...PAIRS, [48000, 16000], [16000, 48000]] as [number, number][]) {
    const impulse = new Int16Array(from / 10);
    impulse[from / 100] = 30000;
    const out = new Resampler(from, to).process(impulse);
    const peak = out.indexOf(max(out));
    const delay = peak / to - 0.01;
    t.ok(delay >= 0 && delay < 0.003, `${from} -> ${to}: ${(delay * 1000).toFixed(2)} ms`);
  }
});

t.test('equal rates: a copy; rates must be positive integers', async (t) => {
  const x = Int16Array.of(1, -2, 3);
  const y = new Resampler(16000, 16000).process(x);
  t.same([...y], [1, -2, 3]);
  t.not(y, x);
  for (const [from, to] of [[0, 8000], [8000, -1], [8000.5, 8000], [NaN, 8000]] as [number, number][]) {
    t.throws(() => new Resampler(from, to), RangeError);
  }
});
