/**
 * One direction of a transcoded stream, packet by packet: what a side's participant is sent, turned
 * from the other participant's codec into its own. Packets stay one for one (same sequence number,
 * SSRC and marker; the timestamp scaled to the new clock), so loss and order reach the receiver as
 * they happened, unless the relay repacketizes (`ptime`). RTCP towards the participant is made to match: a sender report's RTP timestamp and
 * octet count, and the jitter of report blocks, move into the participant's clock.
 */
import { audioCodec, pcmRates, type CodecRef, type PcmDecoder, type PcmEncoder } from './audio.js';
import { g711Table, type G711Law } from './g711.js';
import { Resampler } from './resample.js';

/** One direction of a conversion as a side's egress applies it: packets of `fromPt` leave as `toPt`. */
export interface Conversion {
  fromPt: number;
  from: CodecRef;
  toPt: number;
  to: CodecRef;
  /** Bits per second for the encoder, where the codec has a choice (Opus). */
  bitrate?: number;
  /** Milliseconds of audio per packet out, when the relay repacketizes (`ptime`). */
  ptime?: number;
  /** RFC 4733 telephone-event payload types of the same stream at the other clock rate, renumbered and rescaled with it. */
  events?: Array<{ fromPt: number; toPt: number }>;
}

/** A packet, the packets a repacketizing converter sends for one (none while it gathers samples), or why it dropped it. */
export type Converted = Buffer | Buffer[] | 'undecodable';

/** Converts the RTP packets of one payload type; `header` is the RTP header's length, `end` where padding starts. */
export interface PayloadConverter {
  convert(packet: Buffer, header: number, end: number): Converted;
  /** RTCP towards the participant made to match the stream it produces; absent when RTCP needs nothing. */
  rtcp?(packet: Buffer): Buffer;
}

const isG711 = (ref: CodecRef): boolean => /^pcm[ua]$/i.test(ref.name);

/**
 * Whether a conversion maps each payload byte to one byte (G.711 law to law, packets as they are): a
 * table any engine can apply, the native addon included (it takes the table from g711Table()).
 */
export function isByteMap(c: Pick<Conversion, 'from' | 'to' | 'ptime'>): boolean {
  return isG711(c.from) && isG711(c.to) && c.ptime === undefined;
}

/** The table of a byte-map conversion (isByteMap): the byte each payload byte becomes. */
export function byteMapTable(c: Pick<Conversion, 'from' | 'to'>): Uint8Array {
  return g711Table(c.from.name.toUpperCase() as G711Law, c.to.name.toUpperCase() as G711Law);
}

/** The converters of `c` by the payload type they take: a byte table between the G.711 laws, else decode, resample and encode. */
export function payloadConverters(c: Conversion): Array<[number, PayloadConverter]> {
  if (isByteMap(c)) return [[c.fromPt, new G711Table(c)]];
  const recoder = new Recoder(c);
  return [[c.fromPt, recoder], ...(c.events ?? []).map((e): [number, PayloadConverter] => [e.fromPt, recoder])];
}

/** μ-law and A-law map sample for sample: one lookup per byte, nothing else changes. */
class G711Table implements PayloadConverter {
  private readonly table: Uint8Array;

  constructor(private readonly c: Conversion) {
    this.table = byteMapTable(c);
  }

  convert(packet: Buffer, header: number, end: number): Converted {
    // A copy: the same packet may be on its way to other sinks as it is.
    const out = Buffer.from(packet);
    out[1] = (packet[1]! & 0x80) | this.c.toPt;
    for (let i = header; i < end; i++) out[i] = this.table[out[i]!]!;
    return out;
  }
}

const seqAhead = (seq: number, last: number): number => (((seq - last) << 16) >> 16);

/** Packets held back after a gap for the missing one: two 20 ms packets, so a reordered one waits 40 ms at most. */
const HOLD = 2;

/**
 * Full transcoding through linear PCM, with the state of both codecs, a resampler and the timestamp
 * map. With a `ptime`, the samples wait in a queue and leave in packets of that length, numbered by
 * the relay (repacketization); otherwise each packet in makes one packet out.
 */
class Recoder implements PayloadConverter {
  private readonly decoder: PcmDecoder;
  private readonly encoder: PcmEncoder;
  private readonly resampler: Resampler | undefined;
  /** Timestamp units of the participant's codec per unit of the sender's. */
  private readonly ratio: number;
  /** Repacketization: samples per packet out, and timestamp units per sample, at the encoder's rate. */
  private readonly frame: number | undefined;
  private readonly unit: number;
  private queue = new Int16Array(0);
  /** Packets after a gap, waiting for the missing one. */
  private held: Array<{ seq: number; packet: Buffer; header: number; end: number }> = [];
  private nextSeq = 0;
  private nextTs = 0;
  private started = false;
  private lastSeq = 0;
  private lastIn = 0;
  private lastOut = 0;
  private ssrc = 0;
  private octets = 0;

  constructor(private readonly c: Conversion) {
    const rates = pcmRates(c.from, c.to);
    this.decoder = audioCodec(c.from)!.decoder(c.from, rates.decode);
    this.encoder = audioCodec(c.to)!.encoder(c.to, rates.encode, c.bitrate);
    this.resampler = rates.decode === rates.encode ? undefined : new Resampler(rates.decode, rates.encode);
    this.ratio = c.to.clock / c.from.clock;
    this.unit = c.to.clock / rates.encode;
    this.frame = c.ptime === undefined ? undefined : (c.ptime * rates.encode) / 1000;
  }

  /**
   * The decoders carry state from frame to frame, so audio is decoded in order: a packet after a gap
   * waits (HOLD of them at most, until the next packet comes) for the missing one, which is decoded
   * first if it turns up; one that comes after the stream has moved past it is dropped rather than
   * decoded out of turn. A packet is checked before it waits or goes with waiting ones, so a bad one
   * is counted when it comes.
   */
  convert(packet: Buffer, header: number, end: number): Converted {
    const pt = packet[1]! & 0x7f;
    if (pt !== this.c.fromPt) return this.event(packet, pt, header);
    const seq = packet.readUInt16BE(2);
    const ahead = this.started ? seqAhead(seq, this.lastSeq) : 1;
    if (ahead <= 0 || this.held.some((h) => h.seq === seq)) return 'undecodable';
    if (ahead > 1 && ahead <= HOLD + 1 && this.held.length < HOLD) {
      if (!this.readable(packet, header, end)) return 'undecodable';
      // A copy: the buffer the packet came in may be reused before it is decoded.
      this.held.push({ seq, packet: Buffer.from(packet), header, end });
      this.held.sort((a, b) => seqAhead(a.seq, b.seq));
      return [];
    }
    if (this.held.length === 0) return this.decodeNext(packet, header, end, ahead);
    if (!this.readable(packet, header, end)) return 'undecodable';
    // In order now, or waited long enough: the held ones and this one, oldest first.
    const due = [...this.held, { seq, packet, header, end }].sort((a, b) => seqAhead(a.seq, b.seq));
    this.held = [];
    const out: Buffer[] = [];
    for (const d of due) {
      const converted = this.decodeNext(d.packet, d.header, d.end, seqAhead(d.seq, this.lastSeq));
      if (converted !== 'undecodable') out.push(...(Array.isArray(converted) ? converted : [converted]));
    }
    return out;
  }

  /** Whether the decoder will read the packet, where it can tell without decoding. */
  private readable(packet: Buffer, header: number, end: number): boolean {
    return this.decoder.valid?.(packet.subarray(header, end)) ?? true;
  }

  /** Decodes the next packet in order (`ahead` of the last one decoded) and makes what it becomes. */
  private decodeNext(packet: Buffer, header: number, end: number, ahead: number): Converted {
    const seq = packet.readUInt16BE(2);
    const decoded = this.decoder.decode(packet.subarray(header, end));
    if (decoded === null) return 'undecodable';
    const samples = this.resampler ? this.resampler.process(decoded) : decoded;
    const ts = packet.readUInt32BE(4);
    const first = !this.started;
    this.lastOut = first ? ts : (this.lastOut + this.scaled(ts - this.lastIn)) >>> 0;
    this.lastIn = ts;
    this.lastSeq = seq;
    this.started = true;
    this.ssrc = packet.readUInt32BE(8);
    if (this.frame === undefined) return this.packet(packet, header, this.encode(samples), seq, this.lastOut, packet[1]! & 0x80);
    // After a loss the queue's samples no longer run on into these: what is left of them is dropped.
    if (first || ahead > 1) {
      this.queue = new Int16Array(0);
      if (first) this.nextSeq = seq;
      this.nextTs = this.lastOut;
    } else {
      this.lastOut = (this.nextTs + this.queue.length * this.unit) >>> 0;
    }
    const queued = new Int16Array(this.queue.length + samples.length);
    queued.set(this.queue);
    queued.set(samples, this.queue.length);
    const out: Buffer[] = [];
    let at = 0;
    for (; queued.length - at >= this.frame; at += this.frame) {
      const payload = this.encode(queued.subarray(at, at + this.frame));
      if (payload === 'undecodable') return payload;
      out.push(this.packet(packet, header, payload, this.nextSeq, this.nextTs, out.length === 0 ? packet[1]! & 0x80 : 0) as Buffer);
      this.nextSeq = (this.nextSeq + 1) & 0xffff;
      this.nextTs = (this.nextTs + this.frame * this.unit) >>> 0;
    }
    this.queue = queued.slice(at);
    return out;
  }

  /** One frame's payload; a frame length the encoder refuses (Opus takes 2.5 to 60 ms in its own steps) is undecodable. */
  private encode(samples: Int16Array): Uint8Array | 'undecodable' {
    try {
      return this.encoder.encode(samples);
    } catch {
      return 'undecodable';
    }
  }

  /** `packet`'s header (CSRCs and extension as they came) with this payload, sequence number, timestamp and marker. */
  private packet(packet: Buffer, header: number, payload: Uint8Array | 'undecodable', seq: number, ts: number, marker: number): Buffer | 'undecodable' {
    if (payload === 'undecodable') return payload;
    this.octets = (this.octets + payload.length) >>> 0;
    const out = Buffer.allocUnsafe(header + payload.length);
    packet.copy(out, 0, 0, header);
    out[0] = packet[0]! & ~0x20; // the padding stays behind
    out[1] = marker | this.c.toPt;
    out.writeUInt16BE(seq, 2);
    out.writeUInt32BE(ts, 4);
    out.set(payload, header);
    return out;
  }

  /**
   * A telephone event of the same stream: renumbered, its timestamp mapped as the audio's is, and its
   * duration (RFC 4733: in timestamp units) rescaled. Before any audio there is nothing to map it by.
   */
  private event(packet: Buffer, pt: number, header: number): Converted {
    const toPt = this.c.events?.find((e) => e.fromPt === pt)?.toPt;
    if (toPt === undefined || !this.started || packet.length < header + 4) return 'undecodable';
    const out = Buffer.from(packet);
    out[1] = (packet[1]! & 0x80) | toPt;
    // Repacketized audio is numbered by the relay: events take their numbers from the same count.
    if (this.frame !== undefined) {
      out.writeUInt16BE(this.nextSeq, 2);
      this.nextSeq = (this.nextSeq + 1) & 0xffff;
    }
    out.writeUInt32BE((this.lastOut + this.scaled(packet.readUInt32BE(4) - this.lastIn)) >>> 0, 4);
    out.writeUInt16BE(Math.min(0xffff, Math.round(packet.readUInt16BE(header + 2) * this.ratio)), header + 2);
    this.octets = (this.octets + packet.length - header) >>> 0;
    return out;
  }

  /** A signed 32-bit timestamp difference in the sender's clock, in the participant's. */
  private scaled(delta: number): number {
    return Math.round((delta | 0) * this.ratio);
  }

  rtcp(original: Buffer): Buffer {
    if (!this.started) return original;
    // A copy, as for RTP: other sinks may get the packet as it came.
    const packet = Buffer.from(original);
    for (let at = 0; at + 8 <= packet.length; ) {
      const words = packet.readUInt16BE(at + 2) + 1;
      const type = packet[at + 1]!;
      const blocksAt = type === 200 ? at + 28 : type === 201 ? at + 8 : -1;
      if (at + words * 4 > packet.length) break;
      if (type === 200 && packet.readUInt32BE(at + 4) === this.ssrc) {
        packet.writeUInt32BE((this.lastOut + this.scaled(packet.readUInt32BE(at + 16) - this.lastIn)) >>> 0, at + 16);
        packet.writeUInt32BE(this.octets, at + 24);
      }
      // Report blocks are about what the participant sends, measured in the other codec's clock.
      if (blocksAt > 0 && this.ratio !== 1) {
        for (let i = 0, block = blocksAt; i < (packet[at]! & 0x1f) && block + 24 <= at + words * 4; i++, block += 24) {
          packet.writeUInt32BE(Math.min(0xffffffff, Math.round(packet.readUInt32BE(block + 12) * this.ratio)), block + 12);
        }
      }
      at += words * 4;
    }
    return packet;
  }
}
