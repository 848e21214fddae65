/**
 * `loop-protect`: the relay marks the SDP it sends on with a session attribute of its own, and an
 * SDP that comes back with that mark (the call looped through the SIP proxy to this relay again)
 * passes untouched instead of being relayed twice.
 */
import { randomBytes } from 'node:crypto';
import type { ParsedSdp } from '../sdp/parse.js';

/** rtpengine's attribute name, so either relay recognises a mark the same way. */
const ATTRIBUTE = 'a=rtpengine:';

export function newLoopToken(): string {
  return randomBytes(6).toString('hex');
}

export function loopMarker(token: string): string {
  return `${ATTRIBUTE}${token}`;
}

/** Whether this relay's mark is among the SDP's session lines. */
export function looped(sdp: ParsedSdp, token: string): boolean {
  const marker = loopMarker(token);
  return sdp.sessionLines.some((line) => line.trimEnd() === marker);
}
