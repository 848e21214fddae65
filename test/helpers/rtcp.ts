/** RTCP sender and receiver reports (RFC 3550 §6.4) as test phones send them. */
export interface Block {
  ssrc: number;
  fractionLost?: number;
  cumulativeLost?: number;
  jitter?: number;
  lsr?: number;
  dlsr?: number;
}

function block(b: Block): Buffer {
  const out = Buffer.alloc(24);
  out.writeUInt32BE(b.ssrc >>> 0, 0);
  out[4] = b.fractionLost ?? 0;
  out.writeUIntBE((b.cumulativeLost ?? 0) & 0xffffff, 5, 3);
  out.writeUInt32BE(1000, 8);
  out.writeUInt32BE(b.jitter ?? 0, 12);
  out.writeUInt32BE(b.lsr ?? 0, 16);
  out.writeUInt32BE(b.dlsr ?? 0, 20);
  return out;
}

function header(type: number, count: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 0x80 | count;
  h[1] = type;
  h.writeUInt16BE((body.length + 4) / 4 - 1, 2);
  return Buffer.concat([h, body]);
}

/** A sender report from `ssrc` with NTP time `ntpSec.ntpFrac`, and report blocks. */
export function senderReport(ssrc: number, ntpSec: number, ntpFrac: number, blocks: Block[] = []): Buffer {
  const info = Buffer.alloc(24);
  info.writeUInt32BE(ssrc >>> 0, 0);
  info.writeUInt32BE(ntpSec >>> 0, 4);
  info.writeUInt32BE(ntpFrac >>> 0, 8);
  return header(200, blocks.length, Buffer.concat([info, ...blocks.map(block)]));
}

export function receiverReport(ssrc: number, blocks: Block[]): Buffer {
  const info = Buffer.alloc(4);
  info.writeUInt32BE(ssrc >>> 0, 0);
  return header(201, blocks.length, Buffer.concat([info, ...blocks.map(block)]));
}

/** The middle 32 bits of an NTP timestamp, as LSR carries it. */
export const ntpMiddle = (sec: number, frac: number): number => (((sec & 0xffff) * 65536) + (frac >>> 16)) >>> 0;
