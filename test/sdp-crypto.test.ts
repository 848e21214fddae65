/** a=crypto parsing and writing (RFC 4568 §9.1). */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { formatCrypto, keyMaterial, parseCryptoLines } from '../src/sdp/crypto.js';

const key30 = randomBytes(30).toString('base64');
const key28 = randomBytes(28).toString('base64');

t.test('usable lines: suite, key, lifetime, MKI and session parameters', async (t) => {
  const { usable, present } = parseCryptoLines([
    'm=audio 1 RTP/SAVP 0',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key30}|2^20|1:4 UNENCRYPTED_SRTCP KDR=0`,
    `a=crypto:2 AEAD_AES_128_GCM inline:${key28}`,
  ]);
  t.equal(present, 2);
  t.same(
    usable.map((c) => [c.tag, c.suite.name, c.lifetime, c.mkiLength, c.params]),
    [
      [1, 'AES_CM_128_HMAC_SHA1_80', '|2^20', 4, ['UNENCRYPTED_SRTCP', 'KDR=0']],
      [2, 'AEAD_AES_128_GCM', '', 0, []],
    ],
  );
  const m = keyMaterial(usable[0]!);
  t.equal(m.masterKey.length, 16);
  t.equal(m.masterSalt.length, 14);
  t.ok(m.unencryptedSrtcp);
  t.notOk(m.unencryptedSrtp);
  t.equal(formatCrypto(usable[0]!, false), `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key30}|2^20 UNENCRYPTED_SRTCP KDR=0`, 'MKI is not echoed');
});

t.test('unusable lines are skipped, not fatal', async (t) => {
  const { usable, present } = parseCryptoLines([
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=', // key too short
    `a=crypto:2 F8_128_HMAC_SHA1_80 inline:${key30}`, // unsupported suite
    `a=crypto:3 aes_cm_128_hmac_sha1_80 inline:${key30}`, // suite names are case-sensitive
    `a=crypto:4 AEAD_AES_128_GCM inline:${key28}|1:4`, // MKI on AEAD
    `a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:${key30}|junk`,
    'a=crypto:x',
    'a=crypto:',
    `a=crypto:99999999999 AES_CM_128_HMAC_SHA1_80 inline:${key30}`,
  ]);
  t.equal(present, 8);
  t.same(usable, []);
});

t.test('padding: kept with pad, stripped otherwise', async (t) => {
  const key38 = randomBytes(38).toString('base64');
  t.match(key38, /=$/);
  const [c] = parseCryptoLines([`a=crypto:1 AES_192_CM_HMAC_SHA1_80 inline:${key38.replace(/=+$/, '')}`]).usable;
  t.ok(c, 'unpadded base64 is accepted');
  t.equal(formatCrypto(c!, true), `a=crypto:1 AES_192_CM_HMAC_SHA1_80 inline:${key38}`);
  t.equal(formatCrypto(c!, false), `a=crypto:1 AES_192_CM_HMAC_SHA1_80 inline:${key38.replace(/=+$/, '')}`);
});
