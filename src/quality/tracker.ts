/**
 * Call quality per SSRC from the RTCP that passes the relay: each report block about a stream gives a
 * sample (loss, jitter, round-trip time, MOS); the call keeps their average, lowest and highest, as
 * rtpengine reports them under `SSRC` in query and delete replies.
 */
import { mos } from './mos.js';
import { parseRtcp } from './rtcp.js';

/** Audio is sampled at 8 kHz unless known otherwise: jitter arrives in RTP timestamp units. */
const CLOCK_RATE = 8000;
/** Sender reports remembered per SSRC, to match the LSR of the blocks that answer them. */
const REMEMBERED_SRS = 8;
/** Samples kept per SSRC for the progression; past this every other one goes, so they still span the call. */
const MAX_POINTS = 100;
/** SSRCs tracked per call; a forged stream of new ones cannot grow a call's memory past this. */
const MAX_SSRCS = 32;
/** About this many entries in a progression, as rtpengine aims for. */
const PROGRESSION_ENTRIES = 10;

export interface QualityPoint {
  /** MOS x 10, rounded, as rtpengine reports it. */
  mos: number;
  /** Microseconds. */
  rtt: number;
  /** Milliseconds. */
  jitter: number;
  /** Percent. */
  packetLoss: number;
  /** Unix seconds. */
  reportedAt: number;
}

export interface SsrcQuality {
  cumulativeLoss: number;
  samples: number;
  average: Omit<QualityPoint, 'reportedAt'>;
  lowest: QualityPoint;
  highest: QualityPoint;
  /** About ten samples spread over the call, `interval` seconds apart. */
  progression: { interval: number; entries: QualityPoint[] };
}

interface Tracked {
  cumulativeLoss: number;
  count: number;
  sums: { mos: number; rtt: number; jitter: number; packetLoss: number };
  lowest: QualityPoint;
  highest: QualityPoint;
  points: QualityPoint[];
}

/** Relay-wide sums over every quality sample so far (Prometheus `mos_total`, `jitter_total`...). */
export class QualityTotals {
  samples = 0;
  /** MOS, and jitter (ms), packet loss (%) and round-trip time (s), each with the sum of its squares. */
  readonly sums = { mos: 0, mos2: 0, jitter: 0, jitter2: 0, packetloss: 0, packetloss2: 0, rtt: 0, rtt2: 0 };

  add(p: QualityPoint): void {
    const m = p.mos / 10;
    const rtt = p.rtt / 1e6;
    this.samples++;
    this.sums.mos += m;
    this.sums.mos2 += m * m;
    this.sums.jitter += p.jitter;
    this.sums.jitter2 += p.jitter * p.jitter;
    this.sums.packetloss += p.packetLoss;
    this.sums.packetloss2 += p.packetLoss * p.packetLoss;
    this.sums.rtt += rtt;
    this.sums.rtt2 += rtt * rtt;
  }
}

export class CallQuality {
  private readonly bySsrc = new Map<number, Tracked>();

  constructor(private readonly totals?: QualityTotals) {}
  /** When the relay saw each recent SR (by sender SSRC, then NTP middle 32 bits): the far end of RTT. */
  private readonly srSeen = new Map<number, Map<number, number>>();
  /** The SSRC each side of the call sends, by side id: the one its own reports name as sender. */
  private readonly sent = new Map<number, number>();

  /** One RTCP packet (decrypted) that reached the relay on `side` at `atMs`. */
  receive(packet: Buffer, atMs: number, side: number): void {
    const { senderReports, blocks } = parseRtcp(packet);
    const sender = senderReports[0]?.ssrc ?? blocks[0]?.reporter;
    if (sender !== undefined) this.sent.set(side, sender);
    for (const sr of senderReports) {
      let seen = this.srSeen.get(sr.ssrc);
      if (!seen) {
        if (this.srSeen.size >= MAX_SSRCS) continue;
        this.srSeen.set(sr.ssrc, (seen = new Map()));
      }
      seen.set(sr.ntpMiddle, atMs);
      if (seen.size > REMEMBERED_SRS) seen.delete(seen.keys().next().value!);
    }
    for (const { block } of blocks) {
      // The leg from the relay to the reporter and back: now, less when the SR passed, less its delay.
      const srAt = block.lsr === 0 ? undefined : this.srSeen.get(block.ssrc)?.get(block.lsr);
      const rttMs = srAt === undefined ? 0 : Math.max(0, atMs - srAt - (block.dlsr / 65536) * 1000);
      const jitterMs = (block.jitter / CLOCK_RATE) * 1000;
      const lossPercent = (block.fractionLost / 256) * 100;
      this.add(block.ssrc, block.cumulativeLost, {
        mos: Math.round(mos({ rttMs, jitterMs, lossPercent }) * 10),
        rtt: Math.round(rttMs * 1000),
        jitter: Math.round(jitterMs),
        packetLoss: Math.round(lossPercent),
        reportedAt: Math.floor(atMs / 1000),
      });
    }
  }

  /** The SSRC a side of the call sends, once its RTCP has named it. */
  ssrcOf(side: number): number | undefined {
    return this.sent.get(side);
  }

  /** Every SSRC reported on so far. */
  report(): Map<number, SsrcQuality> {
    const out = new Map<number, SsrcQuality>();
    for (const [ssrc, t] of this.bySsrc) {
      const avg = (v: number): number => Math.round(v / t.count);
      out.set(ssrc, {
        cumulativeLoss: t.cumulativeLoss,
        samples: t.count,
        average: { mos: avg(t.sums.mos), rtt: avg(t.sums.rtt), jitter: avg(t.sums.jitter), packetLoss: avg(t.sums.packetLoss) },
        lowest: t.lowest,
        highest: t.highest,
        progression: progression(t.points),
      });
    }
    return out;
  }

  private add(ssrc: number, cumulativeLoss: number, p: QualityPoint): void {
    this.totals?.add(p);
    const t = this.bySsrc.get(ssrc);
    if (!t && this.bySsrc.size >= MAX_SSRCS) return;
    if (!t) {
      this.bySsrc.set(ssrc, { cumulativeLoss, count: 1, sums: { mos: p.mos, rtt: p.rtt, jitter: p.jitter, packetLoss: p.packetLoss }, lowest: p, highest: p, points: [p] });
      return;
    }
    t.points.push(p);
    if (t.points.length > MAX_POINTS) t.points = t.points.filter((_, i) => i % 2 === 0);
    t.cumulativeLoss = cumulativeLoss;
    t.count++;
    t.sums.mos += p.mos;
    t.sums.rtt += p.rtt;
    t.sums.jitter += p.jitter;
    t.sums.packetLoss += p.packetLoss;
    if (p.mos < t.lowest.mos) t.lowest = p;
    if (p.mos > t.highest.mos) t.highest = p;
  }
}

/** Samples at least `interval` seconds apart from the first, the interval a tenth of the span. */
function progression(points: readonly QualityPoint[]): { interval: number; entries: QualityPoint[] } {
  const first = points[0]!;
  const interval = Math.floor((points[points.length - 1]!.reportedAt - first.reportedAt) / PROGRESSION_ENTRIES);
  const entries = [first];
  for (const p of points) if (p.reportedAt >= entries[entries.length - 1]!.reportedAt + Math.max(1, interval)) entries.push(p);
  return { interval, entries };
}
