/**
 * The codecs of an m= line as SDP names them: each payload type with its encoding name, RTP clock rate
 * and channels, from its a=rtpmap line or, for a static payload type without one, from RFC 3551.
 */
import type { SdpMedia } from '../sdp/parse.js';

export interface CodecFormat {
  /** Payload type as written on the m= line. */
  pt: string;
  /** Encoding name; empty for a dynamic payload type without a=rtpmap (it matches no codec name). */
  name: string;
  clock: number;
  channels: number;
}

/** RFC 3551's static audio and video payload types: name, clock rate, channels. */
const STATIC: Readonly<Record<string, readonly [string, number, number?]>> = {
  0: ['PCMU', 8000],
  3: ['GSM', 8000],
  4: ['G723', 8000],
  5: ['DVI4', 8000],
  6: ['DVI4', 16000],
  7: ['LPC', 8000],
  8: ['PCMA', 8000],
  9: ['G722', 8000],
  10: ['L16', 44100, 2],
  11: ['L16', 44100],
  12: ['QCELP', 8000],
  13: ['CN', 8000],
  14: ['MPA', 90000],
  15: ['G728', 8000],
  16: ['DVI4', 11025],
  17: ['DVI4', 22050],
  18: ['G729', 8000],
  25: ['CelB', 90000],
  26: ['JPEG', 90000],
  28: ['nv', 90000],
  31: ['H261', 90000],
  32: ['MPV', 90000],
  33: ['MP2T', 90000],
  34: ['H263', 90000],
};

const RTPMAP = /^a=rtpmap:(\d{1,3})\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/;

/** The m= line's payload types in order, each with what its a=rtpmap (or RFC 3551) says it is. */
export function mediaFormats(media: SdpMedia): CodecFormat[] {
  const mapped = new Map<string, Omit<CodecFormat, 'pt'>>();
  for (const line of media.lines) {
    const m = RTPMAP.exec(line);
    if (m && !mapped.has(m[1]!)) mapped.set(m[1]!, { name: m[2]!, clock: Number(m[3]), channels: m[4] ? Number(m[4]) : 1 });
  }
  const fields = media.lines[0]!.trim().split(/\s+/);
  return fields.slice(3).map((pt) => {
    const known = mapped.get(pt);
    if (known) return { pt, ...known };
    return { pt, ...(staticFormat(Number(pt)) ?? { name: '', clock: 0, channels: 1 }) };
  });
}

/** What RFC 3551 fixes for a static payload type: how a packet's codec is known without SDP. */
export function staticFormat(pt: number): Omit<CodecFormat, 'pt'> | undefined {
  const fixed = STATIC[pt];
  return fixed && { name: fixed[0], clock: fixed[1], channels: fixed[2] ?? 1 };
}

/** telephone-event and comfort noise go with the audio codecs of their clock rate, never alone. */
export function isSupplemental(format: CodecFormat): boolean {
  const name = format.name.toLowerCase();
  return name === 'telephone-event' || name === 'cn';
}

/** A telephone-event payload type and its RTP clock rate, which RFC 4733 durations count in. */
export interface DtmfFormat {
  pt: number;
  clock: number;
}

const TELEPHONE_EVENT = /^a=rtpmap:(\d{1,3})\s+telephone-event\/(\d+)/i;

/** The m= line's RFC 4733 telephone-event payload types with their clock rates (a scan of a=rtpmap only). */
export function telephoneEvents(media: SdpMedia): DtmfFormat[] {
  const out: DtmfFormat[] = [];
  for (const line of media.lines) {
    const m = line.startsWith('a=rtpmap:') ? TELEPHONE_EVENT.exec(line) : null;
    if (m && Number(m[1]) < 128 && Number(m[2]) > 0) out.push({ pt: Number(m[1]), clock: Number(m[2]) });
  }
  return out;
}
