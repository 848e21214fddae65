/**
 * RFC 4733 telephone events as they arrive in RTP: the event (0-9, *, #, A-D, flash), whether the
 * sender marked its end, its volume (dBm0 below zero) and its duration so far in RTP clock units. One
 * event is one RTP timestamp; its packets repeat with growing durations, the last three with E set.
 */

import { rtpHeaderLength } from '../rtp/header.js';

export interface TelephoneEvent {
  ssrc: number;
  /** RTP timestamp of the event's start: what tells one key press from the next. */
  timestamp: number;
  event: number;
  end: boolean;
  volume: number;
  /** In units of the payload type's clock rate. */
  duration: number;
}

const DIGITS = '0123456789*#ABCD';

/** The key an event number stands for (RFC 4733 section 3.2); `flash` for 16, `event N` beyond. */
export function eventDigit(event: number): string {
  return event < DIGITS.length ? DIGITS[event]! : event === 16 ? 'flash' : `event ${event}`;
}

/** The event of a key (0-9, *, #, A-D, any case); -1 for anything else. */
export function digitEvent(key: string): number {
  return key.length === 1 ? DIGITS.indexOf(key.toUpperCase()) : -1;
}

/** The event in an RTP packet, or undefined when the packet is too short for its header and event. */
export function parseTelephoneEvent(packet: Uint8Array): TelephoneEvent | undefined {
  const offset = rtpHeaderLength(packet);
  if (offset < 0 || packet.length < offset + 4) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  return {
    ssrc: view.getUint32(8),
    timestamp: view.getUint32(4),
    event: packet[offset]!,
    end: (packet[offset + 1]! & 0x80) !== 0,
    volume: packet[offset + 1]! & 0x3f,
    duration: view.getUint16(offset + 2),
  };
}
