/**
 * Packet features as small processors chained per side, the one place a packet feature plugs into the
 * TypeScript packet path. A side's ingress chain runs on what its participant sends, after the packet
 * is checked and before its source is learned (so a packet a processor refuses cannot move the media);
 * its egress chain runs on each copy sent to its participant. The processors: SRTP and the guard of
 * DTLS legs without keys, conversion between codecs and repacketization (src/codecs), and on egress the
 * DTMF presses of `play DTMF` (src/dtmf/injector.ts, placed by the forwarder); an egress processor may
 * send several packets for one. The native addon runs its own SRTP and, of the conversions, the byte
 * maps between the G.711 laws (with the tables src/codecs/g711.ts makes); a call that needs any other
 * runs on the workers (src/placement places by CallNeeds, which each such feature extends).
 */
import type { DropReason, StreamKind } from '../shared/vocabulary.js';
import { SrtpContext } from '../srtp/context.js';
import type { SrtpKeyPair } from '../srtp/keys.js';
import { payloadConverters, type Conversion, type PayloadConverter } from '../codecs/transcoder.js';
import { rtpHeaderLength } from '../rtp/header.js';

export interface PacketProcessor {
  /** The packet to pass on (the same buffer or a new one), or why it is dropped. */
  process(packet: Buffer, kind: StreamKind): Buffer | DropReason;
}

/** What an egress processor makes of a packet: also several, or none while it gathers samples (repacketization). */
export type Processed = Buffer | Buffer[] | DropReason;

export interface EgressProcessor {
  process(packet: Buffer, kind: StreamKind): Processed;
}

export type Chain = readonly PacketProcessor[];
export type EgressChain = readonly EgressProcessor[];

/** Most sides run no processor at all: one shared empty chain, not an array per side (idle-call heap). */
export const EMPTY_CHAIN: Chain = Object.freeze([]);

/** Runs `chain` in order; stops at the first processor that drops the packet. */
export function runChain(chain: Chain, packet: Buffer, kind: StreamKind): Buffer | DropReason {
  let out: Buffer | DropReason = packet;
  for (let i = 0; i < chain.length && typeof out !== 'string'; i++) out = chain[i]!.process(out, kind);
  return out;
}

/** Runs an egress chain from `from` on, as runChain, and the rest of it on each packet where one became several. */
export function runEgress(chain: EgressChain, packet: Buffer, kind: StreamKind, from = 0): Processed {
  let out: Processed = packet;
  for (let i = from; i < chain.length; i++) {
    if (typeof out === 'string') return out;
    if (Array.isArray(out)) return out.flatMap((p) => passed(runEgress(chain, p, kind, i)));
    out = chain[i]!.process(out, kind);
  }
  return out;
}

/** The packets that made it through, dropping the rest (counted by the caller only for the packet as a whole). */
function passed(out: Processed): Buffer[] {
  return typeof out === 'string' ? [] : Array.isArray(out) ? out : [out];
}

/** SRTP/SRTCP from the participant: authenticated and decrypted with its key, else dropped. */
class SrtpUnprotect implements PacketProcessor {
  constructor(private readonly context: SrtpContext) {}

  process(packet: Buffer, kind: StreamKind): Buffer | DropReason {
    const plain = this.context.unprotect(kind === 'RTCP', packet);
    return typeof plain === 'number' ? 'srtp' : plain;
  }
}

/** Towards the participant: protected with the relay's key; a packet the transform refuses never leaves in the clear. */
class SrtpProtect implements PacketProcessor {
  constructor(private readonly context: SrtpContext) {}

  process(packet: Buffer, kind: StreamKind): Buffer | DropReason {
    const sealed = this.context.protect(kind === 'RTCP', packet);
    return typeof sealed === 'number' ? 'malformed' : sealed;
  }
}

/** A DTLS-SRTP leg whose handshake has not finished (or whose certificate did not match): nothing passes in the clear. */
const REFUSE_UNKEYED: PacketProcessor = { process: () => 'srtp' };
const UNKEYED_CHAIN: Chain = Object.freeze([REFUSE_UNKEYED]);

/** The SRTP contexts of a side with keys: the participant's and the relay's. */
export interface SrtpContexts {
  decrypt: SrtpContext;
  encrypt: SrtpContext;
}

export function srtpContexts(srtp: SrtpKeyPair): SrtpContexts {
  return { decrypt: new SrtpContext(srtp.decrypt), encrypt: new SrtpContext(srtp.encrypt) };
}

/** Packets towards the participant turned into the codec it chose (`transcode`), and its RTCP to match. */
class Transcode implements EgressProcessor {
  private readonly converters = new Map<number, PayloadConverter>();
  /** Each converter that rewrites RTCP, once (one may take several payload types). */
  private readonly rtcpRewriters: PayloadConverter[];

  constructor(conversions: readonly Conversion[]) {
    for (const c of conversions) for (const [pt, converter] of payloadConverters(c)) this.converters.set(pt, converter);
    this.rtcpRewriters = [...new Set(this.converters.values())].filter((c) => c.rtcp !== undefined);
  }

  process(packet: Buffer, kind: StreamKind): Processed {
    if (kind === 'RTCP') {
      let out = packet;
      for (const converter of this.rtcpRewriters) out = converter.rtcp!(out);
      return out;
    }
    const converter = this.converters.get(packet[1]! & 0x7f);
    const header = converter ? rtpHeaderLength(packet) : -1;
    if (!converter || header < 0) return packet;
    const end = packet.length - (packet[0]! & 0x20 ? packet[packet.length - 1]! : 0);
    return end < header ? 'malformed' : converter.convert(packet, header, end);
  }
}

/** The processors converting what a side's participant is sent, before its SRTP. */
export function conversionChain(conversions: readonly Conversion[]): EgressChain {
  return conversions.length === 0 ? EMPTY_CHAIN : [new Transcode(conversions)];
}

/** The ingress and egress chains of a side with these contexts; `dtls` when keys are to come from a handshake. */
export function securityChains(srtp: SrtpContexts | undefined, dtls: boolean): { ingress: Chain; egress: Chain } {
  if (srtp) return { ingress: [new SrtpUnprotect(srtp.decrypt)], egress: [new SrtpProtect(srtp.encrypt)] };
  return dtls ? { ingress: UNKEYED_CHAIN, egress: UNKEYED_CHAIN } : { ingress: EMPTY_CHAIN, egress: EMPTY_CHAIN };
}
