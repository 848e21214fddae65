/**
 * `DTMF-security`: what a blocked participant's telephone events become instead of vanishing.
 * - `silence` and `tone`: G.711 audio in their place (silence, or a tone), one packet for each new
 *   stretch of the event at the timestamps it covers, so the receiver hears an unbroken stream with
 *   no key in it; the repeats of an event's end are dropped. Other codecs have no audio to write
 *   without an encoder, and their events are dropped as with `drop`.
 * - `zero`, `DTMF` and `random`: the events go on, as another key (0, the one asked for, or one
 *   picked at random per press), so the receiver learns that a key was pressed but not which.
 */
import { dbm0Amplitude, encodeG711, G711_BY_PT } from '../codecs/g711.js';
import { rtpHeaderLength } from '../rtp/header.js';
import { parseTelephoneEvent } from './rfc4733.js';

export type DtmfSecurityMode = 'silence' | 'tone' | 'zero' | 'DTMF' | 'random';

/** A side's blocking mode, as `block DTMF` set it. */
export interface DtmfSecurity {
  mode: DtmfSecurityMode;
  /** The key `DTMF` mode sends (RFC 4733 event 0-15). */
  digit: number;
  /** dB below 0 dBm0 of the tone, and of the events sent in place of the pressed ones. */
  volume: number;
  /** Hz of `tone`. */
  frequency: number;
}


/** A side's replacement of blocked events, with what it has seen of the side's audio and events. */
export class DtmfReplacer {
  private audioPt = -1;
  private audioBytes = 0;
  private lastTs = -1;
  private lastDuration = -1;
  private randomKey = 0;

  constructor(readonly security: DtmfSecurity) {}

  /** Notes the participant's audio packet (payload type and G.711 frame length) for the audio to come. */
  noteAudio(packet: Buffer): void {
    const header = rtpHeaderLength(packet);
    if (header < 0 || G711_BY_PT[packet[1]! & 0x7f] === undefined) return;
    this.audioPt = packet[1]! & 0x7f;
    this.audioBytes = packet.length - header;
  }

  /** The packet to send in place of this blocked event packet, or undefined to drop it. */
  replace(event: Buffer): Buffer | undefined {
    const e = parseTelephoneEvent(event);
    if (!e) return undefined;
    const newPress = e.timestamp !== this.lastTs;
    if (newPress) this.randomKey = Math.floor(Math.random() * 16);
    const mode = this.security.mode;
    if (mode === 'zero' || mode === 'DTMF' || mode === 'random') {
      this.lastTs = e.timestamp;
      const out = Buffer.from(event);
      const at = rtpHeaderLength(event);
      out[at] = mode === 'zero' ? 0 : mode === 'DTMF' ? this.security.digit : this.randomKey;
      out[at + 1] = (event[at + 1]! & 0x80) | this.security.volume;
      return out;
    }
    const law = G711_BY_PT[this.audioPt];
    if (!law || this.audioBytes === 0) return undefined;
    if (!newPress && e.duration <= this.lastDuration) return undefined;
    this.lastTs = e.timestamp;
    this.lastDuration = e.duration;
    const out = Buffer.alloc(12 + this.audioBytes);
    event.copy(out, 0, 0, 12);
    out[0] = 0x80;
    out[1] = this.audioPt;
    // The stretch of the event this packet reports ends at timestamp + duration (one frame long).
    const ts = (e.timestamp + Math.max(0, e.duration - this.audioBytes)) >>> 0;
    out.writeUInt32BE(ts, 4);
    out.set(encodeG711(law, mode === 'tone' ? this.tone(ts) : new Int16Array(this.audioBytes)), 12);
    return out;
  }

  /** The frame of the tone that starts at RTP timestamp `ts` (8 kHz), so frames join without a click. */
  private tone(ts: number): Int16Array {
    const amplitude = dbm0Amplitude(this.security.volume);
    const step = (2 * Math.PI * this.security.frequency) / 8000;
    return Int16Array.from({ length: this.audioBytes }, (_, i) => Math.round(amplitude * Math.sin(step * (ts + i))));
  }
}
