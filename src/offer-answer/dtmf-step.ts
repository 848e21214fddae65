/**
 * The DTMF step: the RFC 4733 payload types an SDP names are the ones DTMF may arrive with, from either
 * participant (each sends with the numbers of the other's SDP, which are normally the same), so both
 * sides of the m= line learn them and have their telephone events copied up for DTMF. `detect DTMF`
 * also has the audio of both copied up, for in-band tones; `block DTMF` stops the sender's telephone
 * events at the relay (until `unblock DTMF`). `inject DTMF` readies the participant's side for `play DTMF`.
 * The codecs a participant's SDP puts on dynamic payload types are kept with its side: tones are heard
 * in, and written into, audio whose codec only the SDP names (Opus).
 */
import { isSupplemental, mediaFormats, telephoneEvents, type DtmfFormat } from '../codecs/format.js';
import { dynamicAudio } from '../codecs/stand-in.js';
import type { InjectionTarget } from '../dtmf/injector.js';
import type { SdpMedia } from '../sdp/parse.js';
import type { MediaStep } from './context.js';

export const settleDtmf: MediaStep = ({ req, media, mine, theirs }) => {
  if (req.flags?.detectDtmf && media.type === 'audio') mine.side.detectDtmf = theirs.side.detectDtmf = true;
  if (req.flags?.blockDtmf) mine.side.blockDtmf = true;
  const formats = telephoneEvents(media);
  if (req.flags?.injectDtmf && media.type === 'audio') mine.side.inject = injectionTarget(media, formats);
  const codecs = media.type === 'audio' ? dynamicAudio(media) : [];
  if (codecs.length > 0) mine.side.codecs = codecs;
  else if (mine.side.codecs) delete mine.side.codecs;
  if (formats.length === 0) return;
  for (const side of [mine.side, theirs.side]) side.dtmf = merged(side.dtmf, formats);
};

/**
 * How presses reach the participant sending this SDP: its telephone-event at the clock of its first
 * codec (the one it will be sent), else its first telephone-event, else in-band tones.
 */
function injectionTarget(media: SdpMedia, events: readonly DtmfFormat[]): InjectionTarget {
  const first = mediaFormats(media).find((f) => !isSupplemental(f));
  const event = events.find((e) => e.clock === first?.clock) ?? events[0];
  return event ? { pt: event.pt, clock: event.clock } : { pt: -1, clock: 8000 };
}

/** `known` with the payload types of `more` it lacks; `known` itself when it lacks none. */
function merged(known: readonly DtmfFormat[], more: readonly DtmfFormat[]): readonly DtmfFormat[] {
  const added = more.filter((f) => !known.some((k) => k.pt === f.pt));
  return added.length === 0 ? known : [...known, ...added];
}
