/**
 * DTMF from RFC 4733 events, per call: each key press reported once, when its sender marks its end,
 * or, when its end packets were lost, as soon as the next key press begins. Written once for both
 * forwarding engines: they copy the telephone-event packets up, this reads them.
 */
import type { DtmfFormat } from '../media/media-side.js';
import { eventDigit, parseTelephoneEvent, type TelephoneEvent } from './rfc4733.js';

export interface DtmfPress {
  /** RFC 4733 event number, and the key it stands for. */
  event: number;
  digit: string;
  /** Milliseconds, from the event's duration and its payload type's clock rate. */
  duration: number;
  /** dBm0 below zero, as the sender wrote it (0-63). */
  volume: number;
  /** Unix ms the press was reported. */
  at: number;
}

/** Presses kept per call for `query`; older ones are dropped. */
const KEPT = 32;

interface Pending {
  event: TelephoneEvent;
  clock: number;
  reported: boolean;
}

export class DtmfDetector {
  /** The press in progress per sending side (key: side id). */
  private readonly current = new Map<number, Pending>();
  /** The latest presses, oldest first, with the side they came from. */
  readonly presses: Array<DtmfPress & { side: number }> = [];

  /** Reads one telephone-event packet a side's participant sent; returns the presses it completes. */
  receive(side: number, packet: Uint8Array, formats: readonly DtmfFormat[], atMs: number): DtmfPress[] {
    const event = parseTelephoneEvent(packet);
    const format = formats.find((f) => f.pt === (packet[1]! & 0x7f));
    if (!event || !format) return [];
    const out: DtmfPress[] = [];
    const last = this.current.get(side);
    const same = last && last.event.timestamp === event.timestamp && last.event.ssrc === event.ssrc;
    if (last && !same && !last.reported) out.push(this.report(side, last, atMs));
    if (same && last.reported) return out; // the repeated end packets of a press already reported
    const pending: Pending = { event, clock: format.clock, reported: false };
    this.current.set(side, pending);
    if (event.end) out.push(this.report(side, pending, atMs));
    return out;
  }

  private report(side: number, pending: Pending, atMs: number): DtmfPress {
    pending.reported = true;
    const { event, volume, duration } = pending.event;
    const press: DtmfPress = { event, digit: eventDigit(event), duration: Math.round((duration * 1000) / pending.clock), volume, at: atMs };
    this.presses.push({ ...press, side });
    if (this.presses.length > KEPT) this.presses.shift();
    return press;
  }
}
