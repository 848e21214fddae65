/**
 * The DTMF step: the RFC 4733 payload types an SDP names are the ones DTMF may arrive with, from either
 * participant (each sends with the numbers of the other's SDP, which are normally the same), so both
 * sides of the m= line learn them and have their telephone events copied up for DTMF. `detect DTMF`
 * also has the audio of both copied up, for in-band tones; `block DTMF` stops the sender's telephone
 * events at the relay (until `unblock DTMF`).
 */
import { telephoneEvents } from '../codecs/format.js';
import type { DtmfFormat } from '../codecs/format.js';
import type { MediaStep } from './context.js';

export const settleDtmf: MediaStep = ({ req, media, mine, theirs }) => {
  if (req.flags?.detectDtmf && media.type === 'audio') mine.side.detectDtmf = theirs.side.detectDtmf = true;
  if (req.flags?.blockDtmf) mine.side.blockDtmf = true;
  const formats = telephoneEvents(media);
  if (formats.length === 0) return;
  for (const side of [mine.side, theirs.side]) side.dtmf = merged(side.dtmf, formats);
};

/** `known` with the payload types of `more` it lacks; `known` itself when it lacks none. */
function merged(known: readonly DtmfFormat[], more: readonly DtmfFormat[]): readonly DtmfFormat[] {
  const added = more.filter((f) => !known.some((k) => k.pt === f.pt));
  return added.length === 0 ? known : [...known, ...added];
}
