/**
 * `play DTMF`: key presses put into what a participant is sent. Each press takes the place of the audio
 * packets that arrive while it lasts, one for one, so sequence numbers and timestamps run on unbroken:
 * as RFC 4733 events when the participant takes telephone-event (one timestamp per press, growing
 * durations, the last three packets marked as its end), else as the two tones in the audio's own codec
 * (G.711, G.722, L16, Opus). After a press, audio passes again for its pause before the next one starts.
 */
import { dbm0Amplitude } from '../codecs/g711.js';
import { StandInAudio, type AudioFormat } from '../codecs/stand-in.js';
import { rtpHeaderLength, rtpPayload } from '../rtp/header.js';
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

/** How presses reach the participant: its telephone-event payload type and clock, or in-band (`pt` -1, the audio's clock). */
export interface InjectionTarget {
  pt: number;
  clock: number;
}

/** RTP clock of in-band presses in a codec the relay cannot write (they pass as audio). */
const FALLBACK_CLOCK = 8000;

/** Presses waiting beyond this are refused: a controller cannot grow a side's memory without bound. */
export const MAX_QUEUED_TONES = 64;
/** RFC 4733 sends the end of an event three times. */
const END_PACKETS = 3;

interface Playing {
  tone: DtmfTone;
  /** The clock the press counts in: telephone-event's, or the audio's. */
  clock: number;
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
  private readonly audio: StandInAudio;

  /** `codecs`: the participant's SDP's codecs on dynamic payload types, for in-band presses. */
  constructor(
    private readonly target: InjectionTarget,
    codecs: readonly AudioFormat[],
  ) {
    this.audio = new StandInAudio(codecs);
  }

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
    const pt = packet[1]! & 0x7f;
    const payload = rtpPayload(packet, header);
    const inband = this.target.pt < 0;
    const clock = this.playing?.clock ?? (inband ? (this.audio.clock(pt) ?? FALLBACK_CLOCK) : this.target.clock);
    const frame = this.frameOf(payload.length, pt, ts, clock);
    if (!this.playing) {
      const tone = this.queue.shift();
      if (!tone) return this.pass(packet, pt, payload);
      this.playing = { tone, clock, startTs: ts, elapsed: 0, ends: 0, pause: Math.round((tone.pauseMs * clock) / 1000) };
    }
    const p = this.playing;
    const duration = Math.round((p.tone.durationMs * clock) / 1000);
    if (p.elapsed < duration || (!inband && p.ends < END_PACKETS)) {
      // The participant's own telephone events would mix with ours: they wait until the press is over.
      if (pt === this.target.pt) return 'dtmfBlocked';
      const from = p.elapsed;
      p.elapsed = Math.min(duration, p.elapsed + frame);
      // Each packet keeps its own length of audio; a gap before it still moves the press on.
      if (inband) return this.inband(packet, header, pt, from, this.audio.units(pt, payload.length) ?? frame);
      if (p.elapsed >= duration) p.ends++;
      return this.event(packet, p, from === 0);
    }
    p.pause -= frame;
    if (p.pause <= 0 || this.queue.length === 0) this.playing = undefined;
    return this.pass(packet, pt, payload);
  }

  /** A packet that goes as it came; in-band, the tones' encoder follows its audio. */
  private pass(packet: Buffer, pt: number, payload: Uint8Array): Buffer {
    if (this.target.pt < 0) this.audio.follow(pt, payload);
    return packet;
  }

  /** The clock units a packet covers: the step from the last timestamp, else what its payload's length tells, else 20 ms. */
  private frameOf(bytes: number, pt: number, ts: number, clock: number): number {
    const step = this.lastTs === undefined ? 0 : (ts - this.lastTs) | 0;
    this.lastTs = ts;
    if (step > 0 && step <= clock / 5) return step;
    return (this.target.pt < 0 ? this.audio.units(pt, bytes) : undefined) ?? clock / 50;
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

  /** The packet with `units` of audio from the press's tones, `from` clock units into the press; audio the relay cannot write passes. */
  private inband(packet: Buffer, header: number, pt: number, from: number, units: number): Buffer {
    const { tone, clock } = this.playing!;
    const amplitude = dbm0Amplitude(tone.volume);
    const [row, column] = keyFrequencies(tone.event);
    const wave = (t: number): number => amplitude * (Math.sin(2 * Math.PI * row * t) + Math.sin(2 * Math.PI * column * t));
    const payload = this.audio.write(pt, units, wave, from / clock);
    if (!payload) return packet;
    const out = Buffer.allocUnsafe(header + payload.length);
    packet.copy(out, 0, 0, header);
    out[0] = packet[0]! & ~0x20; // the participant's padding does not fit the new payload
    out.set(payload, header);
    return out;
  }
}
