/**
 * Audio the relay makes up in a stream's own codec, for packets it puts in place of others: DTMF tones
 * for `play DTMF`, silence or a tone for `DTMF-security`. A packet's codec is known by its payload type:
 * from the participant's SDP for the dynamic ones, else from RFC 3551. Each payload type gets one
 * encoder for the stream's life, so a stateful codec runs on from one made-up frame to the next. G.722's
 * encoder also follows the participant's frames as they pass, so the receiver's decoder goes on into
 * made-up audio without a jump; Opus's decoder settles within a frame of a new encoder.
 */
import { audioCodec, type CodecRef, type PcmEncoder } from './audio.js';
import { mediaFormats, staticFormat } from './format.js';
import type { SdpMedia } from '../sdp/parse.js';

/** A codec on a payload type of one SDP. */
export interface AudioFormat extends CodecRef {
  pt: number;
}

/**
 * The codecs of an m= line the relay can code that sit on payload types RFC 3551 does not fix (Opus,
 * L16 at other rates): the ones a packet alone does not tell. Static payload types need no record.
 */
export function dynamicAudio(media: SdpMedia): AudioFormat[] {
  return mediaFormats(media).flatMap(({ pt, ...ref }) => (staticFormat(Number(pt)) === undefined && audioCodec(ref) ? [{ pt: Number(pt), ...ref }] : []));
}

/** The codec of payload type `pt` in a stream whose SDP put `dynamic` on its own numbers; undefined when the relay cannot code it. */
export function codecOfPt(pt: number, dynamic: readonly AudioFormat[]): CodecRef | undefined {
  const ref = dynamic.find((f) => f.pt === pt) ?? staticFormat(pt);
  return ref && audioCodec(ref) ? ref : undefined;
}

/** A sample value at a time in seconds. */
export type Wave = (seconds: number) => number;

export class StandInAudio {
  private readonly encoders = new Map<number, { ref: CodecRef; encoder: PcmEncoder; rate: number }>();
  /** Each payload type's codec as looked up once: the packet path asks for it on every packet. */
  private readonly refs = new Map<number, CodecRef | undefined>();

  constructor(private readonly dynamic: readonly AudioFormat[]) {}

  /** The RTP clock of payload type `pt`, when the relay can write its codec. */
  clock(pt: number): number | undefined {
    return this.refOf(pt)?.clock;
  }

  /** Clock units a payload of `bytes` covers, where the codec's length tells. */
  units(pt: number, bytes: number): number | undefined {
    const ref = this.refOf(pt);
    return ref && audioCodec(ref)!.units?.(bytes);
  }

  /** Reads a payload of the participant's passing by, where the codec's encoder can take on its state. */
  follow(pt: number, payload: Uint8Array): void {
    const encoder = this.coder(pt)?.encoder;
    encoder?.follow?.(payload);
  }

  /**
   * A payload of `pt`'s codec covering `units` of its clock, sample i being `wave(start + i / rate)`;
   * undefined for a codec the relay cannot write, or a length its encoder refuses (Opus takes set steps).
   */
  write(pt: number, units: number, wave: Wave, start: number): Uint8Array | undefined {
    const coder = this.coder(pt);
    if (!coder) return undefined;
    const count = Math.round((units * coder.rate) / coder.ref.clock);
    const samples = new Int16Array(count);
    for (let i = 0; i < count; i++) samples[i] = Math.max(-32768, Math.min(32767, Math.round(wave(start + i / coder.rate))));
    try {
      return coder.encoder.encode(samples);
    } catch {
      return undefined;
    }
  }

  private coder(pt: number): { ref: CodecRef; encoder: PcmEncoder; rate: number } | undefined {
    let coder = this.encoders.get(pt);
    if (coder) return coder;
    const ref = this.refOf(pt);
    if (!ref) return undefined;
    const codec = audioCodec(ref)!;
    const rate = codec.rates(ref)[0]!;
    coder = { ref, encoder: codec.encoder(ref, rate), rate };
    this.encoders.set(pt, coder);
    return coder;
  }

  private refOf(pt: number): CodecRef | undefined {
    if (!this.refs.has(pt)) this.refs.set(pt, codecOfPt(pt, this.dynamic));
    return this.refs.get(pt);
  }
}
