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
import { loadavg } from 'node:os';
import { pino, type Logger } from 'pino';
import { Call } from './call/call.js';
import { CallLifecycle } from './call/lifecycle.js';
import { CallRegistry, type CallChange, type CallEndReason } from './call/registry.js';
import { SessionTotals } from './call/totals.js';
import { DEFAULT_RELAY_OPTIONS, type RelayOptions } from './config/options.js';
import { createDataPlane, defaultThreads } from './dataplane/index.js';
import type { DataPlane, TappedPacket } from './dataplane/types.js';
import { DtmfDetector } from './dtmf/detector.js';
import { DtmfLogDestination } from './dtmf/log-destination.js';
import { certificateDer, createIdentity, fingerprintOf, type DtlsIdentity } from './dtls/identity.js';
import { RelayError } from './errors.js';
import { InterfaceSet } from './media/interfaces.js';
import type { MediaSide } from './media/media-side.js';
import { PortAllocator } from './media/port-allocator.js';
import type { SignalKind } from './offer-answer/context.js';
import { OfferAnswer, callNeeds } from './offer-answer/pipeline.js';
import { looped, newLoopToken } from './offer-answer/loop-protect.js';
import { Placement, type CallNeeds } from './placement/placement.js';
import { CallQuality, QualityTotals } from './quality/tracker.js';
import type {
  AnswerRequest,
  CallInfo,
  DeleteRequest,
  DeleteResult,
  DtmfBlockRequest,
  PlayDtmfRequest,
  DtmfInfo,
  EndpointInfo,
  OfferRequest,
  QueryRequest,
  RelayStatistics,
  SdpResult,
  SignalRequest,
} from './api/requests.js';
import { HighAvailability } from './persistence/high-availability.js';
import { rebuildCall } from './persistence/rebuild.js';
import type { CallSnapshot } from './persistence/snapshot.js';
import { parseSdp } from './sdp/parse.js';
import { endpointInfo } from './util/address.js';
import { emitSafely } from './util/safe-emit.js';

export type { CallEndReason } from './call/registry.js';

export interface RelayEvents {
  /** Draining and the last call is gone: the relay can be stopped without dropping anything. */
  drained: [];
  'call:created': [{ callId: string }];
  'call:deleted': [{ callId: string; reason: CallEndReason }];
  'stream:learned': [{ callId: string; tag: string; mediaIndex: number; kind: 'RTP' | 'RTCP'; endpoint: EndpointInfo }];
  timeout: [{ callId: string }];
  /** A participant pressed a key (an RFC 4733 event or, with `detect DTMF`, a tone), reported once it ended. */
  dtmf: [{ callId: string } & DtmfInfo];
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
  /** Every call-quality sample so far, for metrics. */
  readonly quality = new QualityTotals();
  private readonly interfaces: InterfaceSet;
  /** Redis state, standby and takeover; only with `redis` in the options, from Relay.create on. */
  private ha: HighAvailability | undefined;
  private readonly startedAt = Date.now();
  private nextSide = 1;
  /** `--dtmf-log-dest`, when configured. */
  private readonly dtmfLog: DtmfLogDestination | undefined;
  /** Marks the SDP this relay sends on under `loop-protect`. */
  private readonly loopToken = newLoopToken();
  private closed = false;
  private draining = false;

  constructor(options?: Partial<RelayOptions>);
  /** @internal */
  constructor(options: Partial<RelayOptions>, deps: RelayDeps);
  constructor(options: Partial<RelayOptions> = {}, deps: RelayDeps = {}) {
    super();
    this.options = { ...DEFAULT_RELAY_OPTIONS, ...options };
    this.log = deps.logger ?? pino({ level: 'silent' });
    const interfaces = (this.interfaces = new InterfaceSet(this.options.interfaces));
    this.dataPlane = deps.dataPlane ?? createDataPlane(this.options.threads ?? defaultThreads(), this.log);
    this.ports = new PortAllocator(this.options.portMin, this.options.portMax, this.dataPlane);
    this.registry = new CallRegistry(this.dataPlane, this.ports, this.log);
    this.registry.observe(this.totals.observe);
    this.registry.observe((change) => this.announce(change));
    this.lifecycle = new CallLifecycle(this.registry, this.dataPlane, this.options, this.log);
    this.placement = new Placement(this.dataPlane, this.log);
    this.dataPlane.onLearned((e) => this.registry.learned(e.side, e.kind, e.endpoint));
    this.dataPlane.onSecured((e) => this.registry.secured(e.side, e.srtp, e.association));
    this.dtmfLog = this.options.dtmfLogDest && new DtmfLogDestination(this.options.dtmfLogDest, this.log);
    this.dataPlane.onTapped((e) => {
      const owner = this.registry.ownerOf(e.side);
      if (!owner) return;
      if (e.kind === 'rtcp') (owner.call.quality ??= new CallQuality(this.quality)).receive(e.packet, e.atMs, e.side);
      else this.dtmfHeard(owner.call, owner.media, e);
    });

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
      loopToken: this.loopToken,
    });
  }

  /**
   * A relay that is ready: with `redis` configured, connected to Redis (or not, if not `required`) and
   * with the calls stored there taken over on their ports. Use this rather than `new Relay` for that.
   */
  static create(options?: Partial<RelayOptions>): Promise<Relay>;
  /** @internal */
  static create(options: Partial<RelayOptions>, deps: RelayDeps): Promise<Relay>;
  static async create(options: Partial<RelayOptions> = {}, deps: RelayDeps = {}): Promise<Relay> {
    const relay = new Relay(options, deps);
    try {
      await relay.start();
    } catch (err) {
      await relay.close();
      throw err;
    }
    return relay;
  }

  /** Waits for the forwarding threads, connects persistence and restores the stored calls (Relay.create calls it). */
  private async start(): Promise<void> {
    // A round trip to every forwarding thread: a worker takes a few hundred milliseconds to load its
    // modules, and the first offers of a burst should not be the ones that wait for that.
    await this.dataPlane.counters();
    const { redis, activeSwitchover } = this.options;
    if (!redis) return;
    const { registry, dataPlane, ports, placement, interfaces, log } = this;
    this.ha = new HighAvailability({ redis, activeSwitchover: activeSwitchover === true, registry, dataPlane, ports, placement, interfaces, log, nextSideId: () => this.nextSide++ });
    await this.ha.start();
  }

  /**
   * Takes over every foreign call (`rtpbridge-ctl active`): binds their ports here and carries them as
   * own calls from now on. Calls that cannot be taken over are logged; resolves to how many were.
   */
  activate(): Promise<number> {
    return this.ha?.activate() ?? Promise.resolve(0);
  }

  /**
   * Hands every own call back (`rtpbridge-ctl standby`): its ports are freed and it is followed as a
   * foreign call, left in Redis for another relay (subscribed to this one's database) to take over;
   * `active` here takes it back. Resolves to how many calls were handed back.
   */
  async standby(): Promise<number> {
    if (!this.ha) throw new RelayError('CONFIG_INVALID', 'standby needs --redis: another relay takes the calls over from there');
    return this.ha.standby();
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
      await this.ha?.claimForeign(req.callId);
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
    const foreign = call ? undefined : this.ha?.foreign(req.callId);
    if (foreign) return foreignInfo(foreign, this.interfaces);
    if (!call) throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
    // Tags only narrow rtpengine's query; the reply always describes the whole call, so an unknown or
    // superseded (forked) tag is no reason to fail Kamailio's $rtpstat.
    return this.refreshedInfo(call);
  }

  /**
   * Stops (or resumes) forwarding the RFC 4733 telephone events of one participant, or of everyone in
   * the call; they are still detected and reported. Audio is untouched: in-band tones pass.
   */
  async blockDtmf(req: DtmfBlockRequest, block: boolean): Promise<void> {
    const blocked = block && req.mode !== 'off';
    const security = blocked && req.mode !== undefined && req.mode !== 'drop' && req.mode !== 'off' ? { mode: req.mode, digit: req.digit ?? 0, volume: req.volume ?? 10, frequencies: req.frequencies ?? [400] } : undefined;
    await this.registry.run(req.callId, async () => {
      const call = this.registry.get(req.callId);
      if (!call) throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
      const monologues = req.fromTag === undefined ? call.monologues : call.monologues.filter((m) => m.tag === req.fromTag);
      if (monologues.length === 0) throw new RelayError('TAG_NOT_FOUND', `Unknown tag '${req.fromTag}'`);
      // Replacements are written on the packet path of the workers: the call goes there first.
      if (security) await this.placeFor(call, { handshakes: false, transcoding: true });
      for (const media of monologues.flatMap((m) => m.medias)) {
        if (!media) continue;
        media.side.blockDtmf = blocked;
        if (security) media.side.dtmfSecurity = security;
        else if (media.side.dtmfSecurity) delete media.side.dtmfSecurity;
      }
      this.registry.commit({ kind: 'controlled', call });
    });
  }

  /**
   * Puts a key press into the call as if `fromTag` (or everyone, `all`) pressed it: towards each other
   * participant whose side was marked `inject DTMF`, as RFC 4733 events or in-band tones (src/dtmf/injector.ts).
   */
  async playDtmf(req: PlayDtmfRequest): Promise<void> {
    await this.registry.run(req.callId, async () => {
      const call = this.registry.get(req.callId);
      if (!call) throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
      const senders = req.all ? call.monologues : call.monologues.filter((m) => m.tag === req.fromTag);
      if (senders.length === 0) throw new RelayError('TAG_NOT_FOUND', `Unknown tag '${req.fromTag}'`);
      const targets = senders.flatMap((m) => m.medias).flatMap((media) => (media && media.type === 'audio' && !media.rejected ? media.side.sinks : []));
      const marked = targets.filter((side) => side.inject !== undefined);
      if (marked.length === 0) throw new RelayError('NOT_INJECTABLE', 'the call was not marked for DTMF injection (flag "inject DTMF" in offer and answer)');
      const tone = { event: req.event, durationMs: req.durationMs, volume: req.volume, pauseMs: req.pauseMs };
      const queued = await Promise.all(marked.map((side) => this.dataPlane.playDtmf(side.id, tone)));
      if (!queued.every(Boolean)) throw new RelayError('NOT_INJECTABLE', 'too many DTMF presses waiting to be played');
    });
  }

  /** Ends a call at once, as an operator (`rtpbridge-ctl terminate`); false when there is no such call. */
  async terminate(callId: string): Promise<boolean> {
    return this.registry.run(callId, async () => {
      const call = this.registry.get(callId);
      if (call) this.registry.commit({ kind: 'ended', call, reason: 'terminated' });
      return call !== undefined;
    });
  }

  /**
   * Stops taking new calls (offers for them get LOAD_LIMIT, `result: load limit` over ng); calls
   * already up carry on. `drained` fires once the last one is gone.
   */
  drain(): void {
    this.draining = true;
    if (this.registry.size === 0) emitSafely(this, 'drained', undefined, this.log);
  }

  /** Takes new calls again after `drain`. */
  resume(): void {
    this.draining = false;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Port pairs used and free per address of each logical interface. */
  interfaceUsage(): Array<{ name: string; address: string; used: number; free: number }> {
    return this.options.interfaces.flatMap((iface) => iface.addresses.map((a) => ({ name: iface.name, address: a.local, ...this.ports.usage(a.local) })));
  }

  /** Call-IDs of active calls, oldest first, then the foreign ones a standby follows. */
  list(limit = 32): string[] {
    const ids: string[] = [];
    for (const call of this.registry.all()) {
      if (ids.length >= limit) break;
      ids.push(call.callId);
    }
    for (const id of this.ha?.foreignIds() ?? []) if (ids.length < limit) ids.push(id);
    return ids;
  }

  async statistics(): Promise<RelayStatistics> {
    const c = await this.dataPlane.counters();
    const { lifecycle: { rates }, totals } = this;
    return {
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
      currentSessions: this.registry.size,
      foreignSessions: this.ha?.foreignCount ?? 0,
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
    await this.ha?.save();
    for (const call of [...this.registry.all()]) this.registry.commit({ kind: 'ended', call, reason: 'shutdown' });
    await this.dataPlane.close();
    await this.ha?.close();
    this.dtmfLog?.close();
  }

  private async signal(kind: SignalKind, req: SignalRequest): Promise<SdpResult> {
    if (this.closed) throw new RelayError('SHUTTING_DOWN', 'relay is shutting down');
    // Parse before touching state: a bad SDP must leave an existing call exactly as it was.
    const sdp = parseSdp(req.sdp);
    // An SDP this relay sent on came back (a SIP loop): it goes on as it is, and no call is made of it.
    if (req.flags?.loopProtect && looped(sdp, this.loopToken)) return { sdp: req.sdp };
    return this.registry.run(req.callId, async () => {
      await this.ha?.claimForeign(req.callId);
      let call = this.registry.get(req.callId);
      if (!call && kind === 'answer') throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
      const needs = callNeeds(kind, sdp, req, call);
      const created = call === undefined;
      if (!call) this.admit();
      if (!call) {
        call = new Call(req.callId, Date.now(), this.placement.place(needs));
        this.registry.add(call);
      } else {
        await this.placeFor(call, needs);
      }
      try {
        const result = await this.offerAnswer.negotiate(call, kind, req, sdp);
        call.lastSignal = Date.now();
        if (kind === 'answer') call.answered = true;
        // Inside the try: a data plane that refuses the change (bad keys) fails the request like a bad SDP.
        this.registry.commit({ kind: 'signalled', call, created });
        return result;
      } catch (err) {
        if (this.registry.get(call.callId) === call) this.registry.discard(call, !created);
        throw err;
      }
    });
  }

  /** Moves the call to a shard that runs what it needs, unless it is on one, and commits the move. */
  private async placeFor(call: Call, needs: CallNeeds): Promise<void> {
    if (!this.placement.suits(call, needs)) this.registry.commit({ kind: 'moved', call, from: await this.placement.move(call, needs) });
  }

  /** A new call is refused while draining or beyond the configured limits, as rtpengine words it. */
  private admit(): void {
    const { maxSessions, maxLoad, maxBandwidth, maxCpu } = this.options;
    const refuse = (message: string): never => {
      throw new RelayError('LOAD_LIMIT', message);
    };
    if (this.draining) refuse('Draining: no new calls');
    if (maxSessions !== undefined && maxSessions >= 0 && this.registry.size >= maxSessions) refuse('Parallel session limit reached');
    if (maxLoad !== undefined && loadavg()[0]! > maxLoad) refuse('Load limit reached');
    if (maxBandwidth !== undefined && this.lifecycle.rates.bytesOut > maxBandwidth) refuse('Bandwidth limit reached');
    if (maxCpu !== undefined && this.lifecycle.rates.cpuPercent > maxCpu) refuse('CPU usage limit reached');
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

  /**
   * Reads a telephone-event packet, or listens to an audio one (`detect DTMF`); each key press it
   * completes is logged, emitted and sent to the DTMF log.
   */
  private dtmfHeard(call: Call, side: MediaSide, tapped: TappedPacket): void {
    const detector = (call.dtmf ??= new DtmfDetector());
    const presses = tapped.kind === 'dtmf' ? detector.receive(side.id, tapped.packet, side.dtmf, tapped.atMs) : detector.receiveAudio(side.id, tapped.packet, side.codecs ?? [], tapped.atMs);
    for (const press of presses) {
      const info = call.dtmfInfo(side.id, press);
      this.log.info({ callId: call.callId, ...info }, 'DTMF');
      emitSafely(this, 'dtmf', { callId: call.callId, ...info }, this.log);
      this.dtmfLog?.send(info, { callId: call.callId, tags: call.monologues.map((m) => m.tag), sourceIp: side.state.rtp.endpoint?.address ?? side.rtp?.address ?? '' });
    }
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
        if (this.draining && this.registry.size === 0) emitSafely(this, 'drained', undefined, this.log);
        break;
    }
  }
}

/** What a standby knows of a foreign call: its stored state, described as for an own call. */
function foreignInfo(snapshot: CallSnapshot, interfaces: InterfaceSet): CallInfo {
  let id = 0;
  let rebuilt;
  try {
    rebuilt = rebuildCall(snapshot, -1, interfaces, () => ++id);
  } catch (err) {
    throw new RelayError('CALL_NOT_FOUND', `foreign call cannot be described here: ${(err as Error).message}`);
  }
  const { call, states } = rebuilt;
  for (const side of call.sides()) side.state = states.get(side.id) ?? side.state;
  return call.info('foreign');
}
