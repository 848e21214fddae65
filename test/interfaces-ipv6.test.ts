/** Logical interfaces, `direction`, `address family` and IPv4<->IPv6 bridging, with real packets. */
import t from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, rtpPacket } from './helpers/media.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

const dualStack = [
  {
    name: 'default',
    addresses: [
      { local: '127.0.0.1', advertised: '127.0.0.1', family: 'IP4' as const },
      { local: '::1', advertised: '::1', family: 'IP6' as const },
    ],
  },
];

t.test('ng over an IPv6 listener', async (t) => {
  const { ng } = await startRelay(t, { interfaces: dualStack }, '[::1]:0');
  t.same(await ng.request({ command: 'ping' }), { result: 'pong' });
});

t.test('IPv6 call end to end', async (t) => {
  const { ng, relay } = await startRelay(t, { interfaces: dualStack });
  const alice = await Phone.open('::1');
  const bob = await Phone.open('::1');
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const base = { 'call-id': 'v6', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '::1', port: alice.port }) });
  t.match(offer.sdp as string, /\r\nc=IN IP6 ::1\r\n/);
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '::1', port: bob.port }) });
  await alice.send(rtpPacket(1), relayEndpoints(answer.sdp as string)[0]!.port, '::1');
  await bob.waitFor(1);
  await bob.send(rtpPacket(2), relayEndpoints(offer.sdp as string)[0]!.port, '::1');
  await alice.waitFor(1);
  const q = await ng.request({ command: 'query', 'call-id': 'v6' });
  t.same((q.tags as any).A.medias[0].streams[0].endpoint, { family: 'IPv6', address: '::1', port: alice.port });
  await expectEngine(t, relay, 'v6', { handshakes: false });
});

t.test('address family bridges an IPv4 caller to an IPv6 callee', async (t) => {
  const { ng, relay } = await startRelay(t, { interfaces: dualStack });
  const alice = await Phone.open('127.0.0.1');
  const bob = await Phone.open('::1');
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const base = { 'call-id': 'bridge', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, 'address family': 'IP6', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  t.match(offer.sdp as string, /\r\nc=IN IP6 ::1\r\n/, 'callee is offered an IPv6 relay address');
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '::1', port: bob.port }) });
  t.match(answer.sdp as string, /\r\nc=IN IP4 127\.0\.0\.1\r\n/, 'caller keeps IPv4');
  await alice.send(rtpPacket(1), relayEndpoints(answer.sdp as string)[0]!.port, '127.0.0.1');
  const atBob = await bob.waitFor(1);
  t.equal(atBob[0]!.from.address, '::1');
  await bob.send(rtpPacket(2), relayEndpoints(offer.sdp as string)[0]!.port, '::1');
  const atAlice = await alice.waitFor(1);
  t.equal(atAlice[0]!.from.address, '127.0.0.1');
  await expectEngine(t, relay, 'bridge', { handshakes: false });
});

t.test('direction picks named interfaces and the advertised address', async (t) => {
  const interfaces = [
    { name: 'int', addresses: [{ local: '127.0.0.1', advertised: '127.0.0.1', family: 'IP4' as const }] },
    { name: 'ext', addresses: [{ local: '127.0.0.2', advertised: '127.0.0.2', family: 'IP4' as const }] },
    { name: 'nat', addresses: [{ local: '127.0.0.3', advertised: '198.51.100.7', family: 'IP4' as const }] },
  ];
  const { ng, relay } = await startRelay(t, { interfaces });
  const alice = await Phone.open('127.0.0.1');
  const bob = await Phone.open('127.0.0.2');
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const base = { 'call-id': 'dir', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, direction: ['int', 'ext'], sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  t.match(offer.sdp as string, /\r\nc=IN IP4 127\.0\.0\.2\r\n/, 'callee sees the ext address');
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.2', port: bob.port }) });
  t.match(answer.sdp as string, /\r\nc=IN IP4 127\.0\.0\.1\r\n/, 'caller sees the int address (remembered from the offer)');
  await alice.send(rtpPacket(1), relayEndpoints(answer.sdp as string)[0]!.port, '127.0.0.1');
  const atBob = await bob.waitFor(1);
  t.equal(atBob[0]!.from.address, '127.0.0.2', 'leaves through the ext interface');
  await expectEngine(t, relay, 'dir', { handshakes: false });

  const nat = await ng.request({ command: 'offer', 'call-id': 'adv', 'from-tag': 'A', direction: ['int', 'nat'], sdp: phoneSdp({ address: '127.0.0.1', port: 7000 }) });
  t.match(nat.sdp as string, /\r\nc=IN IP4 198\.51\.100\.7\r\n/, 'the advertised address goes into SDP');

  const bad = await ng.request({ command: 'offer', 'call-id': 'bad', 'from-tag': 'A', direction: ['int', 'nope'], sdp: phoneSdp({ address: '127.0.0.1', port: 7000 }) });
  t.equal(bad.result, 'error');
  t.match(bad['error-reason'], /nope/);
  t.equal((await ng.request({ command: 'query', 'call-id': 'bad' })).result, 'error', 'a failed offer leaves no call behind');
});
