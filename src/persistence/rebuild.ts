/** A call model rebuilt from its snapshot, with fresh side ids and no ports bound yet. */
import { Call, Monologue, type MonologueMedia } from '../call/call.js';
import type { SideId, SideState } from '../dataplane/types.js';
import { learningPolicy } from '../dataplane/policy.js';
import type { InterfaceSet } from '../media/interfaces.js';
import { MediaSide } from '../media/media-side.js';
import type { SdesCrypto } from '../sdp/crypto.js';
import type { InterfaceAddress, LogicalInterface } from '../shared/vocabulary.js';
import { suiteByName } from '../srtp/suites.js';
import type { DtmfSecurity } from '../dtmf/security.js';
import { keyFromSnapshot, SnapshotError, type CallSnapshot, type CryptoSnapshot, type MediaSnapshot } from './snapshot.js';

export interface RebuiltCall {
  call: Call;
  /** What the data plane had learned and counted, per new side id. */
  states: Map<SideId, SideState>;
}

export function rebuildCall(s: CallSnapshot, shard: number, interfaces: InterfaceSet, nextSideId: () => SideId): RebuiltCall {
  const call = new Call(s.callId, s.created, shard);
  call.lastSignal = s.lastSignal;
  call.answered = s.answered;
  call.deleteAt = s.deleteAt;
  const states = new Map<SideId, SideState>();
  for (const m of s.monologues) {
    const mono = new Monologue(s.callId, m.tag, m.created);
    mono.label = m.label;
    mono.sdpHistory = m.sdpHistory;
    if (m.iface !== undefined) mono.iface = interfaces.resolve(m.iface);
    call.monologues.push(mono);
    m.medias.forEach((media, index) => {
      if (!media) return;
      if (!mono.iface) throw new SnapshotError(`participant '${m.tag}' has media but no interface`);
      mono.medias[index] = rebuildMedia(media, mono.iface, nextSideId(), states);
    });
  }
  s.monologues.forEach((m, i) => {
    const mono = call.monologues[i]!;
    if (m.peer !== undefined) mono.peer = call.monologues[m.peer];
    m.medias.forEach((media, index) => {
      if (!media) return;
      mono.medias[index]!.side.sinks = media.side.sinks.map(([mi, ii]) => {
        const sink = call.monologues[mi]?.medias[ii];
        if (!sink) throw new SnapshotError(`sink ${mi}/${ii} does not exist`);
        return sink.side;
      });
    });
  });
  return { call, states };
}

/** The configured address the snapshot names; one that is no longer configured cannot be taken over. */
function configured(iface: LogicalInterface, address: InterfaceAddress): InterfaceAddress {
  const found = iface.addresses.find((a) => a.local === address.local && a.family === address.family);
  if (!found) throw new SnapshotError(`address ${address.local} is no longer on interface '${iface.name}'`);
  return found;
}

function rebuildMedia(m: MediaSnapshot, iface: LogicalInterface, id: SideId, states: Map<SideId, SideState>): MonologueMedia {
  const s = m.side;
  const address = configured(iface, m.address);
  const side = new MediaSide(id, address, s.rtpPort, learningPolicy(s.policy.mode, s.policy.asymmetric, s.policy.strictSource));
  side.mux = s.mux;
  side.demux = s.demux ?? (s.mux || m.muxOffered);
  if (s.dtmf) side.dtmf = s.dtmf;
  side.blockDtmf = s.blockDtmf === true;
  if (s.dtmfSecurity) side.dtmfSecurity = dtmfSecurity(s.dtmfSecurity);
  side.detectDtmf = s.detectDtmf === true;
  if (s.transcode) side.transcode = s.transcode;
  if (s.inject) side.inject = s.inject;
  if (s.codecs) side.codecs = s.codecs;
  side.rtp = s.rtp;
  side.rtcp = s.rtcp;
  side.srtp = s.srtp ? { decrypt: keyFromSnapshot(s.srtp.decrypt), encrypt: keyFromSnapshot(s.srtp.encrypt) } : null;
  if (s.ice) side.ice = s.ice;
  if (s.dtls) side.dtls = s.dtls;
  if (s.aliases) side.aliases = s.aliases.map((a) => ({ address: configured(iface, a.address), rtpPort: a.rtpPort }));
  if (s.state) states.set(id, resumed(s.state));
  const media: MonologueMedia = { type: m.type, protocol: m.protocol, rejected: m.rejected, address, side, muxOffered: m.muxOffered, muxPolicy: m.muxPolicy };
  if (m.mid !== undefined) media.mid = m.mid;
  media.signalled = m.signalled ?? true;
  if (m.offeredIce !== undefined) media.offeredIce = m.offeredIce;
  if (m.addedCodecs) media.addedCodecs = m.addedCodecs;
  if (m.ptime !== undefined) media.ptime = m.ptime;
  if (m.iceCredentials) media.iceCredentials = m.iceCredentials;
  if (m.dtlsParams) media.dtlsParams = m.dtlsParams;
  if (m.sdes) {
    media.sdes = {
      theirs: m.sdes.theirs.map(crypto),
      ours: m.sdes.ours.map(crypto),
      keys: new Map(Object.entries(m.sdes.keys).map(([suite, key]) => [suite, Buffer.from(key, 'base64')])),
      options: m.sdes.options,
      osrtp: m.sdes.osrtp,
    };
  }
  return media;
}

/**
 * SRTCP indexes the relay sends from are its own count, and the snapshot may be up to
 * --redis-srtp-refresh seconds old: resuming from it could reuse indexes the receiver has seen (and
 * drops as replays). Far more RTCP than any stream sends in that time, and nothing next to 2^31.
 */
const SRTCP_RESUME_MARGIN = 65_536;

function resumed(state: SideState): SideState {
  if (!state.srtp) return state;
  const { encrypt } = state.srtp;
  return { ...state, srtp: { ...state.srtp, encrypt: { ...encrypt, srtcpIndex: (encrypt.srtcpIndex + SRTCP_RESUME_MARGIN) % 0x8000_0000 } } };
}

function crypto(c: CryptoSnapshot): SdesCrypto {
  const suite = suiteByName(c.suite);
  if (!suite) throw new SnapshotError(`unknown SRTP suite ${c.suite}`);
  return { tag: c.tag, suite, keySalt: Buffer.from(c.keySalt, 'base64'), lifetime: c.lifetime, mkiLength: c.mkiLength, params: c.params };
}

/** A side's `DTMF-security`; snapshots before tone lists held one `frequency`. */
function dtmfSecurity(saved: Omit<DtmfSecurity, 'frequencies'> & { frequencies?: number[]; frequency?: number }): DtmfSecurity {
  const { frequency, ...security } = saved;
  return { ...security, frequencies: security.frequencies ?? [frequency ?? 400] };
}
