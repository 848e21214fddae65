/**
 * The native data plane: the C++ addon (native/, built at install time when a compiler is there) owns
 * the media sockets and forwards in its own threads with epoll + recvmmsg/sendmmsg, so packets never
 * enter JavaScript. This wrapper only adapts its synchronous calls to the DataPlane interface.
 */
import type { AddressFamily } from '../shared/vocabulary.js';
import { createRequire } from 'node:module';
import { RelayError, type RelayErrorCode } from '../errors.js';
import { srtpPairId, srtpPolicy, type SessionKeys, type SrtpKeyMaterial } from '../srtp/keys.js';
import { byteMapTable, isByteMap } from '../codecs/transcoder.js';
import { TAP_KINDS, type BindResult, type DataPlane, type DataPlaneCounters, type LearnedEvent, type TappedPacket, type SecuredEvent, type SideConfig, type SideId, type SideState } from './types.js';

/** The addon's Engine class (native/engine.cc). */
interface NativeEngine {
  bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number): BindResult;
  configure(side: SideId, config: NativeSideConfig): void;
  restore(side: SideId, state: SideState): void;
  release(side: SideId, wait: boolean): void;
  /** Wakes the forwarding threads for the releases posted since (the other commands need no wake-up). */
  flush(): void;
  read(sides: readonly SideId[]): Array<SideState | null>;
  lastPackets(sides: readonly SideId[]): Float64Array;
  counters(): DataPlaneCounters;
  close(): void;
}

/**
 * What the addon's configure() takes: SideConfig less what only the workers run (ICE, DTLS), with SRTP
 * keys already derived. The addon refuses an object whose keys are not exactly its Engine.configKeys.
 */
export interface NativeSideConfig {
  sinks: SideId[];
  mux: boolean;
  demux: boolean;
  policy: SideConfig['policy'];
  rtp: SideConfig['rtp'];
  rtcp: SideConfig['rtcp'];
  /** `id` names the keys, so the addon keeps its SRTP state (ROC, replay) while it stays the same. */
  srtp: { decrypt: NativeSrtp; encrypt: NativeSrtp; id: string } | null;
  dtmf: number[];
  blockDtmf: boolean;
  detectDtmf: boolean;
  /** The side's conversions, each a byte map (src/codecs/transcoder.ts isByteMap): the addon applies the table. */
  payloadMaps: Array<{ fromPt: number; toPt: number; table: Uint8Array }>;
}

export function nativeSideConfig(config: SideConfig): NativeSideConfig {
  const { sinks, mux, demux, policy, rtp, rtcp, srtp, dtmf, blockDtmf, detectDtmf, transcode } = config;
  return {
    sinks,
    mux,
    demux,
    policy,
    rtp,
    rtcp,
    srtp: srtp ? { decrypt: nativeSrtp(srtp.decrypt), encrypt: nativeSrtp(srtp.encrypt), id: srtpPairId(srtp) } : null,
    dtmf,
    blockDtmf,
    detectDtmf,
    payloadMaps: transcode.map((c) => ({ fromPt: c.fromPt, toPt: c.toPt, table: byteMapTable(c) })),
  };
}

/** A key as the addon's SRTP (native/srtp.h) takes it: session keys already derived. */
interface NativeSrtp {
  cipher: 'aes-cm' | 'aes-gcm' | 'null';
  rtpTag: number;
  rtcpTag: number;
  encryptRtp: boolean;
  encryptRtcp: boolean;
  authRtp: boolean;
  mki: number;
  rtp: { enc: Buffer; salt: Buffer; auth: Buffer };
  rtcp: { enc: Buffer; salt: Buffer; auth: Buffer };
}

function nativeSrtp(material: SrtpKeyMaterial): NativeSrtp {
  const p = srtpPolicy(material);
  const keys = (k: SessionKeys): NativeSrtp['rtp'] => ({ enc: k.encryption, salt: k.salt, auth: k.auth });
  return {
    cipher: p.suite.cipher,
    rtpTag: p.suite.srtpTagLength,
    rtcpTag: p.suite.srtcpTagLength,
    encryptRtp: p.encryptRtp,
    encryptRtcp: p.encryptRtcp,
    authRtp: p.authRtp,
    mki: p.mkiLength,
    rtp: keys(p.rtp),
    rtcp: keys(p.rtcp),
  };
}

export type EngineClass = {
  new (threads: number, onLearned: (side: SideId, kind: number, address: string, port: number) => void, onTapped: (side: SideId, kind: number, packet: Buffer, atMs: number) => void): NativeEngine;
  /** The keys configure() takes, and the drop reasons the addon counts, in its own words (native/engine.cc). */
  readonly configKeys: readonly string[];
  readonly dropReasons: readonly string[];
  readonly learningModes: readonly string[];
  /** The kinds of packet the addon copies to the control plane, by the number it passes (TAP_KINDS). */
  readonly tapKinds: readonly string[];
};

/** Both src/dataplane (tests) and dist/dataplane (installed) sit two levels below the package root. */
const ADDON_PATH = '../../build/Release/rtpbridge_native.node';

const RELAY_CODES = new Set<string>(['NO_INTERFACE', 'DATAPLANE_FAILED', 'SRTP_INVALID']);

/** How long released sockets may stay open before their forwarding thread is woken to close them. */
const RELEASE_WAKE_MS = 5;

export class NativeDataPlane implements DataPlane {
  readonly engine = 'native';
  readonly handshakeShards: readonly number[] = [];
  private readonly native: NativeEngine;
  private readonly learnedListeners: Array<(event: LearnedEvent) => void> = [];
  private readonly tapListeners: Array<(event: TappedPacket) => void> = [];
  private flushScheduled = false;

  constructor(
    Engine: EngineClass,
    readonly shards: number,
  ) {
    this.native = translateErrors(
      () =>
        new Engine(
          shards,
          (side, kind, address, port) => {
            const event: LearnedEvent = { side, kind: kind === 0 ? 'RTP' : 'RTCP', endpoint: { address, port } };
            for (const listener of this.learnedListeners) listener(event);
          },
          (side, kind, packet, atMs) => {
            const event: TappedPacket = { side, kind: TAP_KINDS[kind]!, packet, atMs };
            for (const listener of this.tapListeners) listener(event);
          },
        ),
    );
  }

  engineOf(): string {
    return this.engine;
  }

  async bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<BindResult> {
    // Alias pairs exist for ICE, whose calls the relay places on the workers; reaching here is a routing bug.
    if (alias) throw new RelayError('DATAPLANE_FAILED', 'the native data plane does not run ICE');
    return translateErrors(() => this.native.bind(side, shard, local, family, rtpPort));
  }

  configure(side: SideId, config: SideConfig): void {
    // The relay puts calls with ICE or DTLS on a worker shard (MixedDataPlane); reaching here is a routing bug.
    if (config.ice || config.dtls || !config.transcode.every(isByteMap) || config.inject || config.dtmfSecurity) {
      throw new RelayError('DATAPLANE_FAILED', 'the native data plane does not run ICE, DTLS, transcoding beyond the G.711 laws, DTMF injection or DTMF-security replacements');
    }
    translateErrors(() => this.native.configure(side, nativeSideConfig(config)));
  }

  restore(side: SideId, state: SideState): void {
    this.native.restore(side, state);
  }

  async release(side: SideId, rebindNow = false): Promise<void> {
    this.native.release(side, rebindNow);
    if (!rebindNow) this.closeSocketsSoon();
  }

  /**
   * Binds, configures and restores never wake a forwarding thread: the next packet it reads, on any of
   * its sockets, makes it take them in first. Released sockets need it awake to be closed, which can
   * wait a few milliseconds (a released port rests for seconds before it is handed out again): one
   * wake-up then serves every release of those milliseconds. With the relay on one core, each wake-up
   * is two context switches taken from the ng requests.
   */
  private closeSocketsSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => {
      this.flushScheduled = false;
      this.native.flush();
    }, RELEASE_WAKE_MS).unref();
  }

  async read(sides: readonly SideId[]): Promise<Map<SideId, SideState>> {
    const states = this.native.read(sides);
    const out = new Map<SideId, SideState>();
    sides.forEach((id, i) => {
      const state = states[i];
      if (state) out.set(id, state);
    });
    return out;
  }

  async lastPackets(sides: readonly SideId[]): Promise<Float64Array> {
    return this.native.lastPackets(sides);
  }

  async counters(): Promise<DataPlaneCounters> {
    return this.native.counters();
  }

  onLearned(listener: (event: LearnedEvent) => void): void {
    this.learnedListeners.push(listener);
  }

  onTapped(listener: (event: TappedPacket) => void): void {
    this.tapListeners.push(listener);
  }

  /** Never secures anything: DTLS calls live on the workers. */
  onSecured(_listener: (event: SecuredEvent) => void): void {}

  /** Calls marked for DTMF injection live on the workers; reaching here is a routing bug. */
  playDtmf(): Promise<boolean> {
    return Promise.reject(new RelayError('DATAPLANE_FAILED', 'the native data plane does not inject DTMF'));
  }

  setDtlsIdentity(): void {}

  async close(): Promise<void> {
    this.native.close();
  }
}

/** The addon throws plain Errors with a `code`; the rest of rtpbridge expects RelayError for its own codes. */
function translateErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && RELAY_CODES.has(code)) throw new RelayError(code as RelayErrorCode, (err as Error).message, { cause: err });
    throw err;
  }
}

/**
 * The native data plane, or undefined (never an exception) when the addon was not built, does not load
 * on this system, or RTPBRIDGE_NATIVE=0 asks for the TypeScript workers.
 */
export function loadNativeDataPlane(threads: number): DataPlane | undefined {
  if (process.env.RTPBRIDGE_NATIVE === '0') return undefined;
  try {
    const { Engine } = createRequire(import.meta.url)(ADDON_PATH) as { Engine: EngineClass };
    return new NativeDataPlane(Engine, threads);
  } catch {
    return undefined;
  }
}
