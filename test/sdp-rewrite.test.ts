import t from 'tap';
import { parseSdp } from '../src/sdp/parse.js';
import { rewriteSdp, sdpFamily, type MediaPlan, type RewritePlan } from '../src/sdp/rewrite.js';
import { crlf, FREESWITCH_OFFER } from './helpers/sdp.js';

const linesOf = (sdp: string): string[] => sdp.split('\r\n').slice(0, -1);

const RELAY = '203.0.113.5';

function media(index: number, rtpPort: number, extra: Partial<MediaPlan> = {}): MediaPlan {
  return { index, rejected: false, address: RELAY, family: 'IP4', rtpPort, rtcpPort: rtpPort + 1, rtcpMux: false, ...extra };
}

function plan(medias: MediaPlan[], extra: Partial<RewritePlan> = {}): RewritePlan {
  return { medias, replaceOrigin: false, rtcpAttribute: 'short', ...extra };
}

const rewrite = (lines: string[], p: RewritePlan): string[] => linesOf(rewriteSdp(parseSdp(crlf(lines)), p));

t.test('single audio: port, c=, a=rtcp replaced; everything else untouched; CRLF', async (t) => {
  const out = rewriteSdp(parseSdp(crlf(FREESWITCH_OFFER)), plan([media(0, 30000)]));
  t.equal(
    out,
    crlf([
      'v=0',
      'o=FreeSWITCH 1700000000 1700000001 IN IP4 192.0.2.10',
      's=FreeSWITCH',
      `c=IN IP4 ${RELAY}`,
      't=0 0',
      'm=audio 30000 RTP/AVP 0 8 101',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      'a=sendrecv',
      'a=rtcp:30001',
    ]),
  );
  t.notMatch(out, /[^\r]\n/, 'every line ends with CRLF');
  t.ok(out.endsWith('\r\n'));
});

t.test('LF input comes out as CRLF', async (t) => {
  const out = rewriteSdp(parseSdp(FREESWITCH_OFFER.join('\n') + '\n'), plan([media(0, 30000)]));
  t.equal(out, rewriteSdp(parseSdp(crlf(FREESWITCH_OFFER)), plan([media(0, 30000)])));
});

t.test('audio + video on different ports, session-level c= only', async (t) => {
  const out = rewrite(
    [
      'v=0',
      'o=alice 2890844526 2890844526 IN IP4 192.0.2.20',
      's=-',
      'c=IN IP4 192.0.2.20',
      't=0 0',
      'm=audio 49170 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      'm=video 51372 RTP/AVP 99',
      'b=AS:512',
      'a=rtpmap:99 H264/90000',
      'a=fmtp:99 profile-level-id=42e01f',
    ],
    plan([media(0, 30000), media(1, 30002)]),
  );
  t.same(out, [
    'v=0',
    'o=alice 2890844526 2890844526 IN IP4 192.0.2.20',
    's=-',
    `c=IN IP4 ${RELAY}`,
    't=0 0',
    'm=audio 30000 RTP/AVP 0',
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    'a=rtcp:30001',
    'm=video 30002 RTP/AVP 99',
    'b=AS:512',
    'a=rtpmap:99 H264/90000',
    'a=fmtp:99 profile-level-id=42e01f',
    'a=sendrecv',
    'a=rtcp:30003',
  ]);
});

t.test('media-level c= only: each media keeps its own c=, no session c= added', async (t) => {
  const out = rewrite(
    [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.20',
      's=-',
      't=0 0',
      'm=audio 49170 RTP/AVP 0',
      'i=voice',
      'c=IN IP4 192.0.2.20',
      'a=sendrecv',
      'm=video 51372 RTP/AVP 99',
      'c=IN IP4 192.0.2.21',
      'a=sendrecv',
    ],
    plan([media(0, 30000), media(1, 30002, { address: '203.0.113.6' })]),
  );
  t.same(out, [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.20',
    's=-',
    't=0 0',
    'm=audio 30000 RTP/AVP 0',
    'i=voice',
    `c=IN IP4 ${RELAY}`,
    'a=sendrecv',
    'a=rtcp:30001',
    'm=video 30002 RTP/AVP 99',
    'c=IN IP4 203.0.113.6',
    'a=sendrecv',
    'a=rtcp:30003',
  ]);
});

t.test('mixed: session c= plus a media-level c= in one media', async (t) => {
  const out = rewrite(
    [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.20',
      's=-',
      'c=IN IP4 192.0.2.20',
      't=0 0',
      'm=audio 49170 RTP/AVP 0',
      'm=video 51372 RTP/AVP 99',
      'c=IN IP4 192.0.2.99',
      'm=audio 49180 RTP/AVP 8',
    ],
    // The third media's relay address differs from the session-level one, so it needs its own c=.
    plan([media(0, 30000), media(1, 30002), media(2, 30004, { address: '203.0.113.7' })], { rtcpAttribute: 'none' }),
  );
  t.same(out, [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.20',
    's=-',
    `c=IN IP4 ${RELAY}`,
    't=0 0',
    'm=audio 30000 RTP/AVP 0',
    'a=sendrecv',
    'm=video 30002 RTP/AVP 99',
    `c=IN IP4 ${RELAY}`,
    'a=sendrecv',
    'm=audio 30004 RTP/AVP 8',
    'c=IN IP4 203.0.113.7',
    'a=sendrecv',
  ]);
});

t.test('no session c= and a media without c= gets one inserted after m=/i=', async (t) => {
  const out = rewrite(
    ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 't=0 0', 'm=audio 0 RTP/AVP 0', 'm=audio 49170 RTP/AVP 0', 'i=x', 'c=IN IP4 192.0.2.20', 'c=IN IP4 192.0.2.21', 'a=ptime:20'],
    plan([{ ...media(0, 0), rejected: true }, media(1, 30000)], { rtcpAttribute: 'none' }),
  );
  t.same(out, ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 't=0 0', 'm=audio 0 RTP/AVP 0', 'm=audio 30000 RTP/AVP 0', 'i=x', `c=IN IP4 ${RELAY}`, 'a=ptime:20', 'a=sendrecv']);
});

t.test('port-0 rejected stream stays rejected with all its lines', async (t) => {
  const out = rewrite(
    [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.20',
      's=-',
      'c=IN IP4 192.0.2.20',
      't=0 0',
      'm=audio 49170 RTP/AVP 0',
      'a=rtcp:49171',
      'm=video 0 RTP/AVP 99',
      'c=IN IP4 192.0.2.30',
      'a=rtpmap:99 H264/90000',
      'a=rtcp:51373',
      'a=rtcp-mux',
      'a=candidate:1 1 UDP 2130706431 192.0.2.30 51372 typ host',
    ],
    plan([media(0, 30000), { index: 1, rejected: true, address: '', family: 'IP4', rtpPort: 0, rtcpPort: 0, rtcpMux: false }]),
  );
  t.same(out.slice(5), [
    'm=audio 30000 RTP/AVP 0',
    'a=sendrecv',
    'a=rtcp:30001',
    'm=video 0 RTP/AVP 99',
    'c=IN IP4 192.0.2.30',
    'a=rtpmap:99 H264/90000',
    'a=rtcp:51373',
    'a=rtcp-mux',
    'a=candidate:1 1 UDP 2130706431 192.0.2.30 51372 typ host',
  ]);
});

t.test('all rejected: session c= and o= left as they were', async (t) => {
  const input = ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0', 'm=audio 0 RTP/AVP 0'];
  t.same(rewrite(input, plan([{ ...media(0, 0), rejected: true }], { replaceOrigin: true })), input);
});

t.test('unknown attributes, a=foo:bar and lines no SDP grammar knows pass through in order', async (t) => {
  const out = rewrite(
    [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.20',
      's=-',
      'c=IN IP4 192.0.2.20',
      't=0 0',
      'a=foo:bar',
      'a=X-nat:0',
      'm=audio 49170 RTP/AVP 0 101',
      'a=x-custom',
      'a=rtpmap:0 PCMU/8000',
      'a=foo:bar',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      'a=fmtp:101 0-15',
      'a=ptime:20',
      'a=maxptime:40',
      'a=rtcp-fb:* nack',
      'a=zzz',
    ],
    plan([media(0, 30000)]),
  );
  t.same(out, [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.20',
    's=-',
    `c=IN IP4 ${RELAY}`,
    't=0 0',
    'a=foo:bar',
    'a=X-nat:0',
    'm=audio 30000 RTP/AVP 0 101',
    'a=x-custom',
    'a=rtpmap:0 PCMU/8000',
    'a=foo:bar',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    'a=maxptime:40',
    'a=rtcp-fb:* nack',
    'a=zzz',
    'a=rtcp:30001',
  ]);
});

t.test('IPv6 in, IPv4 out', async (t) => {
  const out = rewrite(
    ['v=0', 'o=- 1 1 IN IP6 2001:db8::10', 's=-', 'c=IN IP6 2001:db8::10', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtcp:49171 IN IP6 2001:db8::10'],
    plan([media(0, 30000)], { replaceOrigin: true, rtcpAttribute: 'full' }),
  );
  t.same(out, [
    'v=0',
    `o=- 1 1 IN IP4 ${RELAY}`,
    's=-',
    `c=IN IP4 ${RELAY}`,
    't=0 0',
    'm=audio 30000 RTP/AVP 0',
    'a=sendrecv',
    `a=rtcp:30001 IN IP4 ${RELAY}`,
  ]);
});

t.test('IPv4 in, IPv6 out', async (t) => {
  const out = rewrite(FREESWITCH_OFFER, plan([media(0, 30000, { address: '2001:db8::5', family: 'IP6' })], { replaceOrigin: true, rtcpAttribute: 'full' }));
  t.same(out, [
    'v=0',
    'o=FreeSWITCH 1700000000 1700000001 IN IP6 2001:db8::5',
    's=FreeSWITCH',
    'c=IN IP6 2001:db8::5',
    't=0 0',
    'm=audio 30000 RTP/AVP 0 8 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
    'a=rtcp:30001 IN IP6 2001:db8::5',
  ]);
});

t.test('origin: replaced only on request; version replaced independently', async (t) => {
  const o = (p: Partial<RewritePlan>): string => rewrite(FREESWITCH_OFFER, plan([media(0, 30000)], p))[1]!;
  t.equal(o({}), 'o=FreeSWITCH 1700000000 1700000001 IN IP4 192.0.2.10', 'untouched by default');
  t.equal(o({ replaceOrigin: true }), `o=FreeSWITCH 1700000000 1700000001 IN IP4 ${RELAY}`);
  t.equal(o({ originVersion: 1700000002 }), 'o=FreeSWITCH 1700000000 1700000002 IN IP4 192.0.2.10');
  t.equal(o({ originVersion: '18446744073709551615', replaceOrigin: true }), `o=FreeSWITCH 1700000000 18446744073709551615 IN IP4 ${RELAY}`);
});

t.test('origin takes the first non-rejected media address', async (t) => {
  const out = rewrite(
    ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0', 'm=video 0 RTP/AVP 99', 'm=audio 49170 RTP/AVP 0'],
    plan([{ ...media(0, 0, { address: '203.0.113.99' }), rejected: true }, media(1, 30000)], { replaceOrigin: true, rtcpAttribute: 'none' }),
  );
  t.same(out, ['v=0', `o=- 1 1 IN IP4 ${RELAY}`, 's=-', `c=IN IP4 ${RELAY}`, 't=0 0', 'm=video 0 RTP/AVP 99', 'm=audio 30000 RTP/AVP 0', 'a=sendrecv']);
});

t.test('the sender\'s ICE and DTLS lines never pass; the relay\'s own are written in their place', async (t) => {
  const input = [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.20',
    's=-',
    'c=IN IP4 192.0.2.20',
    't=0 0',
    'a=ice-lite',
    'a=ice-options:trickle',
    'a=group:BUNDLE 0',
    'm=audio 49170 RTP/SAVPF 111',
    'a=mid:0',
    'a=ice-ufrag:F7gI',
    'a=ice-pwd:x9cml/YzichV2+XlhiMu8g',
    'a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E',
    'a=candidate:1 1 UDP 2130706431 192.0.2.20 49170 typ host',
    'a=candidate:2 1 UDP 1694498815 198.51.100.1 49170 typ srflx raddr 192.0.2.20 rport 49170',
    'a=remote-candidates:1 192.0.2.20 49170',
    'a=end-of-candidates',
    'a=rtpmap:111 opus/48000/2',
    'a=candidate-extra:not-ice',
  ];
  const stripped = rewrite(input, plan([media(0, 30000)]));
  t.same(stripped, [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.20',
    's=-',
    `c=IN IP4 ${RELAY}`,
    't=0 0',
    'a=group:BUNDLE 0',
    'm=audio 30000 RTP/SAVPF 111',
    'a=mid:0',
    'a=rtpmap:111 opus/48000/2',
    'a=candidate-extra:not-ice',
    'a=sendrecv',
    'a=rtcp:30001',
  ]);
  const ours = rewrite(input, plan([media(0, 30000, { dtls: ['a=setup:active', 'a=fingerprint:sha-256 AA:BB'], ice: ['a=ice-ufrag:ours', 'a=candidate:x 1 UDP 1 192.0.2.1 30000 typ host'] })], { sessionLines: ['a=ice-lite'] }));
  t.same(ours.slice(5, 7), ['a=group:BUNDLE 0', 'a=ice-lite'], 'session lines go last in the session section');
  t.same(ours.slice(-4), ['a=setup:active', 'a=fingerprint:sha-256 AA:BB', 'a=ice-ufrag:ours', 'a=candidate:x 1 UDP 1 192.0.2.1 30000 typ host'], 'the relay\'s DTLS and ICE lines end the media section');
  const noMid = rewrite(input.filter((l) => l !== 'a=mid:0'), plan([media(0, 30000, { mid: '0' })]));
  t.ok(noMid.includes('a=mid:0'), 'a=mid from the offer is added to an answer without one');
});

t.test('rtcp-mux variants', async (t) => {
  const input = ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtcp:49170', 'a=rtcp-mux', 'a=sendrecv', 'a=rtcp-mux'];
  const mediaLines = (p: Partial<MediaPlan>, r: Partial<RewritePlan> = {}): string[] => rewrite(input, plan([media(0, 30000, p)], r)).slice(5);

  t.same(mediaLines({ rtcpMux: true, rtcpPort: 30000 }), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp:30000', 'a=rtcp-mux'], 'agreed mux: a=rtcp carries the RTP port, one a=rtcp-mux');
  t.same(mediaLines({ rtcpMux: true }), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp:30001', 'a=rtcp-mux'], 'offered mux: a=rtcp keeps the plan port');
  t.same(mediaLines({ rtcpMux: true, rtcpMuxOnly: true }), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp-mux'], 'mux-only: no a=rtcp');
  t.same(mediaLines({ rtcpMux: false }), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp:30001'], 'non-mux: a=rtcp-mux removed');
  t.same(mediaLines({ rtcpMux: true, rtcpPort: 30000 }, { rtcpAttribute: 'full' }), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', `a=rtcp:30000 IN IP4 ${RELAY}`, 'a=rtcp-mux']);
  t.same(mediaLines({ rtcpMux: true }, { rtcpAttribute: 'none' }), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp-mux']);

  const offered = ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=sendrecv'];
  t.same(rewrite(offered, plan([media(0, 30000, { rtcpMux: true, rtcpPort: 30000 })])).slice(5), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp:30000', 'a=rtcp-mux'], 'mux added when absent');
});

t.test('a=rtcp-mux-only is kept with mux and dropped without', async (t) => {
  const input = ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtcp-mux', 'a=rtcp-mux-only'];
  t.same(rewrite(input, plan([media(0, 30000, { rtcpMux: true, rtcpMuxOnly: true })])).slice(5), ['m=audio 30000 RTP/AVP 0', 'a=rtcp-mux-only', 'a=sendrecv', 'a=rtcp-mux']);
  t.same(rewrite(input, plan([media(0, 30000)])).slice(5), ['m=audio 30000 RTP/AVP 0', 'a=sendrecv', 'a=rtcp:30001']);
});

t.test('rtcp attribute forms: short, full, none; existing a=rtcp replaced, not duplicated', async (t) => {
  const rtcpLines = (form: RewritePlan['rtcpAttribute']): string[] =>
    rewrite(FREESWITCH_OFFER, plan([media(0, 30000)], { rtcpAttribute: form })).filter((l) => l.startsWith('a=rtcp'));
  t.same(rtcpLines('short'), ['a=rtcp:30001']);
  t.same(rtcpLines('full'), [`a=rtcp:30001 IN IP4 ${RELAY}`]);
  t.same(rtcpLines('none'), []);
});

t.test('transport protocol override and PORT/COUNT m= lines', async (t) => {
  const out = rewrite(
    ['v=0', 'o=- 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0', 'm=audio 49170/2 RTP/AVP 0 8', 'm=video 0 RTP/AVP 99'],
    plan([media(0, 30000, { protocol: 'RTP/SAVP' }), { ...media(1, 0, { protocol: 'RTP/SAVP' }), rejected: true }], { rtcpAttribute: 'none' }),
  );
  t.same(out.slice(5), ['m=audio 30000 RTP/SAVP 0 8', 'a=sendrecv', 'm=video 0 RTP/AVP 99']);
  const odd = rewrite(FREESWITCH_OFFER, plan([media(0, 30000, { protocol: "RTP/$'$&" })]));
  t.equal(odd[5], "m=audio 30000 RTP/$'$& 0 8 101", 'protocol inserted literally');
});

t.test('the parsed SDP is not mutated: rewriting twice gives the same result', async (t) => {
  const parsed = parseSdp(crlf(FREESWITCH_OFFER));
  const snapshot = structuredClone(parsed);
  const p = plan([media(0, 30000, { rtcpMux: true, rtcpPort: 30000 })], { replaceOrigin: true, originVersion: 7, rtcpAttribute: 'full' });
  const first = rewriteSdp(parsed, p);
  const other = rewriteSdp(parsed, plan([media(0, 40000, { address: '2001:db8::5', family: 'IP6' })]));
  t.equal(rewriteSdp(parsed, p), first);
  t.not(other, first);
  t.same(parsed, snapshot);
});

t.test('a missing media plan is a programming error', async (t) => {
  t.throws(() => rewriteSdp(parseSdp(crlf(FREESWITCH_OFFER)), plan([])), /no media plan for m= line 0/);
});

t.test('sdpFamily', async (t) => {
  t.equal(sdpFamily('192.0.2.1'), 'IP4');
  t.equal(sdpFamily('2001:db8::1'), 'IP6');
  t.equal(sdpFamily('::ffff:192.0.2.1'), 'IP6');
});
