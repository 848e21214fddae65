/** G.722 (src/codecs/g722.ts): vectors from ffmpeg's ITU-exact codec, tones through the codec, streaming state. */
import { createHash } from 'node:crypto';
import t from 'tap';
import { G722Decoder, G722Encoder } from '../src/codecs/g722.js';
import { tone, toneOf } from './helpers/tone.js';

const RATE = 16000;
/** Samples of delay through the analysis and synthesis QMFs. */
const DELAY = 22;

/** One second of a `hz` tone at 16 kHz. */
const second = (hz: number, amplitude: number): Int16Array => tone(hz, RATE, amplitude, 0, RATE);

function roundTrip(x: Int16Array): Int16Array {
  return new G722Decoder().decode(new G722Encoder().encode(x));
}


/** Correlation of the input with the output, the codec's delay taken out. */
function correlation(x: Int16Array, y: Int16Array): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i + DELAY < y.length; i++) {
    xy += x[i]! * y[i + DELAY]!;
    xx += x[i]! * x[i]!;
    yy += y[i + DELAY]! * y[i + DELAY]!;
  }
  return xy / Math.sqrt(xx * yy);
}

/** Index of the first element where `a` and `b` differ (or of the shorter's end), -1 if none: cheap to report. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

const sha256 = (a: Uint8Array | Int16Array): string =>
  createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

t.test('bit-exact with ffmpeg (itself exact to the ITU reference)', async (t) => {
  // Expected values from ffmpeg 5.1 (adpcm_g722), run once by hand on these inputs: `ffmpeg -f s16le -ar 16000 -ac 1
  // -i in.raw -acodec g722 -f g722 out.g722`, then `ffmpeg -f g722 -i out.g722 -f s16le -ar 16000 dec.raw`.
  let seed = 3;
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16;
  // Segments of 4096: a triangle wave with some noise, the same wave moved next to 4 kHz (the poles' limits in either
  // band), full-scale noise, a full-scale square wave, quiet noise.
  const x = Int16Array.from({ length: 5 * 4096 }, (_, i) => {
    const triangle = Math.abs(((i * 97) % 4000) - 2000) * 12 - 12000;
    switch (i >> 12) {
      case 0:
        return triangle + (random() >> 5) - 1024;
      case 1:
        return triangle * [1, 0, -1, 0][i & 3]!;
      case 2:
        return random() - 32768;
      case 3:
        return (i >> 3) & 1 ? 32767 : -32768;
      default:
        return (random() >> 8) - 128;
    }
  });
  const bytes = new G722Encoder().encode(x);
  t.equal(Buffer.from(bytes.subarray(0, 16)).toString('hex'), '902084208420a029af34b89bd7128e8b', 'first bytes');
  t.equal(Buffer.from(bytes.subarray(6144, 6160)).toString('hex'), 'b29586081a904444c42fe0e060934444', 'bytes of the full-scale square');
  t.equal(sha256(bytes), 'eabe0b586174b483d9299dcf7270e03480b74d3c979c72a3fdcc8218e23955ef', 'all 10240 bytes');
  t.equal(sha256(new G722Decoder().decode(bytes)), '47600a5bff1deb41d05866d8412e1b24624a2c4eca5e1ceef6f18c17fe4b3253', 'all 20480 samples decoded');

  // Arbitrary bytes, the lower band's unused codes 0-3 among them, drive both bands to their limits.
  seed = 1;
  const noise = Uint8Array.from({ length: 4000 }, () => random() >> 8);
  const decoded = new G722Decoder().decode(noise);
  t.same([...decoded.subarray(800, 808)], [1397, -7262, 14714, 9689, -744, -3232, 1481, 8969], 'samples 800-807 of arbitrary bytes');
  t.equal(sha256(decoded), '5e25792e6fe3fbd26078d0073b5eac6e3f48fe347af2a122f61cc272ecf541a4', 'all 8000 samples of arbitrary bytes');
});

for (const hz of [1000, 5000]) {
  t.test(`a ${hz} Hz tone keeps its frequency and level (${hz > 4000 ? 'upper' : 'lower'} sub-band)`, async (t) => {
    const x = second(hz, 10000);
    const y = roundTrip(x);
    t.equal(y.length, x.length, 'two samples per byte');
    // After 10 ms for the adaptation to settle: half a second, whole cycles of either tone.
    const input = toneOf(x.subarray(160, 8160), hz, RATE);
    const output = toneOf(y.subarray(160 + DELAY, 8160 + DELAY), hz, RATE);
    t.ok(output.share > 0.95, `${(100 * output.share).toFixed(2)} % of the power at ${hz} Hz`);
    const gain = 20 * Math.log10(output.rms / input.rms);
    t.ok(Math.abs(gain) < 1, `level changed by ${gain.toFixed(2)} dB`);
  });
}

t.test('silence stays silent', async (t) => {
  const y = roundTrip(new Int16Array(RATE));
  t.ok(y.every((v) => Math.abs(v) <= 8), `peak ${Math.max(...y.map(Math.abs))}`);
});

t.test('full scale does not wrap', async (t) => {
  const signals: Record<string, Int16Array> = {
    sine: second(1000, 32767),
    square: Int16Array.from({ length: RATE }, (_, i) => (Math.floor(i / 16) % 2 ? -32768 : 32767)),
  };
  for (const [name, x] of Object.entries(signals)) {
    const y = roundTrip(x);
    t.ok(correlation(x, y) > 0.95, `${name}: correlation ${correlation(x, y).toFixed(3)}`);
    const flipped = x.filter((v, i) => i + DELAY < y.length && Math.abs(v) > 20000 && Math.sign(v) !== Math.sign(y[i + DELAY]!));
    t.equal(flipped.length, 0, `${name}: no loud sample comes out with the opposite sign`);
  }
});

t.test('streaming: state carries across calls, and each instance has its own', async (t) => {
  let seed = 5;
  const noise = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 8000;
  const a = Int16Array.from(second(700, 6000), (v, i) => v + Math.round(noise()) + (i % 3000 < 1500 ? 0 : 4000 * Math.sin(i * 2.3)));
  const b = second(5500, 9000);
  const bytesA = new G722Encoder().encode(a);
  const bytesB = new G722Encoder().encode(b);
  t.equal(bytesA.length, a.length / 2, 'one byte per two samples');

  // 20 ms frames from two encoders in turn, then frames of uneven (even) sizes.
  const encA = new G722Encoder();
  const encB = new G722Encoder();
  const framedA = new Uint8Array(bytesA.length);
  const framedB = new Uint8Array(bytesB.length);
  for (let i = 0; i < a.length; i += 320) {
    framedA.set(encA.encode(a.subarray(i, i + 320)), i / 2);
    framedB.set(encB.encode(b.subarray(i, i + 320)), i / 2);
  }
  t.equal(firstDifference(framedA, bytesA), -1, 'encoder A frame by frame');
  t.equal(firstDifference(framedB, bytesB), -1, 'encoder B frame by frame');
  const enc = new G722Encoder();
  const uneven = new Uint8Array(bytesA.length);
  for (let i = 0, size = 2; i < a.length; i += size, size = (size * 7 + 2) % 1000 || 2) {
    uneven.set(enc.encode(a.subarray(i, i + size)), i / 2);
  }
  t.equal(firstDifference(uneven, bytesA), -1, 'frames of 2 to 998 samples');

  const whole = new G722Decoder().decode(bytesA);
  t.equal(whole.length, a.length, 'two samples per byte');
  t.equal(firstDifference(new G722Decoder().decode(bytesA), whole), -1, 'another decoder, same samples');
  const dec = new G722Decoder();
  const other = new G722Decoder();
  const framed = new Int16Array(whole.length);
  for (let i = 0; i < bytesA.length; i += 160) {
    framed.set(dec.decode(bytesA.subarray(i, i + 160)), 2 * i);
    other.decode(bytesB.subarray(i, i + 160));
  }
  t.equal(firstDifference(framed, whole), -1, 'decoder frame by frame, next to another');
});

t.test('follow: an encoder that read another\'s bytes goes on from the state that one left, and the stream\'s receiver hears no jump', async (t) => {
  const speaker = new G722Encoder();
  const stream = [0, 1, 2, 3, 4].map((i) => speaker.encode(tone(300, 16000, 6000, i * 320, 320)));
  const follower = new G722Encoder();
  for (const bytes of stream) follower.follow(bytes);
  /** What a receiver that decoded the stream so far hears of `bytes`: the share of its power at 1 kHz. */
  const heard = (bytes: Uint8Array): number => {
    const receiver = new G722Decoder();
    for (const b of stream) receiver.decode(b);
    return toneOf(receiver.decode(bytes).subarray(32), 1000, 16000).share;
  };
  // The next frame changes to 1 kHz; its first 32 samples (the QMF's delay) carry the old tone's end.
  const next = tone(1000, 16000, 6000, 0, 320);
  const own = heard(speaker.encode(next));
  const followed = heard(follower.encode(next));
  const fresh = heard(new G722Encoder().encode(next));
  t.ok(followed > 0.95 && Math.abs(followed - own) < 0.05, `after follow: ${(followed * 100).toFixed(1)} % at 1 kHz, as with the speaker's own encoder (${(own * 100).toFixed(1)} %)`);
  t.ok(fresh < 0.8, `a fresh encoder's frame: ${(fresh * 100).toFixed(1)} %`);
});
