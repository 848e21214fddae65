/**
 * The live calls, the queue that keeps one call's operations apart, and the one commit point every change
 * to a call passes: commit() brings the data plane in line with the call model, then tells the
 * observers (the relay's public events and totals; persistence and metrics hook in the same way). An
 * observer that throws is logged and never fails or undoes the change it was told about.
 */
import type { Logger } from 'pino';
import type { DataPlane, SideDtls, SideId, SrtpKeyPair } from '../dataplane/types.js';
import { sameAssociation } from '../offer-answer/dtls.js';
import type { PortAllocator } from '../media/port-allocator.js';
import type { MediaSide } from '../media/media-side.js';
import type { Endpoint, StreamKind } from '../shared/vocabulary.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { Call, Monologue } from './call.js';

/**
 * `terminated`: ended by an operator (`rtpbridge-ctl terminate`); `shutdown`: the relay stopped;
 * `standby`: handed back (`rtpbridge-ctl standby`) and followed as a foreign call, for another relay to
 * take over. The last two leave the call in Redis.
 */
export type CallEndReason = 'delete' | 'timeout' | 'terminated' | 'shutdown' | 'standby';

/** What happened to a call; observers see each change once it is in the model and the data plane. */
export type CallChange =
  /** An offer or answer settled; `created` for the first offer of the call. */
  | { kind: 'signalled'; call: Call; created: boolean }
  /** `delete` with a delay: the call keeps relaying until `call.deleteAt`. */
  | { kind: 'deleting'; call: Call }
  /** A call taken over from its snapshot (Redis at start-up), on the ports it had. */
  | { kind: 'restored'; call: Call }
  /** The call's sides now live on `call.shard` (placement moved it to an engine that runs what it needs). */
  | { kind: 'moved'; call: Call; from: number }
  /** The data plane learned where a participant's media comes from. */
  | { kind: 'learned'; call: Call; monologue: Monologue; mediaIndex: number; stream: StreamKind; endpoint: Endpoint }
  /** A DTLS handshake gave a side its SRTP keys. */
  | { kind: 'secured'; call: Call; side: MediaSide }
  /** A control command changed how the call's media is handled (`block DTMF`). */
  | { kind: 'controlled'; call: Call }
  /** The call is gone and its ports are free. */
  | { kind: 'ended'; call: Call; reason: CallEndReason };

export type CallObserver = (change: CallChange) => void;

export class CallRegistry {
  private readonly calls = new Map<string, Call>();
  /** Side id -> the participant it belongs to, for what the data plane reports by side. */
  private readonly owners = new Map<SideId, Monologue>();
  private readonly queue = new SerialQueue();
  private readonly observers: CallObserver[] = [];

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly ports: PortAllocator,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.calls.size;
  }

  get(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  /** Oldest first. */
  all(): IterableIterator<Call> {
    return this.calls.values();
  }

  add(call: Call): void {
    this.calls.set(call.callId, call);
  }

  /** Runs `job` after every earlier job of the same call has settled. */
  run<T>(callId: string, job: () => Promise<T>): Promise<T> {
    return this.queue.run(callId, job);
  }

  /** A job of this call is queued or running: the sweep leaves it alone. */
  busy(callId: string): boolean {
    return this.queue.busy(callId);
  }

  /** Resolves once every job queued so far has settled. */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  observe(observer: CallObserver): void {
    this.observers.push(observer);
  }

  /** The commit point: applies the change to the data plane, then tells the observers. */
  commit(change: CallChange): void {
    // A call ends once: a second end (a delete racing the sweep) is no change.
    if (change.kind === 'ended' && this.calls.get(change.call.callId) !== change.call) return;
    switch (change.kind) {
      case 'signalled':
      case 'restored':
      case 'moved':
      case 'controlled':
        this.configure(change.call);
        break;
      case 'ended':
        this.release(change.call);
        break;
    }
    for (const observer of this.observers) {
      try {
        observer(change);
      } catch (err) {
        this.log.error({ err, callId: change.call.callId, change: change.kind }, 'call observer failed');
      }
    }
  }

  /**
   * A call whose first offer failed: its ports are freed and nobody hears of it. A failed re-offer of a
   * live call is committed as it stands, so the data plane and the observers (Redis) match the model.
   */
  discard(call: Call, established: boolean): void {
    if (!established) return this.release(call);
    try {
      this.commit({ kind: 'signalled', call, created: false });
    } catch (err) {
      // The data plane refused the model as it stands (that may be why the request failed): it keeps what it had.
      this.log.warn({ err, callId: call.callId }, 'call left as the data plane had it after a failed request');
    }
  }

  /** The participant, call and m= line a data-plane side belongs to. */
  ownerOf(side: SideId): { call: Call; monologue: Monologue; mediaIndex: number; media: MediaSide } | undefined {
    const monologue = this.owners.get(side);
    const call = monologue && this.calls.get(monologue.callId);
    if (!monologue || !call) return undefined;
    const mediaIndex = monologue.medias.findIndex((m) => m?.side.id === side);
    return mediaIndex < 0 ? undefined : { call, monologue, mediaIndex, media: monologue.medias[mediaIndex]!.side };
  }

  /** The data plane learned a participant's source; committed in the call's turn, like any change. */
  learned(side: SideId, stream: StreamKind, endpoint: Endpoint): void {
    const owner = this.ownerOf(side);
    if (!owner) return;
    void this.run(owner.call.callId, async () => {
      if (this.calls.get(owner.call.callId) !== owner.call) return;
      this.commit({ kind: 'learned', call: owner.call, monologue: owner.monologue, mediaIndex: owner.mediaIndex, stream, endpoint });
    });
  }

  /**
   * Keys a finished handshake gave a side, kept in the model so later configures (and restarts) carry
   * them; unless a re-offer or re-answer replaced the association meanwhile (those keys are stale).
   */
  secured(side: SideId, srtp: SrtpKeyPair, association: SideDtls): void {
    const owner = this.ownerOf(side);
    if (!owner) return;
    void this.run(owner.call.callId, async () => {
      if (this.calls.get(owner.call.callId) !== owner.call) return;
      if (!sameAssociation(owner.media.dtls, association)) return;
      owner.media.srtp = srtp;
      this.commit({ kind: 'secured', call: owner.call, side: owner.media });
    });
  }

  private configure(call: Call): void {
    for (const monologue of call.monologues) {
      for (const media of monologue.medias) {
        if (!media) continue;
        this.owners.set(media.side.id, monologue);
        this.dataPlane.configure(media.side.id, media.side.config());
      }
    }
  }

  private release(call: Call): void {
    if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    for (const side of call.sides()) {
      this.owners.delete(side.id);
      this.ports.release(side.id, side.address.local, side.rtpPort, side.aliases?.map((a) => ({ local: a.address.local, rtpPort: a.rtpPort })));
    }
  }
}
