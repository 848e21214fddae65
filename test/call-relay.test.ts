/** End to end over real UDP: ng offer/answer, then RTP and RTCP through the relay's ports both ways. */
import t from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { freed, Phone, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';


t.test('ping answers pong', async (t) => {
  const { ng } = await startRelay(t);
  t.same(await ng.request({ command: 'ping' }), { result: 'pong' });
});

t.test('offer/answer relays RTP and RTCP both ways and query reports it', async (t) => {
  const { ng, relay } = await startRelay(t);
  const [alice, aliceRtcp] = await Phone.openPair();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob, aliceRtcp].forEach((p) => p.close()));

  const offer = await ng.request({ command: 'offer', 'call-id': 'c1', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  t.equal(offer.result, 'ok');
  const toBob = relayEndpoints(offer.sdp as string)[0]!;
  t.equal(toBob.address, '127.0.0.1');
  t.equal(toBob.port % 2, 0, 'RTP port is even');
  t.equal(toBob.rtcpPort, toBob.port + 1, 'a=rtcp is RTP+1');
  t.not(toBob.port, alice.port);
  t.match(offer.sdp as string, /a=rtpmap:101 telephone-event\/8000\r\n/, 'codecs pass through');
  t.match(offer.sdp as string, /^o=phone 1234 1 IN IP4 127\.0\.0\.1\r$/m, 'o= untouched by default');

  const answer = await ng.request({ command: 'answer', 'call-id': 'c1', 'from-tag': 'A', 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  t.equal(answer.result, 'ok');
  const toAlice = relayEndpoints(answer.sdp as string)[0]!;
  t.not(toAlice.port, toBob.port, 'each side has its own ports');

  for (let i = 0; i < 5; i++) await alice.send(rtpPacket(i), toAlice.port, '127.0.0.1');
  const atBob = await bob.waitFor(5);
  t.equal(atBob[0]!.from.port, toBob.port, 'bob hears the relay port he was given (symmetric RTP)');
  t.same(atBob.map((r) => r.data.readUInt16BE(2)), [0, 1, 2, 3, 4], 'payload forwarded unchanged and in order');

  for (let i = 0; i < 3; i++) await bob.send(rtpPacket(100 + i, { ssrc: 7 }), toBob.port, '127.0.0.1');
  const atAlice = await alice.waitFor(3);
  t.equal(atAlice[0]!.from.port, toAlice.port);
  t.equal(atAlice[2]!.data.readUInt32BE(8), 7);

  await bob.send(rtcpPacket(), toBob.rtcpPort!, '127.0.0.1');
  const rtcp = await aliceRtcp.waitFor(1);
  t.equal(rtcp[0]!.data[1], 201, 'RTCP reaches the RTCP port (RTP+1)');
  t.equal(rtcp[0]!.from.port, toAlice.port + 1, 'from the relay RTCP port');

  const q = await ng.request({ command: 'query', 'call-id': 'c1' });
  t.equal(q.result, 'ok');
  const tags = q.tags as Record<string, any>;
  t.same(Object.keys(tags).sort(), ['A', 'B']);
  t.equal(tags.A['in dialogue with'], 'B');
  const aRtp = tags.A.medias[0].streams[0];
  t.equal(aRtp['local port'], toAlice.port);
  t.same(aRtp.stats, { packets: 5, bytes: 5 * 172, errors: 0 });
  t.same(aRtp.endpoint, { family: 'IPv4', address: '127.0.0.1', port: alice.port });
  t.equal(tags.B.medias[0].streams[0].stats.packets, 3);
  t.equal(tags.B.medias[0].type, 'audio');
  t.equal(tags.B.medias[0].protocol, 'RTP/AVP');
  const totals = q.totals as Record<string, any>;
  t.same(totals.RTP, { packets: 8, bytes: 8 * 172, errors: 0 });
  t.same(totals.RTCP, { packets: 1, bytes: 8, errors: 0 });
  t.type(q.created, 'number');
  t.type(q['last signal'], 'number');

  t.same((await ng.request({ command: 'list' })).calls, ['c1']);
  await expectEngine(t, relay, 'c1', { handshakes: false });

  const del = await ng.request({ command: 'delete', 'call-id': 'c1', 'from-tag': 'A', 'delete delay': 0 });
  t.equal(del.result, 'ok');
  t.same(del.totals, totals, 'delete reply carries the call statistics');
  t.ok(await freed(toBob.port), 'ports freed at once with delete-delay 0');
  t.ok(await freed(toAlice.port + 1));
  const gone = await ng.request({ command: 'query', 'call-id': 'c1' });
  t.equal(gone.result, 'error');
});

t.test('re-offer keeps ports; re-INVITE from the callee (tags swapped) too', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  const bob2 = await Phone.open();
  t.teardown(() => [alice, bob, bob2].forEach((p) => p.close()));
  const base = { 'call-id': 'c2', 'from-tag': 'A' };
  const offer1 = await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const answer1 = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  const offer2 = await ng.request({ command: 'offer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port, version: 2 }) });
  t.same(relayEndpoints(offer2.sdp as string), relayEndpoints(offer1.sdp as string), 're-offer keeps the ports');

  // Callee re-INVITEs from a new port: from-tag is B now.
  const reinvite = await ng.request({ command: 'offer', 'call-id': 'c2', 'from-tag': 'B', 'to-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: bob2.port, version: 2 }) });
  t.same(relayEndpoints(reinvite.sdp as string), relayEndpoints(answer1.sdp as string), 're-INVITE SDP towards the caller shows the caller-facing ports');
  const reanswer = await ng.request({ command: 'answer', 'call-id': 'c2', 'from-tag': 'B', 'to-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port, version: 3 }) });
  t.same(relayEndpoints(reanswer.sdp as string), relayEndpoints(offer1.sdp as string));

  await alice.send(rtpPacket(1), relayEndpoints(answer1.sdp as string)[0]!.port, '127.0.0.1');
  await bob2.waitFor(1);
  t.equal(bob.received.length, 0, 'media goes to the new callee address');
  const q = await ng.request({ command: 'query', 'call-id': 'c2' });
  t.same(Object.keys(q.tags as object).sort(), ['A', 'B']);
  await expectEngine(t, relay, 'c2', { handshakes: false });
});

t.test('forking: two answers with different to-tags, media follows the latest', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const fork1 = await Phone.open();
  const fork2 = await Phone.open();
  t.teardown(() => [alice, fork1, fork2].forEach((p) => p.close()));
  const base = { 'call-id': 'c3', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const a1 = await ng.request({ command: 'answer', ...base, 'to-tag': 'F1', sdp: phoneSdp({ address: '127.0.0.1', port: fork1.port }) });
  const a2 = await ng.request({ command: 'answer', ...base, 'to-tag': 'F2', sdp: phoneSdp({ address: '127.0.0.1', port: fork2.port }) });
  t.same(relayEndpoints(a1.sdp as string), relayEndpoints(a2.sdp as string), 'the caller keeps one relay address');
  await alice.send(rtpPacket(1), relayEndpoints(a2.sdp as string)[0]!.port, '127.0.0.1');
  await fork2.waitFor(1);
  await sleep(50);
  t.equal(fork1.received.length, 0);
  await fork2.send(rtpPacket(2), relayEndpoints(offer.sdp as string)[0]!.port, '127.0.0.1');
  await alice.waitFor(1);
  const q = await ng.request({ command: 'query', 'call-id': 'c3' });
  t.equal((q.tags as any).A['in dialogue with'], 'F2');
  await expectEngine(t, relay, 'c3', { handshakes: false });
});

t.test('audio+video with a rejected stream and media-level c=', async (t) => {
  const { ng } = await startRelay(t);
  const sdp = phoneSdp({ address: '127.0.0.1', port: 4000, video: 0, sessionConnection: false });
  const offer = await ng.request({ command: 'offer', 'call-id': 'c4', 'from-tag': 'A', sdp });
  t.equal(offer.result, 'ok');
  const eps = relayEndpoints(offer.sdp as string);
  t.equal(eps.length, 2);
  t.not(eps[0]!.port, 4000);
  t.equal(eps[1]!.port, 0, 'rejected video stays rejected');
  t.match(offer.sdp as string, /m=video 0 RTP\/AVP 96\r\n/);
  const withVideo = phoneSdp({ address: '127.0.0.1', port: 4000, video: 4002 });
  const offer2 = await ng.request({ command: 'offer', 'call-id': 'c5', 'from-tag': 'A', sdp: withVideo });
  const eps2 = relayEndpoints(offer2.sdp as string);
  t.equal(eps2.length, 2);
  t.not(eps2[0]!.port, eps2[1]!.port, 'audio and video get separate ports');
  t.equal(eps2[1]!.port % 2, 0);
});

t.test('NAT: the real source is learned from the first packets', async (t) => {
  const { ng, relay } = await startRelay(t, { endpointLearning: 'immediate' });
  const alice = await Phone.open();
  const aliceBehindNat = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, aliceBehindNat, bob].forEach((p) => p.close()));
  const learned: unknown[] = [];
  relay.on('stream:learned', (e) => learned.push(e));
  const base = { 'call-id': 'c6', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  // Alice's SDP says alice.port but her NAT sends from another port.
  await aliceBehindNat.send(rtpPacket(1), relayEndpoints(answer.sdp as string)[0]!.port, '127.0.0.1');
  await bob.waitFor(1);
  await bob.send(rtpPacket(2), relayEndpoints(offer.sdp as string)[0]!.port, '127.0.0.1');
  await aliceBehindNat.waitFor(1);
  t.equal(alice.received.length, 0, 'nothing goes to the SDP address once the source is learned');
  t.match(learned, [{ callId: 'c6', tag: 'A', mediaIndex: 0, kind: 'RTP', endpoint: { address: '127.0.0.1', port: aliceBehindNat.port } }]);
  const q = await ng.request({ command: 'query', 'call-id': 'c6' });
  const s = (q.tags as any).A.medias[0].streams[0];
  t.equal(s.endpoint.port, aliceBehindNat.port);
  t.equal(s['advertised endpoint'].port, alice.port);
  t.ok(s.flags.includes('confirmed'));
  await expectEngine(t, relay, 'c6', { handshakes: false });
});

t.test('strict-source drops and counts packets from other sources after learning', async (t) => {
  const { ng, relay } = await startRelay(t, { endpointLearning: 'immediate' });
  const alice = await Phone.open();
  const intruder = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, intruder, bob].forEach((p) => p.close()));
  const base = { 'call-id': 'c7', 'from-tag': 'A', flags: ['strict-source'] };
  await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  const relayPort = relayEndpoints(answer.sdp as string)[0]!.port;
  await alice.send(rtpPacket(1), relayPort, '127.0.0.1');
  await bob.waitFor(1);
  await intruder.send(rtpPacket(2), relayPort, '127.0.0.1');
  await intruder.send(rtpPacket(3), relayPort, '127.0.0.1');
  await alice.send(rtpPacket(4), relayPort, '127.0.0.1');
  await bob.waitFor(2);
  await sleep(50);
  t.same(bob.received.map((r) => r.data.readUInt16BE(2)), [1, 4]);
  const q = await ng.request({ command: 'query', 'call-id': 'c7' });
  t.same((q.tags as any).A.medias[0].streams[0].stats, { packets: 2, bytes: 344, errors: 2 });
  t.equal((await relay.statistics()).dropped.unknownSource, 2);
  await expectEngine(t, relay, 'c7', { handshakes: false });
});

t.test('SIP-source-address uses received-from; trust-address uses the SDP', async (t) => {
  const { ng } = await startRelay(t);
  const base = { 'call-id': 'c8', 'from-tag': 'A', 'received from': ['IP4', '127.0.0.9'] };
  await ng.request({ command: 'offer', ...base, flags: ['SIP-source-address'], sdp: phoneSdp({ address: '127.0.0.1', port: 5000 }) });
  let q = await ng.request({ command: 'query', 'call-id': 'c8' });
  t.same((q.tags as any).A.medias[0].streams[0]['advertised endpoint'], { family: 'IPv4', address: '127.0.0.9', port: 5000 });
  await ng.request({ command: 'offer', ...base, flags: ['trust-address'], sdp: phoneSdp({ address: '127.0.0.1', port: 5000, version: 2 }) });
  q = await ng.request({ command: 'query', 'call-id': 'c8' });
  t.equal((q.tags as any).A.medias[0].streams[0]['advertised endpoint'].address, '127.0.0.1');
  await ng.request({ command: 'offer', ...base, 'media address': '127.0.0.7', sdp: phoneSdp({ address: '127.0.0.1', port: 5000, version: 3 }) });
  q = await ng.request({ command: 'query', 'call-id': 'c8' });
  t.equal((q.tags as any).A.medias[0].streams[0]['advertised endpoint'].address, '127.0.0.7', 'media address overrides both');
});

t.test('retransmitted cookie replays the identical reply without re-executing', async (t) => {
  const { ng, relay } = await startRelay(t);
  const created: string[] = [];
  relay.on('call:created', (e) => created.push(e.callId));
  const body = { command: 'offer', 'call-id': 'c9', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 6000 }) };
  const { encode } = await import('../src/ng/bencode.js');
  const datagram = Buffer.concat([Buffer.from('retx-1 '), encode(body as never)]);
  const first = await ng.raw(datagram);
  const second = await ng.raw(datagram);
  t.ok(first.equals(second), 'byte-identical reply');
  t.same(created, ['c9'], 'executed once');
  t.equal((await relay.statistics()).portPairsInUse, 2, 'ports allocated once');
  const other = await ng.request({ ...body, 'call-id': 'c10' }, 'retx-2');
  t.equal(other.result, 'ok');
});

t.test('query with a superseded fork tag still describes the call (Kamailio $rtpstat)', async (t) => {
  const { ng } = await startRelay(t);
  const base = { 'call-id': 'qf', 'from-tag': 'A' };
  await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  await ng.request({ command: 'answer', ...base, 'to-tag': 'F1', sdp: phoneSdp({ address: '127.0.0.1', port: 4100 }) });
  await ng.request({ command: 'answer', ...base, 'to-tag': 'F2', sdp: phoneSdp({ address: '127.0.0.1', port: 4200 }) });
  const q = await ng.request({ command: 'query', ...base, 'to-tag': 'F1' });
  t.equal(q.result, 'ok');
  t.same(Object.keys((q.totals as object) ?? {}).sort(), ['RTCP', 'RTP']);
});
