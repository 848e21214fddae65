/**
 * `DTMF-security=silence`: a blocked participant's telephone events become silence in its audio
 * instead of vanishing, so the receiver hears an unbroken stream with no key in it. Each event packet
 * that carries a new duration becomes one G.711 packet of silence at the timestamp where that stretch
 * of the event ends; the repeats of an event's end are dropped. Other codecs have no silence to write
 * without an encoder, and their events are dropped as with `drop`.
 */
import { rtpHeaderLength } from '../rtp/header.js';
import { parseTelephoneEvent } from './rfc4733.js';

/** G.711's silence: the code of a zero sample. */
const SILENCE: Readonly<Record<number, number>> = { 0: 0xff, 8: 0xd5 };

/** What the side last sent as audio, and the last event stretch already turned into silence. */
export interface SilenceState {
  audioPt: number;
  audioBytes: number;
  lastTs: number;
  lastDuration: number;
}

export function silenceState(): SilenceState {
  return { audioPt: -1, audioBytes: 0, lastTs: -1, lastDuration: -1 };
}

/** Notes the participant's audio packet (payload type and G.711 frame length) for the silence to come. */
export function noteAudio(state: SilenceState, packet: Buffer): void {
  const header = rtpHeaderLength(packet);
  if (header < 0 || SILENCE[packet[1]! & 0x7f] === undefined) return;
  state.audioPt = packet[1]! & 0x7f;
  state.audioBytes = packet.length - header;
}

/** The silent audio packet standing for this event packet, or undefined to drop it. */
export function silenceFor(state: SilenceState, event: Buffer): Buffer | undefined {
  const e = parseTelephoneEvent(event);
  const fill = SILENCE[state.audioPt];
  if (!e || fill === undefined || state.audioBytes === 0) return undefined;
  if (e.timestamp === state.lastTs && e.duration <= state.lastDuration) return undefined;
  state.lastTs = e.timestamp;
  state.lastDuration = e.duration;
  const out = Buffer.alloc(12 + state.audioBytes, fill);
  event.copy(out, 0, 0, 12);
  out[0] = 0x80;
  out[1] = state.audioPt;
  // The stretch of the event this packet reports ends at timestamp + duration (one frame long).
  out.writeUInt32BE((e.timestamp + Math.max(0, e.duration - state.audioBytes)) >>> 0, 4);
  return out;
}
