/**
 * One direction of SRTP/SRTCP (RFC 3711, RFC 7714) for one key: protect what the relay sends with
 * its own key, or unprotect what a participant sends with the participant's key.
 *
 * Counter mode runs as AES-ECB over a scratch buffer of counter blocks: one long-lived cipher object
 * instead of a new one per packet. GCM has no such shortcut in node:crypto, so it creates one per packet.
 */
import { rtpHeaderLength } from '../rtp/header.js';
import { createCipheriv, createDecipheriv, type Cipher } from 'node:crypto';
import { HmacSha1 } from './hmac.js';
import { srtpPolicy, type SessionKeys, type SrtpKeyMaterial } from './keys.js';
import { ReplayWindow, RolloverCounter } from './replay.js';
import type { SrtpSuite } from './suites.js';

/** Why a packet could not be unprotected; the data plane counts each. */
export const enum SrtpFailure {
  Malformed = 1,
  Auth = 2,
  Replay = 3,
}

/** Largest packet the data plane handles, plus room for a tag and the SRTCP index. */
const MAX_PACKET = 2048 + 32;
/** A participant may switch SSRC (transfer, re-INVITE); remember this many before forgetting the oldest. */
const MAX_SSRCS = 16;
const GCM_TAG = 16;
const SRTCP_E_FLAG = 0x80000000;

interface SsrcState {
  roc: RolloverCounter;
  replay: ReplayWindow;
  rtcpReplay: ReplayWindow;
}

// Scratch shared by every key of a thread (packets are handled one at a time): per-key copies made each
// packet touch cold memory, which cost more than the AES itself once a thread held a thousand keys.
const counterBlocks = Buffer.alloc(MAX_PACKET + 16);
const counterIv = Buffer.alloc(16);
const rocScratch = Buffer.alloc(4);

export class Keystream {
  private readonly ecb: Cipher;

  constructor(
    key: Buffer,
    private readonly salt: Buffer,
  ) {
    this.ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.ecb.setAutoPadding(false);
  }

  /** XORs AES-CM keystream into data[from..]; IV = salt XOR (SSRC << 64) XOR (index << 16) (RFC 3711 §4.1.1). */
  apply(data: Buffer, from: number, ssrc: number, indexHigh: number, indexLow: number): void {
    const length = data.length - from;
    if (length <= 0) return;
    const iv = counterIv;
    iv.fill(0);
    this.salt.copy(iv);
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
    // The 48-bit index sits in bytes 8..13: high 32 bits (ROC) then the low 16 (SEQ).
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ indexHigh) >>> 0, 8);
    iv.writeUInt16BE(iv.readUInt16BE(12) ^ indexLow, 12);
    const count = Math.ceil(length / 16);
    const blocks = counterBlocks;
    for (let i = 0; i < count; i++) {
      iv.copy(blocks, i * 16);
      blocks.writeUInt16BE(i, i * 16 + 14);
    }
    const stream = this.ecb.update(blocks.subarray(0, count * 16));
    for (let i = 0; i < length; i++) data[from + i]! ^= stream[i]!;
  }
}

/**
 * How far one SRTP direction has got: the SRTCP index and each SSRC's highest RTP index (ROC << 16 |
 * SEQ). A context given it back (restart, move, another thread) continues instead of starting at ROC 0.
 */
export interface SrtpProgress {
  srtcpIndex: number;
  ssrcs: Array<[ssrc: number, index: number]>;
}

export class SrtpContext {
  readonly suite: SrtpSuite;
  private readonly rtpKeys: SessionKeys;
  private readonly rtcpKeys: SessionKeys;
  private readonly rtpStream: Keystream | undefined;
  private readonly rtcpStream: Keystream | undefined;
  private readonly rtpMac: HmacSha1 | undefined;
  private readonly rtcpMac: HmacSha1 | undefined;
  private readonly encryptRtp: boolean;
  private readonly encryptRtcp: boolean;
  private readonly authRtp: boolean;
  private readonly mkiLength: number;
  private readonly ssrcs = new Map<number, SsrcState>();
  private srtcpIndex = 0;

  constructor(material: SrtpKeyMaterial) {
    const policy = srtpPolicy(material);
    const { suite, rtp, rtcp } = policy;
    this.suite = suite;
    this.rtpKeys = rtp;
    this.rtcpKeys = rtcp;
    this.encryptRtp = policy.encryptRtp;
    this.encryptRtcp = policy.encryptRtcp;
    this.authRtp = policy.authRtp;
    this.mkiLength = policy.mkiLength;
    const keys = { rtp, rtcp };
    if (suite.cipher === 'aes-cm') {
      this.rtpStream = new Keystream(keys.rtp.encryption, keys.rtp.salt);
      this.rtcpStream = new Keystream(keys.rtcp.encryption, keys.rtcp.salt);
    }
    if (suite.cipher !== 'aes-gcm') {
      this.rtpMac = new HmacSha1(keys.rtp.auth);
      this.rtcpMac = new HmacSha1(keys.rtcp.auth);
    }
  }

  /** RTP or RTCP by `rtcp`: what the data plane calls per packet. */
  protect(rtcp: boolean, packet: Buffer): Buffer | SrtpFailure {
    return rtcp ? this.protectRtcp(packet) : this.protectRtp(packet);
  }

  unprotect(rtcp: boolean, packet: Buffer): Buffer | SrtpFailure {
    return rtcp ? this.unprotectRtcp(packet) : this.unprotectRtp(packet);
  }

  /** Plain RTP in, SRTP out (a new buffer); Malformed when the header runs past the packet. */
  protectRtp(packet: Buffer): Buffer | SrtpFailure.Malformed {
    const header = rtpHeaderLength(packet);
    if (header < 0) return SrtpFailure.Malformed;
    const ssrc = packet.readUInt32BE(8);
    const state = this.ssrcs.get(ssrc) ?? this.remember(ssrc);
    const index = state.roc.estimate(packet.readUInt16BE(2));
    const safeIndex = index < 0 ? packet.readUInt16BE(2) : index;
    state.roc.update(safeIndex);
    const roc = Math.floor(safeIndex / 65536);
    const seq = safeIndex % 65536;
    if (this.suite.cipher === 'aes-gcm') return this.gcmRtp(true, packet, header, ssrc, roc, seq)!;

    const tagLength = this.authRtp ? this.suite.srtpTagLength : 0;
    const out = Buffer.allocUnsafe(packet.length + tagLength);
    packet.copy(out);
    if (this.encryptRtp) this.rtpStream!.apply(out.subarray(0, packet.length), header, ssrc, roc, seq);
    if (tagLength > 0) this.rtpMac!.compute(out.subarray(0, packet.length), this.rocBytes(roc)).copy(out, packet.length, 0, tagLength);
    return out;
  }

  /** SRTP in, plain RTP out, or why not. */
  unprotectRtp(packet: Buffer): Buffer | SrtpFailure {
    const tagLength = this.authRtp ? this.suite.srtpTagLength : 0;
    const header = rtpHeaderLength(packet);
    if (header < 0 || packet.length - tagLength - this.mkiLength < header) return SrtpFailure.Malformed;
    const ssrc = packet.readUInt32BE(8);
    // An unknown SSRC gets state only once a packet of it authenticates, so forged packets with made-up
    // SSRCs cannot push a real stream's ROC and replay state out of the table.
    const state = this.ssrcs.get(ssrc);
    const sequence = packet.readUInt16BE(2);
    const index = state ? state.roc.estimate(sequence) : sequence;
    if (index < 0 || (state && !state.replay.fresh(index))) return SrtpFailure.Replay;
    const roc = Math.floor(index / 65536);
    const seq = index % 65536;

    let plain: Buffer | undefined;
    if (this.suite.cipher === 'aes-gcm') {
      plain = this.gcmRtp(false, packet, header, ssrc, roc, seq);
      if (!plain) return SrtpFailure.Auth;
    } else {
      // The MKI sits between the payload and the tag and is not authenticated.
      const body = packet.subarray(0, packet.length - tagLength - this.mkiLength);
      if (tagLength > 0 && !this.rtpMac!.verify(body, this.rocBytes(roc), packet.subarray(packet.length - tagLength))) return SrtpFailure.Auth;
      plain = Buffer.from(body);
      if (this.encryptRtp) this.rtpStream!.apply(plain, header, ssrc, roc, seq);
    }
    const kept = state ?? this.remember(ssrc);
    kept.roc.update(index);
    kept.replay.accept(index);
    return plain;
  }

  /** Plain RTCP in, SRTCP out: encrypted payload, E flag + 31-bit index, tag (RFC 3711 §3.4, RFC 7714 §9). */
  protectRtcp(packet: Buffer): Buffer {
    const index = this.srtcpIndex;
    this.srtcpIndex = (this.srtcpIndex + 1) % SRTCP_E_FLAG;
    const word = ((this.encryptRtcp ? SRTCP_E_FLAG : 0) | index) >>> 0;
    const ssrc = packet.readUInt32BE(4);
    if (this.suite.cipher === 'aes-gcm') return this.gcmRtcp(true, packet, ssrc, word)!;

    const tagLength = this.suite.srtcpTagLength;
    const out = Buffer.allocUnsafe(packet.length + 4 + tagLength);
    packet.copy(out);
    out.writeUInt32BE(word, packet.length);
    if (this.encryptRtcp) this.rtcpStream!.apply(out.subarray(0, packet.length), 8, ssrc, Math.floor(index / 65536), index % 65536);
    this.rtcpMac!.compute(out.subarray(0, packet.length + 4)).copy(out, packet.length + 4, 0, tagLength);
    return out;
  }

  unprotectRtcp(packet: Buffer): Buffer | SrtpFailure {
    const tagLength = this.suite.srtcpTagLength;
    if (packet.length < 8 + 4 + this.mkiLength + tagLength) return SrtpFailure.Malformed;
    const ssrc = packet.readUInt32BE(4);
    const gcm = this.suite.cipher === 'aes-gcm';
    // GCM puts the E|index word after the tag; HMAC suites before it.
    const wordAt = gcm ? packet.length - 4 : packet.length - 4 - this.mkiLength - tagLength;
    const word = packet.readUInt32BE(wordAt);
    const index = word & 0x7fffffff;
    const encrypted = (word & SRTCP_E_FLAG) !== 0;
    const state = this.ssrcs.get(ssrc);
    if (state && !state.rtcpReplay.fresh(index)) return SrtpFailure.Replay;

    let plain: Buffer | undefined;
    if (gcm) {
      plain = this.gcmRtcp(false, packet, ssrc, word);
      if (!plain) return SrtpFailure.Auth;
    } else {
      const authed = packet.subarray(0, wordAt + 4);
      if (!this.rtcpMac!.verify(authed, undefined, packet.subarray(packet.length - tagLength))) return SrtpFailure.Auth;
      plain = Buffer.from(packet.subarray(0, wordAt));
      if (encrypted && this.suite.cipher === 'aes-cm') this.rtcpStream!.apply(plain, 8, ssrc, Math.floor(index / 65536), index % 65536);
    }
    (state ?? this.remember(ssrc)).rtcpReplay.accept(index);
    return plain;
  }

  progress(): SrtpProgress {
    const ssrcs: Array<[number, number]> = [];
    for (const [ssrc, state] of this.ssrcs) if (state.roc.highest() >= 0) ssrcs.push([ssrc, state.roc.highest()]);
    return { srtcpIndex: this.srtcpIndex, ssrcs };
  }

  resume(progress: SrtpProgress): void {
    this.srtcpIndex = progress.srtcpIndex;
    for (const [ssrc, index] of progress.ssrcs) (this.ssrcs.get(ssrc) ?? this.remember(ssrc)).roc.update(index);
  }

  /** New state for an SSRC, forgetting the longest-known one when the table is full. */
  private remember(ssrc: number): SsrcState {
    const state = { roc: new RolloverCounter(), replay: new ReplayWindow(), rtcpReplay: new ReplayWindow() };
    if (this.ssrcs.size >= MAX_SSRCS) this.ssrcs.delete(this.ssrcs.keys().next().value!);
    this.ssrcs.set(ssrc, state);
    return state;
  }

  /** The ROC as the 4 bytes RFC 3711 §4.2 appends to the authenticated portion. */
  private rocBytes(roc: number): Buffer {
    rocScratch.writeUInt32BE(roc >>> 0, 0);
    return rocScratch;
  }

  /** RFC 7714 §8: IV = salt XOR (0000 || SSRC || ROC || SEQ), AAD = the RTP header. Undefined when authentication fails. */
  private gcmRtp(encrypt: boolean, packet: Buffer, header: number, ssrc: number, roc: number, seq: number): Buffer | undefined {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(ssrc, 2);
    iv.writeUInt32BE(roc >>> 0, 6);
    iv.writeUInt16BE(seq, 10);
    const aadEnd = this.encryptRtp ? header : encrypt ? packet.length : packet.length - GCM_TAG;
    return this.gcm(encrypt, iv, this.rtpKeys, [packet.subarray(0, aadEnd)], packet.subarray(aadEnd, encrypt ? packet.length : packet.length - GCM_TAG), packet, []);
  }

  /** RFC 7714 §9: IV = salt XOR (0000 || SSRC || 0000 || index), AAD = header (and payload if unencrypted) + E|index; out = header || ct || tag || E|index. */
  private gcmRtcp(encrypt: boolean, packet: Buffer, ssrc: number, word: number): Buffer | undefined {
    const iv = Buffer.alloc(12);
    iv.writeUInt32BE(ssrc, 2);
    iv.writeUInt32BE(word & 0x7fffffff, 8);
    const wordBytes = Buffer.alloc(4);
    wordBytes.writeUInt32BE(word >>> 0, 0);
    const bodyEnd = encrypt ? packet.length : packet.length - 4 - GCM_TAG;
    const aadEnd = word & SRTCP_E_FLAG ? 8 : bodyEnd;
    return this.gcm(encrypt, iv, this.rtcpKeys, [packet.subarray(0, aadEnd), wordBytes], packet.subarray(aadEnd, bodyEnd), packet, [wordBytes]);
  }

  /** AES-GCM over `body`: encrypting returns aad[0] || ct || tag || trailer; decrypting returns aad[0] || pt. */
  private gcm(encrypt: boolean, ivBase: Buffer, keys: SessionKeys, aad: Buffer[], body: Buffer, packet: Buffer, trailer: Buffer[]): Buffer | undefined {
    for (let i = 0; i < 12; i++) ivBase[i]! ^= keys.salt[i]!;
    const algorithm = keys.encryption.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm';
    const aadAll = aad.length === 1 ? aad[0]! : Buffer.concat(aad);
    if (encrypt) {
      const cipher = createCipheriv(algorithm, keys.encryption, ivBase, { authTagLength: GCM_TAG });
      cipher.setAAD(aadAll);
      const ct = cipher.update(body);
      cipher.final();
      return Buffer.concat([aad[0]!, ct, cipher.getAuthTag(), ...trailer]);
    }
    const tagEnd = trailer.length > 0 ? packet.length - 4 : packet.length;
    const decipher = createDecipheriv(algorithm, keys.encryption, ivBase, { authTagLength: GCM_TAG });
    decipher.setAAD(aadAll);
    decipher.setAuthTag(packet.subarray(tagEnd - GCM_TAG, tagEnd));
    const pt = decipher.update(body);
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return Buffer.concat([aad[0]!, pt]);
  }
}
