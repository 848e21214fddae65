/** The parts of RTCP (RFC 3550 §6.4) call quality is computed from: sender reports and report blocks. */

export interface ReportBlock {
  /** The stream reported on. */
  ssrc: number;
  /** Fraction of its packets lost since the previous report, 0-255 (of 256). */
  fractionLost: number;
  /** Packets lost since the stream began (signed 24 bits). */
  cumulativeLost: number;
  /** Interarrival jitter, in RTP timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received from that stream's sender, 0 if none. */
  lsr: number;
  /** Delay since that SR, in 1/65536 s. */
  dlsr: number;
}

export interface RtcpSummary {
  /** Sender reports in the compound packet: who sent them and their NTP timestamp's middle 32 bits. */
  senderReports: Array<{ ssrc: number; ntpMiddle: number }>;
  /** The reporter (SR/RR sender) of each block, and the block. */
  blocks: Array<{ reporter: number; block: ReportBlock }>;
}

const SR = 200;
const RR = 201;
const BLOCK = 24;

/** Walks a compound RTCP packet; stops at the first malformed part (what came before still counts). */
export function parseRtcp(packet: Buffer): RtcpSummary {
  const out: RtcpSummary = { senderReports: [], blocks: [] };
  let at = 0;
  // Bounded by the packet: every part advances by at least one 32-bit word.
  while (at + 8 <= packet.length) {
    const first = packet[at]!;
    if (first >> 6 !== 2) break;
    const count = first & 0x1f;
    const type = packet[at + 1]!;
    const end = at + (packet.readUInt16BE(at + 2) + 1) * 4;
    if (end > packet.length) break;
    const reporter = packet.readUInt32BE(at + 4);
    let blocks = at + 8;
    if (type === SR) {
      if (at + 28 > end) break;
      const ntpMiddle = ((packet.readUInt32BE(at + 8) & 0xffff) * 65536 + (packet.readUInt32BE(at + 12) >>> 16)) >>> 0;
      out.senderReports.push({ ssrc: reporter, ntpMiddle });
      blocks = at + 28;
    }
    if (type === SR || type === RR) {
      for (let i = 0; i < count && blocks + BLOCK <= end; i++, blocks += BLOCK) out.blocks.push({ reporter, block: reportBlock(packet, blocks) });
    }
    at = end;
  }
  return out;
}

function reportBlock(p: Buffer, at: number): ReportBlock {
  const lost = p.readUIntBE(at + 5, 3);
  return {
    ssrc: p.readUInt32BE(at),
    fractionLost: p[at + 4]!,
    cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost,
    jitter: p.readUInt32BE(at + 12),
    lsr: p.readUInt32BE(at + 16),
    dlsr: p.readUInt32BE(at + 20),
  };
}
