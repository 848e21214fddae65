/**
 * SRTP crypto suites the relay speaks (RFC 4568 SDES names), in the order rtpengine offers them.
 * F8 suites are not implemented, so they are neither offered nor accepted.
 */
export type SrtpCipher = 'aes-cm' | 'aes-gcm' | 'null';

export interface SrtpSuite {
  /** The SDES name, as in `a=crypto:<tag> <name> inline:...`. */
  readonly name: string;
  readonly cipher: SrtpCipher;
  /** Master (and session encryption) key length in bytes; NULL keys its KDF with AES-128. */
  readonly keyLength: number;
  /** Master and session salt length: 14 for counter mode, 12 for GCM (RFC 7714). */
  readonly saltLength: number;
  /** HMAC-SHA1 session key length; 0 for AEAD suites. */
  readonly authKeyLength: number;
  readonly srtpTagLength: number;
  /** SRTCP tags are 80 bits even for the _32 suites (RFC 4568 §6.2). */
  readonly srtcpTagLength: number;
}

const hmac = (name: string, cipher: SrtpCipher, keyLength: number, tag: number): SrtpSuite => ({
  name,
  cipher,
  keyLength,
  saltLength: 14,
  authKeyLength: 20,
  srtpTagLength: tag,
  srtcpTagLength: 10,
});

const gcm = (name: string, keyLength: number): SrtpSuite => ({
  name,
  cipher: 'aes-gcm',
  keyLength,
  saltLength: 12,
  authKeyLength: 0,
  srtpTagLength: 16,
  srtcpTagLength: 16,
});

export const SRTP_SUITES: readonly SrtpSuite[] = Object.freeze([
  gcm('AEAD_AES_256_GCM', 32),
  gcm('AEAD_AES_128_GCM', 16),
  hmac('AES_256_CM_HMAC_SHA1_80', 'aes-cm', 32, 10),
  hmac('AES_256_CM_HMAC_SHA1_32', 'aes-cm', 32, 4),
  hmac('AES_192_CM_HMAC_SHA1_80', 'aes-cm', 24, 10),
  hmac('AES_192_CM_HMAC_SHA1_32', 'aes-cm', 24, 4),
  hmac('AES_CM_128_HMAC_SHA1_80', 'aes-cm', 16, 10),
  hmac('AES_CM_128_HMAC_SHA1_32', 'aes-cm', 16, 4),
  hmac('NULL_HMAC_SHA1_80', 'null', 16, 10),
  hmac('NULL_HMAC_SHA1_32', 'null', 16, 4),
]);

const BY_NAME = new Map(SRTP_SUITES.map((s) => [s.name, s]));

/** Exact SDES name (case-sensitive, as RFC 4568 registers them). */
export function suiteByName(name: string): SrtpSuite | undefined {
  return BY_NAME.get(name);
}

/** Suite named in an ng flag, where case, `_` and `-` are not significant (`SDES-no-aes-cm-128-hmac-sha1-32`). */
export function suiteByFlag(flag: string): SrtpSuite | undefined {
  const want = flagForm(flag);
  return SRTP_SUITES.find((s) => flagForm(s.name) === want);
}

function flagForm(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}
