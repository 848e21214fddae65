/**
 * The ptime step (`ptime`, `ptime-reverse`, offers only): how many milliseconds of audio a packet
 * carries towards each participant. The offer's recipient is told in a=ptime of its offer, the offerer
 * in a=ptime of its answer; once the answer has settled the codecs, each such side's egress
 * repacketizes, in the codec it converts to or in the one both participants use.
 */
import { audioCodec } from '../codecs/audio.js';
import { isSupplemental, mediaFormats, telephoneEvents } from '../codecs/format.js';
import type { Conversion } from '../codecs/transcoder.js';
import type { MonologueMedia } from '../call/call.js';
import type { MediaContext, MediaStep } from './context.js';

/** RFC 6716's frame lengths of whole milliseconds, which are all an Opus packet of one frame can hold. */
const OPUS_PTIMES = [10, 20, 40, 60];

export const settlePtime: MediaStep = (ctx) => {
  const { kind, req, media, mine, theirs, plan } = ctx;
  if (media.type !== 'audio') return;
  if (kind === 'offer') {
    // A new offer decides afresh; deleted, not set to undefined, so plain media keep their shape.
    setPtime(theirs, req.ptime);
    setPtime(mine, req.ptimeReverse);
    if (req.ptime !== undefined) plan.ptime = req.ptime;
    return;
  }
  if (theirs.ptime !== undefined) plan.ptime = theirs.ptime;
  // The answerer's first codec is what both sides now send, unless the relay converts.
  const formats = mediaFormats(media);
  const first = formats.find((f) => !isSupplemental(f));
  if (!first) return;
  for (const m of [mine, theirs]) {
    const { ptime } = m;
    const conversions = m.side.transcode;
    if (ptime === undefined) continue;
    if (conversions) {
      m.side.transcode = conversions.map((c) => ({ ...c, ptime: fitting(c.to.name, ptime, ctx.warnings) }));
    } else if (audioCodec(first)) {
      const codec = { name: first.name, clock: first.clock, channels: first.channels };
      const events = telephoneEvents(media).filter((e) => e.clock === first.clock).map((e) => ({ fromPt: e.pt, toPt: e.pt }));
      const same: Conversion = { fromPt: Number(first.pt), from: codec, toPt: Number(first.pt), to: codec, ptime: fitting(first.name, ptime, ctx.warnings), events };
      m.side.transcode = [same];
    } else {
      ctx.warnings.push(`m=audio line ${media.index + 1}: ${first.name} is not repacketized (the relay does not code it)`);
    }
  }
};

function setPtime(m: MonologueMedia, ptime: number | undefined): void {
  if (ptime !== undefined) m.ptime = ptime;
  else if (m.ptime !== undefined) delete m.ptime;
}

/** The packet time a codec can take nearest to the one asked for (Opus: 10, 20, 40 or 60 ms). */
function fitting(codec: string, ptime: number, warnings: string[]): number {
  if (codec.toLowerCase() !== 'opus' || OPUS_PTIMES.includes(ptime)) return ptime;
  const nearest = OPUS_PTIMES.reduce((best, p) => (Math.abs(p - ptime) < Math.abs(best - ptime) ? p : best));
  warnings.push(`Opus does not take a ptime of ${ptime} ms; ${nearest} ms used`);
  return nearest;
}
