/**
 * A call as it is kept in Redis: everything needed to take the call over on the same ports after a
 * restart (or on another relay) without new signalling: participants, their relay ports and
 * addresses, negotiation state (SDES keys, DTLS parameters and exported keys, ICE credentials,
 * rtcp-mux) and what the data plane had learned. The format is ours, JSON, versioned by `v`;
 * a value of another version or shape is refused whole, never half-restored.
 */
import type { Call, MonologueMedia } from '../call/call.js';
import type { SideDtls, SideIce, SideState, StreamState } from '../dataplane/types.js';
import type { OsrtpOptions, SdesOptions } from '../api/requests.js';
import type { SdesCrypto } from '../sdp/crypto.js';
import type { InterfaceAddress, Endpoint, EndpointLearning } from '../shared/vocabulary.js';
import type { SrtpKeyMaterial, SrtpKeyPair } from '../srtp/keys.js';
import type { DtlsParams } from '../offer-answer/dtls.js';
import type { SdpHistory } from '../call/call.js';
import type { DtmfFormat } from '../codecs/format.js';
import type { AddedCodec } from '../codecs/transcoding.js';
import type { Conversion } from '../codecs/transcoder.js';
import type { AudioFormat } from '../codecs/stand-in.js';
import type { InjectionTarget } from '../dtmf/injector.js';
import type { DtmfSecurity } from '../dtmf/security.js';

export const SNAPSHOT_VERSION = 1;

export interface CallSnapshot {
  v: typeof SNAPSHOT_VERSION;
  callId: string;
  created: number;
  lastSignal: number;
  answered: boolean;
  deleteAt?: number;
  monologues: MonologueSnapshot[];
}

export interface MonologueSnapshot {
  tag: string;
  created: number;
  label?: string;
  /** Name of the logical interface the participant's ports are on. */
  iface?: string;
  /** Index in `monologues` of the participant it is in dialogue with. */
  peer?: number;
  sdpHistory?: SdpHistory;
  medias: Array<MediaSnapshot | null>;
}

export interface MediaSnapshot {
  type: string;
  protocol: string;
  rejected: boolean;
  address: InterfaceAddress;
  muxOffered: boolean;
  /** Absent in snapshots from before it was kept: those were signalled (taken as so). */
  signalled?: boolean;
  muxPolicy: MonologueMedia['muxPolicy'];
  mid?: string;
  offeredIce?: boolean;
  /** Codecs the relay added to the offer this participant got (`transcode`). */
  addedCodecs?: AddedCodec[];
  /** The packet time the relay holds the participant to (`ptime`). */
  ptime?: number;
  iceCredentials?: SideIce;
  dtlsParams?: DtlsParams;
  sdes?: SdesSnapshot;
  side: SideSnapshot;
}

interface SdesSnapshot {
  theirs: CryptoSnapshot[];
  ours: CryptoSnapshot[];
  /** Suite name -> the relay's key and salt, base64. */
  keys: Record<string, string>;
  options: SdesOptions;
  osrtp: OsrtpOptions;
}

interface CryptoSnapshot {
  tag: number;
  suite: string;
  keySalt: string;
  lifetime: string;
  mkiLength: number;
  params: string[];
}

interface KeySnapshot extends Omit<SrtpKeyMaterial, 'masterKey' | 'masterSalt'> {
  masterKey: string;
  masterSalt: string;
}

export interface SideSnapshot {
  rtpPort: number;
  mux: boolean;
  /** Absent in older snapshots: derived from mux and muxOffered. */
  demux?: boolean;
  /** Telephone-event payload types and clock rates, when the SDP had any (DTMF is read from them). */
  dtmf?: DtmfFormat[];
  /** Present (true) while the participant's telephone events are blocked. */
  blockDtmf?: boolean;
  /** Present while they are blocked by replacement (`DTMF-security`). */
  dtmfSecurity?: DtmfSecurity;
  /** Present (true) while its audio is listened to for DTMF tones. */
  detectDtmf?: boolean;
  /** The conversions of what is sent to the participant, while converting. */
  transcode?: Conversion[];
  /** How `play DTMF` reaches the participant, when the call was marked with `inject DTMF`. */
  inject?: InjectionTarget;
  /** The codecs its SDP put on dynamic payload types, when there were any the relay codes. */
  codecs?: AudioFormat[];
  policy: { mode: EndpointLearning; asymmetric: boolean; strictSource: boolean };
  rtp: Endpoint | null;
  rtcp: Endpoint | null;
  srtp: { decrypt: KeySnapshot; encrypt: KeySnapshot } | null;
  ice: SideIce | null;
  dtls: SideDtls | null;
  aliases?: Array<{ address: InterfaceAddress; rtpPort: number }>;
  /** [monologue index, m= line index] of each sink. */
  sinks: Array<[number, number]>;
  /** What the data plane had counted and learned when the snapshot was taken. */
  state?: SideState;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function keySnapshot(k: SrtpKeyMaterial): KeySnapshot {
  return { ...k, masterKey: b64(k.masterKey), masterSalt: b64(k.masterSalt) };
}

export function keyPairSnapshot(pair: SrtpKeyPair | null): SideSnapshot['srtp'] {
  return pair ? { decrypt: keySnapshot(pair.decrypt), encrypt: keySnapshot(pair.encrypt) } : null;
}

function cryptoSnapshot(c: SdesCrypto): CryptoSnapshot {
  return { tag: c.tag, suite: c.suite.name, keySalt: b64(c.keySalt), lifetime: c.lifetime, mkiLength: c.mkiLength, params: c.params };
}

/** The call as JSON, with each side's data-plane state as just read. */
export function snapshotCall(call: Call, states: ReadonlyMap<number, SideState>): CallSnapshot {
  const position = new Map<MonologueMedia['side'], [number, number]>();
  call.monologues.forEach((mono, m) => mono.medias.forEach((media, i) => media && position.set(media.side, [m, i])));
  return {
    v: SNAPSHOT_VERSION,
    callId: call.callId,
    created: call.created,
    lastSignal: call.lastSignal,
    answered: call.answered,
    ...(call.deleteAt !== undefined ? { deleteAt: call.deleteAt } : {}),
    monologues: call.monologues.map((mono) => ({
      tag: mono.tag,
      created: mono.created,
      ...(mono.label !== undefined ? { label: mono.label } : {}),
      ...(mono.iface ? { iface: mono.iface.name } : {}),
      ...(mono.peer ? { peer: call.monologues.indexOf(mono.peer) } : {}),
      ...(mono.sdpHistory ? { sdpHistory: mono.sdpHistory } : {}),
      medias: mono.medias.map((m) => (m ? mediaSnapshot(m, position, states) : null)),
    })),
  };
}

function mediaSnapshot(m: MonologueMedia, position: Map<MonologueMedia['side'], [number, number]>, states: ReadonlyMap<number, SideState>): MediaSnapshot {
  const side = m.side;
  const state = states.get(side.id);
  return {
    type: m.type,
    protocol: m.protocol,
    rejected: m.rejected,
    address: m.address,
    muxOffered: m.muxOffered,
    ...(m.signalled !== undefined ? { signalled: m.signalled } : {}),
    muxPolicy: m.muxPolicy,
    ...(m.mid !== undefined ? { mid: m.mid } : {}),
    ...(m.offeredIce !== undefined ? { offeredIce: m.offeredIce } : {}),
    ...(m.addedCodecs ? { addedCodecs: m.addedCodecs } : {}),
    ...(m.ptime !== undefined ? { ptime: m.ptime } : {}),
    ...(m.iceCredentials ? { iceCredentials: m.iceCredentials } : {}),
    ...(m.dtlsParams ? { dtlsParams: m.dtlsParams } : {}),
    ...(m.sdes
      ? {
          sdes: {
            theirs: m.sdes.theirs.map(cryptoSnapshot),
            ours: m.sdes.ours.map(cryptoSnapshot),
            keys: Object.fromEntries([...m.sdes.keys].map(([suite, key]) => [suite, b64(key)])),
            options: m.sdes.options,
            osrtp: m.sdes.osrtp,
          },
        }
      : {}),
    side: {
      rtpPort: side.rtpPort,
      mux: side.mux,
      demux: side.demux,
      ...(side.dtmf.length > 0 ? { dtmf: [...side.dtmf] } : {}),
      ...(side.blockDtmf ? { blockDtmf: true } : {}),
      ...(side.dtmfSecurity ? { dtmfSecurity: side.dtmfSecurity } : {}),
      ...(side.detectDtmf ? { detectDtmf: true } : {}),
      ...(side.transcode ? { transcode: side.transcode } : {}),
      ...(side.inject ? { inject: side.inject } : {}),
      ...(side.codecs ? { codecs: [...side.codecs] } : {}),
      policy: { mode: side.policy.mode, asymmetric: side.policy.asymmetric, strictSource: side.policy.strictSource },
      rtp: side.rtp,
      rtcp: side.rtcp,
      srtp: keyPairSnapshot(side.srtp),
      ice: side.ice ?? null,
      dtls: side.dtls ?? null,
      ...(side.aliases ? { aliases: side.aliases } : {}),
      sinks: side.sinks.flatMap((sink) => {
        const at = position.get(sink);
        return at ? [at] : [];
      }),
      ...(state ? { state } : {}),
    },
  };
}

/** Why a stored value cannot be restored. */
export class SnapshotError extends Error {}

/** Parses and checks a stored value; throws SnapshotError for anything but a well-formed current-version snapshot. */
export function parseSnapshot(text: string): CallSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SnapshotError('not JSON');
  }
  const s = value as Partial<CallSnapshot> | null;
  if (typeof s !== 'object' || s === null) throw new SnapshotError('not an object');
  if (s.v !== SNAPSHOT_VERSION) throw new SnapshotError(`format version ${String(s.v)}, this relay reads ${SNAPSHOT_VERSION}`);
  if (typeof s.callId !== 'string' || typeof s.created !== 'number' || !Array.isArray(s.monologues)) throw new SnapshotError('missing call fields');
  for (const mono of s.monologues) {
    if (typeof mono?.tag !== 'string' || !Array.isArray(mono.medias)) throw new SnapshotError('malformed participant');
    for (const media of mono.medias) {
      if (media === null) continue;
      const port = media?.side?.rtpPort;
      if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65534 || typeof media.address?.local !== 'string') {
        throw new SnapshotError('malformed media');
      }
      if (!Array.isArray(media.side.sinks)) throw new SnapshotError('malformed sinks');
    }
  }
  return s as CallSnapshot;
}

export function keyFromSnapshot(k: KeySnapshot): SrtpKeyMaterial {
  return { ...k, masterKey: Buffer.from(k.masterKey, 'base64'), masterSalt: Buffer.from(k.masterSalt, 'base64') };
}

export type { CryptoSnapshot, KeySnapshot, SdesSnapshot, StreamState };
