import type { AddressFamily, EndpointInfo } from './shared/vocabulary.js';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { DEFAULT_RELAY_OPTIONS, type RelayOptions } from './config/options.js';
import { RelayError } from './errors.js';
import { Call, type Monologue, type MonologueMedia } from './call/call.js';
import { answerCrypto, mediaMayNeedSrtp, newSdesState, offerCrypto, plainLeg, type LegCrypto } from './offer-answer/sdes.js';
import { answerSetup, dtlsLines, mayNeedDtls, relayOffersDtls, participantDtls, sameAssociation, setupAgainst, sideDtls } from './offer-answer/dtls.js';
import { ICE_LITE, iceLines, newCredentials, wantsIce } from './offer-answer/ice.js';
import { certificateDer, createIdentity, fingerprintOf, type DtlsIdentity } from './dtls/identity.js';
import {
  markRejected,
  nextSdpVersion,
  planMedia,
  preferredFamily,
  rejectedPlan,
  remoteEndpoints,
  rtcpAttribute,
  type SignalKind,
} from './offer-answer/negotiation.js';
import type { AnswerRequest, CallInfo, DeleteRequest, DeleteResult, OfferRequest, QueryRequest, RelayStatistics, SdpResult, SignalRequest } from './api/requests.js';
import { createDataPlane, defaultThreads } from './dataplane/index.js';
import type { DataPlane, DataPlaneCounters, LearnedEvent, LearningPolicy, SecuredEvent, SideId } from './dataplane/types.js';
import { InterfaceSet } from './media/interfaces.js';
import { learningPolicy } from './dataplane/policy.js';
import { MediaSide } from './media/media-side.js';
import { PortAllocator } from './media/port-allocator.js';
import { parseSdp, type ParsedSdp, type SdpMedia } from './sdp/parse.js';
import { rewriteSdp, type MediaPlan } from './sdp/rewrite.js';
import { endpointInfo, isUnspecified } from './util/address.js';
import { SerialQueue } from './util/serial-queue.js';

export type CallEndReason = 'delete' | 'timeout' | 'shutdown';

export interface RelayEvents {
  'call:created': [{ callId: string }];
  'call:deleted': [{ callId: string; reason: CallEndReason }];
  'stream:learned': [{ callId: string; tag: string; mediaIndex: number; kind: 'RTP' | 'RTCP'; endpoint: EndpointInfo }];
  timeout: [{ callId: string }];
}

export interface RelayDeps {
  logger?: Logger;
  /** A data plane built by the caller (tests inject one to kill its workers); default: from options. */
  dataPlane?: DataPlane;
}

/** How often calls are checked for expired delete-delays and media timeouts. */
const SWEEP_INTERVAL_MS = 1000;
const MESSAGE_UNKNOWN_CALL = 'Unknown call-id';
const MESSAGE_DELETE_NOT_FOUND = "Call-ID not found or tags didn't match";

/**
 * The relay as a library: SDP in, SDP out, packets forwarded between the ports it hands out. The ng
 * server is a thin adapter over these methods; embedding services call them directly.
 */
export class Relay extends EventEmitter<RelayEvents> {
  readonly options: RelayOptions;
  private readonly log: Logger;
  private readonly interfaces: InterfaceSet;
  readonly dataPlane: DataPlane;
  private readonly ports: PortAllocator;
  private readonly calls = new Map<string, Call>();
  /** Side id -> the participant it belongs to, for learning events. */
  private readonly owners = new Map<SideId, Monologue>();
  private readonly perCall = new SerialQueue();
  private readonly startedAt = Date.now();
  private readonly totals = { managed: 0, timeout: 0, deleted: 0, forced: 0 };
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;
  /** Counters at the previous sweep, to turn totals into per-second rates. */
  private lastCounters: { at: number; packetsIn: number; packetsOut: number } = { at: Date.now(), packetsIn: 0, packetsOut: 0 };
  private rates = { packetsIn: 0, packetsOut: 0 };
  private nextSide = 1;
  private nextShard = 0;
  /** Where new calls go, fixed by the data plane: shards that run ICE/DTLS, and the rest (all, if none is without). */
  private readonly shardChoice: { handshakes: readonly number[]; others: readonly number[] };
  private closed = false;
  /** The DTLS certificate, made (or read) at start-up; its DER for fingerprints. */
  readonly dtlsIdentity: Promise<DtlsIdentity>;
  private readonly certificate: Promise<Buffer>;

  constructor(options: Partial<RelayOptions> = {}, deps: RelayDeps = {}) {
    super();
    this.options = { ...DEFAULT_RELAY_OPTIONS, ...options };
    this.log = deps.logger ?? pino({ level: 'silent' });
    this.interfaces = new InterfaceSet(this.options.interfaces);
    this.dataPlane = deps.dataPlane ?? createDataPlane(this.options.threads ?? defaultThreads(), this.log);
    this.dataPlane.onLearned((event) => this.learned(event));
    this.dataPlane.onSecured((event) => this.secured(event));
    this.dtlsIdentity = createIdentity(this.options.dtlsCertificate);
    this.certificate = this.dtlsIdentity.then((identity) => {
      this.dataPlane.setDtlsIdentity(identity);
      return certificateDer(identity.certPem);
    });
    // Reported where it is used (a DTLS offer fails with it); never an unhandled rejection.
    this.certificate.catch((err: unknown) => this.log.error({ err }, 'no DTLS certificate'));
    this.ports = new PortAllocator(this.options.portMin, this.options.portMax, this.dataPlane);
    this.shardChoice = shardChoice(this.dataPlane);
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  offer(req: OfferRequest): Promise<SdpResult> {
    return this.signal('offer', req);
  }

  answer(req: AnswerRequest): Promise<SdpResult> {
    return this.signal('answer', req);
  }

  async delete(req: DeleteRequest): Promise<DeleteResult> {
    return this.perCall.run(req.callId, async () => {
      const call = this.calls.get(req.callId);
      const tagKnown = call !== undefined && (req.fromTag === undefined || req.fromTag === '' || call.monologue(req.fromTag) !== undefined);
      if (!call || !tagKnown) {
        if (req.fatal) throw new RelayError(call ? 'TAG_NOT_FOUND' : 'CALL_NOT_FOUND', MESSAGE_DELETE_NOT_FOUND);
        return { warning: MESSAGE_DELETE_NOT_FOUND };
      }
      const info = req.fast ? undefined : await this.refreshedInfo(call);
      const delay = req.deleteDelay ?? this.options.deleteDelay;
      if (delay <= 0) this.destroy(call, 'delete');
      else call.deleteAt = Date.now() + delay * 1000;
      return { call: info };
    });
  }

  async query(req: QueryRequest): Promise<CallInfo> {
    const call = this.calls.get(req.callId);
    if (!call) throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
    // Tags only narrow rtpengine's query; the reply always describes the whole call, so an unknown or
    // superseded (forked) tag is no reason to fail Kamailio's $rtpstat.
    return this.refreshedInfo(call);
  }

  /** Call-IDs of active calls, oldest first. */
  list(limit = 32): string[] {
    const ids: string[] = [];
    for (const id of this.calls.keys()) {
      if (ids.length >= limit) break;
      ids.push(id);
    }
    return ids;
  }

  async statistics(): Promise<RelayStatistics> {
    const c = await this.dataPlane.counters();
    return {
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
      currentSessions: this.calls.size,
      managedSessions: this.totals.managed,
      timeoutSessions: this.totals.timeout,
      regularTerminatedSessions: this.totals.deleted,
      forcedTerminatedSessions: this.totals.forced,
      packetRateIn: this.rates.packetsIn,
      packetRateOut: this.rates.packetsOut,
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
    clearInterval(this.sweeper);
    await this.perCall.drain();
    for (const call of [...this.calls.values()]) this.destroy(call, 'shutdown');
    await this.dataPlane.close();
  }

  private async signal(kind: SignalKind, req: SignalRequest): Promise<SdpResult> {
    if (this.closed) throw new RelayError('SHUTTING_DOWN', 'relay is shutting down');
    // Parse before touching state: a bad SDP must leave an existing call exactly as it was.
    const sdp = parseSdp(req.sdp);
    return this.perCall.run(req.callId, async () => {
      let call = this.calls.get(req.callId);
      if (!call && kind === 'answer') throw new RelayError('CALL_NOT_FOUND', MESSAGE_UNKNOWN_CALL);
      const isNew = call === undefined;
      const handshakes = sdp.medias.some((m) => wantsIce(req.ice, m.hasIce, false) || mayNeedDtls(m, req));
      if (call && handshakes && !this.dataPlane.handshakeShards.includes(call.shard)) {
        throw new RelayError('SRTP_INVALID', 'this call started without ICE or DTLS on the native data plane, which cannot add them');
      }
      if (!call) {
        call = new Call(req.callId, Date.now(), this.pickShard(handshakes));
        this.calls.set(req.callId, call);
      }
      try {
        const result = await this.negotiate(call, kind, req, sdp);
        call.lastSignal = Date.now();
        if (kind === 'answer') call.answered = true;
        if (isNew) {
          this.totals.managed++;
          this.emit('call:created', { callId: call.callId });
        }
        return result;
      } catch (err) {
        if (isNew) this.destroy(call, undefined);
        throw err;
      }
    });
  }

  private async negotiate(call: Call, kind: SignalKind, req: SignalRequest, sdp: ParsedSdp): Promise<SdpResult> {
    const { sender, recipient } = kind === 'offer' ? call.offerParties(req.fromTag, req.toTag) : call.answerParties(req.fromTag, req.toTag ?? '');
    if (req.direction) {
      sender.iface = this.interfaces.resolve(req.direction[0]);
      recipient.iface = this.interfaces.resolve(req.direction[1]);
    }
    sender.iface ??= this.interfaces.resolve(undefined);
    recipient.iface ??= this.interfaces.resolve(undefined);
    if (req.label !== undefined) sender.label = req.label;
    const replace = new Set(req.replace);
    const useSipSource = req.flags?.sipSourceAddress === true || (this.options.sipSource && req.flags?.trustAddress !== true);

    const plans: MediaPlan[] = [];
    for (const media of sdp.medias) {
      if (media.port === 0) {
        markRejected(sender, recipient, media.index);
        plans.push(rejectedPlan(media));
        continue;
      }
      const mine = await this.ensureMedia(call, sender, media, preferredFamily(sender, media.index, media.family));
      const theirs = await this.ensureMedia(call, recipient, media, req.addressFamily ?? preferredFamily(recipient, media.index, media.family));
      mine.side.sinks = [theirs.side];
      theirs.side.sinks = [mine.side];
      // In an answer, `theirs` is the offerer and still holds the protocol it offered.
      const offeredProtocol = theirs.protocol;
      const leg = await this.settleCrypto(kind, media, mine, theirs, offeredProtocol, req);
      mine.protocol = media.protocol;
      theirs.protocol = leg.protocol;
      mine.side.policy = this.learningPolicy(req);
      const remote = remoteEndpoints(media, req, useSipSource);
      mine.side.rtp = remote.rtp;
      mine.side.rtcp = remote.rtcp;
      const plan = planMedia(kind, req.rtcpMux ?? [], media, mine, theirs);
      plan.crypto = leg.lines;
      plan.dtls = leg.dtls;
      plan.ice = await this.settleIce(call, recipient, media, mine, theirs, plan, req, kind);
      // Set only when there is one, so plain calls' media objects keep their shape (memory budget).
      if (kind === 'offer' && (media.mid !== undefined || mine.mid !== undefined)) mine.mid = media.mid;
      else if (kind === 'answer') plan.mid = theirs.mid;
      for (const side of [mine.side, theirs.side]) this.dataPlane.configure(side.id, side.config());
      // A zero address is the legacy "hold" signal; pass it on rather than inviting media the relay must drop.
      if (media.address !== undefined && isUnspecified(media.address) && !replace.has('zero-address')) plan.address = media.address;
      plans.push(plan);
    }

    const draft = {
      medias: plans,
      replaceOrigin: replace.has('origin') || replace.has('origin-full'),
      sessionLines: plans.some((p) => p.ice !== undefined) ? [ICE_LITE] : [],
      rtcpAttribute: rtcpAttribute(req),
    } as const;
    let out = rewriteSdp(sdp, draft);
    if (replace.has('sdp-version') || replace.has('force-increment-sdp-ver')) {
      const version = nextSdpVersion(recipient, out, sdp, replace.has('force-increment-sdp-ver'));
      out = rewriteSdp(sdp, { ...draft, originVersion: version });
    }
    return { sdp: out };
  }

  /** Round robin over the shards that fit: ones that run ICE/DTLS for calls that may need them, the others (if any) for the rest. */
  private pickShard(handshakes: boolean): number {
    const fitting = handshakes ? this.shardChoice.handshakes : this.shardChoice.others;
    if (fitting.length === 0) throw new RelayError('SRTP_INVALID', 'no forwarding thread here can run ICE or DTLS');
    return fitting[this.nextShard++ % fitting.length]!;
  }

  /**
   * SDES/OSRTP and DTLS-SRTP for this m= line. An offer gets the relay's a=crypto lines and, on a secure
   * profile, its DTLS actpass; an answer settles each leg's keys (SDES) or DTLS role and fingerprint.
   */
  private async settleCrypto(
    kind: SignalKind,
    media: SdpMedia,
    mine: MonologueMedia,
    theirs: MonologueMedia,
    offeredProtocol: string,
    req: SignalRequest,
  ): Promise<LegCrypto & { dtls?: string[] }> {
    const dtlsIn = participantDtls(media, req.dtls);
    // Plain calls keep no SDES state: an idle call's memory is a budget (issue 4: <= 4 KiB).
    if (!mine.sdes && !theirs.sdes && !mediaMayNeedSrtp(media, req)) return plainLeg(media, req.transportProtocol);
    mine.sdes ??= newSdesState();
    theirs.sdes ??= newSdesState();
    if (kind === 'offer') {
      const requested = req.transportProtocol;
      const dtlsOut = relayOffersDtls(media, req);
      const leg = offerCrypto(media, mine.sdes, theirs.sdes, requested, req.sdes ?? {}, req.osrtp ?? {}, { sender: dtlsIn !== undefined, recipient: dtlsOut });
      mine.dtlsParams = dtlsIn;
      if (!dtlsOut) {
        theirs.side.dtls = null;
        return leg;
      }
      // Ready for an answerer that starts the handshake before its answer reaches the relay.
      theirs.side.dtls ??= { role: 'server', fingerprint: null };
      const hash = req.dtlsFingerprint ?? dtlsIn?.fingerprint.hash ?? 'sha-256';
      return { ...leg, dtls: dtlsLines('actpass', hash, await this.fingerprint(hash)) };
    }
    // Only an answerer the relay offered DTLS to can have chosen it.
    const answererDtls = mine.side.dtls ? dtlsIn : undefined;
    const offererDtls = req.dtls === 'off' ? undefined : theirs.dtlsParams;
    const keying = { sender: offererDtls !== undefined, recipient: answererDtls !== undefined };
    const settled = answerCrypto(media, mine.sdes, theirs.sdes, offeredProtocol, req.transportProtocol, req.sdes ?? {}, req.osrtp ?? {}, keying);
    mine.dtlsParams = answererDtls;
    if (answererDtls) this.setDtls(mine, sideDtls(setupAgainst(answererDtls.setup), answererDtls.fingerprint));
    else {
      mine.side.dtls = null;
      mine.side.srtp = settled.answererSrtp;
    }
    if (!offererDtls) {
      theirs.side.dtls = null;
      theirs.side.srtp = settled.offererSrtp;
      return settled.leg;
    }
    const setup = answerSetup(offererDtls.setup, req.dtls, this.options.dtlsPassive);
    this.setDtls(theirs, sideDtls(setup, offererDtls.fingerprint));
    const hash = req.dtlsFingerprint ?? offererDtls.fingerprint.hash;
    return { ...settled.leg, dtls: dtlsLines(setup, hash, await this.fingerprint(hash)) };
  }

  /** Keys from a finished handshake survive a re-answer only if the peer's certificate and role are the same. */
  private setDtls(media: MonologueMedia, next: NonNullable<MediaSide['dtls']>): void {
    if (!sameAssociation(media.side.dtls, next)) media.side.srtp = null;
    media.side.dtls = next;
  }

  /**
   * ICE attributes for the recipient, when rtpengine's rules want them: a candidate on every address of
   * its interface (binding the extra ports the first time); the recipient's side answers the checks.
   */
  private async settleIce(
    call: Call,
    recipient: Monologue,
    media: SdpMedia,
    mine: MonologueMedia,
    theirs: MonologueMedia,
    plan: MediaPlan,
    req: SignalRequest,
    kind: SignalKind,
  ): Promise<string[] | undefined> {
    if (media.hasIce || mine.offeredIce !== undefined) mine.offeredIce = media.hasIce;
    if (!wantsIce(req.ice, media.hasIce, theirs.offeredIce === true)) {
      if (theirs.side.ice) theirs.side.ice = null;
      return undefined;
    }
    const side = theirs.side;
    if (!side.aliases) {
      side.aliases = [];
      for (const address of recipient.iface!.addresses) {
        if (address === side.address) continue;
        side.aliases.push({ address, rtpPort: await this.ports.allocate(side.id, call.shard, address.local, address.family, true) });
      }
    }
    theirs.iceCredentials ??= newCredentials();
    side.ice = theirs.iceCredentials;
    const muxed = plan.rtcpMuxOnly === true || (plan.rtcpMux && kind === 'answer');
    const candidates = [{ address: plan.address, rtpPort: plan.rtpPort, rtcpPort: plan.rtcpPort }, ...side.aliases.map((a) => ({ address: a.address.advertised, rtpPort: a.rtpPort, rtcpPort: a.rtpPort + 1 }))];
    return iceLines(
      theirs.iceCredentials,
      candidates.map((c) => ({ ...c, rtcpPort: muxed ? undefined : c.rtcpPort })),
      req.ice === 'force-relay',
    );
  }

  private async fingerprint(hash: string): Promise<string> {
    return fingerprintOf(await this.certificate, hash);
  }

  /** Learning flags describe the participant that sent this SDP. */
  private learningPolicy(req: SignalRequest): LearningPolicy {
    return learningPolicy(req.endpointLearning ?? this.options.endpointLearning, req.flags?.asymmetric ?? false, req.flags?.strictSource ?? false);
  }

  /** The participant's relay ports for this m= line, allocated on first use and kept for re-offers. */
  private async ensureMedia(call: Call, mono: Monologue, media: SdpMedia, family: AddressFamily | undefined): Promise<MonologueMedia> {
    const existing = mono.medias[media.index];
    if (existing) {
      existing.rejected = false;
      return existing;
    }
    const address = this.interfaces.address(mono.iface!, family);
    const id = this.nextSide++;
    const rtpPort = await this.ports.allocate(id, call.shard, address.local, address.family);
    const side = new MediaSide(id, call.shard, address, rtpPort, learningPolicy(this.options.endpointLearning, false, false));
    this.owners.set(id, mono);
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

  /** The forwarder finished a DTLS handshake: keep the keys, so later configures (and restarts) carry them. */
  private secured(event: SecuredEvent): void {
    const media = this.owners.get(event.side)?.medias.find((m) => m?.side.id === event.side);
    if (media) media.side.srtp = event.srtp;
  }

  private learned(event: LearnedEvent): void {
    const mono = this.owners.get(event.side);
    if (!mono) return;
    const mediaIndex = mono.medias.findIndex((m) => m?.side.id === event.side);
    const endpoint = endpointInfo(event.endpoint);
    this.log.debug({ callId: mono.callId, tag: mono.tag, mediaIndex, kind: event.kind, endpoint }, 'learned media source');
    this.emit('stream:learned', { callId: mono.callId, tag: mono.tag, mediaIndex, kind: event.kind, endpoint });
  }

  /** Pulls the data plane's exact counters and endpoints for the call's sides before describing it. */
  private async refreshedInfo(call: Call): Promise<CallInfo> {
    await this.refresh([...call.sides()]);
    return call.info(this.dataPlane.engineOf(call.shard));
  }

  private async refresh(sides: MediaSide[]): Promise<void> {
    const states = await this.dataPlane.read(sides.map((s) => s.id));
    for (const side of sides) {
      side.state = states.get(side.id) ?? side.state;
      side.lastPacketMs = Math.max(side.state.rtp.lastPacketMs, side.state.rtcp.lastPacketMs);
    }
  }

  /**
   * One sweep at a time. It asks the forwarders only for last-packet times (a flat array): building full
   * state for thousands of sides every second stole enough CPU from forwarding to show in p99 latency.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      const sides = [...this.calls.values()].flatMap((c) => [...c.sides()]);
      const times = await this.dataPlane.lastPackets(sides.map((s) => s.id));
      sides.forEach((side, i) => (side.lastPacketMs = times[i] ?? side.lastPacketMs));
      this.expire(Date.now());
      this.measureRates(await this.dataPlane.counters(), Date.now());
    } catch (err) {
      this.log.warn({ err }, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private measureRates(c: DataPlaneCounters, now: number): void {
    const prev = this.lastCounters;
    const seconds = (now - prev.at) / 1000;
    if (seconds <= 0) return;
    this.rates = { packetsIn: Math.round((c.packetsIn - prev.packetsIn) / seconds), packetsOut: Math.round((c.packetsOut - prev.packetsOut) / seconds) };
    this.lastCounters = { at: now, packetsIn: c.packetsIn, packetsOut: c.packetsOut };
  }

  private expire(now: number): void {
    for (const call of [...this.calls.values()]) {
      if (this.perCall.busy(call.callId)) continue;
      const timeoutMs = (call.answered ? this.options.timeout : this.options.offerTimeout) * 1000;
      if (call.deleteAt !== undefined) {
        if (now >= call.deleteAt) this.destroy(call, 'delete');
      } else if (timeoutMs > 0 && now - call.lastActivity() > timeoutMs) {
        this.log.info({ callId: call.callId, answered: call.answered }, 'call timed out: no media');
        this.emit('timeout', { callId: call.callId });
        this.destroy(call, 'timeout');
      }
    }
  }

  /** reason undefined: a call that never got established (failed first offer); no events. */
  private destroy(call: Call, reason: CallEndReason | undefined): void {
    if (this.calls.get(call.callId) !== call) return;
    this.calls.delete(call.callId);
    for (const side of call.sides()) {
      this.owners.delete(side.id);
      this.ports.release(side.id, side.address.local, side.rtpPort, side.aliases?.map((a) => ({ local: a.address.local, rtpPort: a.rtpPort })));
    }
    if (reason === undefined) return;
    if (reason === 'timeout') this.totals.timeout++;
    else if (reason === 'delete') this.totals.deleted++;
    else this.totals.forced++;
    this.log.info({ callId: call.callId, reason }, 'call deleted');
    this.emit('call:deleted', { callId: call.callId, reason });
  }
}

/** Calls without ICE or DTLS prefer the shards that cannot run them (the addon's, which are faster). */
function shardChoice(dataPlane: DataPlane): { handshakes: readonly number[]; others: readonly number[] } {
  const all = Array.from({ length: dataPlane.shards }, (_, i) => i);
  const others = all.filter((s) => !dataPlane.handshakeShards.includes(s));
  return { handshakes: dataPlane.handshakeShards, others: others.length > 0 ? others : all };
}
