/**
 * The relay as a library: SDP in, SDP out, packets forwarded between the ports it hands out. The ng
 * server is a thin adapter over these methods; embedding services call them directly. This class is a
 * facade over the parts that do the work:
 *
 *   offer/answer ──► OfferAnswer pipeline (src/offer-answer) ──► CallRegistry.commit ──► data plane
 *                    Placement (src/placement)                         │                  (src/dataplane)
 *                                                                      └──► observers: events, totals
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { Call } from './call/call.js';
import { CallLifecycle } from './call/lifecycle.js';
import { CallRegistry, type CallChange, type CallEndReason } from './call/registry.js';
import { SessionTotals } from './call/totals.js';
import { DEFAULT_RELAY_OPTIONS, type RelayOptions } from './config/options.js';
import { createDataPlane, defaultThreads } from './dataplane/index.js';
import type { DataPlane } from './dataplane/types.js';
import { certificateDer, createIdentity, fingerprintOf, type DtlsIdentity } from './dtls/identity.js';
import { RelayError } from './errors.js';
import { InterfaceSet } from './media/interfaces.js';
import { PortAllocator } from './media/port-allocator.js';
import type { SignalKind } from './offer-answer/context.js';
import { OfferAnswer, callNeeds } from './offer-answer/pipeline.js';
import { Placement } from './placement/placement.js';
import type {
  AnswerRequest,
  CallInfo,
  DeleteRequest,
  DeleteResult,
  EndpointInfo,
  OfferRequest,
  QueryRequest,
  RelayStatistics,
  SdpResult,
  SignalRequest,
} from './api/requests.js';
import { parseSdp } from './sdp/parse.js';
import { endpointInfo } from './util/address.js';
import { emitSafely } from './util/safe-emit.js';

export type { CallEndReason } from './call/registry.js';

export interface RelayEvents {
  'call:created': [{ callId: string }];
  'call:deleted': [{ callId: string; reason: CallEndReason }];
  'stream:learned': [{ callId: string; tag: string; mediaIndex: number; kind: 'RTP' | 'RTCP'; endpoint: EndpointInfo }];
  timeout: [{ callId: string }];
}

/** @internal What tests inject: a logger, and a data plane built by the caller (to kill its workers, or an in-memory one). */
export interface RelayDeps {
  logger?: Logger;
  dataPlane?: DataPlane;
}

const MESSAGE_UNKNOWN_CALL = 'Unknown call-id';
const MESSAGE_DELETE_NOT_FOUND = "Call-ID not found or tags didn't match";

export class Relay extends EventEmitter<RelayEvents> {
  readonly options: RelayOptions;
  /** The DTLS certificate, made (or read) at start-up. */
  readonly dtlsIdentity: Promise<DtlsIdentity>;
  private readonly log: Logger;
  private readonly dataPlane: DataPlane;
  private readonly ports: PortAllocator;
  private readonly registry: CallRegistry;
  private readonly lifecycle: CallLifecycle;
  private readonly placement: Placement;
  private readonly offerAnswer: OfferAnswer;
  private readonly totals = new SessionTotals();
  private readonly startedAt = Date.now();
  private nextSide = 1;
  private closed = false;

  constructor(options?: Partial<RelayOptions>);
  /** @internal */
  constructor(options: Partial<RelayOptions>, deps: RelayDeps);
  constructor(options: Partial<RelayOptions> = {}, deps: RelayDeps = {}) {
    super();
    this.options = { ...DEFAULT_RELAY_OPTIONS, ...options };
    this.log = deps.logger ?? pino({ level: 'silent' });
    const interfaces = new InterfaceSet(this.options.interfaces);
    this.dataPlane = deps.dataPlane ?? createDataPlane(this.options.threads ?? defaultThreads(), this.log);
    this.ports = new PortAllocator(this.options.portMin, this.options.portMax, this.dataPlane);
    this.registry = new CallRegistry(this.dataPlane, this.ports, this.log);
    this.registry.observe(this.totals.observe);
    this.registry.observe((change) => this.announce(change));
    this.lifecycle = new CallLifecycle(this.registry, this.dataPlane, this.options, this.log);
    this.placement = new Placement(this.dataPlane, this.log);
    this.dataPlane.onLearned((e) => this.registry.learned(e.side, e.kind, e.endpoint));
    this.dataPlane.onSecured((e) => this.registry.secured(e.side, e.srtp));

    this.dtlsIdentity = createIdentity(this.options.dtlsCertificate);
    const certificate = this.dtlsIdentity.then((identity) => {
      this.dataPlane.setDtlsIdentity(identity);
      return certificateDer(identity.certPem);
    });
    // Reported where it is used (a DTLS offer fails with it); never an unhandled rejection.
    certificate.catch((err: unknown) => this.log.error({ err }, 'no DTLS certificate'));
    this.offerAnswer = new OfferAnswer({
      options: this.options,
      interfaces,
      ports: this.ports,
      nextSideId: () => this.nextSide++,
      fingerprint: async (hash) => fingerprintOf(await certificate, hash),
    });
  }

  /** The forwarding engine (`native+workers` or `workers`) and its thread count. */
  get forwarding(): { engine: string; threads: number } {
    return { engine: this.dataPlane.engine, threads: this.dataPlane.shards };
  }

  offer(req: OfferRequest): Promise<SdpResult> {
    return this.signal('offer', req);
  }

  answer(req: AnswerRequest): Promise<SdpResult> {
    return this.signal('answer', req);
  }

  async delete(req: DeleteRequest): Promise<DeleteResult> {
    return this.registry.run(req.callId, async () => {
      const call = this.registry.get(req.callId);
      const tagKnown = call !== undefined && (req.fromTag === undefined || req.fromTag === '' || call.monologue(req.fromTag) !== undefined);
      if (!call || !tagKnown) {
        if (req.fatal) throw new RelayError(call ? 'TAG_NOT_FOUND' : 'CALL_NOT_FOUND', MESSAGE_DELETE_NOT_FOUND);
        return { warning: MESSAGE_DELETE_NOT_FOUND };
      }
      const info = req.fast ? undefined : await this.refreshedInfo(call);
      const delay = req.deleteDelay ?? this.options.deleteDelay;
      if (delay <= 0) this.registry.commit({ kind: 'ended', call, reason: 'delete' });
      else {
        call.deleteAt = Date.now() + delay * 1000;
        this.registry.commit({ kind: 'deleting', call });
      }
      return { call: info };
    });
  }

  async query(req: QueryRequest): Promise<CallInfo> {
    const call = this.registry.get(req.callId);
    if (!call) throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
    // Tags only narrow rtpengine's query; the reply always describes the whole call, so an unknown or
    // superseded (forked) tag is no reason to fail Kamailio's $rtpstat.
    return this.refreshedInfo(call);
  }

  /** Call-IDs of active calls, oldest first. */
  list(limit = 32): string[] {
    const ids: string[] = [];
    for (const call of this.registry.all()) {
      if (ids.length >= limit) break;
      ids.push(call.callId);
    }
    return ids;
  }

  async statistics(): Promise<RelayStatistics> {
    const c = await this.dataPlane.counters();
    const { lifecycle: { rates }, totals } = this;
    return {
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
      currentSessions: this.registry.size,
      managedSessions: totals.managed,
      timeoutSessions: totals.timeout,
      regularTerminatedSessions: totals.deleted,
      forcedTerminatedSessions: totals.forced,
      packetRateIn: rates.packetsIn,
      packetRateOut: rates.packetsOut,
      packetsIn: c.packetsIn,
      bytesIn: c.bytesIn,
      packetsOut: c.packetsOut,
      bytesOut: c.bytesOut,
      dropped: { ...c.dropped },
      portPairsInUse: this.ports.pairsInUse,
      engine: this.dataPlane.engine,
      threads: this.dataPlane.shards,
    };
  }

  /** Frees every port; calls in flight finish first so no socket is bound after close resolves. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lifecycle.stop();
    await this.registry.drain();
    for (const call of [...this.registry.all()]) this.registry.commit({ kind: 'ended', call, reason: 'shutdown' });
    await this.dataPlane.close();
  }

  private async signal(kind: SignalKind, req: SignalRequest): Promise<SdpResult> {
    if (this.closed) throw new RelayError('SHUTTING_DOWN', 'relay is shutting down');
    // Parse before touching state: a bad SDP must leave an existing call exactly as it was.
    const sdp = parseSdp(req.sdp);
    return this.registry.run(req.callId, async () => {
      let call = this.registry.get(req.callId);
      if (!call && kind === 'answer') throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
      const needs = callNeeds(kind, sdp, req);
      const created = call === undefined;
      if (!call) {
        call = new Call(req.callId, Date.now(), this.placement.place(needs));
        this.registry.add(call);
      } else if (!this.placement.suits(call, needs)) {
        const from = await this.placement.move(call, needs);
        this.registry.commit({ kind: 'moved', call, from });
      }
      let sdpOut: string;
      try {
        sdpOut = await this.offerAnswer.negotiate(call, kind, req, sdp);
      } catch (err) {
        this.registry.discard(call, !created);
        throw err;
      }
      call.lastSignal = Date.now();
      if (kind === 'answer') call.answered = true;
      this.registry.commit({ kind: 'signalled', call, created });
      return { sdp: sdpOut };
    });
  }

  /** Pulls the data plane's exact counters and endpoints for the call's sides before describing it. */
  private async refreshedInfo(call: Call): Promise<CallInfo> {
    const sides = [...call.sides()];
    const states = await this.dataPlane.read(sides.map((s) => s.id));
    for (const side of sides) {
      side.state = states.get(side.id) ?? side.state;
      side.lastPacketMs = Math.max(side.state.rtp.lastPacketMs, side.state.rtcp.lastPacketMs);
    }
    return call.info(this.dataPlane.engineOf(call.shard));
  }

  /** The public events, once a change is committed; a listener that throws is logged, never felt. */
  private announce(change: CallChange): void {
    const { callId } = change.call;
    switch (change.kind) {
      case 'signalled':
        if (change.created) emitSafely(this, 'call:created', { callId }, this.log);
        break;
      case 'learned': {
        const endpoint = endpointInfo(change.endpoint);
        const payload = { callId, tag: change.monologue.tag, mediaIndex: change.mediaIndex, kind: change.stream, endpoint };
        this.log.debug(payload, 'learned media source');
        emitSafely(this, 'stream:learned', payload, this.log);
        break;
      }
      case 'ended':
        this.log.info({ callId, reason: change.reason }, 'call deleted');
        if (change.reason === 'timeout') emitSafely(this, 'timeout', { callId }, this.log);
        emitSafely(this, 'call:deleted', { callId, reason: change.reason }, this.log);
        break;
    }
  }
}
