/** Renders Relay results with rtpengine's reply key names, so existing ng clients parse them unchanged. */
import { DROP_REASONS, type EndpointInfo } from '../shared/vocabulary.js';
import type { CallInfo, QualityPoint, SsrcQuality, MediaInfo, RelayStatistics, StreamInfo, StreamStats, TagInfo } from '../api/requests.js';

export type NgReplyValue = string | number | NgReplyValue[] | { [key: string]: NgReplyValue | undefined };
export type NgReply = { result: string; [key: string]: NgReplyValue | undefined };

export function okReply(extra: Record<string, NgReplyValue | undefined> = {}): NgReply {
  return { result: 'ok', ...extra };
}

/** rtpengine: an error reply carries `error-reason` and nothing else. */
export function errorReply(reason: string): NgReply {
  return { result: 'error', 'error-reason': reason };
}

/** The `query` reply body (also appended to `delete` replies). */
export function callInfoReply(info: CallInfo): Record<string, NgReplyValue> {
  const tags: Record<string, NgReplyValue> = {};
  for (const tag of info.tags) tags[tag.tag] = tagReply(tag);
  return {
    created: info.created,
    'last signal': info.lastSignal,
    tags,
    totals: { RTP: statsReply(info.totals.RTP), RTCP: statsReply(info.totals.RTCP) },
    ...(info.ssrc ? { SSRC: Object.fromEntries(Object.entries(info.ssrc).map(([ssrc, q]) => [ssrc, ssrcReply(q)])) } : {}),
    // rtpengine's query has no DTMF; rtpbridge lists the latest key presses under its own key.
    ...(info.dtmf ? { DTMF: info.dtmf.map((p) => ({ tag: p.tag, event: p.event, digit: p.digit, duration: p.duration, volume: p.volume, timestamp: p.timestamp })) } : {}),
  };
}

/** rtpengine's keys, which Kamailio's mos_*_pv parameters read: MOS x 10, round-trip time in µs. */
function ssrcReply(q: SsrcQuality): Record<string, NgReplyValue> {
  const point = (p: Omit<QualityPoint, 'reportedAt'> & { reportedAt?: number }): Record<string, NgReplyValue | undefined> => ({
    MOS: p.mos,
    'round-trip time': p.rtt,
    jitter: p.jitter,
    'packet loss': p.packetLoss,
    'reported at': p.reportedAt,
  });
  return {
    'cumulative loss': q.cumulativeLoss,
    'average MOS': { ...point(q.average), samples: q.samples },
    'lowest MOS': point(q.lowest),
    'highest MOS': point(q.highest),
    'MOS progression': { interval: q.progression.interval, entries: q.progression.entries.map(point) },
  };
}

function tagReply(tag: TagInfo): Record<string, NgReplyValue | undefined> {
  return {
    tag: tag.tag,
    created: tag.created,
    label: tag.label,
    'in dialogue with': tag.inDialogueWith,
    medias: tag.medias.map(mediaReply),
  };
}

function mediaReply(m: MediaInfo): Record<string, NgReplyValue> {
  return { index: m.index, type: m.type, protocol: m.protocol, flags: m.flags, streams: m.streams.map(streamReply) };
}

function streamReply(s: StreamInfo): Record<string, NgReplyValue | undefined> {
  return {
    'local port': s.localPort,
    endpoint: s.endpoint && endpointReply(s.endpoint),
    'advertised endpoint': s.advertisedEndpoint && endpointReply(s.advertisedEndpoint),
    'last packet': s.lastPacket,
    flags: s.flags,
    stats: statsReply(s.stats),
    // Kamailio's per-side mos_A/mos_B parameters find a side's quality through this key.
    SSRC: s.ssrc,
  };
}

function endpointReply(e: EndpointInfo): Record<string, NgReplyValue> {
  return { family: e.family, address: e.address, port: e.port };
}

function statsReply(s: StreamStats): Record<string, NgReplyValue> {
  return { packets: s.packets, bytes: s.bytes, errors: s.errors };
}

/** Per-controller command counters, reported under `controlstatistics` like rtpengine. */
/** Proxies counted one by one; requests from further ones are counted under 'other'. */
const MAX_PROXIES = 256;

export class ControlStats {
  private readonly byProxy = new Map<string, Map<string, number>>();
  private readonly totals = new Map<string, number>();
  /** Seconds spent per proxy and command, for `request_seconds_total`. */
  private readonly seconds = new Map<string, Map<string, number>>();

  time(proxy: string, command: string, seconds: number): void {
    proxy = this.bounded(proxy);
    let times = this.seconds.get(proxy);
    if (!times) this.seconds.set(proxy, (times = new Map()));
    times.set(command, (times.get(command) ?? 0) + seconds);
  }

  /** Counts and seconds per proxy and command ('error' counts failed requests), for metrics. */
  entries(): Array<{ proxy: string; command: string; count: number; seconds: number }> {
    return [...this.byProxy].flatMap(([proxy, counts]) =>
      [...counts].map(([command, count]) => ({ proxy, command, count, seconds: this.seconds.get(proxy)?.get(command) ?? 0 })),
    );
  }

  count(proxy: string, key: string): void {
    proxy = this.bounded(proxy);
    let counts = this.byProxy.get(proxy);
    if (!counts) this.byProxy.set(proxy, (counts = new Map()));
    counts.set(key, (counts.get(key) ?? 0) + 1);
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
  }

  /** A request refused unexecuted because too many were in progress (`shedcount`). */
  shed(proxy: string): void {
    this.count(proxy, 'shed');
  }

  /** A forged stream of source addresses must not grow these tables. */
  private bounded(proxy: string): string {
    return this.byProxy.has(proxy) || this.byProxy.size < MAX_PROXIES ? proxy : 'other';
  }

  reply(): Record<string, NgReplyValue> {
    const proxies = [...this.byProxy].map(([proxy, counts]) => ({ proxy, ...countKeys(counts, '') }));
    return { proxies, ...countKeys(this.totals, 'total') };
  }
}

/** rtpengine's counter names: `offercount`, `totaloffercount`, `errorcount`... */
function countKeys(counts: Map<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of counts) out[`${prefix}${key.replace(/ /g, '')}count`] = n;
  return out;
}

export function statisticsReply(s: RelayStatistics, control: ControlStats): Record<string, NgReplyValue> {
  return {
    statistics: {
      currentstatistics: {
        sessionsown: s.currentSessions,
        sessionsforeign: s.foreignSessions,
        sessionstotal: s.currentSessions + s.foreignSessions,
        portpairsinuse: s.portPairsInUse,
        packetrate: s.packetRateOut,
        packetratein: s.packetRateIn,
      },
      totalstatistics: {
        uptime: String(s.uptime),
        managedsessions: s.managedSessions,
        timeoutsessions: s.timeoutSessions,
        regularterminatedsessions: s.regularTerminatedSessions,
        forcedterminatedsessions: s.forcedTerminatedSessions,
        relayedpackets: s.packetsOut,
        relayedbytes: s.bytesOut,
        relayedpacketerrors: Object.values(s.dropped).reduce((sum, n) => sum + n, 0),
        packetsreceived: s.packetsIn,
        bytesreceived: s.bytesIn,
        ...Object.fromEntries(DROP_REASONS.map((reason) => [`dropped${reason.toLowerCase()}`, s.dropped[reason]])),
        engine: s.engine,
        threads: s.threads,
      },
      controlstatistics: control.reply(),
    },
  };
}
