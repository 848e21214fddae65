/** Bad input over real UDP: every malformed message gets an ng error reply and the relay keeps serving. */
import t from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';
import { decode } from '../src/ng/bencode.js';

const goodSdp = phoneSdp({ address: '127.0.0.1', port: 10000 });
const offer = (extra: Record<string, unknown>) => ({ command: 'offer', 'call-id': 'bad', 'from-tag': 'A', sdp: goodSdp, ...extra });
const without = (key: string) => {
  const o: Record<string, unknown> = offer({});
  delete o[key];
  return o;
};
const sdpWith = (lines: string[]) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', ...lines].join('\r\n') + '\r\n';

/** [name, raw body after the cookie, expected error-reason pattern]. */
const raw: Array<[string, string | Buffer, RegExp]> = [
  ['empty body', '', /^empty message body$/],
  ['plain garbage', 'garbage', /^invalid bencode at byte 0: unexpected 'g'$/],
  ['truncated dict', 'd7:command4:ping', /^truncated bencode at byte 16$/],
  ['trailing bytes', 'd7:command4:pingexyz', /^trailing garbage after bencode value at byte 17$/],
  ['top-level list', 'l4:pinge', /dictionary/i],
  ['top-level integer', 'i42e', /dictionary/i],
  ['top-level string', '4:ping', /dictionary/i],
  ['string longer than the message', 'd7:command99:pinge', /^truncated bencode at byte 18: string at byte 10 needs 99 bytes, 5 left$/],
  ['integer key', 'di1e4:pinge', /^invalid bencode at byte 1: dictionary key is not a string$/],
  ['bad integer', 'd7:commandi1x2ee', /^invalid integer at byte 12: unexpected 'x'$/],
  ['nesting bomb', 'd1:a' + 'l'.repeat(5000) + 'e'.repeat(5000) + 'e', /^bencode nesting deeper than 32$/],
  ['truncated JSON', '{"command":', /^invalid JSON: /],
  ['JSON array', '["ping"]', /^message is not a dictionary$/],
  ['missing command', 'd3:fooi1ee', /command/],
  ['command is an integer', 'd7:commandi1ee', /command/],
  ['command is a list', 'd7:commandl4:pingee', /command/],
  ['unknown command', 'd7:command5:dancee', /dance/],
  ['JSON command is a number', '{"command": 5}', /command/],
  ['64 KiB of garbage', Buffer.alloc(65000, 0x41), /^invalid bencode at byte 0: unexpected 'A'$/],
];

/** [name, dict, expected error-reason pattern]. */
const dicts: Array<[string, Record<string, unknown>, RegExp]> = [
  ['offer without sdp', without('sdp'), /sdp/i],
  ['offer without call-id', without('call-id'), /call-id/i],
  ['offer without from-tag', without('from-tag'), /from-tag/i],
  ['sdp is an integer', offer({ sdp: 5 }), /sdp/i],
  ['sdp is a list', offer({ sdp: ['v=0'] }), /sdp/i],
  ['call-id is a dictionary', offer({ 'call-id': { a: 'b' } }), /call-id/i],
  ['from-tag is a list', offer({ 'from-tag': ['x'] }), /from-tag/i],
  ['sdp is not SDP', offer({ sdp: 'hello world' }), /^Failed to parse SDP: SDP does not start with v=0$/],
  ['sdp without connection address', offer({ sdp: sdpWith(['m=audio 4000 RTP/AVP 0']) }), /^Failed to parse SDP: m= line 0 has no connection address \(c=\)$/],
  ['sdp with an absurd number of m= lines', offer({ sdp: sdpWith(['c=IN IP4 127.0.0.1', ...Array.from({ length: 500 }, (_, i) => `m=audio ${4000 + 2 * i} RTP/AVP 0`)]) }), /^Failed to parse SDP: SDP has 500 m= lines, more than 64$/],
  ['sdp with an absurd line count', offer({ sdp: sdpWith(['c=IN IP4 127.0.0.1', 'm=audio 4000 RTP/AVP 0', ...Array.from({ length: 5000 }, () => 'a=x')]) }), /^Failed to parse SDP: SDP has 5006 lines, more than 2000$/],
  ['sdp with port out of range', offer({ sdp: sdpWith(['c=IN IP4 127.0.0.1', 'm=audio 99999 RTP/AVP 0']) }), /^Failed to parse SDP: m= line has an invalid port: 'm=audio 99999 RTP\/AVP 0'$/],
  ['sdp with a bad address', offer({ sdp: sdpWith(['c=IN IP4 999.1.1.1', 'm=audio 4000 RTP/AVP 0']) }), /^Failed to parse SDP: c= address '999\.1\.1\.1' is not a literal IP4 address$/],
  ['sdp with a family mismatch', offer({ sdp: sdpWith(['c=IN IP6 127.0.0.1', 'm=audio 4000 RTP/AVP 0']) }), /^Failed to parse SDP: c= address '127\.0\.0\.1' is not a literal IP6 address$/],
  ['direction is a string', offer({ direction: 'pub' }), /direction/i],
  ['direction has three entries', offer({ direction: ['a', 'b', 'c'] }), /direction/i],
  ['direction names an unknown interface', offer({ direction: ['default', 'nowhere'] }), /nowhere/],
  ['address family is bogus', offer({ 'address family': 'IP5' }), /address.family/i],
  ['received from has one element', offer({ 'received from': ['IP4'] }), /received.from/i],
  ['received from has a bad address', offer({ 'received from': ['IP4', 'not-an-ip'] }), /received.from/i],
  ['media address is not an IP', offer({ 'media address': 'example' }), /media.address/i],
  ['flags is an integer', offer({ flags: 7 }), /flags/i],
  ['replace is an integer', offer({ replace: 7 }), /replace/i],
  ['transport protocol is bogus', offer({ 'transport protocol': 'RTP/XYZ' }), /transport.protocol/i],
  ['call-id is absurdly long', offer({ 'call-id': 'x'.repeat(5000) }), /call-id/i],
  ['answer without to-tag', { ...offer({}), command: 'answer' }, /to-tag/i],
  ['answer for an unknown call', { ...offer({ 'call-id': 'nope', 'to-tag': 'B' }), command: 'answer' }, /^Unknown call\-id$/],
  ['delete without call-id', { command: 'delete', 'from-tag': 'A' }, /call-id/i],
  ['delete delay is a list', { command: 'delete', 'call-id': 'x', 'delete delay': [1] }, /delete.delay/i],
  ['delete delay is negative', { command: 'delete', 'call-id': 'x', 'delete delay': -5 }, /delete.delay/i],
  ['query without call-id', { command: 'query' }, /call-id/i],
  ['query of an unknown call', { command: 'query', 'call-id': 'nope' }, /^Unknown call\-id$/],
  ['list with limit 0', { command: 'list', limit: 0 }, /limit/i],
  ['list with a string limit', { command: 'list', limit: 'many' }, /limit/i],
];

t.test(`${raw.length + dicts.length} malformed messages each get an error reply`, async (t) => {
  t.equal(raw.length + dicts.length, 53, 'the 53 messages README.md counts');
  const { ng, relay } = await startRelay(t);
  let n = 0;
  for (const [name, input, reason] of raw) {
    const cookie = `raw${n++}`;
    const reply = await ng.raw(Buffer.concat([Buffer.from(`${cookie} `), Buffer.isBuffer(input) ? input : Buffer.from(input)]));
    const space = reply.indexOf(0x20);
    t.equal(reply.subarray(0, space).toString(), cookie, `${name}: cookie echoed`);
    const body = reply.subarray(space + 1);
    // JSON requests are answered in JSON, like rtpengine does.
    const dict = (body[0] === 0x7b ? JSON.parse(body.toString()) : decode(body)) as Record<string, unknown>;
    t.equal(dict.result, 'error', `${name}: result error`);
    t.match(dict['error-reason'], reason, `${name}: error-reason ${String(dict['error-reason'])}`);
  }
  for (const [name, dict, reason] of dicts) {
    const reply = await ng.request(dict);
    t.equal(reply.result, 'error', `${name}: result error`);
    t.match(reply['error-reason'], reason, `${name}: error-reason ${String(reply['error-reason'])}`);
    t.same(Object.keys(reply).sort(), ['error-reason', 'result'], `${name}: nothing but the error`);
  }
  t.same(relay.list(), [], 'no half-made calls left behind');
  t.equal((await relay.statistics()).portPairsInUse, 0, 'no ports leaked');
});

t.test('a datagram without any cookie is dropped and the server keeps answering', async (t) => {
  const { ng } = await startRelay(t);
  await t.rejects(ng.raw('', 300), /no ng reply/);
  t.same(await ng.request({ command: 'ping' }), { result: 'pong' });
});

t.test('after the barrage a normal call still works end to end', async (t) => {
  const { ng, relay } = await startRelay(t);
  for (const [, dict] of dicts) await ng.request(dict);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const o = await ng.request({ command: 'offer', 'call-id': 'good', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const a = await ng.request({ command: 'answer', 'call-id': 'good', 'from-tag': 'A', 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  await alice.send(rtpPacket(1), relayEndpoints(a.sdp as string)[0]!.port, '127.0.0.1');
  await bob.waitFor(1);
  await bob.send(rtpPacket(2), relayEndpoints(o.sdp as string)[0]!.port, '127.0.0.1');
  await alice.waitFor(1);
  // Garbage on a media port is dropped and counted, the call goes on.
  await alice.send(Buffer.from('not rtp at all'), relayEndpoints(a.sdp as string)[0]!.port, '127.0.0.1');
  await alice.send(rtpPacket(3), relayEndpoints(a.sdp as string)[0]!.port, '127.0.0.1');
  await bob.waitFor(2);
  const q = await ng.request({ command: 'query', 'call-id': 'good' });
  t.same((q.tags as any).A.medias[0].streams[0].stats, { packets: 2, bytes: 344, errors: 1 });
  await expectEngine(t, relay, 'good', { handshakes: false });
});

t.test('an SDP port with no room for RTCP above it costs RTCP, not the relay', async (t) => {
  const { ng, relay } = await startRelay(t);
  const bob = await Phone.open();
  t.teardown(() => bob.close());
  const o = await ng.request({ command: 'offer', 'call-id': 'edge', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 65535 }) });
  t.equal(o.result, 'ok');
  await ng.request({ command: 'answer', 'call-id': 'edge', 'from-tag': 'A', 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  const toBob = relayEndpoints(o.sdp as string)[0]!;
  await bob.send(rtcpPacket(), toBob.rtcpPort!, '127.0.0.1');
  await bob.send(rtpPacket(1), toBob.port, '127.0.0.1');
  await sleep(100);
  t.same(await ng.request({ command: 'ping' }), { result: 'pong' }, 'still serving');
  const q = await ng.request({ command: 'query', 'call-id': 'edge' });
  t.equal((q.tags as any).B.medias[0].streams[0].stats.packets, 1);
  await expectEngine(t, relay, 'edge', { handshakes: false });
});
