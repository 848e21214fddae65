/**
 * Packet features as small processors chained per side, the one place a packet feature plugs into the
 * TypeScript packet path. A side's ingress chain runs on what its participant sends, after the packet
 * is checked and before its source is learned (so a packet a processor refuses cannot move the media);
 * its egress chain runs on each copy sent to its participant. SRTP and the guard of DTLS legs without
 * keys are the first processors; blocking, silencing, DTMF, transcoding and recording go into the same
 * chains. The native addon runs none of them: a call that needs one runs on the workers (src/placement
 * places by CallNeeds, which each such feature extends).
 */
import type { DropReason, StreamKind } from '../shared/vocabulary.js';
import { SrtpContext } from '../srtp/context.js';
import type { SrtpKeyPair } from '../srtp/keys.js';
import { g711Table } from '../codecs/g711.js';
import type { G711Conversion } from '../codecs/transcoding.js';
import { rtpHeaderLength } from '../rtp/header.js';

export interface PacketProcessor {
  /** The packet to pass on (the same buffer or a new one), or why it is dropped. */
  process(packet: Buffer, kind: StreamKind): Buffer | DropReason;
}

export type Chain = readonly PacketProcessor[];

/** Most sides run no processor at all: one shared empty chain, not an array per side (idle-call heap). */
export const EMPTY_CHAIN: Chain = Object.freeze([]);

/** Runs `chain` in order; stops at the first processor that drops the packet. */
export function runChain(chain: Chain, packet: Buffer, kind: StreamKind): Buffer | DropReason {
  let out: Buffer | DropReason = packet;
  for (let i = 0; i < chain.length && typeof out !== 'string'; i++) out = chain[i]!.process(out, kind);
  return out;
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

/** G.711 towards the participant in the codec it chose: payload type and every sample byte mapped (`transcode`). */
class G711Convert implements PacketProcessor {
  private readonly tables = new Map<number, { toPt: number; table: Uint8Array }>();

  constructor(conversions: readonly G711Conversion[]) {
    for (const c of conversions) this.tables.set(c.fromPt, { toPt: c.toPt, table: g711Table(c.from, c.to) });
  }

  process(packet: Buffer, kind: StreamKind): Buffer | DropReason {
    const conversion = kind === 'RTP' ? this.tables.get(packet[1]! & 0x7f) : undefined;
    const header = conversion ? rtpHeaderLength(packet) : -1;
    if (!conversion || header < 0) return packet;
    // A copy: the same packet may be on its way to other sinks as it is.
    const out = Buffer.from(packet);
    out[1] = (packet[1]! & 0x80) | conversion.toPt;
    const end = packet.length - (packet[0]! & 0x20 ? packet[packet.length - 1]! : 0);
    for (let i = header; i < end; i++) out[i] = conversion.table[out[i]!]!;
    return out;
  }
}

/** The processors converting what a side's participant is sent, before its SRTP. */
export function conversionChain(conversions: readonly G711Conversion[]): Chain {
  return conversions.length === 0 ? EMPTY_CHAIN : [new G711Convert(conversions)];
}

/** The ingress and egress chains of a side with these contexts; `dtls` when keys are to come from a handshake. */
export function securityChains(srtp: SrtpContexts | undefined, dtls: boolean): { ingress: Chain; egress: Chain } {
  if (srtp) return { ingress: [new SrtpUnprotect(srtp.decrypt)], egress: [new SrtpProtect(srtp.encrypt)] };
  return dtls ? { ingress: UNKEYED_CHAIN, egress: UNKEYED_CHAIN } : { ingress: EMPTY_CHAIN, egress: EMPTY_CHAIN };
}
