/**
 * SDES-SRTP and OSRTP end to end through the relay, with real sockets and real SRTP: phones that
 * encrypt and decrypt with the keys exchanged in SDP, against a plain-RTP phone on the other leg.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { SrtpContext } from '../src/srtp/context.js';
import { suiteByName, type SrtpSuite } from '../src/srtp/suites.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import type { NgClient } from './helpers/ng-client.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

interface CryptoLine {
  tag: number;
  suite: string;
  key: Buffer;
  rest: string;
}

function cryptoLines(sdp: string): CryptoLine[] {
  return [...sdp.matchAll(/^a=crypto:(\d+) (\S+) inline:([^|\s]+)(.*)$/gm)].map((m) => ({ tag: Number(m[1]), suite: m[2]!, key: Buffer.from(m[3]!, 'base64'), rest: m[4]! }));
}

function context(suite: SrtpSuite, key: Buffer): SrtpContext {
  return new SrtpContext({ suite: suite.name, masterKey: key.subarray(0, suite.keyLength), masterSalt: key.subarray(suite.keyLength) });
}

/** A phone whose SDP always says where its RTCP goes (its one socket), so RTP and RTCP arrive together. */
async function phone(t: Test): Promise<Phone> {
  const p = await Phone.open();
  t.teardown(() => p.close());
  return p;
}

const sdpFor = (p: Phone, extra: string[] = [], protocol?: string): string => phoneSdp({ address: '127.0.0.1', port: p.port, protocol, extra: [`a=rtcp:${p.port}`, ...extra] });

/** Sends one RTP and one RTCP each way and checks what each side gets, decrypting where a leg is SRTP. */
async function exchange(
  t: Test,
  a: { phone: Phone; relayPort: number; tx?: SrtpContext; rx?: SrtpContext },
  b: { phone: Phone; relayPort: number; tx?: SrtpContext; rx?: SrtpContext },
  label: string,
): Promise<void> {
  const fromA = rtpPacket(1000, { ssrc: 0xaaaa0001, mark: 0x41 });
  const fromB = rtpPacket(2000, { ssrc: 0xbbbb0001, mark: 0x42 });
  const seal = (ctx: SrtpContext | undefined, p: Buffer, rtcp: boolean): Buffer => (ctx ? (rtcp ? ctx.protectRtcp(p) : (ctx.protectRtp(p) as Buffer)) : p);
  await a.phone.send(seal(a.tx, fromA, false), a.relayPort, '127.0.0.1');
  await b.phone.send(seal(b.tx, fromB, false), b.relayPort, '127.0.0.1');
  await a.phone.send(seal(a.tx, rtcpPacket(0xaaaa0001), true), a.relayPort + 1, '127.0.0.1');
  await b.phone.send(seal(b.tx, rtcpPacket(0xbbbb0001), true), b.relayPort + 1, '127.0.0.1');
  for (const [to, want, wantRtcp] of [
    [b, fromA, rtcpPacket(0xaaaa0001)],
    [a, fromB, rtcpPacket(0xbbbb0001)],
  ] as const) {
    const got = await to.phone.waitFor(2);
    const rtp = got.find((r) => r.data[1] !== 201)!.data;
    const rtcp = got.find((r) => r.data[1] === 201)!.data;
    t.same(to.rx ? to.rx.unprotectRtp(rtp) : rtp, want, `${label}: RTP arrives ${to.rx ? 'as SRTP that decrypts' : 'plain'}`);
    t.same(to.rx ? to.rx.unprotectRtcp(rtcp) : rtcp, wantRtcp, `${label}: RTCP arrives ${to.rx ? 'as SRTCP that decrypts' : 'plain'}`);
  }
}

async function offer(ng: NgClient, callId: string, sdp: string, extra: Record<string, unknown> = {}) {
  return ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp, ...extra });
}

async function answer(ng: NgClient, callId: string, sdp: string, extra: Record<string, unknown> = {}) {
  return ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp, ...extra });
}

t.test('plain caller to an SRTP callee: every suite offered in rtpengine order, the answer picks one', async (t) => {
  const { ng, relay } = await startRelay(t);
  const caller = await phone(t);
  const callee = await phone(t);
  const o = await offer(ng, 'p2s', sdpFor(caller), { 'transport-protocol': 'RTP/SAVP' });
  t.equal(o.result, 'ok');
  t.match(o.sdp, /^m=audio \d+ RTP\/SAVP 0 8 101\r$/m);
  const lines = cryptoLines(String(o.sdp));
  t.same(
    lines.map((l) => `${l.tag} ${l.suite}`),
    ['1 AEAD_AES_256_GCM', '2 AEAD_AES_128_GCM', '3 AES_256_CM_HMAC_SHA1_80', '4 AES_256_CM_HMAC_SHA1_32', '5 AES_192_CM_HMAC_SHA1_80', '6 AES_192_CM_HMAC_SHA1_32', '7 AES_CM_128_HMAC_SHA1_80', '8 AES_CM_128_HMAC_SHA1_32', '9 NULL_HMAC_SHA1_80', '10 NULL_HMAC_SHA1_32'],
  );
  t.ok(lines.every((l) => l.key.length === suiteByName(l.suite)!.keyLength + suiteByName(l.suite)!.saltLength), 'keys of the right length');
  t.notMatch(o.sdp, /inline:\S*=/, 'no base64 padding by default');

  const suite = suiteByName('AES_CM_128_HMAC_SHA1_80')!;
  const calleeKey = randomBytes(30);
  const a = await answer(ng, 'p2s', sdpFor(callee, [`a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:${calleeKey.toString('base64')}`], 'RTP/SAVP'));
  t.equal(a.result, 'ok');
  t.match(a.sdp, /^m=audio \d+ RTP\/AVP 0 8 101\r$/m, 'the plain caller is answered in its own profile');
  t.notMatch(a.sdp, /a=crypto/);
  const relayKey = lines.find((l) => l.tag === 7)!.key;
  await exchange(
    t,
    { phone: caller, relayPort: relayEndpoints(String(a.sdp))[0]!.port },
    { phone: callee, relayPort: relayEndpoints(String(o.sdp))[0]!.port, tx: context(suite, calleeKey), rx: context(suite, relayKey) },
    'AES_CM_128_HMAC_SHA1_80',
  );
  // The callee was offered RTP/SAVP, on which the relay offers DTLS too: the call may need a handshake.
  await expectEngine(t, relay, 'p2s', { handshakes: true });
});

t.test('SRTP caller to a plain callee, GCM and HMAC suites; tampered packets dropped and counted', async (t) => {
  const { ng, relay } = await startRelay(t);
  for (const name of ['AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_256_GCM', 'AES_192_CM_HMAC_SHA1_80']) {
    const suite = suiteByName(name)!;
    const caller = await phone(t);
    const callee = await phone(t);
    const callerKey = randomBytes(suite.keyLength + suite.saltLength);
    const callId = `s2p-${name}`;
    const o = await offer(ng, callId, sdpFor(caller, [`a=crypto:3 ${name} inline:${callerKey.toString('base64')}`, 'a=crypto:9 FOO_BAR_SUITE inline:AAAA'], 'RTP/SAVP'), {
      'transport-protocol': 'RTP/AVP',
    });
    t.equal(o.result, 'ok', `${name}: offer`);
    t.match(o.sdp, /^m=audio \d+ RTP\/AVP /m);
    t.notMatch(o.sdp, /a=crypto/, 'the plain callee sees no keys');
    const a = await answer(ng, callId, sdpFor(callee));
    const ours = cryptoLines(String(a.sdp));
    t.match(a.sdp, /^m=audio \d+ RTP\/SAVP /m);
    t.same(ours.map((l) => `${l.tag} ${l.suite}`), [`3 ${name}`], `${name}: answered with the offered tag and suite`);
    const toCaller = relayEndpoints(String(a.sdp))[0]!.port;
    const tx = context(suite, callerKey);
    await exchange(t, { phone: caller, relayPort: toCaller, tx, rx: context(suite, ours[0]!.key) }, { phone: callee, relayPort: relayEndpoints(String(o.sdp))[0]!.port }, name);

    const forged = tx.protectRtp(rtpPacket(1001, { ssrc: 0xaaaa0001 })) as Buffer;
    forged[20]! ^= 0xff;
    await caller.send(forged, toCaller, '127.0.0.1');
    await caller.send(Buffer.from(forged.subarray(0, 14)), toCaller, '127.0.0.1');
    await sleep(100);
    t.equal(callee.received.length, 2, `${name}: nothing more reached the callee`);
    const q = await ng.request({ command: 'query', 'call-id': callId });
    t.equal((q.tags as any).caller.medias[0].streams[0].stats.errors, 2, 'counted on the caller stream');
    await expectEngine(t, relay, callId, { handshakes: false });
  }
  const stats = (await ng.request({ command: 'statistics' })).statistics as any;
  t.equal(stats.totalstatistics.droppedsrtp, 6, 'statistics: dropped SRTP');
});

t.test('SDES-only, SDES-no, SDES-nonew, SDES-pad, SDES-lifetime and session parameters shape the offer', async (t) => {
  const { ng, relay } = await startRelay(t);
  const p = await phone(t);
  const suites = async (callId: string, extra: Record<string, unknown>, sdp = sdpFor(p)) =>
    cryptoLines(String((await offer(ng, callId, sdp, { 'transport-protocol': 'RTP/SAVP', ...extra })).sdp));
  t.same((await suites('only', { flags: ['SDES-only-AES_CM_128_HMAC_SHA1_80', 'SDES-only-AEAD_AES_128_GCM'] })).map((l) => l.suite), ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80']);
  const no = (await suites('no', { SDES: ['no-AEAD_AES_256_GCM', 'no-NULL_HMAC_SHA1_32', 'no-NULL_HMAC_SHA1_80'] })).map((l) => l.suite);
  t.equal(no.length, 7);
  t.notOk(no.includes('AEAD_AES_256_GCM'));
  const srtpOffer = sdpFor(p, [`a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:${randomBytes(30).toString('base64')}|2^20|1:4 UNENCRYPTED_SRTCP`], 'RTP/SAVP');
  const nonew = await suites('nonew', { flags: ['SDES-nonew'] }, srtpOffer);
  t.same(nonew.map((l) => `${l.tag} ${l.suite}${l.rest}`), ['5 AES_CM_128_HMAC_SHA1_32 UNENCRYPTED_SRTCP'], 'only the offered suite, same tag and parameters, no MKI');
  const all = await suites('order', {}, srtpOffer);
  t.same(all.slice(0, 2).map((l) => `${l.tag} ${l.suite}`), ['5 AES_CM_128_HMAC_SHA1_32', '6 AEAD_AES_256_GCM'], "the offerer's suites first, then new tags after its highest");
  const padded = await suites('pad', { flags: ['SDES-pad', 'SDES-lifetime', 'SDES-encrypted-srtcp'] }, srtpOffer);
  t.match(padded.find((l) => l.suite === 'AES_192_CM_HMAC_SHA1_80')!.rest, /^\|2\^31$/, 'lifetime added');
  t.equal(padded[0]!.rest, '|2^31', 'encrypted_srtcp removes UNENCRYPTED_SRTCP');
  const o = await offer(ng, 'pad2', sdpFor(p), { 'transport-protocol': 'RTP/SAVP', flags: ['SDES-pad'] });
  t.match(o.sdp, /AES_192_CM_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{51}=\r\n/, 'SDES-pad keeps the = of a 38-byte key');
});

t.test('OSRTP: offer turns a plain offer opportunistic; a plain answer falls back, accept forces SRTP', async (t) => {
  const { ng, relay } = await startRelay(t);
  const caller = await phone(t);
  const callee = await phone(t);
  const o = await offer(ng, 'os1', sdpFor(caller), { OSRTP: ['offer'], SDES: ['only-AES_CM_128_HMAC_SHA1_80'] });
  t.match(o.sdp, /^m=audio \d+ RTP\/AVP /m, 'OSRTP keeps the plain profile');
  t.equal(cryptoLines(String(o.sdp)).length, 1);
  const a = await answer(ng, 'os1', sdpFor(callee));
  t.notMatch(a.sdp, /a=crypto/);
  await exchange(t, { phone: caller, relayPort: relayEndpoints(String(a.sdp))[0]!.port }, { phone: callee, relayPort: relayEndpoints(String(o.sdp))[0]!.port }, 'OSRTP declined: plain both ways');
  await expectEngine(t, relay, 'os1', { handshakes: false });

  // An OSRTP offer from the caller, accepted for it although the callee is plain.
  const suite = suiteByName('AES_CM_128_HMAC_SHA1_80')!;
  const caller2 = await phone(t);
  const callee2 = await phone(t);
  const key = randomBytes(30);
  const o2 = await offer(ng, 'os2', sdpFor(caller2, [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key.toString('base64')}`]), { flags: ['OSRTP-accept'] });
  t.match(o2.sdp, /^m=audio \d+ RTP\/AVP /m);
  const a2 = await answer(ng, 'os2', sdpFor(callee2));
  const ours = cryptoLines(String(a2.sdp));
  t.same(ours.map((l) => `${l.tag} ${l.suite}`), ['1 AES_CM_128_HMAC_SHA1_80'], 'the caller gets a key back');
  await exchange(
    t,
    { phone: caller2, relayPort: relayEndpoints(String(a2.sdp))[0]!.port, tx: context(suite, key), rx: context(suite, ours[0]!.key) },
    { phone: callee2, relayPort: relayEndpoints(String(o2.sdp))[0]!.port },
    'OSRTP accepted',
  );
  await expectEngine(t, relay, 'os2', { handshakes: false });
});

t.test('SRTP on both legs with different suites: the relay re-encrypts', async (t) => {
  const { ng, relay } = await startRelay(t);
  const caller = await phone(t);
  const callee = await phone(t);
  const s1 = suiteByName('AES_CM_128_HMAC_SHA1_80')!;
  const s2 = suiteByName('AEAD_AES_128_GCM')!;
  const k1 = randomBytes(30);
  const k2 = randomBytes(28);
  const o = await offer(ng, 'ss', sdpFor(caller, [`a=crypto:1 ${s1.name} inline:${k1.toString('base64')}`], 'RTP/SAVP'));
  const offered = cryptoLines(String(o.sdp));
  t.equal(offered[0]!.suite, s1.name);
  t.not(offered[0]!.key.toString('hex'), k1.toString('hex'), "the relay offers its own key, never the caller's");
  const gcmTag = offered.find((l) => l.suite === s2.name)!.tag;
  const a = await answer(ng, 'ss', sdpFor(callee, [`a=crypto:${gcmTag} ${s2.name} inline:${k2.toString('base64')}`], 'RTP/SAVP'));
  const back = cryptoLines(String(a.sdp));
  t.same(back.map((l) => `${l.tag} ${l.suite}`), [`1 ${s1.name}`]);
  await exchange(
    t,
    { phone: caller, relayPort: relayEndpoints(String(a.sdp))[0]!.port, tx: context(s1, k1), rx: context(s1, back[0]!.key) },
    { phone: callee, relayPort: relayEndpoints(String(o.sdp))[0]!.port, tx: context(s2, k2), rx: context(s2, offered.find((l) => l.tag === gcmTag)!.key) },
    'SDES to SDES',
  );
  // The caller's RTP/SAVP offer is passed on as RTP/SAVP, on which the relay offers DTLS too.
  await expectEngine(t, relay, 'ss', { handshakes: true });
});

t.test('bad crypto: clear ng errors, and the call survives', async (t) => {
  const { ng, relay } = await startRelay(t);
  const p = await phone(t);
  const bad = await offer(ng, 'bad1', sdpFor(p, ['a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=', 'a=crypto:2 NOT_A_SUITE inline:AAAA', 'a=crypto:x'], 'RTP/SAVP'), {
    'transport-protocol': 'RTP/AVP',
  });
  t.equal(bad.result, 'error');
  t.match(bad['error-reason'], /no usable a=crypto/);
  const off = await offer(ng, 'bad2', sdpFor(p), { 'transport-protocol': 'RTP/SAVP', flags: ['SDES-off', 'DTLS-off'] });
  t.equal(off.result, 'error');
  t.match(off['error-reason'], /both SDES and DTLS are off/);
  const keyless = await offer(ng, 'bad3', sdpFor(p, [], 'RTP/SAVP'), { 'transport-protocol': 'RTP/AVP' });
  t.equal(keyless.result, 'error');
  t.match(keyless['error-reason'], /neither usable a=crypto nor a=fingerprint/);

  const o = await offer(ng, 'bad4', sdpFor(p), { 'transport-protocol': 'RTP/SAVP' });
  t.equal(o.result, 'ok');
  const wrongTag = await answer(ng, 'bad4', sdpFor(p, [`a=crypto:42 AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(30).toString('base64')}`], 'RTP/SAVP'));
  t.equal(wrongTag.result, 'error');
  t.match(wrongTag['error-reason'], /matches no offered tag/);
  const right = await answer(ng, 'bad4', sdpFor(p, [`a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(30).toString('base64')}`], 'RTP/SAVP'));
  t.equal(right.result, 'ok', 'a corrected answer still works');
});
