/**
 * G.722 (ITU-T G.722) at 64 kbit/s (mode 1): 16 kHz linear PCM split by a 24-tap QMF into two 8 kHz sub-bands,
 * the lower coded with 6-bit and the higher with 2-bit ADPCM, one byte (IH << 6 | IL) per pair of samples.
 * The integer arithmetic is the recommendation's (its tables, shifts and saturations), with 16-bit samples scaled
 * as the ITU reference implementation does, so that the bytes and samples are bit-exact with other G.722 codecs.
 */

/** Lower band decision levels, in units of the scale factor / 2^12 (the reconstruction levels / 8). */
const Q6 = [35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919];
/** Quantiser interval (1…30) by the largest decision level, 0…2919, that a difference reaches. */
const INTERVAL = Uint8Array.from({ length: 2920 }, (_, v) => 1 + Q6.filter((q) => q <= v).length);
/**
 * 6-bit code of quantiser interval m (1 next to zero, …, 30) for a positive difference at m and a negative one at
 * 32 + m: the two intervals nearest zero take codes 61, 60 (positive) and 63, 62 (negative), the rest count down.
 */
const IL = Uint8Array.from({ length: 64 }, (_, i) => (i < 32 ? 62 - i : i - 32 <= 2 ? 96 - i : 66 - i));

const LEVELS6 = [24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728];
/** Lower band reconstruction levels by 6-bit code (codes 0-3 are unused and decode as 63). */
const QM6 = Int16Array.of(-136, -136, -136, -136, ...LEVELS6.map((v) => -v), ...LEVELS6, 432, 136, -432, -136);
/** The same by the 4-bit code (the 6-bit code's top four bits) that drives the predictor and adaptation. */
const QM4 = Int16Array.of(0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0);
/** Log scale factor multiplier by 4-bit code: large differences widen the quantiser, small ones narrow it. */
const WL = Int32Array.from([0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0], (i) => [-60, -30, 58, 172, 334, 538, 1198, 3042][i]!);

/** Higher band: 2-bit code by sign (negative: + 2) and interval (outer: + 1); reconstruction level and multiplier by code. */
const IH = Uint8Array.of(3, 2, 1, 0);
const QM2 = Int16Array.of(-7408, -1616, 7408, 1616);
const WH = Int32Array.of(798, -214, 798, -214);

/** 2^(i/32) at 2^11, rounded (the recommendation's table): the mantissa of the log-to-linear conversion. */
const ILB = Int32Array.from({ length: 32 }, (_, i) => Math.round(2048 * 2 ** (i / 32)));
/** Scale factor by log scale factor / 64 (the log in 2^-11 octaves): the lower band's from 32, the higher's from 8, both up to 16384. */
const scaleTable = (max: number, shift: number): Int32Array =>
  Int32Array.from({ length: (max >> 6) + 1 }, (_, i) => {
    const e = shift - (i >> 5);
    return (e >= 0 ? ILB[i & 31]! >> e : ILB[i & 31]! << -e) << 2;
  });
const DETL = scaleTable(18432, 8);
const DETH = scaleTable(22528, 10);

function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

function limit15(x: number): number {
  return x > 16383 ? 16383 : x < -16384 ? -16384 : x;
}

/** One sub-band's ADPCM state: the pole-zero predictor and the quantiser's scale factor. */
class Band {
  /** Signal estimate and its zero-section part, for the sample being coded. */
  s = 0;
  sz = 0;
  /** Log scale factor and the scale factor it gives, by `scales` (a number from the start: V8 then keeps the field an integer). */
  nb = 0;
  det = 0;
  /** Pole coefficients (Q14), twice the last two reconstructed samples, the last two partial reconstructions. */
  a1 = 0;
  a2 = 0;
  r1 = 0;
  r2 = 0;
  p1 = 0;
  p2 = 0;
  /** Zero coefficients (Q14) and twice the last six quantised differences (these never exceed 16 bits). */
  b1 = 0;
  b2 = 0;
  b3 = 0;
  b4 = 0;
  b5 = 0;
  b6 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  d4 = 0;
  d5 = 0;
  d6 = 0;

  constructor(private readonly scales: Int32Array) {
    this.det = scales[0]!;
  }

  /** Adapts the scale factor: the log scale factor leaks 1/128 and adds the code's multiplier. */
  rescale(w: number): void {
    const nb = ((this.nb * 32512) >> 15) + w;
    const max = (this.scales.length - 1) << 6;
    this.nb = nb < 0 ? 0 : nb > max ? max : nb;
    this.det = this.scales[this.nb >> 6]!;
  }

  /** Adapts the predictor to the quantised difference `dq` and estimates the next sample. */
  predict(dq: number): void {
    // Sign agreements are tested by the sign bit of an XOR (zero counts as positive) and applied as (v ^ m) - m,
    // negating v when m is -1: branches on speech-like signs would mispredict half the time.
    const step = dq === 0 ? 0 : 128;
    let m: number;
    // Each zero coefficient leaks 1/256 and moves by 1/128 towards the agreement of its delayed difference with this one.
    const b1 = ((this.b1 * 32640) >> 15) + ((step ^ (m = (this.d1 ^ dq) >> 31)) - m);
    const b2 = ((this.b2 * 32640) >> 15) + ((step ^ (m = (this.d2 ^ dq) >> 31)) - m);
    const b3 = ((this.b3 * 32640) >> 15) + ((step ^ (m = (this.d3 ^ dq) >> 31)) - m);
    const b4 = ((this.b4 * 32640) >> 15) + ((step ^ (m = (this.d4 ^ dq) >> 31)) - m);
    const b5 = ((this.b5 * 32640) >> 15) + ((step ^ (m = (this.d5 ^ dq) >> 31)) - m);
    const b6 = ((this.b6 * 32640) >> 15) + ((step ^ (m = (this.d6 ^ dq) >> 31)) - m);
    const d1 = dq * 2;
    this.d6 = this.d5;
    this.d5 = this.d4;
    this.d4 = this.d3;
    this.d3 = this.d2;
    this.d2 = this.d1;
    this.d1 = d1;
    this.b1 = b1;
    this.b2 = b2;
    this.b3 = b3;
    this.b4 = b4;
    this.b5 = b5;
    this.b6 = b6;
    // Products of two state values use Math.imul: they stay below 2^31, but V8 cannot tell and would use doubles.
    const sz =
      (Math.imul(b1, d1) >> 15) + (Math.imul(b2, this.d2) >> 15) + (Math.imul(b3, this.d3) >> 15) +
      (Math.imul(b4, this.d4) >> 15) + (Math.imul(b5, this.d5) >> 15) + (Math.imul(b6, this.d6) >> 15);

    // The poles adapt to the signs of the partial reconstruction (difference plus zero-section estimate).
    const p = this.sz + dq;
    const differ1 = (p ^ this.p1) >> 31;
    const differ2 = (p ^ this.p2) >> 31;
    const same1 = ~differ1;
    // The recommendation's 4·a1 saturated to 16 bits, negated when the signs agree, over 128.
    const c = this.a1 > 8191 ? 8191 : this.a1 < -8191 ? -8191 : this.a1;
    let a2 = (((c ^ same1) - same1) >> 5) + ((128 ^ differ2) - differ2) + ((this.a2 * 32512) >> 15);
    a2 = a2 > 12288 ? 12288 : a2 < -12288 ? -12288 : a2;
    let a1 = ((192 ^ differ1) - differ1) + ((this.a1 * 32640) >> 15);
    // Keeps the pole pair inside the stability triangle, with a margin.
    const limit = 15360 - a2;
    a1 = a1 > limit ? limit : a1 < -limit ? -limit : a1;
    this.p2 = this.p1;
    this.p1 = p;
    this.a1 = a1;
    this.a2 = a2;

    this.r2 = this.r1;
    this.r1 = sat16((this.s + dq) * 2);
    this.sz = sz;
    this.s = sat16((Math.imul(a1, this.r1) >> 15) + (Math.imul(a2, this.r2) >> 15) + sz);
  }
}

/** `history` if it has room for `length` values after the 22 it carries over between calls, else a larger copy. */
function room(history: Int16Array, length: number): Int16Array {
  if (history.length >= 22 + length) return history;
  const grown = new Int16Array(22 + length);
  grown.set(history.subarray(0, 22));
  return grown;
}

/** Streaming encoder: 16 kHz linear samples (an even count per call; an odd last one is ignored) in, one byte per two samples out. */
export class G722Encoder {
  /** The previous 22 samples, then this call's: the QMF's 24-sample window slides along it. */
  private history: Int16Array = new Int16Array(22 + 320);
  private readonly low = new Band(DETL);
  private readonly high = new Band(DETH);

  encode(samples: Int16Array): Uint8Array {
    const out = new Uint8Array(samples.length >> 1);
    const h = (this.history = room(this.history, 2 * out.length));
    h.set(samples.subarray(0, 2 * out.length), 22);
    const low = this.low;
    const high = this.high;
    for (let n = 0; n < out.length; n++) {
      // Window h[j]…h[j + 23], newest last; the newer sample of each pair meets the even coefficients h(0), h(2)….
      const j = 2 * n;
      const a =
        3 * h[j + 23]! - 11 * h[j + 21]! + 12 * h[j + 19]! + 32 * h[j + 17]! - 210 * h[j + 15]! + 951 * h[j + 13]! +
        3876 * h[j + 11]! - 805 * h[j + 9]! + 362 * h[j + 7]! - 156 * h[j + 5]! + 53 * h[j + 3]! - 11 * h[j + 1]!;
      const b =
        3 * h[j]! - 11 * h[j + 2]! + 12 * h[j + 4]! + 32 * h[j + 6]! - 210 * h[j + 8]! + 951 * h[j + 10]! +
        3876 * h[j + 12]! - 805 * h[j + 14]! + 362 * h[j + 16]! - 156 * h[j + 18]! + 53 * h[j + 20]! - 11 * h[j + 22]!;
      // Both sums carry the coefficients' 2^13; >> 14 leaves the sub-bands at half the input's scale, as the reference
      // does (at most 25928: nothing to saturate).
      const el = ((a + b) >> 14) - low.s;
      // Magnitudes of negative differences are one's complement (-el - 1), as in the recommendation. Its saturation of
      // el to 16 bits is left out: it cannot move a magnitude across the top decision level (at most 11676).
      const sign = el >> 31;
      const mag = el ^ sign;
      let det = low.det;
      // Level k lies at or below mag when floor(Q6[k] · det / 2^12) <= mag, i.e. Q6[k] <= ceil((mag + 1) · 2^12 / det) - 1:
      // one division (exact in doubles at these sizes) and a table lookup instead of a search.
      const v = Math.ceil(((mag + 1) << 12) / det) - 1;
      const il = IL[(sign & 32) | INTERVAL[v < 2919 ? v : 2919]!]!;
      low.rescale(WL[il >> 2]!);
      low.predict(Math.imul(det, QM4[il >> 2]!) >> 15);

      const eh = ((a - b) >> 14) - high.s;
      const hsign = eh >> 31;
      det = high.det;
      // The one decision level is 564 / 2^12 of the scale factor.
      const ih = IH[(hsign & 2) | ((((564 * det) >> 12) - (eh ^ hsign) - 1) >>> 31)]!;
      high.rescale(WH[ih]!);
      high.predict(Math.imul(det, QM2[ih]!) >> 15);

      out[n] = (ih << 6) | il;
    }
    h.copyWithin(0, 2 * out.length, 2 * out.length + 22);
    return out;
  }

  /**
   * Brings both bands' ADPCM state to where a decoder of `payload` would leave its own (an encoder's
   * bands are its decoder's mirror): frames encoded next continue a stream someone else was coding,
   * without the jump a receiver's decoder would make at a fresh encoder's state.
   */
  follow(payload: Uint8Array): void {
    for (const byte of payload) {
      const il = byte & 63;
      const ih = byte >> 6;
      const det = this.low.det;
      this.low.rescale(WL[il >> 2]!);
      this.low.predict(Math.imul(det, QM4[il >> 2]!) >> 15);
      const hdet = this.high.det;
      this.high.rescale(WH[ih]!);
      this.high.predict(Math.imul(hdet, QM2[ih]!) >> 15);
    }
  }
}

/** Streaming decoder: bytes in, two 16 kHz samples per byte out. */
export class G722Decoder {
  /** The previous 11 pairs of sub-band difference and sum, then this call's, interleaved: the QMF's window slides along it. */
  private history: Int16Array = new Int16Array(22 + 320);
  private readonly low = new Band(DETL);
  private readonly high = new Band(DETH);

  decode(payload: Uint8Array): Int16Array {
    const out = new Int16Array(payload.length * 2);
    const h = (this.history = room(this.history, out.length));
    const low = this.low;
    const high = this.high;
    for (let n = 0; n < payload.length; n++) {
      const il = payload[n]! & 63;
      const ih = payload[n]! >> 6;

      // The output takes all six bits; the predictor and adaptation only the top four, as in the encoder.
      let det = low.det;
      const rl = limit15(low.s + (Math.imul(det, QM6[il]!) >> 15));
      low.rescale(WL[il >> 2]!);
      low.predict(Math.imul(det, QM4[il >> 2]!) >> 15);

      det = high.det;
      const dh = Math.imul(det, QM2[ih]!) >> 15;
      const rh = limit15(high.s + dh);
      high.rescale(WH[ih]!);
      high.predict(dh);

      const j = 2 * n;
      h[j + 22] = rl - rh;
      h[j + 23] = rl + rh;
      const a =
        3 * h[j + 22]! - 11 * h[j + 20]! + 12 * h[j + 18]! + 32 * h[j + 16]! - 210 * h[j + 14]! + 951 * h[j + 12]! +
        3876 * h[j + 10]! - 805 * h[j + 8]! + 362 * h[j + 6]! - 156 * h[j + 4]! + 53 * h[j + 2]! - 11 * h[j]!;
      const b =
        3 * h[j + 1]! - 11 * h[j + 3]! + 12 * h[j + 5]! + 32 * h[j + 7]! - 210 * h[j + 9]! + 951 * h[j + 11]! +
        3876 * h[j + 13]! - 805 * h[j + 15]! + 362 * h[j + 17]! - 156 * h[j + 19]! + 53 * h[j + 21]! - 11 * h[j + 23]!;
      // The synthesis filter is 2·h (h at 2^13), and the sub-bands are at half the input's scale: 4 / 2^13 = 2^-11.
      out[j] = sat16(a >> 11);
      out[j + 1] = sat16(b >> 11);
    }
    h.copyWithin(0, out.length, out.length + 22);
    return out;
  }
}
