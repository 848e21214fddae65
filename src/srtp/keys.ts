/**
 * SRTP key derivation (RFC 3711 §4.3 with key derivation rate 0; RFC 6188 for AES-192/256; RFC 7714
 * §11 and its erratum 4938 for GCM, whose 96-bit master salt is padded to 112 bits).
 */
import { createCipheriv } from 'node:crypto';
import { SrtpError } from '../errors.js';
import type { SrtpSuite } from './suites.js';

/** A participant's or the relay's SDES key for one suite, with RFC 4568 session parameters. */
export interface SrtpKeyMaterial {
  suite: string;
  masterKey: Uint8Array;
  masterSalt: Uint8Array;
  unencryptedSrtp?: boolean;
  unencryptedSrtcp?: boolean;
  unauthenticatedSrtp?: boolean;
  /** Bytes of MKI the sender puts before the tag (RFC 3711 §3.1); the relay's own keys use none. */
  mkiLength?: number;
}

export interface SessionKeys {
  encryption: Buffer;
  salt: Buffer;
  /** Empty for AEAD suites. */
  auth: Buffer;
}

const enum Label {
  RtpEncryption = 0,
  RtpAuth = 1,
  RtpSalt = 2,
  RtcpEncryption = 3,
  RtcpAuth = 4,
  RtcpSalt = 5,
}

export function deriveKeys(suite: SrtpSuite, masterKey: Uint8Array, masterSalt: Uint8Array): { rtp: SessionKeys; rtcp: SessionKeys } {
  if (masterKey.length !== suite.keyLength || masterSalt.length !== suite.saltLength) {
    throw new SrtpError(`${suite.name} needs a ${suite.keyLength}-byte key and ${suite.saltLength}-byte salt`);
  }
  const prf = (label: Label, length: number): Buffer => {
    if (length === 0) return Buffer.alloc(0);
    // x = (label << 48) XOR salt, as a 112-bit value; the PRF is AES-CM keyed with the master key, IV = x * 2^16.
    const iv = Buffer.alloc(16);
    Buffer.from(masterSalt).copy(iv);
    iv[7]! ^= label;
    const cipher = createCipheriv(`aes-${masterKey.length * 8}-ctr`, masterKey, iv);
    return cipher.update(Buffer.alloc(length));
  };
  const side = (enc: Label, auth: Label, salt: Label): SessionKeys => ({
    encryption: prf(enc, suite.keyLength),
    auth: prf(auth, suite.authKeyLength),
    salt: prf(salt, suite.saltLength),
  });
  return {
    rtp: side(Label.RtpEncryption, Label.RtpAuth, Label.RtpSalt),
    rtcp: side(Label.RtcpEncryption, Label.RtcpAuth, Label.RtcpSalt),
  };
}
