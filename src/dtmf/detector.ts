/**
 * DTMF per call, from RFC 4733 events (each key press reported once, when its sender marks its end,
 * or, when its end packets were lost, as soon as the next key press begins) and, where asked, from
 * tones in G.711 audio. Written once for both forwarding engines: they copy the packets up, this
 * reads them.
 */
import type { DtmfFormat } from '../codecs/format.js';
import { decodeG711, type G711Law } from '../codecs/g711.js';
import { G711_STATIC_PT } from '../codecs/transcoding.js';
import { rtpHeaderLength } from '../rtp/header.js';
import { InbandDtmf } from './inband.js';
import { eventDigit, parseTelephoneEvent, type TelephoneEvent } from './rfc4733.js';
import type { DtmfPress } from './press.js';

/** In-band DTMF is heard in G.711, by its static payload types. */
const G711 = new Map(Object.entries(G711_STATIC_PT).map(([law, pt]) => [pt, law as G711Law]));

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
  /** Tone detection per sending side, for the sides that listen for in-band DTMF. */
  private readonly inband = new Map<number, InbandDtmf>();

  /** Listens to one audio packet a side's participant sent; returns the presses it completes. */
  receiveAudio(side: number, packet: Uint8Array, atMs: number): DtmfPress[] {
    const law = G711.get(packet[1]! & 0x7f);
    const header = rtpHeaderLength(packet);
    if (!law || header < 0) return [];
    let detector = this.inband.get(side);
    if (!detector) this.inband.set(side, (detector = new InbandDtmf()));
    return detector.receive(decodeG711(law, packet.subarray(header)), atMs).map((press) => this.keep(side, press));
  }

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
    return this.keep(side, { event, digit: eventDigit(event), duration: Math.round((duration * 1000) / pending.clock), volume, at: atMs });
  }

  private keep(side: number, press: DtmfPress): DtmfPress {
    this.presses.push({ ...press, side });
    if (this.presses.length > KEPT) this.presses.shift();
    return press;
  }
}
