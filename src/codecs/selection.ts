/**
 * rtpengine's codec flags applied to an offered m= line without transcoding: which of the offered
 * payload types go on to the answerer, in which order. `strip`, `mask` and `consume` remove codecs
 * (`all` removes every one but those `except`, `offer` or `transcode` name); the codecs of an `offer`
 * or `transcode` list that the offer lacks are reported (a `transcode`d one may be added by the caller,
 * src/offer-answer/codecs.ts, when the relay can convert it). As
 * rtpengine does, flags that would leave a line without a codec leave it as offered (`strip all` for
 * the audio must not empty the video line).
 */
import type { CodecOptions } from '../api/requests.js';
import { RelayError } from '../errors.js';
import { isSupplemental, type CodecFormat } from './format.js';

/** A codec as the flags name it: `name[/clock[/channels[/bitrate[/...]]]]`; the bitrate and later fields (fmtp) do not select. */
export interface CodecSpec {
  name: string;
  clock?: number;
  channels?: number;
  /** Bits per second for the relay's encoder of it, when it transcodes to it (`set`, or a `transcode` spec). */
  bitrate?: number;
}

export interface CodecSelection {
  /** The offered formats the flags keep, in order; telephone-event and CN are settled by accompanied(). */
  kept: CodecFormat[];
  /** Codecs `offer` names that the offer lacks (rtpengine adds none for `offer`). */
  missingOffer: string[];
  /** Codecs `transcode` names that the offer lacks: added only if the relay can convert them. */
  missingTranscode: CodecSpec[];
}

const ALL = new Set(['all', 'full']);

/** Parses one codec spec; `all`/`full` come back as undefined. Throws on a spec no codec can have. */
export function parseCodecSpec(text: string): CodecSpec | undefined {
  if (ALL.has(text.toLowerCase())) return undefined;
  const [name, clock, channels, bitrate] = text.split('/');
  const number = (field: string | undefined, what: string): number | undefined => {
    if (field === undefined || field === '') return undefined;
    if (!/^\d{1,6}$/.test(field) || Number(field) === 0) throw new RelayError('NG_BAD_PARAM', `codec '${text}' has an invalid ${what}`);
    return Number(field);
  };
  if (!name || !/^[\w.+-]+$/.test(name)) throw new RelayError('NG_BAD_PARAM', `'${text}' is not a codec name`);
  const spec: CodecSpec = { name, clock: number(clock, 'clock rate'), channels: number(channels, 'channel count') };
  // A bitrate field may also be an fmtp string (`set`); only a number sets the encoder's rate.
  if (bitrate !== undefined && /^\d{3,6}$/.test(bitrate)) spec.bitrate = Number(bitrate);
  return spec;
}

export function matches(spec: CodecSpec, f: { name: string; clock: number; channels: number }): boolean {
  return f.name.toLowerCase() === spec.name.toLowerCase() && (spec.clock === undefined || spec.clock === f.clock) && (spec.channels === undefined || spec.channels === f.channels);
}

/** Whether the options change an offered m= line at all. */
export function selectsCodecs(o: CodecOptions): boolean {
  return [o.strip, o.mask, o.consume, o.except, o.offer, o.transcode].some((list) => list !== undefined && list.length > 0);
}

/** The formats of `formats` to offer under `o`. Throws on a malformed codec spec. */
export function selectCodecs(formats: readonly CodecFormat[], o: CodecOptions): CodecSelection {
  const removing = [...(o.strip ?? []), ...(o.mask ?? []), ...(o.consume ?? [])].map(parseCodecSpec);
  const all = removing.includes(undefined);
  const removed = removing.filter((s): s is CodecSpec => s !== undefined);
  const wanted = [...(o.offer ?? []), ...(o.transcode ?? [])].map((text) => ({ text, spec: parseCodecSpec(text) }));
  const except = (o.except ?? []).map(parseCodecSpec).filter((s): s is CodecSpec => s !== undefined);
  const lacking = (spec: CodecSpec | undefined): spec is CodecSpec => spec !== undefined && !formats.some((f) => matches(spec, f));
  const missingOffer = (o.offer ?? []).filter((text) => lacking(parseCodecSpec(text)));
  const missingTranscode = (o.transcode ?? []).map(parseCodecSpec).filter(lacking);

  const kept = (f: CodecFormat): boolean => !removed.some((s) => matches(s, f));
  let chosen: CodecFormat[];
  if (all) {
    // What survives `all` goes first in the order `offer`/`transcode` name it, then the `except`ed in offered order.
    const named = wanted.flatMap(({ spec }) => (spec ? formats.filter((f) => matches(spec, f)) : []));
    const excepted = formats.filter((f) => except.some((s) => matches(s, f)));
    chosen = [...new Set([...named, ...excepted])].filter(kept);
  } else {
    chosen = formats.filter(kept);
  }
  return { kept: chosen, missingOffer, missingTranscode };
}

/**
 * The payload types to offer of the `kept` formats of `formats`: telephone-event and CN leave with the
 * last audio codec of their clock rate, unless the relay adds one at that clock (`addedClocks`).
 * Undefined when the line is left without an audio codec, kept or added.
 */
export function accompanied(kept: readonly CodecFormat[], formats: readonly CodecFormat[], addedClocks: readonly number[] = []): string[] | undefined {
  const clocks = new Set([...kept.filter((f) => !isSupplemental(f)).map((f) => f.clock), ...addedClocks]);
  const hadClock = new Set(formats.filter((f) => !isSupplemental(f)).map((f) => f.clock));
  const emptied = hadClock.size > 0 && clocks.size === 0;
  return emptied ? undefined : kept.filter((f) => !isSupplemental(f) || clocks.has(f.clock) || !hadClock.has(f.clock)).map((f) => f.pt);
}
