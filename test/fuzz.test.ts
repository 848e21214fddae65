/**
 * Seeded fuzzing (test/helpers/fuzz.ts): the ng codec and commands, the SDP path, SRTP, and the media
 * ports of both engines get near-valid junk. Nothing may throw out of them, every ng input with a
 * cookie gets a well-formed reply, and the relay still carries media afterwards. A few thousand cases
 * per target here; `npm run fuzz` runs 100,000 each. Reproduce a failure with its RTPBRIDGE_FUZZ_SEED.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import t from 'tap';
import { RelayError } from '../src/errors.js';
import { encode, decode } from '../src/ng/bencode.js';
import { NgEndpoint } from '../src/ng/endpoint.js';
import { salvageCookie } from '../src/ng/message.js';
import { Relay } from '../src/relay.js';
import { SrtpContext } from '../src/srtp/context.js';
import { SRTP_SUITES } from '../src/srtp/suites.js';
import { startRelay } from './helpers/fixture.js';
import { FUZZ_CASES, FUZZ_SEED, Mutator } from './helpers/fuzz.js';
import { Phone, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import { MemoryDataPlane } from './helpers/memory-dataplane.js';
import { mediaPorts } from './helpers/ports.js';
import { crlf, phoneSdp, relayEndpoints } from './helpers/sdp.js';
import { opusAddon } from '../src/codecs/opus.js';

const SDP = phoneSdp({ address: '127.0.0.1', port: 4000 });
const frame = (cookie: string, dict: Record<string, unknown>): Buffer => Buffer.concat([Buffer.from(`${cookie} `), encode(dict as never)]);

/** Valid requests of every command, bencode and JSON, as the starting points of mutations. */
const NG_SEEDS: Buffer[] = [
  frame('c1', { command: 'offer', 'call-id': 'f1', 'from-tag': 'a', sdp: SDP, flags: ['trust-address'], replace: ['origin'], 'rtcp-mux': ['offer'], ICE: 'remove', DTLS: 'off', 'transport-protocol': 'RTP/SAVP' }),
  frame('c2', { command: 'answer', 'call-id': 'f1', 'from-tag': 'a', 'to-tag': 'b', sdp: SDP, direction: ['internal', 'external'] }),
  frame('c3', { command: 'delete', 'call-id': 'f1', 'from-tag': 'a', 'delete-delay': 0 }),
  frame('c4', { command: 'query', 'call-id': 'f1' }),
  frame('c5', { command: 'list', limit: 10 }),
  frame('c6', { command: 'statistics' }),
  frame('c7', { command: 'ping' }),
  Buffer.from(`c8 ${JSON.stringify({ command: 'offer', 'call-id': 'f2', 'from-tag': 'a', sdp: SDP, flags: ['symmetric'] })}`),
  frame('c11', { command: 'offer', 'call-id': 'f3', 'from-tag': 'a', sdp: SDP, codec: { transcode: ['opus', 'G722/8000'], accept: ['PCMU'], set: ['opus/48000/2/16000'] }, ptime: 30, 'ptime-reverse': 40, flags: ['inject DTMF'] }),
  frame('c12', { command: 'answer', 'call-id': 'f3', 'from-tag': 'a', 'to-tag': 'b', sdp: SDP, flags: ['single codec', 'inject DTMF'] }),
  frame('c13', { command: 'play DTMF', 'call-id': 'f3', 'from-tag': 'a', code: '5', duration: 100, volume: -10, pause: 200 }),
  frame('c14', { command: 'block DTMF', 'call-id': 'f3', 'from-tag': 'b', 'DTMF-security': 'silence' }),
  Buffer.from(`c9 ${'l'.repeat(5000)}${'e'.repeat(5000)}`),
  Buffer.from(`c10 d1:a${'d1:a'.repeat(2000)}i1e${'e'.repeat(2000)}e`),
];

/** A reply is `<cookie> <dictionary with a string result>`, bencode or JSON. */
function wellFormed(reply: Buffer): boolean {
  const space = reply.indexOf(0x20);
  if (space <= 0) return false;
  const body = reply.subarray(space + 1);
  const dict = (body[0] === 0x7b ? JSON.parse(body.toString()) : decode(body)) as Record<string, unknown>;
  return typeof dict === 'object' && (typeof dict.result === 'string' || Buffer.isBuffer(dict.result));
}

t.test(`ng: ${FUZZ_CASES} mutated requests, each answered with a well-formed reply or (no cookie) ignored`, async (t) => {
  const relay = new Relay({ ...(await mediaPorts(200)) }, { dataPlane: new MemoryDataPlane() });
  const endpoint = new NgEndpoint(relay, pino({ level: 'silent' }), { replyCacheMs: 50 });
  t.teardown(async () => {
    await endpoint.close();
    await relay.close();
  });
  const m = new Mutator(FUZZ_SEED);
  const failures: string[] = [];
  for (let i = 0; i < FUZZ_CASES && failures.length < 5; i++) {
    const input = m.mutate(m.pick(NG_SEEDS));
    try {
      const reply = await endpoint.framed(input, '127.0.0.1');
      if (reply === undefined ? salvageCookie(input) !== undefined : !wellFormed(reply)) failures.push(`case ${i}: reply ${reply?.toString('latin1').slice(0, 80)}`);
      const plain = await endpoint.plain(input.subarray(input.indexOf(0x20) + 1), '127.0.0.1');
      if (!wellFormed(Buffer.concat([Buffer.from('x '), plain]))) failures.push(`case ${i}: plain reply ${plain.toString('latin1').slice(0, 80)}`);
    } catch (err) {
      failures.push(`case ${i}: threw ${(err as Error).stack}`);
    }
  }
  t.same(failures, [], `seed ${FUZZ_SEED}: no crash, no malformed reply`);
});

t.test(`SDP: ${FUZZ_CASES} mutated offers and answers, each taken or refused with a typed error`, async (t) => {
  const relay = new Relay({ ...(await mediaPorts(200)) }, { dataPlane: new MemoryDataPlane() });
  t.teardown(() => relay.close());
  const seeds = [
    SDP,
    phoneSdp({ address: '::1', port: 4002, protocol: 'RTP/SAVP', extra: [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(30).toString('base64')}`, 'a=rtcp-mux', 'a=rtcp:4003'] }),
    `${SDP}m=video 4004 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=candidate:1 1 udp 2130706431 127.0.0.1 4004 typ host\r\na=fingerprint:sha-256 ${'AB:'.repeat(31)}AB\r\na=setup:actpass\r\n`,
  ].map((s) => Buffer.from(s));
  const m = new Mutator(FUZZ_SEED + 1);
  const failures: string[] = [];
  for (let i = 0; i < FUZZ_CASES && failures.length < 5; i++) {
    const sdp = m.mutate(m.pick(seeds)).toString('latin1');
    const callId = `s${i % 50}`;
    try {
      if (i % 2 === 0) await relay.offer({ callId, fromTag: 'a', sdp });
      else await relay.answer({ callId, fromTag: 'a', toTag: 'b', sdp });
    } catch (err) {
      if (!(err instanceof RelayError)) failures.push(`case ${i}: ${(err as Error).stack}`);
    }
  }
  t.same(failures, [], `seed ${FUZZ_SEED + 1}: only typed errors`);
});

t.test(`SRTP: ${FUZZ_CASES} mutated SRTP and SRTCP packets, spread over every suite, are refused, never thrown`, async (t) => {
  const failures: string[] = [];
  const m = new Mutator(FUZZ_SEED + 2);
  for (const suite of SRTP_SUITES) {
    const key = { suite: suite.name, masterKey: randomBytes(suite.keyLength), masterSalt: randomBytes(suite.saltLength) };
    const tx = new SrtpContext(key);
    const rx = new SrtpContext(key);
    const seeds = [tx.protectRtp(rtpPacket(1)) as Buffer, tx.protectRtp(rtpPacket(65535, { payloadSize: 20 })) as Buffer, tx.protectRtcp(rtcpPacket())];
    for (let i = 0; i < FUZZ_CASES / SRTP_SUITES.length && failures.length < 5; i++) {
      const which = m.int(seeds.length);
      const input = m.mutate(seeds[which]!);
      try {
        which === 2 ? rx.unprotectRtcp(input) : rx.unprotectRtp(input);
      } catch (err) {
        failures.push(`${suite.name} case ${i}: ${(err as Error).stack}`);
      }
    }
  }
  t.same(failures, [], `seed ${FUZZ_SEED + 2}: no throw`);
});

t.test(`media ports: ${FUZZ_CASES} junk datagrams (RTP, RTCP, STUN, DTLS, SRTP shapes) at plain, SDES and ICE/DTLS calls; media flows after`, async (t) => {
  const { ng, relay } = await startRelay(t, { endpointLearning: 'immediate' });
  const [a, b, c, d, attacker] = await Promise.all([0, 1, 2, 3, 4].map(() => Phone.open()));
  t.teardown(() => [a, b, c, d, attacker].forEach((p) => p!.close()));
  const call = async (callId: string, from: Phone, to: Phone, extra: Record<string, unknown> = {}, answerSdp?: (offer: string) => string): Promise<number[]> => {
    const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'x', sdp: phoneSdp({ address: '127.0.0.1', port: from.port }), ...extra });
    const sdp = answerSdp?.(String(offer.sdp)) ?? phoneSdp({ address: '127.0.0.1', port: to.port });
    const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'x', 'to-tag': 'y', sdp });
    t.equal(answer.result, 'ok', `${callId} call set up`);
    return [relayEndpoints(String(offer.sdp))[0]!.port, relayEndpoints(String(answer.sdp))[0]!.port];
  };
  // The SDES callee answers SRTP with a key of its own: junk at its port meets SRTP authentication.
  const sdesAnswer = (offer: string): string => {
    const tag = /a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80/.exec(offer)![1]!;
    return phoneSdp({ address: '127.0.0.1', port: d!.port, protocol: 'RTP/SAVP', extra: [`a=crypto:${tag} AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(30).toString('base64')}`] });
  };
  // Converting calls: Opus <-> PCMU repacketized to 40 ms with DTMF injection, and a PCMU call whose DTMF turns to silence.
  const opusAnswer = (): string => crlf(['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${b!.port} RTP/AVP 96 97`, 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:97 telephone-event/48000']);
  const converting = opusAddon() ? await call('opus', a!, b!, { codec: { transcode: ['opus'] }, 'ptime-reverse': 40, flags: ['inject DTMF'] }, opusAnswer) : [];
  const silenced = await call('silenced', a!, b!, { flags: ['inject DTMF'] });
  t.same(await ng.request({ command: 'block DTMF', 'call-id': 'silenced', 'DTMF-security': 'silence' }), { result: 'ok' });
  // The offer marked the caller's side: presses the callee makes reach the caller.
  if (converting.length > 0) t.same(await ng.request({ command: 'play DTMF', 'call-id': 'opus', 'from-tag': 'y', code: 1 }), { result: 'ok' });
  const ports = [
    ...(await call('plain', a!, b!)),
    ...(await call('sdes', c!, d!, { 'transport-protocol': 'RTP/SAVP', DTLS: 'off' }, sdesAnswer)),
    ...(await call('webrtc', c!, d!, { ICE: 'force', 'transport-protocol': 'UDP/TLS/RTP/SAVPF' })),
    ...converting,
    ...silenced,
  ];
  const stun = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42]), randomBytes(12), Buffer.from([0x00, 0x06, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64])]);
  const dtls = Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 1, 0, 0, 48, 0, 0, 0, 0, 0, 0, 0, 48]), randomBytes(48)]);
  const srtp = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: randomBytes(16), masterSalt: randomBytes(14) });
  // Telephone events and Opus-shaped frames reach the converters, the silencer and the DTMF injector.
  const seeds = [rtpPacket(1), rtcpPacket(), stun, dtls, rtpPacket(2, { payloadSize: 1200 }), srtp.protectRtp(rtpPacket(3)) as Buffer, srtp.protectRtcp(rtcpPacket()), rtpPacket(4, { pt: 101, payloadSize: 4 }), rtpPacket(5, { pt: 96, payloadSize: 40 })];
  const m = new Mutator(FUZZ_SEED + 3);
  for (let i = 0; i < FUZZ_CASES; i++) {
    for (const port of [m.pick(ports), m.pick(ports) + 1]) void attacker!.send(m.mutate(m.pick(seeds)), port, '127.0.0.1');
    if (i % 200 === 199) await sleep(5);
  }
  await sleep(200);
  // The plain call still carries media both ways, once each phone has spoken from its SDP address
  // (junk that came first may have been learned: the signalled address takes it back).
  await a!.send(rtpPacket(98), ports[1]!, '127.0.0.1');
  await b!.send(rtpPacket(99), ports[0]!, '127.0.0.1');
  await sleep(50);
  a!.received.length = 0;
  b!.received.length = 0;
  await a!.send(rtpPacket(100), ports[1]!, '127.0.0.1');
  await b!.waitFor(1);
  await b!.send(rtpPacket(101), ports[0]!, '127.0.0.1');
  await a!.waitFor(1);
  const stats = await relay.statistics();
  const dropped = Object.values(stats.dropped).reduce((x, y) => x + y, 0);
  t.comment(`${stats.packetsIn} packets in, ${dropped} dropped: ${Object.entries(stats.dropped).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ')}`);
  t.ok(dropped > 0, 'junk is dropped and counted');
  t.equal((await ng.request({ command: 'ping' })).result, 'pong', 'the relay answers ng');
});
