/** The relay ports of one participant for one m= line: allocated on first use and kept for re-offers. */
import type { Call, Monologue, MonologueMedia } from '../call/call.js';
import { learningPolicy } from '../dataplane/policy.js';
import { MediaSide } from '../media/media-side.js';
import type { SdpMedia } from '../sdp/parse.js';
import type { AddressFamily } from '../shared/vocabulary.js';
import type { OfferAnswerDeps } from './context.js';

export async function mediaPorts(call: Call, mono: Monologue, media: SdpMedia, family: AddressFamily | undefined, deps: OfferAnswerDeps): Promise<MonologueMedia> {
  const existing = mono.medias[media.index];
  if (existing) {
    existing.rejected = false;
    return existing;
  }
  const address = deps.interfaces.address(mono.iface!, family);
  const id = deps.nextSideId();
  const rtpPort = await deps.ports.allocate(id, call.shard, address.local, address.family);
  const side = new MediaSide(id, address, rtpPort, learningPolicy(deps.options.endpointLearning, false, false));
  const created: MonologueMedia = {
    type: media.type,
    protocol: media.protocol,
    rejected: false,
    address,
    side,
    muxOffered: false,
    muxPolicy: 'follow',
  };
  mono.medias[media.index] = created;
  return created;
}
