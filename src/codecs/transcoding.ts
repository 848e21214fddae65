/**
 * Which codecs the relay can offer that the offerer lacks, by converting from one it has. Without a
 * decoder and encoder per codec yet, that is the G.711 pair: μ-law and A-law convert sample by sample
 * (same clock, same packet size), so timestamps, sequence numbers and RTCP stay as they are.
 */
import type { G711Law } from './g711.js';
import type { CodecFormat } from './format.js';
import type { CodecSpec } from './selection.js';

/** A codec the relay added to an offer, and the offerer's codec it converts to and from. */
export interface AddedCodec {
  pt: number;
  law: G711Law;
  source: { pt: number; law: G711Law };
}

/** One direction of a conversion, as a side's egress applies it: packets of `fromPt` leave as `toPt`. */
export interface G711Conversion {
  fromPt: number;
  from: G711Law;
  toPt: number;
  to: G711Law;
}

const LAWS: readonly G711Law[] = ['PCMU', 'PCMA'];
/** RFC 3551's payload types of the two laws. */
export const G711_STATIC_PT: Readonly<Record<G711Law, number>> = { PCMU: 0, PCMA: 8 };

function lawOf(f: { name: string; clock: number; channels: number }): G711Law | undefined {
  const law = LAWS.find((l) => l.toLowerCase() === f.name.toLowerCase());
  return law && f.clock === 8000 && f.channels === 1 ? law : undefined;
}

/**
 * The codec `spec` names, added to an offer of `formats` that lacks it, when the relay can convert it
 * from one the offer has; its payload type is the static one if free, else the first free dynamic one.
 */
export function addableCodec(spec: CodecSpec, formats: readonly CodecFormat[]): AddedCodec | undefined {
  const law = lawOf({ name: spec.name, clock: spec.clock ?? 8000, channels: spec.channels ?? 1 });
  const source = formats.find((f) => { const l = lawOf(f); return l !== undefined && l !== law; });
  if (!law || !source) return undefined;
  const taken = new Set(formats.map((f) => Number(f.pt)));
  const pt = taken.has(G711_STATIC_PT[law]) ? Array.from({ length: 32 }, (_, i) => 96 + i).find((p) => !taken.has(p)) : G711_STATIC_PT[law];
  return pt === undefined ? undefined : { pt, law, source: { pt: Number(source.pt), law: lawOf(source)! } };
}

export function rtpmapLine(pt: number, law: G711Law): string {
  return `a=rtpmap:${pt} ${law}/8000`;
}
