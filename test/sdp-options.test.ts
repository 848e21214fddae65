/** ng options that shape the rewritten SDP: ICE, rtcp-mux, replace, transport protocol; plus list/statistics. */
import t from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { Phone, rtcpPacket, rtpPacket } from './helpers/media.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

const iceLines = ['a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdef012345', 'a=candidate:1 1 UDP 2130706431 192.0.2.10 4000 typ host', 'a=end-of-candidates'];

t.test('ICE attributes never leak the endpoints past the relay', async (t) => {
  const { ng } = await startRelay(t);
  for (const ICE of [undefined, 'default', 'force', 'remove']) {
    const res = await ng.request({ command: 'offer', 'call-id': `ice-${ICE}`, 'from-tag': 'A', ...(ICE && { ICE }), sdp: phoneSdp({ address: '127.0.0.1', port: 4000, extra: iceLines }) });
    t.equal(res.result, 'ok');
    const sdp = res.sdp as string;
    t.notMatch(sdp, /192\.0\.2\.10|abcd|0123456789abcdef012345/, `ICE=${ICE ?? 'absent'}: the caller's candidates and credentials are gone`);
    t.match(sdp, /a=rtpmap:0 PCMU\/8000/);
    if (ICE === 'remove') {
      t.notMatch(sdp, /a=(candidate|ice-|end-of-candidates)/, 'remove: no ICE at all');
      continue;
    }
    const port = relayEndpoints(sdp)[0]!.port;
    t.match(sdp, /\r\na=ice-lite\r\nm=/, 'the relay is an ICE-lite agent (session level)');
    t.match(sdp, /a=ice-ufrag:[A-Za-z0-9+\/]{8}\r\na=ice-pwd:[A-Za-z0-9+\/]{24}\r\n/);
    t.match(sdp, new RegExp(`a=candidate:\\w+ 1 UDP 2130706431 127\\.0\\.0\\.1 ${port} typ host\r\n`), 'RTP candidate on the relay port');
    t.match(sdp, new RegExp(`a=candidate:\\w+ 2 UDP 2130706430 127\\.0\\.0\\.1 ${port + 1} typ host\r\n`), 'RTCP candidate: mux is not settled in an offer');
  }
  const plain = await ng.request({ command: 'offer', 'call-id': 'ice-plain', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.notMatch(plain.sdp, /a=(candidate|ice-)/, 'default: no ICE for a caller that did not speak it');
  const relay = await ng.request({ command: 'offer', 'call-id': 'ice-relay', 'from-tag': 'A', ICE: 'force-relay', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.match(relay.sdp, /a=candidate:\w+ 1 UDP 16777215 127\.0\.0\.1 \d+ typ relay raddr 127\.0\.0\.1 rport \d+\r\n/, 'force-relay: relay candidates');
});

t.test('rtcp-mux offered by both sides: RTCP travels on the RTP ports', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const base = { 'call-id': 'mux', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, sdp: phoneSdp({ address: '127.0.0.1', port: alice.port, rtcpMux: true }) });
  t.match(offer.sdp, /\r\na=rtcp-mux\r\n/, 'mux passed on to the callee');
  const toBob = relayEndpoints(offer.sdp as string)[0]!;
  t.equal(toBob.rtcpPort, toBob.port + 1, 'the offer still names a separate RTCP port in case mux is declined');
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port, rtcpMux: true }) });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!;
  t.match(answer.sdp, /\r\na=rtcp-mux\r\n/, 'mux accepted towards the caller');
  t.equal(toAlice.rtcpPort, toAlice.port, 'a=rtcp names the RTP port');
  await alice.send(rtcpPacket(), toAlice.port, '127.0.0.1');
  await alice.send(rtpPacket(1), toAlice.port, '127.0.0.1');
  const got = await bob.waitFor(2);
  t.same(got.map((r) => r.data[1]).sort(), [0, 201], 'RTCP and RTP both arrive on the callee RTP port');
  const q = await ng.request({ command: 'query', 'call-id': 'mux' });
  const media = (q.tags as any).A.medias[0];
  t.ok(media.flags.includes('rtcp-mux'));
  t.equal(media.streams[1].stats.packets, 1, 'RTCP counted on the RTCP stream');
  await expectEngine(t, relay, 'mux', { handshakes: false });
});

t.test('rtcp-mux demux: callee is not offered mux, caller still gets it, RTCP crosses over', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const [bob, bobRtcp] = await Phone.openPair();
  t.teardown(() => [alice, bob, bobRtcp].forEach((p) => p.close()));
  const base = { 'call-id': 'demux', 'from-tag': 'A' };
  const offer = await ng.request({ command: 'offer', ...base, 'rtcp-mux': ['demux'], sdp: phoneSdp({ address: '127.0.0.1', port: alice.port, rtcpMux: true }) });
  t.notMatch(offer.sdp, /a=rtcp-mux/, 'callee is not offered mux');
  const answer = await ng.request({ command: 'answer', ...base, 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  t.match(answer.sdp, /\r\na=rtcp-mux\r\n/, 'caller still gets mux');
  await alice.send(rtcpPacket(), relayEndpoints(answer.sdp as string)[0]!.port, '127.0.0.1');
  const got = await bobRtcp.waitFor(1);
  t.equal(got[0]!.data[1], 201, 'muxed RTCP from the caller reaches the callee RTCP port');
  await expectEngine(t, relay, 'demux', { handshakes: false });
});

t.test('rtcp-mux reject and offer', async (t) => {
  const { ng } = await startRelay(t);
  const rejected = await ng.request({ command: 'offer', 'call-id': 'rej', 'from-tag': 'A', 'rtcp-mux': ['reject'], sdp: phoneSdp({ address: '127.0.0.1', port: 4000, rtcpMux: true }) });
  t.notMatch(rejected.sdp, /a=rtcp-mux/);
  const answer = await ng.request({ command: 'answer', 'call-id': 'rej', 'from-tag': 'A', 'to-tag': 'B', sdp: phoneSdp({ address: '127.0.0.1', port: 4100, rtcpMux: true }) });
  t.notMatch(answer.sdp, /a=rtcp-mux/, 'the caller is refused mux');
  const offered = await ng.request({ command: 'offer', 'call-id': 'off', 'from-tag': 'A', 'rtcp-mux': ['offer'], sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.match(offered.sdp, /\r\na=rtcp-mux\r\n/, 'mux offered to a callee though the caller did not');
});

t.test('replace origin and SDP version', async (t) => {
  const { ng } = await startRelay(t);
  const base = { command: 'offer', 'call-id': 'orig', 'from-tag': 'A' };
  const sdp = phoneSdp({ address: '127.0.0.5', port: 4000, version: 7 });
  const plain = await ng.request({ ...base, sdp });
  t.match(plain.sdp, /^o=phone 1234 7 IN IP4 127\.0\.0\.5\r$/m, 'o= untouched without replace');
  const replaced = await ng.request({ ...base, replace: ['origin', 'SDP-version'], sdp });
  t.match(replaced.sdp, /^o=phone 1234 7 IN IP4 127\.0\.0\.1\r$/m, 'origin address replaced');
  const same = await ng.request({ ...base, replace: ['origin', 'SDP-version'], sdp });
  t.match(same.sdp, /^o=phone 1234 7 /m, 'unchanged SDP keeps its version');
  const changed = await ng.request({ ...base, replace: ['origin', 'SDP-version'], sdp: sdp.replace('a=ptime:20', 'a=ptime:30') });
  t.match(changed.sdp, /^o=phone 1234 8 /m, 'changed SDP bumps the version');
  const legacy = await ng.request({ ...base, replace: ['session-connection'], sdp });
  t.equal(legacy.result, 'ok', 'session-connection accepted (session c= is always rewritten)');
  t.notMatch(legacy.sdp, /c=IN IP4 127\.0\.0\.5/);
});

t.test('transport protocol between plain profiles; SRTP gets SDES keys and DTLS actpass (test/sdes.test.ts, test/dtls.test.ts)', async (t) => {
  const { ng } = await startRelay(t);
  const avpf = await ng.request({ command: 'offer', 'call-id': 'tp', 'from-tag': 'A', 'transport protocol': 'RTP/AVPF', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.match(avpf.sdp, /\r\nm=audio \d+ RTP\/AVPF 0 8 101\r\n/);
  const savp = await ng.request({ command: 'offer', 'call-id': 'tp2', 'from-tag': 'A', 'transport protocol': 'RTP/SAVP', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.match(savp.sdp, /\r\nm=audio \d+ RTP\/SAVP 0 8 101\r\n/);
  t.match(savp.sdp, /a=crypto:1 AEAD_AES_256_GCM inline:/);
  const dtls = await ng.request({ command: 'offer', 'call-id': 'tp3', 'from-tag': 'A', 'transport protocol': 'UDP/TLS/RTP/SAVPF', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.equal(dtls.result, 'ok');
  t.match(dtls.sdp, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8 101\r\n/);
  t.match(dtls.sdp, /\r\na=setup:actpass\r\na=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r\n/);
});

t.test('list honours limit; statistics reports sessions, packets and control counters', async (t) => {
  const { ng } = await startRelay(t);
  for (const id of ['l1', 'l2', 'l3']) await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.same((await ng.request({ command: 'list' })).calls, ['l1', 'l2', 'l3']);
  t.same((await ng.request({ command: 'list', limit: 2 })).calls, ['l1', 'l2']);
  await ng.request({ command: 'bogus' });
  const res = await ng.request({ command: 'statistics' });
  t.equal(res.result, 'ok');
  const s = res.statistics as any;
  t.equal(s.currentstatistics.sessionsown, 3);
  t.equal(s.totalstatistics.managedsessions, 3);
  t.equal(s.controlstatistics.totaloffercount, 3);
  t.equal(s.controlstatistics.totallistcount, 2);
  t.equal(s.controlstatistics.totalerrorcount, 1);
  t.equal(s.controlstatistics.proxies[0].proxy, '127.0.0.1');
});

t.test('hold with a zero address passes it through unless replace zero-address', async (t) => {
  const { ng } = await startRelay(t);
  const held = await ng.request({ command: 'offer', 'call-id': 'hold', 'from-tag': 'A', sdp: phoneSdp({ address: '0.0.0.0', port: 4000 }) });
  t.match(held.sdp, /\r\nc=IN IP4 0\.0\.0\.0\r\n/);
  t.notMatch(held.sdp, /m=audio 4000 /, 'the port is still the relay port');
  const replaced = await ng.request({ command: 'offer', 'call-id': 'hold2', 'from-tag': 'A', replace: ['zero-address'], sdp: phoneSdp({ address: '0.0.0.0', port: 4000 }) });
  t.match(replaced.sdp, /\r\nc=IN IP4 127\.0\.0\.1\r\n/);
});

t.test('port exhaustion is an error reply and leaves nothing behind', async (t) => {
  const { ng, relay } = await startRelay(t, await mediaPorts(4));
  const first = await ng.request({ command: 'offer', 'call-id': 'p1', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.equal(first.result, 'ok', 'two pairs: enough for one call');
  const second = await ng.request({ command: 'offer', 'call-id': 'p2', 'from-tag': 'A', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.equal(second.result, 'error');
  t.match(second['error-reason'], /no free media ports/);
  t.same(relay.list(), ['p1']);
  t.equal((await relay.statistics()).portPairsInUse, 2, 'the half-allocated call gave its pair back');
});
