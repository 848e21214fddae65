/**
 * Offer/answer as a pipeline: the parties of the message, then for every m= line its relay ports and a
 * fixed list of steps, each with one concern, then the rewritten SDP. The codec step (codec flags,
 * transcoding) follows transport. The pipeline changes the call model only; the caller commits the
 * change (which configures the data plane).
 */
import type { Call } from '../call/call.js';
import type { SdpResult, SignalRequest } from '../api/requests.js';
import type { ParsedSdp } from '../sdp/parse.js';
import { rewriteSdp, type MediaPlan } from '../sdp/rewrite.js';
import type { MediaContext, MediaStep, OfferAnswerDeps, SignalContext, SignalKind } from './context.js';
import { ICE_LITE, settleIce, wantsIce } from './ice.js';
import { mayNeedDtls } from './dtls.js';
import { mediaPorts } from './media-ports.js';
import { basePlan, carryMid, markRejected, nextSdpVersion, passHold, preferredFamily, rejectedPlan, rtcpAttribute, settleEndpoints, settleRtcpMux } from './negotiation.js';
import { settleTransport } from './transport.js';
import { answerNeedsTranscoding, checkCodecsLeft, settleCodecs } from './codecs.js';
import { loopMarker } from './loop-protect.js';
import { settleDtmf } from './dtmf-step.js';
import { settlePtime } from './ptime-step.js';
import type { CallNeeds } from '../placement/placement.js';

/** In order: later steps read what earlier ones settled (ICE writes candidates for the rtcp-mux outcome). */
const MEDIA_STEPS: readonly MediaStep[] = [settleTransport, settleCodecs, settlePtime, settleDtmf, settleEndpoints, settleRtcpMux, settleIce, carryMid, passHold];

export class OfferAnswer {
  constructor(private readonly deps: OfferAnswerDeps) {}

  /** Applies the offer or answer to the call's model and returns the SDP for the recipient. */
  async negotiate(call: Call, kind: SignalKind, req: SignalRequest, sdp: ParsedSdp): Promise<SdpResult> {
    const ctx = this.parties(call, kind, req);
    const plans: MediaPlan[] = [];
    for (const media of sdp.medias) {
      if (media.port === 0) {
        markRejected(ctx.sender, ctx.recipient, media.index);
        plans.push(rejectedPlan(media));
        continue;
      }
      // Both at once: on the worker engine each bind is a round trip to a forwarding thread.
      const [mine, theirs] = await Promise.all([
        mediaPorts(call, ctx.sender, media, preferredFamily(ctx.sender, media.index, media.family), this.deps),
        mediaPorts(call, ctx.recipient, media, req.addressFamily ?? preferredFamily(ctx.recipient, media.index, media.family), this.deps),
      ]);
      // What each participant sends goes to the other, once it has signalled (an offer's recipient has not).
      mine.signalled = true;
      mine.side.sinks = [theirs.side];
      theirs.side.sinks = theirs.signalled ? [mine.side] : [];
      const mediaCtx: MediaContext = { ...ctx, media, mine, theirs, plan: basePlan(media, theirs) };
      for (const step of MEDIA_STEPS) await step(mediaCtx, this.deps);
      plans.push(mediaCtx.plan);
    }
    checkCodecsLeft(ctx, sdp.medias.filter((m) => m.port !== 0).length);
    const draft = {
      medias: plans,
      replaceOrigin: ctx.replace.has('origin') || ctx.replace.has('origin-full'),
      sessionLines: [...(plans.some((p) => p.ice !== undefined) ? [ICE_LITE] : []), ...(req.flags?.loopProtect ? [loopMarker(this.deps.loopToken)] : [])],
      rtcpAttribute: rtcpAttribute(req),
    } as const;
    const warning = ctx.warnings.length > 0 ? { warning: ctx.warnings.join('; ') } : {};
    const out = rewriteSdp(sdp, draft);
    if (!ctx.replace.has('sdp-version') && !ctx.replace.has('force-increment-sdp-ver')) return { sdp: out, ...warning };
    const version = nextSdpVersion(ctx.recipient, out, sdp, ctx.replace.has('force-increment-sdp-ver'));
    return { sdp: rewriteSdp(sdp, { ...draft, originVersion: version }), ...warning };
  }

  /** Sender and recipient of the message, their interfaces and label. */
  private parties(call: Call, kind: SignalKind, req: SignalRequest): SignalContext {
    const { interfaces, options } = this.deps;
    const { sender, recipient } = kind === 'offer' ? call.offerParties(req.fromTag, req.toTag) : call.answerParties(req.fromTag, req.toTag ?? '');
    if (req.direction) {
      sender.iface = interfaces.resolve(req.direction[0]);
      recipient.iface = interfaces.resolve(req.direction[1]);
    }
    sender.iface ??= interfaces.resolve(undefined);
    recipient.iface ??= interfaces.resolve(undefined);
    if (req.label !== undefined) sender.label = req.label;
    const useSipSource = req.flags?.sipSourceAddress === true || (options.sipSource && req.flags?.trustAddress !== true);
    return { call, kind, req, sender, recipient, replace: new Set(req.replace), useSipSource, warnings: [], codecsLeftOut: [] };
  }
}

/**
 * What the call needs of the data plane for this SDP: ICE checks or a DTLS handshake on its ports. An
 * answer also needs them when it brings ICE back to an offerer that offered it (though the offer itself
 * had ICE removed towards the answerer).
 */
export function callNeeds(kind: SignalKind, sdp: ParsedSdp, req: SignalRequest, call: Call | undefined): CallNeeds {
  const offererIce = kind === 'answer' && (call?.monologues.some((m) => m.medias.some((media) => media?.offeredIce === true)) ?? false);
  // The answerer is the participant the offer went to: the one whose media carry codecs the relay added.
  const answerer = kind === 'answer' ? call?.monologues.find((m) => m.medias.some((media) => media?.addedCodecs)) : undefined;
  return {
    handshakes: sdp.medias.some((m) => wantsIce(req.ice, kind, m.hasIce, offererIce) || mayNeedDtls(m, req, kind === 'offer')),
    // DTMF injection and repacketization change packets on their way, as transcoding does: all run on the workers.
    transcoding:
      req.flags?.injectDtmf === true ||
      req.ptime !== undefined ||
      req.ptimeReverse !== undefined ||
      (answerer !== undefined && answerNeedsTranscoding(sdp.medias, answerer)) ||
      (kind === 'answer' && (call?.monologues.some((m) => m.medias.some((media) => media?.ptime !== undefined)) ?? false)),
  };
}
