import type { Endpoint, InterfaceAddress, LogicalInterface } from '../shared/vocabulary.js';
import { RelayError } from '../errors.js';
import type { SideIce, StreamState } from '../dataplane/types.js';
import type { DtlsParams } from '../offer-answer/dtls.js';
import type { MediaSide } from '../media/media-side.js';
import type { SdesState } from '../offer-answer/sdes.js';
import { endpointInfo } from '../util/address.js';
import type { CallQuality } from '../quality/tracker.js';
import type { DtmfDetector } from '../dtmf/detector.js';
import type { DtmfPress } from '../dtmf/press.js';
import type { AddedCodec } from '../codecs/transcoding.js';
import type { CallInfo, DtmfInfo, MediaInfo, StreamInfo, StreamStats, TagInfo } from '../api/requests.js';

/** One m= line as seen from one participant, with the relay ports that face that participant. */
export interface MonologueMedia {
  type: string;
  protocol: string;
  rejected: boolean;
  address: InterfaceAddress;
  side: MediaSide;
  /** rtcp-mux negotiation: this participant was offered mux (by itself or by the relay). */
  muxOffered: boolean;
  /** The offerer's rtcp-mux flags: follow the answerer, always accept, or refuse. */
  muxPolicy: 'follow' | 'accept' | 'reject';
  /** Created the first time this m= line involves SRTP; plain calls never carry it. */
  sdes?: SdesState;
  /** The participant's DTLS-SRTP parameters from its last SDP; undefined when it does not do DTLS. */
  dtlsParams?: DtlsParams;
  /** The relay's ICE credentials towards this participant, kept across re-offers. */
  iceCredentials?: SideIce;
  /** The participant's last SDP had ICE attributes: `ICE=default` keeps talking ICE to it. */
  offeredIce?: boolean;
  /** a=mid of the participant's offer, repeated in the answer it gets. */
  mid?: string;
  /**
   * The participant has sent SDP for this m= line. Until then nothing it (or anyone) sends to its port
   * is forwarded: before the callee answers, the callee-facing port is no way to reach the caller.
   */
  signalled?: boolean;
  /** Codecs the relay added to the offer this participant was sent (`transcode`), converted if it picks one. */
  addedCodecs?: AddedCodec[];
  /** Milliseconds of audio per packet the relay sends this participant (`ptime`, `ptime-reverse`). */
  ptime?: number;
}

/** What was last sent to a participant, so `replace: SDP-version` can tell whether the SDP changed. */
export interface SdpHistory {
  body: string;
  version: number;
}

/** One call participant, identified by its SIP tag ('' until the answer names it). */
export class Monologue {
  label: string | undefined;
  peer: Monologue | undefined;
  iface: LogicalInterface | undefined;
  readonly medias: Array<MonologueMedia | undefined> = [];
  sdpHistory: SdpHistory | undefined;

  constructor(
    readonly callId: string,
    public tag: string,
    readonly created: number,
  ) {}

  /** `ssrcOf`: the SSRC a side sends, where the call's RTCP has named it. */
  info(ssrcOf: (side: number) => number | undefined = () => undefined): TagInfo {
    return {
      tag: this.tag,
      created: Math.floor(this.created / 1000),
      label: this.label,
      inDialogueWith: this.peer?.tag,
      medias: this.medias.flatMap((m, i) => (m ? [mediaInfo(m, i, ssrcOf(m.side.id))] : [])),
    };
  }
}

export class Call {
  /** Participants; a call has two or three, so a list beats a Map's hash table for memory per idle call. */
  readonly monologues: Monologue[] = [];
  lastSignal: number;
  /** An answer was seen: from then on silence means the call is dead (`timeout`), before it ringing (`offer-timeout`). */
  answered = false;
  /** Set by `delete` with a delay: the call keeps relaying until then. */
  deleteAt: number | undefined;
  /** Quality per SSRC from the RTCP that passed; `declare`d so calls without RTCP carry no slot. */
  declare quality?: CallQuality;
  /** DTMF read from the participants' telephone events; made at the first one. */
  declare dtmf?: DtmfDetector;

  constructor(
    readonly callId: string,
    readonly created: number,
    /** The forwarding thread all of this call's ports live on (a packet leaves by its sink's socket); placement may move it. */
    public shard: number,
  ) {
    this.lastSignal = created;
  }

  *sides(): Iterable<MediaSide> {
    for (const mono of this.monologues) for (const m of mono.medias) if (m) yield m.side;
  }

  /** Latest signalling or media, whichever is newer: the reference for the no-media timeout. */
  lastActivity(): number {
    let last = this.lastSignal;
    for (const side of this.sides()) last = Math.max(last, side.lastPacketMs);
    return last;
  }

  /** The offerer is the from-tag; its peer is the to-tag if known, else a participant not yet tagged (''). */
  offerParties(fromTag: string, toTag: string | undefined): { sender: Monologue; recipient: Monologue } {
    const sender = this.monologue(fromTag) ?? this.add(fromTag);
    const recipient = (toTag ? this.monologue(toTag) : undefined) ?? sender.peer ?? this.monologue('') ?? this.add('');
    // The pending ('') participant learns its tag from an in-dialogue offer.
    if (toTag && recipient.tag === '') recipient.tag = toTag;
    link(sender, recipient);
    return { sender, recipient };
  }

  /**
   * The answerer is the to-tag. A new to-tag takes over the offer's pending participant; when a
   * second fork answers with another to-tag, media follows the latest answer.
   */
  answerParties(fromTag: string, toTag: string): { sender: Monologue; recipient: Monologue } {
    const recipient = this.monologue(fromTag);
    if (!recipient) throw new RelayError('TAG_NOT_FOUND', `Unknown tag '${fromTag}'`);
    let sender = this.monologue(toTag);
    if (!sender || sender === recipient) {
      sender = recipient.peer;
      if (!sender) throw new RelayError('TAG_NOT_FOUND', `no offer to answer for tag '${fromTag}'`);
      // The pending participant gets its tag; a later fork's answer takes the tag over (media follows it).
      sender.tag = toTag;
    }
    link(sender, recipient);
    return { sender, recipient };
  }

  monologue(tag: string): Monologue | undefined {
    return this.monologues.find((m) => m.tag === tag);
  }

  private add(tag: string): Monologue {
    const mono = new Monologue(this.callId, tag, Date.now());
    this.monologues.push(mono);
    return mono;
  }

  info(engine: string): CallInfo {
    const totals = { RTP: zeroStats(), RTCP: zeroStats() };
    for (const side of this.sides()) {
      addStats(totals.RTP, side.state.rtp);
      addStats(totals.RTCP, side.state.rtcp);
    }
    return {
      callId: this.callId,
      engine,
      created: Math.floor(this.created / 1000),
      lastSignal: Math.floor(this.lastSignal / 1000),
      tags: this.monologues.map((m) => m.info((side) => this.quality?.ssrcOf(side))),
      totals,
      ...(this.quality ? { ssrc: Object.fromEntries([...this.quality.report()].map(([ssrc, q]) => [String(ssrc), q])) } : {}),
      ...(this.dtmf?.presses.length ? { dtmf: this.dtmf.presses.map((p) => this.dtmfInfo(p.side, p)) } : {}),
    };
  }

  /** A press as reported, with the tag of the participant behind `side`. */
  dtmfInfo(side: number, press: DtmfPress): DtmfInfo {
    const tag = this.monologues.find((m) => m.medias.some((media) => media?.side.id === side))?.tag ?? '';
    return { tag, event: press.event, digit: press.digit, duration: press.duration, volume: press.volume, timestamp: press.at };
  }
}

function link(a: Monologue, b: Monologue): void {
  a.peer = b;
  b.peer = a;
}

function mediaInfo(m: MonologueMedia, index: number, ssrc: number | undefined): MediaInfo {
  const flags = ['initialized'];
  if (m.side.mux) flags.push('rtcp-mux');
  return {
    index: index + 1,
    type: m.type,
    protocol: m.protocol,
    flags,
    streams: [{ ...streamInfo('RTP', m.side.state.rtp, m.side.rtp, m.side.rtpPort, m.address), ...(ssrc === undefined ? {} : { ssrc }) }, streamInfo('RTCP', m.side.state.rtcp, m.side.rtcp, m.side.rtcpPort, m.address)],
  };
}

function streamInfo(kind: 'RTP' | 'RTCP', s: StreamState, advertised: Endpoint | null, localPort: number, address: InterfaceAddress): StreamInfo {
  const flags: string[] = [kind];
  if (s.endpoint) flags.push('filled');
  if (s.confirmed) flags.push('confirmed');
  return {
    kind,
    localPort,
    localAddress: address.local,
    endpoint: s.endpoint ? endpointInfo(s.endpoint) : undefined,
    advertisedEndpoint: advertised ? endpointInfo(advertised) : undefined,
    lastPacket: Math.floor(s.lastPacketMs / 1000),
    flags,
    stats: { packets: s.packets, bytes: s.bytes, errors: s.errors },
  };
}

function zeroStats(): StreamStats {
  return { packets: 0, bytes: 0, errors: 0 };
}

function addStats(into: StreamStats, s: StreamState): void {
  into.packets += s.packets;
  into.bytes += s.bytes;
  into.errors += s.errors;
}
