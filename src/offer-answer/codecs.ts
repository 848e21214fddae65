/**
 * The codec step. An offer's codec flags choose which of the sender's payload types the recipient is
 * offered, and `transcode` adds a codec the offer lacks when the relay can convert it from one the
 * offer has (`accept` says which, `set` gives encoder bitrates). An answer that picks such an added
 * codec switches the conversion on: the offerer gets the answer with its own codec, and each side's
 * egress converts what it is sent. Other answers pass their codecs through (rtpengine applies codec
 * flags to offers only), trimmed to their first codec with `single codec`.
 */
import { mediaFormats, isSupplemental, type CodecFormat } from '../codecs/format.js';
import { accompanied, parseCodecSpec, selectCodecs, selectsCodecs, type CodecSpec } from '../codecs/selection.js';
import { addableCodecs, isEvent, type AddedCodec } from '../codecs/transcoding.js';
import { transcodableNames } from '../codecs/audio.js';
import { isByteMap } from '../codecs/transcoder.js';
import { RelayError } from '../errors.js';
import { compact } from '../util/compact.js';
import type { Monologue } from '../call/call.js';
import type { SdpMedia } from '../sdp/parse.js';
import type { MediaContext, MediaStep, SignalContext } from './context.js';

export const settleCodecs: MediaStep = (ctx) => {
  if (ctx.kind === 'offer') offerCodecs(ctx);
  else answerCodecs(ctx);
  if (ctx.kind === 'answer' && ctx.req.flags?.singleCodec) singleCodec(ctx);
};

/**
 * `single codec`: the answer keeps its first codec, with the telephone-event and CN of its clock. A
 * transcoding answer already names only the offerer's codec and its events: it is left as it is.
 */
function singleCodec({ media, plan }: MediaContext): void {
  if (plan.formats) return;
  const formats = mediaFormats(media);
  const first = formats.find((f) => !isSupplemental(f));
  if (first) plan.formats = formats.filter((f) => f === first || (isSupplemental(f) && f.clock === first.clock)).map((f) => f.pt);
}

function offerCodecs({ req, media, plan, theirs, warnings, codecsLeftOut }: MediaContext): void {
  // A new offer decides afresh what the relay adds towards its recipient. Deleted, not set to undefined:
  // plain calls' media objects keep their shape (idle-call memory budget).
  if (theirs.addedCodecs) delete theirs.addedCodecs;
  if (!req.codec || !selectsCodecs(req.codec)) return;
  const where = `m=${media.type} line ${media.index + 1}`;
  const formats = mediaFormats(media);
  const { kept, missingOffer, missingTranscode } = selectCodecs(formats, req.codec);
  const specs = (list: readonly string[] | undefined): CodecSpec[] => (list ?? []).flatMap((text) => parseCodecSpec(text) ?? []);
  const { added, unaddable } = addableCodecs(missingTranscode, formats, media.lines, { accept: specs(req.codec.accept), set: specs(req.codec.set) });
  if (unaddable.length > 0) warnings.push(`${where}: ${unaddable.join(', ')} not offered (this relay transcodes ${transcodableNames().join(', ')}, from a codec the offer has)`);
  if (missingOffer.length > 0) warnings.push(`${where}: ${missingOffer.join(', ')} not offered (codec-offer adds no codec the offer lacks)`);
  // An added codec keeps the offer's telephone-event of its clock, as a kept one would.
  const pts = accompanied(kept, formats, added.filter((a) => !isEvent(a.codec)).map((a) => a.codec.clock));
  if (!pts) {
    codecsLeftOut.push(where);
    warnings.push(`${where}: codec flags would leave no codec, left as offered`);
    return;
  }
  plan.formats = withAdded(pts, formats, added);
  if (added.length > 0) {
    theirs.addedCodecs = added;
    plan.addedLines = added.flatMap((a) => a.lines);
  }
}

/** The added codecs (then their telephone-events) go after the offer's last audio codec, before its telephone-event and CN, as rtpengine puts them. */
function withAdded(pts: readonly string[], formats: readonly CodecFormat[], added: readonly AddedCodec[]): string[] {
  const supplemental = (pt: string): boolean => formats.some((f) => f.pt === pt && isSupplemental(f));
  const at = pts.findIndex(supplemental);
  const cut = at < 0 ? pts.length : at;
  return [...pts.slice(0, cut), ...added.map((a) => String(a.pt)), ...pts.slice(cut)];
}

function answerCodecs({ media, plan, mine, theirs }: MediaContext): void {
  const added = mine.addedCodecs;
  const formats = added ? mediaFormats(media) : [];
  const chosen = added && chosenCodec(formats, added);
  if (!chosen) {
    // The answerer took a codec the offerer has: media passes as it is.
    for (const side of [mine.side, theirs.side]) if (side.transcode) delete side.transcode;
    return;
  }
  // The answerer's telephone-events at the chosen codec's clock that the relay added stand for the offerer's own.
  const events = added.filter((a) => isEvent(a.codec) && a.codec.clock === chosen.codec.clock && formats.some((f) => Number(f.pt) === a.pt));
  const back = (pt: number): number => (pt === chosen.pt ? chosen.source.pt : events.find((e) => e.pt === pt)?.source.pt ?? pt);
  const dropped = new Set(added.filter((a) => a !== chosen && !events.includes(a)).map((a) => a.pt));
  // The answerer's own telephone-event or CN at another clock than the offerer's codec cannot go with it.
  const strayed = (f: CodecFormat): boolean => isSupplemental(f) && f.clock !== chosen.source.codec.clock && !events.some((e) => e.pt === Number(f.pt));
  plan.formats = [...new Set(formats.filter((f) => !dropped.has(Number(f.pt)) && !strayed(f)).map((f) => String(back(Number(f.pt)))))];
  plan.addedLines = [...chosen.source.lines, ...events.flatMap((e) => e.source.lines)];
  // What the answerer sends reaches the offerer in the offerer's codec, and the other way round.
  const { source } = chosen;
  theirs.side.transcode = [compact({ fromPt: chosen.pt, from: chosen.codec, toPt: source.pt, to: source.codec, bitrate: source.bitrate, events: events.map((e) => ({ fromPt: e.pt, toPt: e.source.pt })) })];
  mine.side.transcode = [compact({ fromPt: source.pt, from: source.codec, toPt: chosen.pt, to: chosen.codec, bitrate: chosen.bitrate, events: events.map((e) => ({ fromPt: e.source.pt, toPt: e.pt })) })];
}

/** The added codec an answer of `formats` picked (its first audio codec), if it picked one. */
function chosenCodec(formats: readonly CodecFormat[], added: readonly AddedCodec[]): AddedCodec | undefined {
  const first = formats.find((f) => !isSupplemental(f));
  return first && added.find((a) => a.pt === Number(first.pt) && !isEvent(a.codec));
}

/**
 * Whether an answer picks a codec the relay added to the answerer's offer that only the general packet
 * path converts: one law of G.711 from the other is a byte map, which the native addon applies too.
 */
export function answerNeedsTranscoding(medias: readonly SdpMedia[], answerer: Monologue): boolean {
  return medias.some((media) => {
    const added = answerer.medias[media.index]?.addedCodecs;
    const chosen = added && chosenCodec(mediaFormats(media), added);
    return chosen !== undefined && !isByteMap({ from: chosen.codec, to: chosen.source.codec });
  });
}

/**
 * Flags that would empty every m= line they touch are a mistake in the request (`strip all` and
 * nothing kept), answered with an error; rtpengine passes such an offer on unchanged.
 */
export function checkCodecsLeft(ctx: SignalContext, activeMedias: number): void {
  if (ctx.codecsLeftOut.length === 0 || ctx.codecsLeftOut.length < activeMedias) return;
  const wanted = [...(ctx.req.codec?.offer ?? []), ...(ctx.req.codec?.transcode ?? [])];
  const why = wanted.length > 0 ? ` (${wanted.join(', ')} would need transcoding, which this relay does not do for them)` : '';
  throw new RelayError('CODEC_NEGOTIATION', `codec flags leave ${ctx.codecsLeftOut.join(' and ')} without a codec${why}`);
}
