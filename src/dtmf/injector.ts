/**
 * `play DTMF`: key presses put into what a participant is sent. Each press takes the place of the audio
 * packets that arrive while it lasts, one for one, so sequence numbers and timestamps run on unbroken:
 * as RFC 4733 events when the participant takes telephone-event (one timestamp per press, growing
 * durations, the last three packets marked as its end), else as the two tones in G.711 audio. After a
 * press, audio passes again for its pause before the next one starts.
 */
import { dbm0Amplitude, encodeG711, G711_BY_PT } from '../codecs/g711.js';
import { rtpHeaderLength } from '../rtp/header.js';
import { keyFrequencies } from './keypad.js';
import type { StreamKind } from '../shared/vocabulary.js';

export interface DtmfTone {
  /** RFC 4733 event, 0-15. */
  event: number;
  durationMs: number;
  /** Level of each tone in dB below 0 dBm0 (RFC 4733's volume), 0-63. */
  volume: number;
  /** Audio passed after the press before the next one, in ms. */
  pauseMs: number;
}

/** How presses reach the participant: its telephone-event payload type and clock, or in-band (`pt` -1). */
export interface InjectionTarget {
  pt: number;
  clock: number;
}

/** Presses waiting beyond this are refused: a controller cannot grow a side's memory without bound. */
export const MAX_QUEUED_TONES = 64;
/** RFC 4733 sends the end of an event three times. */
const END_PACKETS = 3;

interface Playing {
  tone: DtmfTone;
  startTs: number;
  /** Clock units played so far. */
  elapsed: number;
  /** End packets sent so far (telephone-event only). */
  ends: number;
  /** Clock units of pause left once the press is over. */
  pause: number;
}

export class DtmfInjector {
  private readonly queue: DtmfTone[] = [];
  private playing: Playing | undefined;
  private lastTs: number | undefined;

  constructor(private readonly target: InjectionTarget) {}

  /** Queues a press; false when the queue is full. */
  play(tone: DtmfTone): boolean {
    if (this.queue.length >= MAX_QUEUED_TONES) return false;
    this.queue.push(tone);
    return true;
  }

  /** The packet to send instead of `packet` (towards the participant), or `packet` itself; RTCP passes. */
  process(packet: Buffer, kind: StreamKind): Buffer | 'dtmfBlocked' {
    const header = kind === 'RTP' ? rtpHeaderLength(packet) : -1;
    if (header < 0) return packet;
    const ts = packet.readUInt32BE(4);
    const frame = this.frameOf(packet, header, ts);
    const pt = packet[1]! & 0x7f;
    if (!this.playing) {
      const tone = this.queue.shift();
      if (!tone) return packet;
      this.playing = { tone, startTs: ts, elapsed: 0, ends: 0, pause: Math.round((tone.pauseMs * this.target.clock) / 1000) };
    }
    const p = this.playing;
    const duration = Math.round((p.tone.durationMs * this.target.clock) / 1000);
    if (p.elapsed < duration || (this.target.pt >= 0 && p.ends < END_PACKETS)) {
      // The participant's own telephone events would mix with ours: they wait until the press is over.
      if (pt === this.target.pt) return 'dtmfBlocked';
      const from = p.elapsed;
      p.elapsed = Math.min(duration, p.elapsed + frame);
      if (this.target.pt < 0) return this.inband(packet, header, pt, from);
      if (p.elapsed >= duration) p.ends++;
      return this.event(packet, p, from === 0);
    }
    p.pause -= frame;
    if (p.pause <= 0 || this.queue.length === 0) this.playing = undefined;
    return packet;
  }

  /** The clock units a packet covers: the step from the last timestamp, else 20 ms. */
  private frameOf(packet: Buffer, header: number, ts: number): number {
    const step = this.lastTs === undefined ? 0 : (ts - this.lastTs) | 0;
    this.lastTs = ts;
    if (step > 0 && step <= this.target.clock / 5) return step;
    const law = G711_BY_PT[packet[1]! & 0x7f];
    return law && this.target.pt < 0 ? packet.length - header : this.target.clock / 50;
  }

  private event(packet: Buffer, p: Playing, first: boolean): Buffer {
    const out = Buffer.alloc(16);
    out[0] = 0x80;
    out[1] = (first ? 0x80 : 0) | this.target.pt;
    packet.copy(out, 2, 2, 4); // sequence number
    out.writeUInt32BE(p.startTs, 4);
    packet.copy(out, 8, 8, 12); // SSRC
    out[12] = p.tone.event;
    out[13] = (p.ends > 0 ? 0x80 : 0) | p.tone.volume;
    out.writeUInt16BE(Math.min(0xffff, p.elapsed), 14);
    return out;
  }

  /** The packet with its G.711 samples replaced by the press's tones; other codecs pass (no tone to write). */
  private inband(packet: Buffer, header: number, pt: number, from: number): Buffer {
    const law = G711_BY_PT[pt];
    if (!law) return packet;
    const amplitude = dbm0Amplitude(this.playing!.tone.volume);
    const [row, column] = keyFrequencies(this.playing!.tone.event);
    const samples = new Int16Array(packet.length - header);
    for (let i = 0; i < samples.length; i++) {
      const t = (from + i) / 8000;
      const x = Math.round(amplitude * (Math.sin(2 * Math.PI * row * t) + Math.sin(2 * Math.PI * column * t)));
      samples[i] = Math.max(-32768, Math.min(32767, x));
    }
    const out = Buffer.from(packet);
    out.set(encodeG711(law, samples), header);
    return out;
  }
}
