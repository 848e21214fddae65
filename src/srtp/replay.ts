/**
 * SRTP packet index bookkeeping: RFC 3711 §3.3.1 rollover-counter estimation from 16-bit sequence
 * numbers, and the §3.3.2 replay list as a sliding window of recently accepted indices.
 */

/** Packets this far behind the newest accepted index are rejected as too old (libsrtp uses 128 as well). */
export const REPLAY_WINDOW = 128;

export class ReplayWindow {
  /** Newest accepted index, -1 before the first. */
  private top = -1;
  /** ring[i % WINDOW] holds the index accepted in that slot, so a repeat is an exact match. */
  private readonly ring = new Float64Array(REPLAY_WINDOW).fill(-1);

  /** False for an index seen before or older than the window. */
  fresh(index: number): boolean {
    if (index > this.top) return true;
    if (this.top - index >= REPLAY_WINDOW) return false;
    return this.ring[index % REPLAY_WINDOW] !== index;
  }

  accept(index: number): void {
    this.ring[index % REPLAY_WINDOW] = index;
    if (index > this.top) this.top = index;
  }
}

/** Tracks ROC and the highest sequence number (s_l) of one SSRC's stream, for either direction. */
export class RolloverCounter {
  private roc = 0;
  private highestSeq = -1;

  /** The 48-bit index (ROC * 2^16 + SEQ) a packet with this sequence number most likely has; -1 if it would precede ROC 0. */
  estimate(seq: number): number {
    const sl = this.highestSeq;
    if (sl < 0) return this.roc * 65536 + seq;
    let v = this.roc;
    if (sl < 32768) {
      if (seq - sl > 32768) v--;
    } else if (sl - 32768 > seq) {
      v++;
    }
    return v < 0 ? -1 : v * 65536 + seq;
  }

  /** The highest index seen (ROC << 16 | SEQ), -1 before any. */
  highest(): number {
    return this.highestSeq < 0 ? -1 : this.roc * 65536 + this.highestSeq;
  }

  /** Called once the packet at `index` is authentic (or, sending, about to go out). */
  update(index: number): void {
    const v = Math.floor(index / 65536);
    const seq = index % 65536;
    if (this.highestSeq < 0 || v > this.roc || (v === this.roc && seq > this.highestSeq)) {
      this.roc = v;
      this.highestSeq = seq;
    }
  }
}
