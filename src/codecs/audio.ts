/**
 * The audio codecs the relay can decode and encode, for transcoding: each with the SDP it is written
 * as, the PCM rates its coder runs at, and a decoder and encoder per stream. G.711 has no state; G.722,
 * L16's byte order and Opus (through libopus, when built) are what the packet path needs beyond it.
 */
import { decodeG711, encodeG711 } from './g711.js';
import { G722Decoder, G722Encoder } from './g722.js';
import { OPUS_RATES, opusAddon, opusDecoder, opusEncoder } from './opus.js';

/** A codec as SDP names it on a=rtpmap. */
export interface CodecRef {
  name: string;
  clock: number;
  channels: number;
}

/** Turns one packet's payload into mono samples at its rate; null for a payload it cannot read. */
export interface PcmDecoder {
  decode(payload: Uint8Array): Int16Array | null;
  /** Whether `decode` would read the payload, told without decoding; absent where every payload reads. */
  valid?(payload: Uint8Array): boolean;
}

/** Turns one packet's worth of mono samples into a payload; throws on a frame size the codec refuses. */
export interface PcmEncoder {
  encode(samples: Int16Array): Uint8Array;
  /** Takes on the state a payload of another encoder left (ADPCM's mirror of its decoder); absent where state cannot follow. */
  follow?(payload: Uint8Array): void;
}

interface AudioCodec {
  /** The spelling of a=rtpmap and of rtpengine's codec names. */
  name: string;
  /** Whether `ref` (name already matched) is this codec as the relay can code it. */
  fits(ref: CodecRef): boolean;
  /** The codec as the relay writes it when it adds it to an offer. */
  added: CodecRef;
  /** RFC 3551's payload type, when it has one. */
  staticPt?: number;
  /** RTP clock units a payload of this many bytes covers, for the codecs whose length tells (not Opus). */
  units?(bytes: number): number;
  /** The PCM rates its coder can run at, the natural one first. */
  rates(ref: CodecRef): readonly number[];
  decoder(ref: CodecRef, rate: number): PcmDecoder;
  /** `bitrate` in bits per second, for the codecs that take one. */
  encoder(ref: CodecRef, rate: number, bitrate?: number): PcmEncoder;
  /** False when its library was not built (Opus). */
  available(): boolean;
}

const always = (): boolean => true;
const mono8k = (ref: CodecRef): boolean => ref.clock === 8000 && ref.channels === 1;

function g711(name: 'PCMU' | 'PCMA', staticPt: number): AudioCodec {
  return {
    name,
    fits: mono8k,
    added: { name, clock: 8000, channels: 1 },
    staticPt,
    units: (bytes) => bytes,
    rates: () => [8000],
    decoder: () => ({ decode: (payload) => decodeG711(name, payload) }),
    encoder: () => ({ encode: (samples) => encodeG711(name, samples) }),
    available: always,
  };
}

const L16_RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000];

/** L16 (RFC 3551): 16-bit big-endian samples at the clock rate; mono only. */
const L16: AudioCodec = {
  name: 'L16',
  // The usual rates only: each odd rate an SDP could name would cost a resampler table of its own.
  fits: (ref) => ref.channels === 1 && L16_RATES.includes(ref.clock),
  added: { name: 'L16', clock: 8000, channels: 1 },
  units: (bytes) => bytes >> 1,
  rates: (ref) => [ref.clock],
  decoder: () => ({
    valid: (payload) => payload.length % 2 === 0,
    decode(payload) {
      if (payload.length % 2 !== 0) return null;
      const out = new Int16Array(payload.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = (payload[2 * i]! << 8) | payload[2 * i + 1]!;
      return out;
    },
  }),
  encoder: () => ({
    encode(samples) {
      const out = new Uint8Array(samples.length * 2);
      for (let i = 0; i < samples.length; i++) {
        out[2 * i] = (samples[i]! >> 8) & 0xff;
        out[2 * i + 1] = samples[i]! & 0xff;
      }
      return out;
    },
  }),
  available: always,
};

/** G.722: 16 kHz audio under an 8,000 Hz RTP clock (RFC 3551 keeps the clock G.722's first draft gave it). */
const G722: AudioCodec = {
  name: 'G722',
  fits: mono8k,
  added: { name: 'G722', clock: 8000, channels: 1 },
  staticPt: 9,
  // 64 kbit/s: a byte is two 16 kHz samples, one unit of the 8,000 Hz clock.
  units: (bytes) => bytes,
  rates: () => [16000],
  decoder: () => {
    const d = new G722Decoder();
    return { decode: (payload) => d.decode(payload) };
  },
  encoder: () => {
    const e = new G722Encoder();
    return { encode: (samples) => e.encode(samples), follow: (payload) => e.follow(payload) };
  },
  available: always,
};

/** Opus (RFC 7587): always 48,000/2 in SDP whatever it carries; the relay sends mono. */
const OPUS: AudioCodec = {
  name: 'opus',
  fits: (ref) => ref.clock === 48000 && (ref.channels === 2 || ref.channels === 1),
  added: { name: 'opus', clock: 48000, channels: 2 },
  rates: () => OPUS_RATES,
  decoder: (_ref, rate) => opusDecoder(rate),
  encoder: (_ref, rate, bitrate) => opusEncoder(rate, bitrate),
  available: () => opusAddon() !== undefined,
};

const CODECS: readonly AudioCodec[] = [g711('PCMU', 0), g711('PCMA', 8), G722, L16, OPUS];

/** The codec the relay codes under `name` (any case), if it can here. */
export function codecNamed(name: string): AudioCodec | undefined {
  const codec = CODECS.find((c) => c.name.toLowerCase() === name.toLowerCase());
  return codec?.available() ? codec : undefined;
}

/** The codec behind `ref`, if the relay can decode and encode it here at that clock and channel count. */
export function audioCodec(ref: CodecRef): AudioCodec | undefined {
  const codec = codecNamed(ref.name);
  return codec?.fits(ref) ? codec : undefined;
}

/** The codec names the relay transcodes on this machine, for messages and the README's list. */
export function transcodableNames(): string[] {
  return CODECS.filter((c) => c.available()).map((c) => c.name);
}

/**
 * The PCM rate to run a conversion from `from` to `to` at: one both coders take when there is one
 * (Opus decodes straight to G.711's 8 kHz), else the decoder's natural rate and a resampler after it.
 */
export function pcmRates(from: CodecRef, to: CodecRef): { decode: number; encode: number } {
  const decodeRates = audioCodec(from)!.rates(from);
  const encodeRates = audioCodec(to)!.rates(to);
  const shared = encodeRates.find((r) => decodeRates.includes(r));
  return shared !== undefined ? { decode: shared, encode: shared } : { decode: decodeRates[0]!, encode: encodeRates[0]! };
}
