/**
 * SRTP key derivation (RFC 3711 §4.3 with key derivation rate 0; RFC 6188 for AES-192/256; RFC 7714
 * §11 and its erratum 4938 for GCM, whose 96-bit master salt is padded to 112 bits).
 */
import { createCipheriv } from 'node:crypto';
import { SrtpError } from '../errors.js';
import { suiteByName, type SrtpSuite } from './suites.js';

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

/** What both SRTP engines (TypeScript and the addon) need of a key: its suite, session keys and which parts to protect. */
export interface SrtpPolicy {
  suite: SrtpSuite;
  rtp: SessionKeys;
  rtcp: SessionKeys;
  encryptRtp: boolean;
  encryptRtcp: boolean;
  authRtp: boolean;
  mkiLength: number;
}

export function srtpPolicy(material: SrtpKeyMaterial): SrtpPolicy {
  const suite = suiteByName(material.suite);
  if (!suite) throw new SrtpError(`unknown crypto suite ${material.suite}`);
  const keys = deriveKeys(suite, material.masterKey, material.masterSalt);
  return {
    suite,
    rtp: keys.rtp,
    rtcp: keys.rtcp,
    encryptRtp: suite.cipher !== 'null' && !material.unencryptedSrtp,
    encryptRtcp: suite.cipher !== 'null' && !material.unencryptedSrtcp,
    // RFC 7714 AEAD always authenticates.
    authRtp: suite.cipher === 'aes-gcm' || !material.unauthenticatedSrtp,
    mkiLength: material.mkiLength ?? 0,
  };
}

/** Names a key exactly, so a repeated configure with the same keys keeps ROC and replay state. */
function srtpKeyId(m: SrtpKeyMaterial): string {
  const flags = [m.unencryptedSrtp, m.unencryptedSrtcp, m.unauthenticatedSrtp].map((f) => (f ? 1 : 0)).join('');
  return `${m.suite}:${Buffer.from(m.masterKey).toString('hex')}:${Buffer.from(m.masterSalt).toString('hex')}:${flags}:${m.mkiLength ?? 0}`;
}

/** Names a side's decrypt/encrypt key pair ('' for none): both engines rebuild their SRTP state only when it changes. */
export function srtpPairId(pair: SrtpKeyPair | null): string {
  return pair ? `${srtpKeyId(pair.decrypt)}/${srtpKeyId(pair.encrypt)}` : '';
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

/** SRTP keys for one leg: the participant's, to decrypt what it sends; the relay's, to encrypt what it receives. */
export interface SrtpKeyPair {
  decrypt: SrtpKeyMaterial;
  encrypt: SrtpKeyMaterial;
}
