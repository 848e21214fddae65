/**
 * HMAC-SHA1 (RFC 2104) for the per-packet SRTP tags, built on node's one-shot `crypto.hash` over
 * preallocated ipad/opad buffers. `createHmac` per packet creates a native object with a weak handle
 * each time, and thousands of those per second made young-generation GC pauses reach 10-20 ms (measured
 * at 5 kpps of SRTP), failing the latency bound long before the CPU ran out.
 */
import { hash, timingSafeEqual } from 'node:crypto';

const BLOCK = 64;
const DIGEST = 20;

export class HmacSha1 {
  /** ipad-key || message: the message is copied in behind the key block. */
  private readonly inner: Buffer;
  /** opad-key || inner digest. */
  private readonly outer = Buffer.alloc(BLOCK + DIGEST);
  private readonly digest = Buffer.alloc(DIGEST);

  constructor(key: Buffer, maxMessage: number) {
    if (key.length > BLOCK) throw new RangeError('HMAC-SHA1 keys longer than 64 bytes are not used by SRTP');
    this.inner = Buffer.alloc(BLOCK + maxMessage);
    for (let i = 0; i < BLOCK; i++) {
      this.inner[i] = (key[i] ?? 0) ^ 0x36;
      this.outer[i] = (key[i] ?? 0) ^ 0x5c;
    }
  }

  /** HMAC over `message` followed by `suffix` (SRTP's ROC); the digest stays valid until the next call. */
  compute(message: Buffer, suffix?: Buffer): Buffer {
    message.copy(this.inner, BLOCK);
    let end = BLOCK + message.length;
    if (suffix) end += suffix.copy(this.inner, end);
    // Hex strings are plain heap objects; a Buffer result would be one more native allocation per packet.
    this.outer.write(hash('sha1', this.inner.subarray(0, end), 'hex'), BLOCK, 'hex');
    this.digest.write(hash('sha1', this.outer, 'hex'), 0, 'hex');
    return this.digest;
  }

  /** Constant-time check of a (truncated) tag. */
  verify(message: Buffer, suffix: Buffer | undefined, tag: Buffer): boolean {
    return tag.length <= DIGEST && timingSafeEqual(this.compute(message, suffix).subarray(0, tag.length), tag);
  }
}
