/**
 * Which codecs the relay can add to an offer that lacks them, by converting from one the offer has
 * (`transcode`). Like rtpengine, it converts from the offer's first codec it can decode, numbers an
 * added codec with its RFC 3551 payload type when that is free and else with the next free dynamic
 * one, and adds a telephone-event at each new clock rate so DTMF can cross the conversion.
 */
import { audioCodec, codecNamed, type CodecRef } from './audio.js';
import { isSupplemental, type CodecFormat } from './format.js';
import { matches, type CodecSpec } from './selection.js';
import { compact } from '../util/compact.js';

/** A codec the relay added to an offer, and the offer's codec it converts to and from. */
export interface AddedCodec {
  pt: number;
  codec: CodecRef;
  /** Bits per second for the relay's encoder of it (`set`, or the `transcode` spec's fourth field). */
  bitrate?: number;
  /** The offer's codec (or telephone-event) it stands for, with its a=rtpmap/a=fmtp lines for the answer back. */
  source: { pt: number; codec: CodecRef; lines: string[]; bitrate?: number };
  /** Its own a=rtpmap/a=fmtp lines in the offer. */
  lines: string[];
}


const DYNAMIC = Array.from({ length: 32 }, (_, i) => 96 + i);
const rtpmap = (pt: number, c: CodecRef): string => `a=rtpmap:${pt} ${c.name}/${c.clock}${c.channels !== 1 ? `/${c.channels}` : ''}`;
export const isEvent = (c: CodecRef): boolean => c.name.toLowerCase() === 'telephone-event';

/** The a=rtpmap and a=fmtp lines of payload type `pt` among an m= line's attributes. */
function formatLines(lines: readonly string[], pt: number): string[] {
  return lines.filter((l) => l.startsWith(`a=rtpmap:${pt} `) || l.startsWith(`a=fmtp:${pt} `));
}

/** What else decides an addition: the offer's codecs to convert from first (`accept`), and encoder bitrates (`set`). */
export interface AddOptions {
  accept?: readonly CodecSpec[];
  set?: readonly CodecSpec[];
}

/**
 * The codecs `specs` name, added to an offer of `formats` (whose attribute lines are `lines`), with the
 * telephone-events they need; and the names the relay cannot add (nothing to convert from, or a codec
 * it does not code here).
 */
export function addableCodecs(specs: readonly CodecSpec[], formats: readonly CodecFormat[], lines: readonly string[], options: AddOptions = {}): { added: AddedCodec[]; unaddable: string[] } {
  const convertible = formats.filter((f) => !isSupplemental(f) && audioCodec(f) !== undefined);
  const sourceFormat = convertible.find((f) => options.accept?.some((spec) => matches(spec, f))) ?? convertible[0];
  const bitrate = (c: CodecRef, own?: CodecSpec): number | undefined => own?.bitrate ?? options.set?.find((spec) => spec.bitrate !== undefined && matches(spec, c))?.bitrate;
  const taken = new Set(formats.map((f) => Number(f.pt)));
  const take = (preferred: number | undefined): number | undefined => {
    const pt = preferred !== undefined && !taken.has(preferred) ? preferred : DYNAMIC.find((p) => !taken.has(p));
    if (pt !== undefined) taken.add(pt);
    return pt;
  };
  const added: AddedCodec[] = [];
  const unaddable: string[] = [];
  for (const spec of specs) {
    const known = codecNamed(spec.name);
    const codec = known && { name: known.name, clock: spec.clock ?? known.added.clock, channels: spec.channels ?? known.added.channels };
    const isDefault = codec !== undefined && codec.clock === known!.added.clock && codec.channels === known!.added.channels;
    const pt = codec && sourceFormat && audioCodec(codec) ? take(isDefault ? known!.staticPt : undefined) : undefined;
    if (pt === undefined || !codec || !sourceFormat) {
      unaddable.push(spec.name);
      continue;
    }
    const sourceCodec = refOf(sourceFormat);
    const source = { pt: Number(sourceFormat.pt), codec: sourceCodec, lines: formatLines(lines, Number(sourceFormat.pt)), bitrate: bitrate(sourceCodec) };
    added.push(compact({ pt, codec, bitrate: bitrate(codec, spec), source: compact(source), lines: [rtpmap(pt, codec)] }));
  }
  return { added: [...added, ...addedEvents(added, formats, lines, take)], unaddable };
}

const refOf = (f: CodecFormat): CodecRef => ({ name: f.name, clock: f.clock, channels: f.channels });

/** A telephone-event at each added codec's clock rate that the offer has none at, standing for the offer's first one. */
function addedEvents(added: readonly AddedCodec[], formats: readonly CodecFormat[], lines: readonly string[], take: (preferred: undefined) => number | undefined): AddedCodec[] {
  const offered = formats.find(isEvent);
  if (!offered) return [];
  const clocks = new Set(formats.filter(isEvent).map((f) => f.clock));
  const out: AddedCodec[] = [];
  for (const a of added) {
    if (clocks.has(a.codec.clock)) continue;
    clocks.add(a.codec.clock);
    const pt = take(undefined);
    if (pt === undefined) continue;
    const codec = { name: 'telephone-event', clock: a.codec.clock, channels: 1 };
    // rtpengine writes its default event range whatever the offer's a=fmtp says.
    const own = [rtpmap(pt, codec), `a=fmtp:${pt} 0-15`];
    out.push({ pt, codec, source: { pt: Number(offered.pt), codec: refOf(offered), lines: formatLines(lines, Number(offered.pt)) }, lines: own });
  }
  return out;
}

