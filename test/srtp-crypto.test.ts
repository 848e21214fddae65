/**
 * SRTP/SRTCP transforms: RFC 3711 Appendix B vectors, and every suite checked both ways against
 * libsrtp2 (Debian's libsrtp2-dev, an independent implementation) including a sequence-number wrap.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Keystream, SrtpContext, SrtpFailure } from '../src/srtp/context.js';
import { deriveKeys } from '../src/srtp/keys.js';
import { SRTP_SUITES, suiteByName, type SrtpSuite } from '../src/srtp/suites.js';
import { requireTool } from './helpers/tools.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('RFC 3711 B.3: key derivation', async (t) => {
  const keys = deriveKeys(suiteByName('AES_CM_128_HMAC_SHA1_80')!, hex('E1F97A0D3E018BE0D64FA32C06DE4139'), hex('0EC675AD498AFEEBB6960B3AABE6'));
  t.equal(keys.rtp.encryption.toString('hex'), 'c61e7a93744f39ee10734afe3ff7a087', 'cipher key');
  t.equal(keys.rtp.salt.toString('hex'), '30cbbc08863d8c85d49db34a9ae1', 'cipher salt');
  t.equal(keys.rtp.auth.subarray(0, 16).toString('hex'), 'cebe321f6ff7716b6fd4ab49af256a15', 'auth key');
  t.equal(keys.rtp.auth.length, 20);
});

t.test('RFC 3711 B.2: AES-CM keystream', async (t) => {
  const stream = new Keystream(hex('2B7E151628AED2A6ABF7158809CF4F3C'), hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'));
  const data = Buffer.alloc(48);
  stream.apply(data, 0, 0, 0, 0);
  t.equal(data.toString('hex'), 'e03ead0935c95e80e166b16dd92b4eb4' + 'd23513162b02d0f72a43a2fe4a5f97ab' + '41e95b3bb0a2e8dd477901e4fca894c0');
});

t.test('a key of the wrong length is refused with SRTP_INVALID', async (t) => {
  t.throws(() => new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: randomBytes(15), masterSalt: randomBytes(14) }), { code: 'SRTP_INVALID' });
  t.throws(() => new SrtpContext({ suite: 'F8_128_HMAC_SHA1_80', masterKey: randomBytes(16), masterSalt: randomBytes(14) }), { code: 'SRTP_INVALID' });
});

function rtp(seq: number, ssrc: number, payload = 160, csrcs = 0): Buffer {
  const p = Buffer.alloc(12 + csrcs * 4 + payload);
  p[0] = 0x80 | csrcs;
  p[1] = 0;
  p.writeUInt16BE(seq, 2);
  p.writeUInt32BE(seq * 160, 4);
  p.writeUInt32BE(ssrc, 8);
  for (let i = 12; i < p.length; i++) p[i] = (i * 7 + seq) & 0xff;
  return p;
}

function rtcp(ssrc: number): Buffer {
  // Sender report without report blocks: 28 bytes.
  const p = Buffer.alloc(28);
  p[0] = 0x80;
  p[1] = 200;
  p.writeUInt16BE(6, 2);
  p.writeUInt32BE(ssrc, 4);
  randomBytes(20).copy(p, 8);
  return p;
}

function material(suite: SrtpSuite) {
  return { suite: suite.name, masterKey: randomBytes(suite.keyLength), masterSalt: randomBytes(suite.saltLength) };
}

t.test('protect/unprotect round trip, replay and tampering, every suite', async (t) => {
  for (const suite of SRTP_SUITES) {
    const m = material(suite);
    const tx = new SrtpContext(m);
    const rx = new SrtpContext(m);
    const plain = rtp(100, 0x1234, 160, 2);
    const srtp = tx.protectRtp(plain) as Buffer;
    t.equal(srtp.length, plain.length + suite.srtpTagLength, `${suite.name}: tag appended`);
    if (suite.cipher !== 'null') t.not(srtp.subarray(20, 40).toString('hex'), plain.subarray(20, 40).toString('hex'), `${suite.name}: payload encrypted`);
    t.same(rx.unprotectRtp(srtp), plain, `${suite.name}: decrypts`);
    t.equal(rx.unprotectRtp(srtp), SrtpFailure.Replay, `${suite.name}: replay refused`);
    const bad = tx.protectRtp(rtp(101, 0x1234)) as Buffer;
    bad[30]! ^= 1;
    t.equal(rx.unprotectRtp(bad), SrtpFailure.Auth, `${suite.name}: tampered packet refused`);
    t.equal(rx.unprotectRtp(Buffer.alloc(8, 0x80)), SrtpFailure.Malformed, `${suite.name}: runt`);
    const overrun = rtp(102, 0x1234, 4);
    overrun[0] = 0x90; // header extension whose length runs past the packet
    overrun.writeUInt16BE(50, 14);
    t.equal(tx.protectRtp(overrun), SrtpFailure.Malformed, `${suite.name}: never sent in the clear`);
    const sr = rtcp(0x1234);
    t.same(rx.unprotectRtcp(tx.protectRtcp(sr)), sr, `${suite.name}: SRTCP decrypts`);
    const badRtcp = tx.protectRtcp(sr);
    badRtcp[10]! ^= 1;
    t.equal(rx.unprotectRtcp(badRtcp), SrtpFailure.Auth, `${suite.name}: tampered SRTCP refused`);
  }
});

t.test('replay window: old packets beyond the window are refused, reordered ones inside it accepted', async (t) => {
  const m = material(suiteByName('AES_CM_128_HMAC_SHA1_80')!);
  const tx = new SrtpContext(m);
  const rx = new SrtpContext(m);
  const packets = Array.from({ length: 300 }, (_, i) => tx.protectRtp(rtp(i, 7)) as Buffer);
  t.ok(Buffer.isBuffer(rx.unprotectRtp(packets[299]!)));
  t.ok(Buffer.isBuffer(rx.unprotectRtp(packets[250]!)), 'reordered within the window');
  t.equal(rx.unprotectRtp(packets[100]!), SrtpFailure.Replay, 'too old');
});

function compileReference(): string {
  const out = join(mkdtempSync(join(tmpdir(), 'rtpbridge-srtp-')), 'libsrtp-check');
  execFileSync('cc', ['-O1', '-o', out, join(import.meta.dirname, 'fixtures/srtp/libsrtp-check.c'), '-lsrtp2']);
  return out;
}

function reference(bin: string, suite: string, op: 'protect' | 'unprotect', kind: 'rtp' | 'rtcp', keyAndSalt: Buffer, packets: Buffer[]): string[] {
  const run = spawnSync(bin, [suite, op, kind, keyAndSalt.toString('hex')], { input: packets.map((p) => p.toString('hex')).join('\n') + '\n' });
  if (run.status !== 0) throw new Error(`libsrtp-check exited ${run.status}: ${run.stderr}`);
  return run.stdout.toString().trim().split('\n');
}

t.test('interoperates with libsrtp2 in both directions, across a sequence-number wrap', async (t) => {
  // .ci/run installs libsrtp2-dev: there a missing one fails this test rather than skipping it.
  const header = ['/usr/include/srtp2/srtp.h', '/usr/local/include/srtp2/srtp.h'].some((h) => existsSync(h));
  if (!requireTool(t, 'libsrtp2 (srtp2/srtp.h)', header, 'apt-get install libsrtp2-dev')) return;
  const bin = compileReference();
  // 65533..65535 then 0..2: ROC goes to 1 mid-stream, and the tag covers the ROC.
  const seqs = [65533, 65534, 65535, 0, 1, 2];
  // libsrtp has no NULL_HMAC_SHA1_32 policy; libsrtp2 before 2.8 derives AES-192 session keys wrongly
  // (its issue #763); we match RFC 6188 §7.4 (test/srtp-rfc-vectors.test.ts) and rtpengine.
  const skip = new Set(['NULL_HMAC_SHA1_32', 'AES_192_CM_HMAC_SHA1_80', 'AES_192_CM_HMAC_SHA1_32']);
  for (const suite of SRTP_SUITES.filter((s) => !skip.has(s.name))) {
    const m = material(suite);
    const keyAndSalt = Buffer.concat([m.masterKey, m.masterSalt]);
    const plains = seqs.map((s) => rtp(s, 0xcafe0001, 100 + s % 50, s % 3));

    const ours = new SrtpContext(m);
    const decrypted = reference(bin, suite.name, 'unprotect', 'rtp', keyAndSalt, plains.map((p) => ours.protectRtp(p) as Buffer));
    t.same(decrypted, plains.map((p) => p.toString('hex')), `${suite.name}: libsrtp decrypts our SRTP`);

    const theirs = reference(bin, suite.name, 'protect', 'rtp', keyAndSalt, plains);
    const mine = new SrtpContext(m);
    t.same(theirs.map((h) => (mine.unprotectRtp(Buffer.from(h, 'hex')) as Buffer).toString('hex')), plains.map((p) => p.toString('hex')), `${suite.name}: we decrypt libsrtp's SRTP`);

    const reports = [rtcp(0xcafe0001), rtcp(0xcafe0001), rtcp(0xcafe0001)];
    const ourRtcp = new SrtpContext(m);
    t.same(reference(bin, suite.name, 'unprotect', 'rtcp', keyAndSalt, reports.map((p) => ourRtcp.protectRtcp(p))), reports.map((p) => p.toString('hex')), `${suite.name}: libsrtp decrypts our SRTCP`);
    const theirRtcp = reference(bin, suite.name, 'protect', 'rtcp', keyAndSalt, reports);
    const mineRtcp = new SrtpContext(m);
    t.same(theirRtcp.map((h) => (mineRtcp.unprotectRtcp(Buffer.from(h, 'hex')) as Buffer).toString('hex')), reports.map((p) => p.toString('hex')), `${suite.name}: we decrypt libsrtp's SRTCP`);
  }
});

t.test('an MKI between payload and tag is skipped on receipt (RFC 3711 §3.1)', async (t) => {
  const suite = suiteByName('AES_CM_128_HMAC_SHA1_80')!;
  const m = material(suite);
  const tx = new SrtpContext(m);
  const rx = new SrtpContext({ ...m, mkiLength: 4 });
  const plain = rtp(5, 9);
  const srtp = tx.protectRtp(plain) as Buffer;
  const withMki = Buffer.concat([srtp.subarray(0, srtp.length - 10), Buffer.from([0, 0, 0, 1]), srtp.subarray(srtp.length - 10)]);
  t.same(rx.unprotectRtp(withMki), plain);
  const sr = rtcp(9);
  const srtcp = tx.protectRtcp(sr);
  const rtcpWithMki = Buffer.concat([srtcp.subarray(0, srtcp.length - 10), Buffer.from([0, 0, 0, 1]), srtcp.subarray(srtcp.length - 10)]);
  t.same(rx.unprotectRtcp(rtcpWithMki), sr);
});

t.test("forged packets with made-up SSRCs do not evict a real stream's ROC", async (t) => {
  const m = material(suiteByName('AES_CM_128_HMAC_SHA1_80')!);
  const tx = new SrtpContext(m);
  const rx = new SrtpContext(m);
  // Past a sequence wrap, the stream's ROC is 1: a receiver that forgot it would compute the wrong tag.
  for (const seq of [65534, 65535, 0]) t.ok(Buffer.isBuffer(rx.unprotectRtp(tx.protectRtp(rtp(seq, 42)) as Buffer)));
  const forger = new SrtpContext(material(suiteByName('AES_CM_128_HMAC_SHA1_80')!));
  for (let i = 0; i < 100; i++) {
    const forged = forger.protectRtp(rtp(7, 1000 + i)) as Buffer;
    t.equal(rx.unprotectRtp(forged), SrtpFailure.Auth);
  }
  t.same(rx.unprotectRtp(tx.protectRtp(rtp(1, 42)) as Buffer), rtp(1, 42), 'the real stream still decrypts after the flood');
});
