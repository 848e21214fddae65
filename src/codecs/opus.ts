/**
 * libopus, through the small addon native/opus/opus.cc. Both engines use it: the native engine hands
 * transcoded calls to the workers, whose packet path calls it per packet. Without libopus at build
 * time there is no addon, and Opus is simply not a codec the relay can add or convert.
 */
import { createRequire } from 'node:module';

export interface OpusEncoderHandle {
  /** One frame of mono samples (2.5 to 60 ms at the encoder's rate) to one Opus packet; throws on a frame size Opus refuses. */
  encode(samples: Int16Array): Uint8Array;
}

export interface OpusDecoderHandle {
  /** Mono samples at the decoder's rate, or null for a packet libopus cannot read. */
  decode(payload: Uint8Array): Int16Array | null;
  /** Whether the payload is a well-formed Opus packet, read without decoding it. */
  valid(payload: Uint8Array): boolean;
}

interface OpusAddon {
  OpusEncoder: new (rate: number, bitrate: number, complexity: number) => OpusEncoderHandle;
  OpusDecoder: new (rate: number) => OpusDecoderHandle;
  version: string;
}

const ADDON_PATH = '../../build/Release/rtpbridge_opus.node';
let addon: OpusAddon | null | undefined;

/** The addon, loaded on first use in each thread; undefined when it was not built. */
export function opusAddon(): OpusAddon | undefined {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH) as OpusAddon;
    } catch {
      addon = null;
    }
  }
  return addon ?? undefined;
}

/** The rates libopus encodes from and decodes to without a resampler of ours. */
export const OPUS_RATES: readonly number[] = [48000, 24000, 16000, 12000, 8000];

/** Mono voice at WebRTC's usual 32 kbit/s unless `set`; complexity 10 is libopus's default, as rtpengine leaves it. */
const BITRATE = 32000;
const COMPLEXITY = 10;

export function opusEncoder(rate: number, bitrate = BITRATE): OpusEncoderHandle {
  return new (opusAddon()!.OpusEncoder)(rate, bitrate, COMPLEXITY);
}

export function opusDecoder(rate: number): OpusDecoderHandle {
  return new (opusAddon()!.OpusDecoder)(rate);
}
