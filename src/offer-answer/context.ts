/** What the offer/answer steps work on: one signalling message, and within it one m= line. */
import type { Call, Monologue, MonologueMedia } from '../call/call.js';
import type { RelayOptions } from '../config/options.js';
import type { SideId } from '../dataplane/types.js';
import type { InterfaceSet } from '../media/interfaces.js';
import type { PortAllocator } from '../media/port-allocator.js';
import type { SignalRequest } from '../api/requests.js';
import type { SdpMedia } from '../sdp/parse.js';
import type { MediaPlan } from '../sdp/rewrite.js';

export type SignalKind = 'offer' | 'answer';

export interface SignalContext {
  readonly call: Call;
  readonly kind: SignalKind;
  readonly req: SignalRequest;
  /** Who sent this SDP, and who gets the rewritten one. */
  readonly sender: Monologue;
  readonly recipient: Monologue;
  readonly replace: ReadonlySet<string>;
  /** Media goes to the SIP source address rather than the SDP's (`SIP-source-address`, `--sip-source`). */
  readonly useSipSource: boolean;
  /** What the steps could not do as asked, for the reply's `warning`. */
  readonly warnings: string[];
  /** m= lines the codec flags would have emptied, and so left as offered. */
  readonly codecsLeftOut: string[];
}

export interface MediaContext extends SignalContext {
  readonly media: SdpMedia;
  /** The relay ports facing the sender (`mine`) and facing the recipient (`theirs`) for this m= line. */
  readonly mine: MonologueMedia;
  readonly theirs: MonologueMedia;
  /** The outgoing m= line, filled in by the steps. */
  readonly plan: MediaPlan;
}

/** What the steps may use beyond the call: the relay's configuration, interfaces, ports and certificate. */
export interface OfferAnswerDeps {
  readonly options: RelayOptions;
  readonly interfaces: InterfaceSet;
  readonly ports: PortAllocator;
  nextSideId(): SideId;
  /** The relay's certificate fingerprint with this hash, for a=fingerprint. */
  fingerprint(hash: string): Promise<string>;
  /** This relay's mark for `loop-protect` (random per relay, so a relay passes on another's SDP). */
  readonly loopToken: string;
}

/** One concern of one m= line (transport and keys, rtcp-mux, ICE...), run in order by the pipeline. */
export type MediaStep = (ctx: MediaContext, deps: OfferAnswerDeps) => void | Promise<void>;
