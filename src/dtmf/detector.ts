/**
 * DTMF per call, from RFC 4733 events (each key press reported once, when its sender marks its end,
 * or, when its end packets were lost, as soon as the next key press begins) and, where asked, from
 * tones in the audio (any codec the relay decodes: by static payload type, or by the sender's SDP).
 * Written once for both forwarding engines: they copy the packets up, this reads them.
 */
import { audioCodec, type CodecRef, type PcmDecoder } from '../codecs/audio.js';
import type { DtmfFormat } from '../codecs/format.js';
import { codecOfPt, type AudioFormat } from '../codecs/stand-in.js';
import { Resampler } from '../codecs/resample.js';
import { rtpHeaderLength } from '../rtp/header.js';
import { InbandDtmf } from './inband.js';
import { eventDigit, parseTelephoneEvent, type TelephoneEvent } from './rfc4733.js';
import type { DtmfPress } from './press.js';

/** The tone detector runs on 8 kHz samples. */
const TONE_RATE = 8000;

/** A side's in-band listening: its codec's decoder (state carries from packet to packet), a resampler to 8 kHz where needed, the tone detector. */
interface Listener {
  pt: number;
  decoder: PcmDecoder;
  resampler: Resampler | undefined;
  tones: InbandDtmf;
}

/** Presses kept per call for `query`; older ones are dropped. */
const KEPT = 32;

interface Pending {
  event: TelephoneEvent;
  clock: number;
  reported: boolean;
}

export class DtmfDetector {
  /** The press in progress per sending side (key: side id). */
  private readonly current = new Map<number, Pending>();
  /** The latest presses, oldest first, with the side they came from. */
  readonly presses: Array<DtmfPress & { side: number }> = [];
  /** Tone detection per sending side, for the sides that listen for in-band DTMF. */
  private readonly inband = new Map<number, Listener>();

  /** Listens to one audio packet a side's participant sent (`codecs`: its SDP's dynamic ones); returns the presses it completes. */
  receiveAudio(side: number, packet: Uint8Array, codecs: readonly AudioFormat[], atMs: number): DtmfPress[] {
    const pt = packet[1]! & 0x7f;
    const header = rtpHeaderLength(packet);
    if (header < 0) return [];
    let listener = this.inband.get(side);
    // A codec change starts the decoder afresh; the tone detector carries on. The codec is looked up only then.
    if (!listener || listener.pt !== pt) {
      const ref = codecOfPt(pt, codecs);
      if (!ref) return [];
      this.inband.set(side, (listener = listen(pt, ref, listener?.tones)));
    }
    const decoded = listener.decoder.decode(packet.subarray(header));
    if (!decoded) return [];
    const samples = listener.resampler ? listener.resampler.process(decoded) : decoded;
    return listener.tones.receive(samples, atMs).map((press) => this.keep(side, press));
  }

  /** Reads one telephone-event packet a side's participant sent; returns the presses it completes. */
  receive(side: number, packet: Uint8Array, formats: readonly DtmfFormat[], atMs: number): DtmfPress[] {
    const event = parseTelephoneEvent(packet);
    const format = formats.find((f) => f.pt === (packet[1]! & 0x7f));
    if (!event || !format) return [];
    const out: DtmfPress[] = [];
    const last = this.current.get(side);
    const same = last && last.event.timestamp === event.timestamp && last.event.ssrc === event.ssrc;
    if (last && !same && !last.reported) out.push(this.report(side, last, atMs));
    if (same && last.reported) return out; // the repeated end packets of a press already reported
    const pending: Pending = { event, clock: format.clock, reported: false };
    this.current.set(side, pending);
    if (event.end) out.push(this.report(side, pending, atMs));
    return out;
  }

  private report(side: number, pending: Pending, atMs: number): DtmfPress {
    pending.reported = true;
    const { event, volume, duration } = pending.event;
    return this.keep(side, { event, digit: eventDigit(event), duration: Math.round((duration * 1000) / pending.clock), volume, at: atMs });
  }

  private keep(side: number, press: DtmfPress): DtmfPress {
    this.presses.push({ ...press, side });
    if (this.presses.length > KEPT) this.presses.shift();
    return press;
  }
}

function listen(pt: number, ref: CodecRef, tones = new InbandDtmf()): Listener {
  const codec = audioCodec(ref)!;
  const rate = codec.rates(ref)[0]!;
  return { pt, decoder: codec.decoder(ref, rate), resampler: rate === TONE_RATE ? undefined : new Resampler(rate, TONE_RATE), tones };
}
