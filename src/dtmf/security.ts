/**
 * `DTMF-security`: what a blocked participant's telephone events become instead of vanishing.
 * - `silence` and `tone`: audio in the participant's own codec in their place (silence, or a tone),
 *   one packet for each new stretch of the event at the timestamps it covers, so the receiver hears an
 *   unbroken stream with no key in it; the repeats of an event's end are dropped. Events of a stream
 *   whose codec the relay cannot write (or before any audio) are dropped as with `drop`.
 * - `zero`, `DTMF` and `random`: the events go on, as another key (0, the one asked for, or one
 *   picked at random per press), so the receiver learns that a key was pressed but not which.
 */
import { dbm0Amplitude } from '../codecs/g711.js';
import { StandInAudio, type AudioFormat } from '../codecs/stand-in.js';
import { rtpHeaderLength, rtpPayload } from '../rtp/header.js';
import { parseTelephoneEvent } from './rfc4733.js';

export type DtmfSecurityMode = 'silence' | 'tone' | 'zero' | 'DTMF' | 'random';

/** A side's blocking mode, as `block DTMF` set it. */
export interface DtmfSecurity {
  mode: DtmfSecurityMode;
  /** The key `DTMF` mode sends (RFC 4733 event 0-15). */
  digit: number;
  /** dB below 0 dBm0 of the tone, and of the events sent in place of the pressed ones. */
  volume: number;
  /** Hz of `tone`, one per press in turn (rtpengine's `frequencies`). */
  frequencies: number[];
}

/** A side's replacement of blocked events, with what it has seen of the side's audio and events. */
export class DtmfReplacer {
  private readonly audio: StandInAudio;
  private audioPt = -1;
  private audioTs = -1;
  /** Clock units of the participant's audio packets (0 until known). */
  private frame = 0;
  /** The press under way (its timestamp), how far its replacement got, and how many presses came. */
  private lastTs = -1;
  private lastDuration = -1;
  private presses = 0;
  private randomKey = 0;

  /** `codecs`: the participant's SDP's codecs on dynamic payload types. */
  constructor(
    readonly security: DtmfSecurity,
    codecs: readonly AudioFormat[],
  ) {
    this.audio = new StandInAudio(codecs);
  }

  /** Notes the participant's audio packet (payload type and length) for the audio to come. */
  noteAudio(packet: Buffer): void {
    const header = rtpHeaderLength(packet);
    if (header < 0) return;
    const pt = packet[1]! & 0x7f;
    const clock = this.audio.clock(pt);
    if (clock === undefined) return;
    const payload = rtpPayload(packet, header);
    this.audio.follow(pt, payload);
    const ts = packet.readUInt32BE(4);
    const step = pt === this.audioPt ? (ts - this.audioTs) | 0 : 0;
    this.frame = this.audio.units(pt, payload.length) ?? (step > 0 && step <= clock / 5 ? step : this.frame || clock / 50);
    this.audioPt = pt;
    this.audioTs = ts;
  }

  /** The packet to send in place of this blocked event packet, or undefined to drop it. */
  replace(event: Buffer): Buffer | undefined {
    const e = parseTelephoneEvent(event);
    if (!e) return undefined;
    if (e.timestamp !== this.lastTs) {
      this.lastTs = e.timestamp;
      this.lastDuration = -1;
      this.presses++;
      this.randomKey = Math.floor(Math.random() * 16);
    }
    const mode = this.security.mode;
    if (mode === 'zero' || mode === 'DTMF' || mode === 'random') {
      const out = Buffer.from(event);
      const at = rtpHeaderLength(event);
      out[at] = mode === 'zero' ? 0 : mode === 'DTMF' ? this.security.digit : this.randomKey;
      out[at + 1] = (event[at + 1]! & 0x80) | this.security.volume;
      return out;
    }
    if (this.frame === 0 || e.duration <= this.lastDuration) return undefined;
    // The stretch of the event this packet reports ends at timestamp + duration (one frame long).
    const ts = (e.timestamp + Math.max(0, e.duration - this.frame)) >>> 0;
    const clock = this.audio.clock(this.audioPt)!;
    const amplitude = dbm0Amplitude(this.security.volume);
    const { frequencies } = this.security;
    const hz = frequencies[(this.presses - 1) % frequencies.length]!;
    // The tone's phase follows the timestamp, so frames join without a click.
    const wave = mode === 'tone' ? (t: number): number => amplitude * Math.sin(2 * Math.PI * hz * t) : (): number => 0;
    const payload = this.audio.write(this.audioPt, this.frame, wave, ts / clock);
    if (!payload) return undefined;
    this.lastDuration = e.duration;
    const out = Buffer.alloc(12 + payload.length);
    event.copy(out, 0, 0, 12);
    out[0] = 0x80;
    out[1] = this.audioPt;
    out.writeUInt32BE(ts, 4);
    out.set(payload, 12);
    return out;
  }
}
