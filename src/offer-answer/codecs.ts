/**
 * The codec step: an offer's codec flags choose which of the sender's payload types the recipient is
 * offered. Answers pass their codecs through (rtpengine applies codec flags to offers only).
 */
import { mediaFormats } from '../codecs/format.js';
import { selectCodecs, selectsCodecs } from '../codecs/selection.js';
import { RelayError } from '../errors.js';
import type { MediaStep, SignalContext } from './context.js';

const TRANSCODING = 'would need transcoding, which this relay does not do yet';

export const settleCodecs: MediaStep = ({ kind, req, media, plan, warnings, codecsLeftOut }) => {
  if (kind !== 'offer' || !req.codec || !selectsCodecs(req.codec)) return;
  const where = `m=${media.type} line ${media.index + 1}`;
  const { pts, needTranscoding } = selectCodecs(mediaFormats(media), req.codec);
  if (needTranscoding.length > 0) warnings.push(`${where}: ${needTranscoding.join(', ')} not offered (${TRANSCODING})`);
  if (pts) {
    plan.formats = pts;
    return;
  }
  codecsLeftOut.push(where);
  warnings.push(`${where}: codec flags would leave no codec, left as offered`);
};

/**
 * Flags that would empty every m= line they touch are a mistake in the request (`strip all` and
 * nothing kept), answered with an error; rtpengine passes such an offer on unchanged.
 */
export function checkCodecsLeft(ctx: SignalContext, activeMedias: number): void {
  if (ctx.codecsLeftOut.length === 0 || ctx.codecsLeftOut.length < activeMedias) return;
  const wanted = [...(ctx.req.codec?.offer ?? []), ...(ctx.req.codec?.transcode ?? [])];
  const why = wanted.length > 0 ? ` (${wanted.join(', ')} ${TRANSCODING})` : '';
  throw new RelayError('CODEC_NEGOTIATION', `codec flags leave ${ctx.codecsLeftOut.join(' and ')} without a codec${why}`);
}
