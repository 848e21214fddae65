/**
 * Published test vectors for the transforms in src/srtp, beyond RFC 3711 Appendix B
 * (test/srtp-crypto.test.ts):
 *
 * - RFC 6188 §7: the AES-256-CM and AES-192-CM keystreams (§7.1, §7.3) and the AES_256_CM_PRF and
 *   AES_192_CM_PRF key derivations (§7.2, §7.4), through Keystream and deriveKeys.
 * - RFC 7714 §16 and §17: every AEAD_AES_128_GCM and AEAD_AES_256_GCM SRTP and SRTCP example
 *   (encryption, decryption, tagging only, tag verification), through SrtpContext.
 *
 * RFC 7714 publishes session keys, not master keys (the same key and salt serve SRTP and SRTCP), and
 * no master key can be made to derive them, so its vectors are run on an SrtpContext whose derived
 * session keys are replaced by the RFC's after construction. Everything after key derivation (IV,
 * associated data, packet layout, tag) is the relay's own code path; §17's SRTCP index 0x5d4 is set
 * the same way. RFC 7714 has no KDF vector; GCM key derivation is covered against libsrtp2 in
 * test/srtp-crypto.test.ts and test/srtp-bridge-libsrtp.test.ts.
 */
import t from 'tap';
import { Keystream, SrtpContext } from '../src/srtp/context.js';
import { deriveKeys, type SessionKeys } from '../src/srtp/keys.js';
import { suiteByName } from '../src/srtp/suites.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 6188 §7.1 and §7.3 use RFC 3711 B.2's setup: session salt F0F1...FD, SSRC 0, index 0, so the
// first counter block is F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000. The RFC also lists the keystream at
// counters FEFF..FF01 (the end of a 2^16-block segment); the relay's keystream covers one packet
// (at most ~130 blocks), so only the first three blocks are reachable through Keystream.
const B2_SALT = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD');

t.test('RFC 6188 §7.1: AES-256-CM keystream', async (t) => {
  const stream = new Keystream(hex('57f82fe3613fd170a85ec93c40b1f092 2ec4cb0dc025b58272147cc438944a98'), B2_SALT);
  const data = Buffer.alloc(48);
  stream.apply(data, 0, 0, 0, 0);
  t.equal(data.toString('hex'), '92bdd28a93c3f52511c677d08b5515a4' + '9da71b2378a854f67050756ded165bac' + '63c4868b7096d88421b563b8c94c9a31');
});

t.test('RFC 6188 §7.3: AES-192-CM keystream', async (t) => {
  const stream = new Keystream(hex('eab234764e517b2d3d160d587d8c86219740f65f99b6bcf7'), B2_SALT);
  const data = Buffer.alloc(48);
  stream.apply(data, 0, 0, 0, 0);
  t.equal(data.toString('hex'), '35096cba4610028dc1b57503804ce37c' + '5de986291dcce161d5165ec4568f5c9a' + '474a40c77894bc17180202272a4c264d');
});

t.test('RFC 6188 §7.2: AES_256_CM_PRF key derivation', async (t) => {
  for (const name of ['AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32']) {
    const keys = deriveKeys(suiteByName(name)!, hex('f0f04914b513f2763a1b1fa130f10e29 98f6f6e43e4309d1e622a0e332b9f1b6'), hex('3b04803de51ee7c96423ab5b78d2'));
    t.equal(keys.rtp.encryption.toString('hex'), '5ba1064e30ec51613cad926c5a28ef73' + '1ec7fb397f70a960653caf06554cd8c4', `${name}: cipher key`);
    t.equal(keys.rtp.salt.toString('hex'), 'fa31791685ca444a9e07c6c64e93', `${name}: cipher salt`);
    t.equal(keys.rtp.auth.toString('hex'), 'fd9c32d39ed5fbb5a9dc96b30818454d1313dc05', `${name}: auth key`);
  }
});

t.test('RFC 6188 §7.4: AES_192_CM_PRF key derivation', async (t) => {
  for (const name of ['AES_192_CM_HMAC_SHA1_80', 'AES_192_CM_HMAC_SHA1_32']) {
    const keys = deriveKeys(suiteByName(name)!, hex('73edc66c4fa15776fb57f9505c171365 50ffda71f3e8e5f1'), hex('c8522f3acd4ce86d5add78edbb11'));
    t.equal(keys.rtp.encryption.toString('hex'), '31874736a8f1143870c26e4857d8a5b2' + 'c4a354407faadabb', `${name}: cipher key`);
    t.equal(keys.rtp.salt.toString('hex'), '2372b82d639b6d8503a47adc0a6c', `${name}: cipher salt`);
    t.equal(keys.rtp.auth.toString('hex'), '355b10973cd95b9eacf4061c7e1a7151e7cfbfcb', `${name}: auth key`);
  }
});

// RFC 7714 §16: "The 16-octet (128-bit) key is 00 01 02 ... 0f, and the 32-octet (256-bit) key is
// 00 01 02 ... 1f"; the salt 51756964 2070726f 2071756f is "Quid pro quo".
const RFC7714_SALT = hex('51756964 2070726f 2071756f');
const rfc7714Key = (bytes: number): Buffer => Buffer.from(Array.from({ length: bytes }, (_, i) => i));

type Gcm = 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';

/** An SrtpContext for `suite` running on RFC 7714's session key and salt (see the header comment). */
function rfc7714Context(suite: Gcm, params: { unencryptedSrtp?: boolean; unencryptedSrtcp?: boolean } = {}, srtcpIndex = 0): SrtpContext {
  const s = suiteByName(suite)!;
  // Any master key will do: its session keys are replaced below.
  const ctx = new SrtpContext({ suite, masterKey: Buffer.alloc(s.keyLength, 0xee), masterSalt: Buffer.alloc(s.saltLength, 0xee), ...params });
  const session = (): SessionKeys => ({ encryption: rfc7714Key(s.keyLength), salt: Buffer.from(RFC7714_SALT), auth: Buffer.alloc(0) });
  const internals = ctx as unknown as { rtpKeys: SessionKeys; rtcpKeys: SessionKeys; srtcpIndex: number };
  // The fields exist under these names (a rename would make the vectors fail, not pass vacuously).
  if (!('rtpKeys' in internals && 'rtcpKeys' in internals && 'srtcpIndex' in internals)) throw new Error('SrtpContext internals changed');
  internals.rtpKeys = session();
  internals.rtcpKeys = session();
  internals.srtcpIndex = srtcpIndex;
  return ctx;
}

// §16: "Gallia est omnis divisa in partes tres" behind a 12-octet header (SSRC 5501a0b2, SEQ f17b, ROC 0).
const RTP_PLAIN = hex(`8040f17b 8041f8d3 5501a0b2 47616c6c
  69612065 7374206f 6d6e6973 20646976
  69736120 696e2070 61727465 73207472
  6573`);

const SRTP_VECTORS: Array<{ suite: Gcm; section: string; encrypted: string; tagged: string }> = [
  {
    suite: 'AEAD_AES_128_GCM',
    section: '16.1',
    // §16.1.1 "Encrypted and tagged packet" (and §16.1.2's input)
    encrypted: `8040f17b 8041f8d3 5501a0b2 f24de3a3
      fb34de6c acba861c 9d7e4bca be633bd5
      0d294e6f 42a5f47a 51c7d19b 36de3adf
      8833899d 7f27beb1 6a9152cf 765ee439
      0cce`,
    // §16.1.3 "Tagged packet" (and §16.1.4's input)
    tagged: `8040f17b 8041f8d3 5501a0b2 47616c6c
      69612065 7374206f 6d6e6973 20646976
      69736120 696e2070 61727465 73207472
      65732249 3f82d2bc e397e9d7 9e3b19aa
      4216`,
  },
  {
    suite: 'AEAD_AES_256_GCM',
    section: '16.2',
    encrypted: `8040f17b 8041f8d3 5501a0b2 32b1de78
      a822fe12 ef9f78fa 332e33aa b1801238
      9a58e2f3 b50b2a02 76ffae0f 1ba63799
      b87b7aa3 db36dfff d6b0f9bb 7878d7a7
      6c13`,
    tagged: `8040f17b 8041f8d3 5501a0b2 47616c6c
      69612065 7374206f 6d6e6973 20646976
      69736120 696e2070 61727465 73207472
      6573a866 d5910f88 7463067c eefec452
      15d4`,
  },
];

t.test('RFC 7714 §16: SRTP AEAD_AES_128_GCM and AEAD_AES_256_GCM', async (t) => {
  for (const v of SRTP_VECTORS) {
    const encrypted = hex(v.encrypted);
    const tagged = hex(v.tagged);
    t.equal((rfc7714Context(v.suite).protectRtp(RTP_PLAIN) as Buffer).toString('hex'), encrypted.toString('hex'), `${v.section}.1 ${v.suite} encryption`);
    t.same(rfc7714Context(v.suite).unprotectRtp(encrypted), RTP_PLAIN, `${v.section}.2 ${v.suite} decryption`);
    t.equal((rfc7714Context(v.suite, { unencryptedSrtp: true }).protectRtp(RTP_PLAIN) as Buffer).toString('hex'), tagged.toString('hex'), `${v.section}.3 ${v.suite} authentication tagging (UNENCRYPTED_SRTP)`);
    t.same(rfc7714Context(v.suite, { unencryptedSrtp: true }).unprotectRtp(tagged), RTP_PLAIN, `${v.section}.4 ${v.suite} tag verification`);
    // The same packets refused where they must be: a flipped tag bit, or the wrong mode.
    const bad = Buffer.from(encrypted);
    bad[bad.length - 1]! ^= 1;
    t.type(rfc7714Context(v.suite).unprotectRtp(bad), 'number', `${v.section} ${v.suite}: a flipped tag bit fails`);
    t.type(rfc7714Context(v.suite).unprotectRtp(tagged), 'number', `${v.section} ${v.suite}: a tagged-only packet does not pass as encrypted`);
  }
});

// §17.1's input, which §17.2 decrypts to and §17.3/§17.4 tag (SSRC 4d617273, SRTCP index 000005d4).
// (§17's introduction prints a slightly different packet, 81c8000e ...; the worked examples all use this one.)
const RTCP_PLAIN = hex(`81c8000d 4d617273 4e545031 4e545032
  52545020 0000042a 0000e930 4c756e61
  deadbeef deadbeef deadbeef deadbeef
  deadbeef`);

const SRTCP_VECTORS: Array<{ suite: Gcm; encrypted: string; encryptedSection: string; tagged: string; taggedSection: string }> = [
  {
    suite: 'AEAD_AES_128_GCM',
    // §17.1 "Encrypted and tagged packet"
    encryptedSection: '17.1',
    encrypted: `81c8000d 4d617273 63e94885 dcdab67c
      a727d766 2f6b7e99 7ff5c0f7 6c06f32d
      c676a5f1 730d6fda 4ce09b46 86303ded
      0bb9275b c84aa458 96cf4d2f c5abf872
      45d9eade 800005d4`,
    // §17.3 "Tagged packet"
    taggedSection: '17.3',
    tagged: `81c8000d 4d617273 4e545031 4e545032
      52545020 0000042a 0000e930 4c756e61
      deadbeef deadbeef deadbeef deadbeef
      deadbeef 841dd968 3dd78ec9 2ae58790
      125f62b3 000005d4`,
  },
  {
    suite: 'AEAD_AES_256_GCM',
    // §17.2 "Decrypting the following packet"
    encryptedSection: '17.2',
    encrypted: `81c8000d 4d617273 d50ae4d1 f5ce5d30
      4ba297e4 7d470c28 2c3ece5d bffe0a50
      a2eaa5c1 110555be 8415f658 c61de047
      6f1b6fad 1d1eb30c 4446839f 57ff6f6c
      b26ac3be 800005d4`,
    // §17.4 "Verifying the following packet"
    taggedSection: '17.4',
    tagged: `81c8000d 4d617273 4e545031 4e545032
      52545020 0000042a 0000e930 4c756e61
      deadbeef deadbeef deadbeef deadbeef
      deadbeef 91db4afb feee5a97 8fab4393
      ed2615fe 000005d4`,
  },
];

t.test('RFC 7714 §17: SRTCP AEAD_AES_128_GCM and AEAD_AES_256_GCM', async (t) => {
  for (const v of SRTCP_VECTORS) {
    const encrypted = hex(v.encrypted);
    const tagged = hex(v.tagged);
    // The RFC shows one direction per section; the relay must do both with each.
    t.equal(rfc7714Context(v.suite, {}, 0x5d4).protectRtcp(RTCP_PLAIN).toString('hex'), encrypted.toString('hex'), `${v.encryptedSection} ${v.suite}: encryption and tagging at index 0x5d4`);
    t.same(rfc7714Context(v.suite).unprotectRtcp(encrypted), RTCP_PLAIN, `${v.encryptedSection} ${v.suite}: verification and decryption`);
    t.equal(rfc7714Context(v.suite, { unencryptedSrtcp: true }, 0x5d4).protectRtcp(RTCP_PLAIN).toString('hex'), tagged.toString('hex'), `${v.taggedSection} ${v.suite}: tagging only (UNENCRYPTED_SRTCP)`);
    t.same(rfc7714Context(v.suite).unprotectRtcp(tagged), RTCP_PLAIN, `${v.taggedSection} ${v.suite}: tag verification (the E flag says unencrypted)`);
    const bad = Buffer.from(encrypted);
    bad[10]! ^= 1;
    t.type(rfc7714Context(v.suite).unprotectRtcp(bad), 'number', `${v.encryptedSection} ${v.suite}: a flipped ciphertext bit fails`);
  }
});
