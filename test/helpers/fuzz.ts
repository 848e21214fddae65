/**
 * Seeded, reproducible fuzzing: a small PRNG and mutators that turn valid inputs into near-valid ones
 * (bit flips, truncation, splices, repeats, random bytes). A failure names its seed and case, so the
 * exact input can be rebuilt. How many cases: RTPBRIDGE_FUZZ_CASES (the suite's default is a few
 * thousand per target; `npm run fuzz` runs 100,000).
 */

export const FUZZ_CASES = Number(process.env.RTPBRIDGE_FUZZ_CASES ?? 3000);
export const FUZZ_SEED = Number(process.env.RTPBRIDGE_FUZZ_SEED ?? 20261130);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Mutator {
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** One to four mutations of `input` (never the input itself unchanged, unless it is empty). */
  mutate(input: Buffer): Buffer {
    let out = Buffer.from(input);
    for (let round = 1 + this.int(4); round > 0; round--) out = this.once(out);
    return out;
  }

  private once(b: Buffer): Buffer {
    const at = this.int(b.length + 1);
    switch (this.int(8)) {
      case 0: {
        // Flip a bit.
        if (b.length === 0) return this.bytes(1);
        const copy = Buffer.from(b);
        copy[at % b.length]! ^= 1 << this.int(8);
        return copy;
      }
      case 1:
        return b.subarray(0, at); // truncate
      case 2:
        return Buffer.concat([b.subarray(0, at), this.bytes(1 + this.int(8)), b.subarray(at)]); // insert junk
      case 3:
        return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + this.int(16)))]); // delete
      case 4: {
        // Repeat a slice (nesting, repeated keys).
        const end = Math.min(b.length, at + 1 + this.int(32));
        return Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
      }
      case 5: {
        // An interesting byte: a digit, a bencode marker, a separator, 0x00, 0xff.
        if (b.length === 0) return Buffer.from('d');
        const copy = Buffer.from(b);
        copy[at % b.length] = this.pick([0x30, 0x39, 0x3a, 0x64, 0x65, 0x69, 0x6c, 0x2d, 0x0d, 0x0a, 0x00, 0xff, 0x20, 0x7b]);
        return copy;
      }
      case 6:
        return this.bytes(this.int(64)); // unrelated bytes
      default: {
        // A number made huge or negative.
        const text = b.toString('latin1').replace(/\d+/, () => this.pick(['99999999999999999999', '-1', '0', '4294967296']));
        return Buffer.from(text, 'latin1');
      }
    }
  }
}
