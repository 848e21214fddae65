import t from 'tap';
import { SdpError } from '../src/errors.js';
import { parseSdp } from '../src/sdp/parse.js';
import { crlf, FREESWITCH_OFFER } from './helpers/sdp.js';

t.test('FreeSWITCH-like audio offer', async (t) => {
  const sdp = parseSdp(crlf(FREESWITCH_OFFER));
  t.equal(sdp.originAddress, '192.0.2.10');
  t.equal(sdp.originFamily, 'IP4');
  t.equal(sdp.originVersion, '1700000001');
  t.same(sdp.sessionLines, FREESWITCH_OFFER.slice(0, 5));
  t.equal(sdp.medias.length, 1);
  t.same(sdp.medias[0], {
    index: 0,
    type: 'audio',
    port: 16384,
    protocol: 'RTP/AVP',
    address: '192.0.2.10',
    family: 'IP4',
    rtcpPort: 16385,
    rtcpAddress: '192.0.2.10',
    rtcpMux: false,
    direction: 'sendrecv',
    hasIce: false,
    lines: FREESWITCH_OFFER.slice(5),
  });
});

t.test('LF line endings parse like CRLF', async (t) => {
  const lf = parseSdp(FREESWITCH_OFFER.join('\n') + '\n');
  const crlfParsed = parseSdp(crlf(FREESWITCH_OFFER));
  t.same(lf.medias, crlfParsed.medias);
  t.same(lf.sessionLines, crlfParsed.sessionLines);
});

t.test('media-level c= overrides session-level; absent falls back to it', async (t) => {
  const sdp = parseSdp(
    crlf([
      'v=0',
      'o=- 1 2 IN IP4 192.0.2.1',
      's=-',
      'c=IN IP4 192.0.2.1',
      't=0 0',
      'm=audio 4000 RTP/AVP 0',
      'm=video 5000 RTP/AVP 96',
      'c=IN IP4 198.51.100.7',
      'a=rtpmap:96 H264/90000',
    ]),
  );
  t.same(
    sdp.medias.map((m) => [m.type, m.port, m.address, m.family, m.rtcpPort]),
    [
      ['audio', 4000, '192.0.2.1', 'IP4', undefined],
      ['video', 5000, '198.51.100.7', 'IP4', undefined],
    ],
  );
});

t.test('IPv6 connection and origin, short a=rtcp, rtcp-mux', async (t) => {
  const sdp = parseSdp(
    crlf(['v=0', 'o=- 1 1 IN IP6 2001:db8::1', 's=-', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'c=IN IP6 2001:db8::2', 'a=rtcp:4000', 'a=rtcp-mux']),
  );
  t.equal(sdp.originFamily, 'IP6');
  const m = sdp.medias[0]!;
  t.equal(m.address, '2001:db8::2');
  t.equal(m.family, 'IP6');
  t.equal(m.rtcpPort, 4000);
  t.equal(m.rtcpAddress, undefined);
  t.equal(m.rtcpMux, true);
});

t.test('direction: media-level wins, session-level inherited, else undefined', async (t) => {
  const sdp = parseSdp(
    crlf([
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.1',
      's=-',
      'c=IN IP4 192.0.2.1',
      't=0 0',
      'a=sendonly',
      'm=audio 4000 RTP/AVP 0',
      'm=audio 4002 RTP/AVP 0',
      'a=inactive',
    ]),
  );
  t.same(
    sdp.medias.map((m) => m.direction),
    ['sendonly', 'inactive'],
  );
  t.equal(parseSdp(crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 4000 RTP/AVP 0'])).medias[0]!.direction, undefined);
});

t.test('ICE detection at media and session level', async (t) => {
  const head = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];
  const media = parseSdp(crlf([...head, 'm=audio 4000 RTP/AVP 0', 'a=candidate:1 1 UDP 2130706431 192.0.2.1 4000 typ host', 'm=audio 4002 RTP/AVP 0']));
  t.same(
    media.medias.map((m) => m.hasIce),
    [true, false],
  );
  const session = parseSdp(crlf([...head, 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdefghijkl', 'm=audio 4000 RTP/AVP 0']));
  t.equal(session.medias[0]!.hasIce, true);
});

t.test('DTLS and mux attributes: media level over session level, the last of a repeated one counts, incomplete ones ignored', async (t) => {
  const head = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'a=fingerprint:sha-1 AA:BB', 'a=setup:actpass'];
  const sdp = parseSdp(
    crlf([
      ...head,
      'm=audio 4000 UDP/TLS/RTP/SAVP 0',
      'a=fingerprint:sha-256 00:11',
      'a=fingerprint:sha-256 22:33',
      'a=setup:active',
      'a=mid:audio0',
      'a=rtcp-mux',
      'm=audio 4002 UDP/TLS/RTP/SAVP 0',
      'a=fingerprint:sha-256',
      'a=mid:1',
    ]),
  );
  t.same(
    sdp.medias.map((m) => [m.fingerprint, m.setup, m.mid, m.rtcpMux]),
    [
      [{ hash: 'sha-256', value: '22:33' }, 'active', 'audio0', true],
      [{ hash: 'sha-1', value: 'AA:BB' }, 'actpass', '1', false],
    ],
  );
});

t.test('rejected media needs no connection address; PORT/COUNT and host-name origin accepted', async (t) => {
  const sdp = parseSdp(
    crlf(['v=0', 'o=- 1 1 IN IP4 pbx.example.com', 's=-', 't=0 0', 'm=video 0 RTP/AVP 96', 'm=audio 49170/2 RTP/AVP 0', 'c=IN IP4 224.2.1.1/127/2']),
  );
  t.equal(sdp.originAddress, 'pbx.example.com');
  t.equal(sdp.originFamily, undefined);
  t.same(
    sdp.medias.map((m) => [m.port, m.address]),
    [
      [0, undefined],
      [49170, '224.2.1.1'],
    ],
  );
});

t.test('blank lines are ignored', async (t) => {
  const sdp = parseSdp(crlf(FREESWITCH_OFFER) + '\r\n');
  t.same(sdp.medias[0]!.lines, FREESWITCH_OFFER.slice(5));
});

t.test('invalid SDP is rejected with SdpError', async (t) => {
  const head = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];
  const noSessionC = head.filter((l) => !l.startsWith('c='));
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['whitespace only', ' \r\n\r\n', /empty/],
    ['no v=0 first', crlf(head.slice(1)), /v=0/],
    ['v=1', crlf(['v=1', ...head.slice(1)]), /v=0/],
    ['no o= line', crlf(head.filter((l) => !l.startsWith('o='))), /no o= line/],
    ['o= with too few fields', crlf(['v=0', 'o=- 1 1 IN', ...head.slice(2)]), /malformed o= line/],
    ['not type=value', crlf([...head, 'garbage']), /not <type>=<value>.*garbage/],
    ['larger than 64 KiB', crlf([...head, 'm=audio 4000 RTP/AVP 0', ...Array.from({ length: 700 }, () => `a=x-pad:${'x'.repeat(100)}`)]), /larger than 65536 bytes/],
    ['more than 2000 lines', crlf([...head, 'm=audio 4000 RTP/AVP 0', ...Array.from({ length: 2000 }, () => 'a=x')]), /more than 2000/],
    ['more than 64 m= lines', crlf([...head, ...Array.from({ length: 65 }, () => 'm=audio 0 RTP/AVP 0')]), /65 m= lines, more than 64/],
    ['m= port not a number', crlf([...head, 'm=audio abc RTP/AVP 0']), /invalid port/],
    ['m= port out of range', crlf([...head, 'm=audio 65536 RTP/AVP 0']), /invalid port/],
    ['m= negative port', crlf([...head, 'm=audio -1 RTP/AVP 0']), /invalid port/],
    ['m= without protocol', crlf([...head, 'm=audio 4000']), /no protocol/],
    ['m= with only a type', crlf([...head, 'm=audio']), /malformed m= line/],
    ['media without any c=', crlf([...noSessionC, 'm=audio 4000 RTP/AVP 0']), /m= line 0 has no connection address/],
    ['c= host name', crlf([...noSessionC, 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 pbx.example.com']), /not a literal IP4 address/],
    ['c= IP6 family with IPv4 address', crlf([...noSessionC, 'm=audio 4000 RTP/AVP 0', 'c=IN IP6 192.0.2.1']), /not a literal IP6 address/],
    ['c= IP4 family with IPv6 address', crlf(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 2001:db8::1', 't=0 0', 'm=audio 4000 RTP/AVP 0']), /not a literal IP4 address/],
    ['c= missing address', crlf([...noSessionC, 'm=audio 4000 RTP/AVP 0', 'c=IN IP4']), /malformed c= line/],
    ['c= unknown family', crlf([...noSessionC, 'm=audio 4000 RTP/AVP 0', 'c=IN IPX 192.0.2.1']), /malformed c= line/],
    ['a=rtcp non-numeric', crlf([...head, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:abc']), /a=rtcp line has a bad port/],
    ['a=rtcp port 0', crlf([...head, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:0']), /a=rtcp line has a bad port/],
    ['a=rtcp port too large', crlf([...head, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:70000']), /a=rtcp line has a bad port/],
    ['a=rtcp truncated address', crlf([...head, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:4001 IN IP4']), /a=rtcp line has a bad port or address/],
    ['a=rtcp wrong-family address', crlf([...head, 'm=audio 4000 RTP/AVP 0', 'a=rtcp:4001 IN IP4 2001:db8::1']), /a=rtcp address .* is not a literal IP4/],
  ];
  for (const [name, text, message] of cases) {
    t.throws(() => parseSdp(text), { name: 'SdpError', code: 'SDP_INVALID', message }, name);
  }
  t.throws(() => parseSdp(''), SdpError, 'an SdpError instance');
});

t.test('limits are inclusive', async (t) => {
  const head = ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'];
  t.equal(parseSdp(crlf([...head, ...Array.from({ length: 64 }, () => 'm=audio 0 RTP/AVP 0')])).medias.length, 64);
  t.equal(parseSdp(crlf([...head, 'm=audio 4000 RTP/AVP 0', ...Array.from({ length: 1994 }, () => 'a=x')])).medias[0]!.lines.length, 1995);
  t.equal(parseSdp(crlf([...head, 'm=audio 65535 RTP/AVP 0'])).medias[0]!.port, 65535);
});
