/**
 * Sample-rate conversion of 16-bit mono PCM by rational ratios, with Kaiser-windowed sinc low-pass
 * filters evaluated as polyphase FIRs. A stage converting by up/down (its rates over their gcd) puts
 * output n at input time n·down/up; the fractional part picks one of `up` rows of coefficients, which
 * weigh the last `taps` input samples.
 *
 * The conversion's own filter (SHARP) loses at most 0.3 dB up to 0.8 × the lower Nyquist, is 6 dB down
 * at 0.88 × and at least 68 dB down from 1.0 × on. It spans 36 samples of the lower rate, so its cost
 * per output grows with the input rate: a conversion spanning more than 2× goes through twice the
 * lower rate when that takes fewer multiplies, the stage between that rate and the higher one (RELAXED)
 * only keeping images and aliases off the band the sharp stage then keeps.
 *
 * Delay (linear phase, taps/2 input samples per stage): 18 samples of the lower rate for the sharp
 * stage (2.25 ms at 8 kHz, 1.125 ms at 16 kHz), plus up to 0.4 ms for a relaxed one: 2.5 ms from
 * 48 kHz to 8 kHz, 2.6 ms back.
 */

interface Design {
  /** Passband and stopband edges, as fractions of the stage's lower rate. */
  pass: number;
  stop: number;
  /** Taps × transition width (cycles per input sample), and Kaiser β: found for ≥ 68 dB at every ratio. */
  tapsTimesWidth: number;
  beta: number;
  /** Where the cutoff sits within the transition band: lower droops the passband, higher leaks. */
  cutoffAt: number;
}

const SHARP: Design = { pass: 0.4, stop: 0.5, tapsTimesWidth: 3.6, beta: 6.7, cutoffAt: 0.4 };
/**
 * Between 2 × the low rate fl and the high rate: flat to 0.4 fl, and stops from 1.5 fl on, which folds
 * to below fl/2 (or is the image of what is below it). Few taps, so more per width for the same margin.
 */
const RELAXED: Design = { pass: 0.2, stop: 0.75, tapsTimesWidth: 5, beta: 8, cutoffAt: 0.45 };

/**
 * Past this many phases (odd ratios such as 8000:8001) rows are interpolated, bounding the table;
 * linearly between 256 rows per input sample, which is off by about −94 dB (the 16-bit rounding's level).
 */
const MAX_EXACT_PHASES = 1024;
const INTERPOLATED_ROWS = 256;

interface Filter {
  taps: number;
  /** Linear interpolation between INTERPOLATED_ROWS + 1 rows, rather than one row per phase. */
  interpolated: boolean;
  /**
   * Row after row, each reversed (first coefficient for the oldest sample) so the dot product runs
   * forward. A symmetric row holds only its first half (see `spans`).
   */
  coefs: number[];
  /**
   * Per exact phase, 0 or the distance between the samples that the first coefficient of a symmetric
   * row weighs. Phase 0 and (for an even `up`) phase up/2 are symmetric; weighing sample pairs there
   * halves the multiplies and loads of coefficients, and every output of a 2× conversion is such a phase.
   */
  spans: number[];
}

/** Filters by ratio and design: a relay runs thousands of resamplers over a handful of ratios. */
const filters = new Map<string, Filter>();

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (the Kaiser window), by its power series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; term > sum * 1e-17; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
  }
  return sum;
}

function tapsFor(up: number, down: number, d: Design): number {
  const width = (d.stop - d.pass) * Math.min(1, up / down);
  // A multiple of 4: the dot product is unrolled by 4 with no remainder. The epsilon absorbs float error.
  return 4 * Math.ceil(d.tapsTimesWidth / width / 4 - 1e-9);
}

/**
 * Zeros in an array that V8 stores as unboxed doubles (PACKED_DOUBLE_ELEMENTS). The dot product reads
 * such arrays about 25 % faster than Float64Arrays (Node 20), so the hot ones are arrays.
 */
function doubles(length: number): number[] {
  return Array.from({ length }, () => 0.5).fill(0);
}

function filter(up: number, down: number, d: Design): Filter {
  const key = `${up}/${down}/${d === SHARP ? 'sharp' : 'relaxed'}`;
  const cached = filters.get(key);
  if (cached) return cached;
  const taps = tapsFor(up, down, d);
  const interpolated = up > MAX_EXACT_PHASES;
  const rows = interpolated ? INTERPOLATED_ROWS + 1 : up;
  const fractions = interpolated ? INTERPOLATED_ROWS : up;
  // Cutoff in half-cycles per input sample.
  const fc = 2 * (d.pass + d.cutoffAt * (d.stop - d.pass)) * Math.min(1, up / down);
  const half = taps / 2;
  const i0Beta = besselI0(d.beta);
  const coefs = doubles(rows * taps);
  const spans: number[] = [];
  for (let row = 0; row < rows; row++) {
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      // Distance from the kernel's centre (taps/2 samples back) of the sample k weighs, for an output
      // row/fractions past the newest sample.
      const u = half - 1 - k + row / fractions;
      if (Math.abs(u) >= half) continue;
      const x = Math.PI * fc * u;
      const c = ((x === 0 ? 1 : Math.sin(x) / x) * besselI0(d.beta * Math.sqrt(1 - (u / half) ** 2))) / i0Beta;
      coefs[row * taps + k] = c;
      sum += c;
    }
    // Unit gain at DC in every row, so a constant input comes out constant.
    for (let k = 0; k < taps; k++) coefs[row * taps + k]! /= sum;
    // At phase 0 the centre tap is taps/2 - 1 and the last is zero: its pair is itself, at half weight.
    // At phase 1/2 the centre falls between taps/2 - 1 and taps/2.
    const symmetric = !interpolated && (2 * row) % up === 0;
    if (symmetric && row === 0) coefs[half - 1]! /= 2;
    if (!interpolated) spans.push(!symmetric ? 0 : row === 0 ? taps - 2 : taps - 1);
  }
  const f: Filter = { taps, interpolated, coefs, spans };
  filters.set(key, f);
  return f;
}

/**
 * Working memory shared by every stage: the input with the history before it, then each stage's output.
 * process() runs to the end before another starts, so a stream keeps only taps - 1 samples per stage.
 */
const scratch = [doubles(2048), doubles(2048), doubles(2048)];

function room(slot: number, length: number): number[] {
  const a = scratch[slot]!;
  if (a.length >= length) return a;
  return (scratch[slot] = doubles(Math.max(length, 2 * a.length)));
}

function dot(buf: number[], start: number, coefs: number[], off: number, taps: number): number {
  // Four accumulators: with one, every add would wait for the previous one.
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let k = 0; k < taps; k += 4) {
    const i = start + k;
    const j = off + k;
    a0 += buf[i]! * coefs[j]!;
    a1 += buf[i + 1]! * coefs[j + 1]!;
    a2 += buf[i + 2]! * coefs[j + 2]!;
    a3 += buf[i + 3]! * coefs[j + 3]!;
  }
  return a0 + a1 + a2 + a3;
}

/** Σ coefs[off + k] · (buf[start + k] + buf[end - k]) for k < n (n even): a symmetric row's sum. */
function pairedDot(buf: number[], start: number, end: number, coefs: number[], off: number, n: number): number {
  let a0 = 0, a1 = 0;
  for (let k = 0; k < n; k += 2) {
    const i = start + k;
    const j = end - k;
    const c = off + k;
    a0 += (buf[i]! + buf[j]!) * coefs[c]!;
    a1 += (buf[i + 1]! + buf[j - 1]!) * coefs[c + 1]!;
  }
  return a0 + a1;
}

/** One polyphase FIR conversion and its history. */
class Stage {
  private readonly up: number;
  private readonly down: number;
  private readonly filter: Filter;
  private readonly history: Float64Array;
  /** The next output's input time: index into the chunk (0 its first sample) plus phase/up. */
  private next = 0;
  private phase = 0;

  constructor(from: number, to: number, design: Design) {
    const g = gcd(from, to);
    this.up = to / g;
    this.down = from / g;
    this.filter = filter(this.up, this.down, design);
    this.history = new Float64Array(this.filter.taps - 1);
  }

  /** Converts `len` more input samples into scratch[slot]; returns how many came out. */
  run(input: Int16Array | number[], len: number, slot: number): number {
    const { taps, coefs, interpolated, spans } = this.filter;
    const { up, down, history } = this;
    const kept = taps - 1;
    const buf = room(0, kept + len);
    for (let j = 0; j < kept; j++) buf[j] = history[j]!;
    for (let j = 0; j < len; j++) buf[kept + j] = input[j]!;
    // Outputs whose input time (next·up + phase) / up falls within the chunk.
    const ahead = (len - this.next) * up - this.phase;
    const count = ahead > 0 ? Math.ceil(ahead / down) : 0;
    const out = room(slot, count);
    const stepWhole = Math.floor(down / up);
    const stepPhase = down % up;
    let next = this.next;
    let phase = this.phase;
    for (let n = 0; n < count; n++) {
      if (interpolated) {
        const pos = (phase * INTERPOLATED_ROWS) / up;
        const row = Math.floor(pos);
        const a = dot(buf, next, coefs, row * taps, taps);
        out[n] = a + (pos - row) * (dot(buf, next, coefs, (row + 1) * taps, taps) - a);
      } else {
        const span = spans[phase]!;
        out[n] = span === 0 ? dot(buf, next, coefs, phase * taps, taps) : pairedDot(buf, next, next + span, coefs, phase * taps, taps / 2);
      }
      next += stepWhole;
      phase += stepPhase;
      if (phase >= up) {
        phase -= up;
        next++;
      }
    }
    this.next = next - len;
    this.phase = phase;
    for (let j = 0; j < kept; j++) history[j] = buf[len + j]!;
    return count;
  }
}

type Plan = [from: number, to: number, design: Design][];

/** The stages from `from` to `to`: direct, or through twice the lower rate when that takes fewer multiplies. */
function plan(from: number, to: number): Plan {
  if (from === to) return [];
  const mid = 2 * Math.min(from, to);
  const direct: Plan = [[from, to, SHARP]];
  if (mid >= Math.max(from, to)) return direct;
  const split: Plan = from > to ? [[from, mid, RELAXED], [mid, to, SHARP]] : [[from, mid, SHARP], [mid, to, RELAXED]];
  // Multiplies per second: taps per output times the output rate, summed over the stages.
  const cost = (p: Plan): number => p.reduce((sum, [a, b, d]) => sum + tapsFor(b / gcd(a, b), a / gcd(a, b), d) * b, 0);
  return cost(split) < cost(direct) ? split : direct;
}

/** Streaming rational-ratio resampler of 16-bit mono PCM; one instance per stream (it keeps the filter's history). */
export class Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** None for equal rates, else one or two. */
  private readonly stages: Stage[];

  constructor(fromRate: number, toRate: number) {
    if (!Number.isSafeInteger(fromRate) || !Number.isSafeInteger(toRate) || fromRate <= 0 || toRate <= 0) {
      throw new RangeError(`sample rates must be positive integers, not ${fromRate} and ${toRate}`);
    }
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.stages = plan(fromRate, toRate).map(([from, to, design]) => new Stage(from, to, design));
  }

  /**
   * Converts the next chunk; over many calls the output count tracks input * toRate / fromRate exactly (no drift):
   * after n input samples in all, ceil(n · toRate / fromRate) have come out. Equal rates return a copy.
   */
  process(input: Int16Array): Int16Array {
    if (this.stages.length === 0) return input.slice();
    let samples: Int16Array | number[] = input;
    let count = input.length;
    for (let s = 0; s < this.stages.length; s++) {
      count = this.stages[s]!.run(samples, count, s + 1);
      samples = scratch[s + 1]!;
    }
    const out = new Int16Array(count);
    for (let n = 0; n < count; n++) {
      const y = samples[n]!;
      out[n] = y >= 32767 ? 32767 : y <= -32768 ? -32768 : Math.round(y);
    }
    return out;
  }
}
