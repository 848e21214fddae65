import t from 'tap';
import { NgProtocolError } from '../src/errors.js';
import { commandName, parseAnswer, parseDelete, parseList, parseOffer, parseQuery, type NgDict } from '../src/ng/params.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n';
const offer = (extra: NgDict = {}): NgDict => ({ command: 'offer', 'call-id': 'call1', 'from-tag': 'ftag', sdp: SDP, ...extra });
const answer = (extra: NgDict = {}): NgDict => offer({ command: 'answer', 'to-tag': 'ttag', ...extra });

t.test('minimal offer and answer', async (t) => {
  t.strictSame(parseOffer(offer()), { callId: 'call1', fromTag: 'ftag', sdp: SDP });
  t.strictSame(parseAnswer(answer()), { callId: 'call1', fromTag: 'ftag', toTag: 'ttag', sdp: SDP });
  t.strictSame(parseOffer(offer({ 'from-tag': '' })).fromTag, '', 'empty from-tag is allowed');
  t.equal(parseOffer(offer({ 'to-tag': 'b' })).toTag, 'b', 'a re-INVITE offer may carry the to-tag');
  t.equal(parseOffer(offer({ 'to-tag': '' })).toTag, undefined, 'empty optional tag is absent');
  t.strictSame(parseOffer(offer({ 'call-id': 12345, 'from-tag': 7 })), { callId: '12345', fromTag: '7', sdp: SDP }, 'integer ids become strings');
});

t.test('commandName', async (t) => {
  t.equal(commandName({ command: 'ping' }), 'ping');
  t.equal(commandName({ command: 'start recording' }), 'start recording', 'values are not normalised');
  t.throws(() => commandName({}), new NgProtocolError('NG_MISSING_PARAM', 'Dictionary contains no key "command"'));
  t.throws(() => commandName({ command: 1 }), new NgProtocolError('NG_BAD_PARAM', '"command" must be a string'));
  t.throws(() => commandName({ command: ['ping'] }), { code: 'NG_BAD_PARAM' });
});

t.test('wrong or missing parameters name the key', async (t) => {
  const { 'call-id': _c, ...noCallId } = offer();
  const { 'from-tag': _f, ...noFromTag } = offer();
  const { sdp: _s, ...noSdp } = offer();
  const cases: [string, () => unknown, string, string][] = [
    ['offer without call-id', () => parseOffer(noCallId), 'NG_MISSING_PARAM', 'No call-id in message'],
    ['offer without from-tag', () => parseOffer(noFromTag), 'NG_MISSING_PARAM', 'No from-tag in message'],
    ['offer without sdp', () => parseOffer(noSdp), 'NG_MISSING_PARAM', 'No SDP body in message'],
    ['answer without to-tag', () => parseAnswer(offer()), 'NG_MISSING_PARAM', 'No to-tag in message'],
    ['answer with empty to-tag', () => parseAnswer(answer({ 'to-tag': '' })), 'NG_BAD_PARAM', '"to-tag" must not be empty'],
    ['call-id list', () => parseOffer(offer({ 'call-id': ['x'] })), 'NG_BAD_PARAM', '"call-id" must be a string'],
    ['call-id dict', () => parseOffer(offer({ 'call-id': { a: 'b' } })), 'NG_BAD_PARAM', '"call-id" must be a string'],
    ['empty call-id', () => parseOffer(offer({ 'call-id': '' })), 'NG_BAD_PARAM', '"call-id" must not be empty'],
    ['huge call-id', () => parseOffer(offer({ 'call-id': 'x'.repeat(1025) })), 'NG_BAD_PARAM', '"call-id" is longer than 1024 characters'],
    ['huge from-tag', () => parseOffer(offer({ 'from-tag': 'x'.repeat(2000) })), 'NG_BAD_PARAM', '"from-tag" is longer than 1024 characters'],
    ['from-tag list', () => parseOffer(offer({ 'from-tag': [] })), 'NG_BAD_PARAM', '"from-tag" must be a string'],
    ['sdp integer', () => parseOffer(offer({ sdp: 5 })), 'NG_BAD_PARAM', '"sdp" must be a string'],
    ['empty sdp', () => parseOffer(offer({ sdp: '' })), 'NG_BAD_PARAM', '"sdp" must not be empty'],
    ['sdp over 64 KiB', () => parseOffer(offer({ sdp: 'a'.repeat(65537) })), 'NG_TOO_LARGE', '"sdp" is larger than 65536 bytes'],
    ['via-branch list', () => parseOffer(offer({ 'via-branch': ['b'] })), 'NG_BAD_PARAM', '"via-branch" must be a string'],
    ['flags integer', () => parseOffer(offer({ flags: 1 })), 'NG_BAD_PARAM', '"flags" must be a string or a list of strings'],
    ['flags with a non-string', () => parseOffer(offer({ flags: ['trust-address', 2] })), 'NG_BAD_PARAM', '"flags" must be a string or a list of strings'],
    ['replace dict', () => parseOffer(offer({ replace: { origin: 1 } })), 'NG_BAD_PARAM', '"replace" must be a string or a list of strings'],
    ['direction string', () => parseOffer(offer({ direction: 'pub' })), 'NG_BAD_PARAM', '"direction" must be a list of two interface names'],
    ['direction of three', () => parseOffer(offer({ direction: ['a', 'b', 'c'] })), 'NG_BAD_PARAM', '"direction" must be a list of two interface names'],
    ['direction with integer', () => parseOffer(offer({ direction: ['a', 1] })), 'NG_BAD_PARAM', '"direction" must be a list of two interface names'],
    ['half a direction', () => parseOffer(offer({ 'from-interface': 'priv' })), 'NG_BAD_PARAM', '"direction" needs two interfaces, got only one'],
    ['to-interface integer', () => parseOffer(offer({ 'to-interface': 3 })), 'NG_BAD_PARAM', '"to-interface" must be a non-empty string'],
    ['received from string', () => parseOffer(offer({ 'received from': '10.0.0.1' })), 'NG_BAD_PARAM', '"received from" must be a list of two strings: address family and address'],
    ['received-from of one', () => parseOffer(offer({ 'received-from': ['IP4'] })), 'NG_BAD_PARAM', '"received-from" must be a list of two strings: address family and address'],
    ['received-from bad family', () => parseOffer(offer({ 'received-from': ['IP5', '10.0.0.1'] })), 'NG_BAD_PARAM', '"received-from" must be one of IP4, IP6'],
    ['received-from bad address', () => parseOffer(offer({ 'received-from': ['IP4', '10.0.0.300'] })), 'NG_BAD_PARAM', `"received-from" has an invalid address '10.0.0.300'`],
    ['received-from family mismatch', () => parseOffer(offer({ 'received-from': ['IP4', '::1'] })), 'NG_BAD_PARAM', `"received-from" address '::1' is not IP4`],
    ['received-from v6 mismatch', () => parseOffer(offer({ 'received-from': ['IP6', '10.0.0.1'] })), 'NG_BAD_PARAM', `"received-from" address '10.0.0.1' is not IP6`],
    ['media address hostname', () => parseOffer(offer({ 'media address': 'example.com' })), 'NG_BAD_PARAM', '"media address" must be an IPv4 or IPv6 address'],
    ['media address integer', () => parseOffer(offer({ 'media-address': 167772161 })), 'NG_BAD_PARAM', '"media-address" must be an IPv4 or IPv6 address'],
    ['address family IPv4', () => parseOffer(offer({ 'address family': 'IPv4' })), 'NG_BAD_PARAM', '"address family" must be one of IP4, IP6'],
    ['ICE integer', () => parseOffer(offer({ ICE: 1 })), 'NG_BAD_PARAM', '"ICE" must be a string or a list of strings'],
    ['rtcp-mux integer', () => parseOffer(offer({ 'rtcp-mux': 0 })), 'NG_BAD_PARAM', '"rtcp-mux" must be a string or a list of strings'],
    ['transport protocol unknown', () => parseOffer(offer({ 'transport protocol': 'TCP/RTP' })), 'NG_BAD_PARAM', '"transport protocol" must be one of RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP, UDP/TLS/RTP/SAVPF, accept'],
    ['endpoint-learning unknown', () => parseOffer(offer({ 'endpoint-learning': 'sometimes' })), 'NG_BAD_PARAM', '"endpoint-learning" must be one of off, immediate, delayed, heuristic'],
    ['endpoint-learning flag unknown', () => parseOffer(offer({ flags: ['endpoint-learning-never'] })), 'NG_BAD_PARAM', '"endpoint-learning" must be one of off, immediate, delayed, heuristic'],
    ['address-family flag', () => parseOffer(offer({ flags: ['address-family=IP7'] })), 'NG_BAD_PARAM', '"address-family" must be one of IP4, IP6'],
    ['label list', () => parseOffer(offer({ label: ['a'] })), 'NG_BAD_PARAM', '"label" must be a string'],
    ['rtpp_flags list', () => parseOffer(offer({ rtpp_flags: ['a'] })), 'NG_BAD_PARAM', '"rtpp_flags" must be a string'],
    ['rtpp_flags unterminated', () => parseOffer(offer({ rtpp_flags: 'direction=[a b' })), 'NG_BAD_PARAM', '"rtpp_flags" has an unterminated "["'],
    ['rtpp_flags stray ]', () => parseOffer(offer({ rtpp_flags: 'a ] b' })), 'NG_BAD_PARAM', '"rtpp_flags" has an unexpected "]" at offset 2'],
    ['rtpp_flags mixed list', () => parseOffer(offer({ rtpp_flags: 'codec=[a b=c]' })), 'NG_BAD_PARAM', '"rtpp_flags" mixes plain values and key=value pairs in one "[ ]"'],
    ['three direction flags', () => parseOffer(offer({ flags: ['direction=a', 'direction=b', 'direction=c'] })), 'NG_BAD_PARAM', '"direction" given more than twice in flags'],
    ['delete without call-id', () => parseDelete({ 'from-tag': 'a' }), 'NG_MISSING_PARAM', 'No call-id in message'],
    ['delete delay negative', () => parseDelete({ 'call-id': 'c', 'delete delay': -1 }), 'NG_BAD_PARAM', '"delete delay" must be a non-negative integer'],
    ['delete-delay text', () => parseDelete({ 'call-id': 'c', 'delete-delay': 'soon' }), 'NG_BAD_PARAM', '"delete-delay" must be a non-negative integer'],
    ['delete-delay list', () => parseDelete({ 'call-id': 'c', 'delete-delay': [0] }), 'NG_BAD_PARAM', '"delete-delay" must be a non-negative integer'],
    ['delete from-tag list', () => parseDelete({ 'call-id': 'c', 'from-tag': ['a'] }), 'NG_BAD_PARAM', '"from-tag" must be a string'],
    ['query without call-id', () => parseQuery({}), 'NG_MISSING_PARAM', 'No call-id in message'],
    ['query to-tag dict', () => parseQuery({ 'call-id': 'c', 'to-tag': {} }), 'NG_BAD_PARAM', '"to-tag" must be a string'],
    ['list limit 0', () => parseList({ limit: 0 }), 'NG_BAD_PARAM', '"limit" must be greater than 0'],
    ['list limit negative', () => parseList({ limit: -5 }), 'NG_BAD_PARAM', '"limit" must be a non-negative integer'],
    ['list limit text', () => parseList({ limit: 'lots' }), 'NG_BAD_PARAM', '"limit" must be a non-negative integer'],
  ];
  t.equal(cases.length, 54, 'every case below runs');
  for (const [label, fn, code, message] of cases) {
    try {
      fn();
      t.fail(`${label}: expected ${code}`);
    } catch (err) {
      t.ok(err instanceof NgProtocolError, `${label}: NgProtocolError`);
      t.equal((err as NgProtocolError).code, code, `${label}: code`);
      t.equal((err as Error).message, message, `${label}: message`);
    }
  }
});

t.test('key spellings: spaces, hyphens, underscores and case are interchangeable', async (t) => {
  for (const key of ['received from', 'received-from', 'received_from', 'Received-From']) {
    t.strictSame(parseOffer(offer({ [key]: ['IP6', '2001:db8::1'] })).receivedFrom, { family: 'IP6', address: '2001:db8::1' }, key);
  }
  for (const key of ['media address', 'media-address', 'media_address']) t.equal(parseOffer(offer({ [key]: '192.0.2.1' })).mediaAddress, '192.0.2.1', key);
  for (const key of ['address family', 'address-family']) t.equal(parseOffer(offer({ [key]: 'IP6' })).addressFamily, 'IP6', key);
  for (const key of ['transport protocol', 'transport-protocol']) t.equal(parseOffer(offer({ [key]: 'RTP/SAVPF' })).transportProtocol, 'RTP/SAVPF', key);
  for (const key of ['call-id', 'call id', 'call_id']) t.equal(parseQuery({ [key]: 'q' }).callId, 'q', key);
  for (const key of ['delete delay', 'delete-delay', 'delete_delay']) t.equal(parseDelete({ 'call-id': 'c', [key]: 5 }).deleteDelay, 5, key);
  t.equal(parseOffer(offer({ 'received from': ['IP4', '10.0.0.1'], 'received-from': ['IP4', '10.0.0.2'] })).receivedFrom?.address, '10.0.0.1', 'first spelling wins');
  t.equal(parseOffer(offer({ 'address family': 'ip4' })).addressFamily, 'IP4', 'enumerations are case-insensitive and canonicalised');
  t.equal(parseOffer(offer({ 'transport protocol': 'rtp/avpf' })).transportProtocol, 'RTP/AVPF');
});

t.test('unknown keys are ignored, including prototype names', async (t) => {
  const withJunk = offer({ 'SDES-whatever': 'off', 'no-such-option': { strip: ['all'] }, 'record call': 'yes' });
  t.strictSame(parseOffer(withJunk), parseOffer(offer()));
  const proto: NgDict = offer();
  Object.defineProperty(proto, '__proto__', { value: 'x', enumerable: true });
  Object.assign(proto, { constructor: 'y', toString: 'z' });
  t.ok(Object.hasOwn(proto, 'constructor') && Object.hasOwn(proto, '__proto__'));
  t.strictSame(parseOffer(proto), parseOffer(offer()));
  t.strictSame(parseOffer(offer({ flags: ['constructor', 'toString', '__proto__', 'hasOwnProperty=1'] })).flags, {
    ignored: ['constructor', 'toString', '__proto__', 'hasOwnProperty=1'],
  });
});

t.test('boolean flags', async (t) => {
  const r = parseOffer(
    offer({
      flags: ['trust address', 'SIP-source-address', 'asymmetric', 'symmetric', 'strict_source', 'port-latching', 'no-rtcp-attribute', 'full rtcp attribute', 'fatal', 'made-up'],
    }),
  );
  t.strictSame(r.flags, {
    trustAddress: true,
    sipSourceAddress: true,
    asymmetric: true,
    strictSource: true,
    portLatching: true,
    noRtcpAttribute: true,
    fullRtcpAttribute: true,
    ignored: ['fatal', 'made-up'],
  });
  t.strictSame(parseOffer(offer({ flags: 'trust-address  strict-source' })).flags, { trustAddress: true, strictSource: true }, 'a space-separated string');
  t.strictSame(parseOffer(offer({ flags: ['symmetric'] })).flags, undefined, 'symmetric is the default: nothing to report');
  t.strictSame(parseOffer(offer({ flags: [] })).flags, undefined);
});

t.test('DTLS: key, flag and rtpp_flags forms; fingerprint hash', async (t) => {
  t.equal(parseOffer(offer({ DTLS: 'passive' })).dtls, 'passive');
  t.equal(parseOffer(offer({ DTLS: 'no' })).dtls, 'off');
  t.equal(parseOffer(offer({ dtls: 'Disable' })).dtls, 'off');
  t.equal(parseOffer(offer({ flags: ['DTLS-off'] })).dtls, 'off');
  t.equal(parseOffer(offer({ flags: ['DTLS=active'] })).dtls, 'active');
  t.equal(parseOffer(offer({ rtpp_flags: 'DTLS=passive DTLS-fingerprint=sha-1' })).dtls, 'passive');
  t.equal(parseOffer(offer({ 'DTLS-fingerprint': 'SHA-384' })).dtlsFingerprint, 'sha-384');
  t.throws(() => parseOffer(offer({ DTLS: 'sideways' })), { code: 'NG_BAD_PARAM' });
  t.throws(() => parseOffer(offer({ 'DTLS-fingerprint': 'md5' })), { code: 'NG_BAD_PARAM' });
});

t.test('replace: key and flag forms, normalised', async (t) => {
  t.strictSame(parseOffer(offer({ replace: ['origin', 'session connection', 'SDP version', 'session_name', 'zero address', 'bogus'] })).replace, [
    'origin',
    'session-connection',
    'sdp-version',
    'session-name',
    'zero-address',
  ]);
  const r = parseOffer(offer({ flags: ['replace-origin', 'replace-session-connection', 'replace-origin'], replace: 'username,force-increment-sdp-ver' }));
  t.strictSame(r.replace, ['origin', 'session-connection', 'username', 'force-increment-sdp-ver'], 'merged, deduplicated');
  t.strictSame(parseOffer(offer({ replace: ['bogus'] })).flags, { ignored: ['replace=bogus'] }, 'unknown values are reported as ignored');
});

t.test('ICE, rtcp-mux, address family, transport, endpoint learning, label in flags', async (t) => {
  const r = parseOffer(
    offer({
      flags: [
        'ICE=force',
        'rtcp-mux-demux',
        'rtcp-mux-offer',
        'address-family=IP6',
        'transport-protocol=UDP/TLS/RTP/SAVPF',
        'endpoint-learning-heuristic',
        'label=caller',
        'via-branch=z9hG4bK1',
        'media-address=2001:db8::7',
      ],
    }),
  );
  t.equal(r.ice, 'force');
  t.strictSame(r.rtcpMux, ['demux', 'offer']);
  t.equal(r.addressFamily, 'IP6');
  t.equal(r.transportProtocol, 'UDP/TLS/RTP/SAVPF');
  t.equal(r.endpointLearning, 'heuristic');
  t.equal(r.label, 'caller');
  t.equal(r.viaBranch, 'z9hG4bK1');
  t.equal(r.mediaAddress, '2001:db8::7');
  t.equal(parseOffer(offer({ flags: ['ICE-remove'] })).ice, 'remove');
  t.equal(parseOffer(offer({ flags: ['ICE_force_relay'] })).ice, 'force-relay');
  t.equal(parseOffer(offer({ ICE: 'optional' })).ice, 'optional');
  const ice = parseOffer(offer({ ICE: ['trickle', 'default', 'lite-both', 'ice2'] }));
  t.equal(ice.ice, 'default');
  t.strictSame(ice.flags, { ignored: ['ICE=trickle', 'ICE=lite-both', 'ICE=ice2'] });
  t.strictSame(parseOffer(offer({ 'rtcp-mux': ['require', 'accept', 'reject', 'weird'] })).rtcpMux, ['require', 'accept', 'reject']);
  t.equal(parseOffer(offer({ 'from-label': 'x' })).label, 'x');
  t.equal(parseOffer(offer({ 'endpoint learning': 'off' })).endpointLearning, 'off');
  t.equal(parseAnswer(answer({ 'transport protocol': 'accept' })).transportProtocol, 'accept');
});

t.test('SDES and OSRTP: list keys, SDES-/OSRTP- flags and rtpp_flags, suites in any spelling', async (t) => {
  const r = parseOffer(
    offer({
      flags: ['SDES-no-AES_CM_128_HMAC_SHA1_32', 'SDES-only-aead-aes-256-gcm', 'SDES-pad', 'sdes-nonew', 'SDES-unencrypted_srtcp', 'SDES-no-F8_128_HMAC_SHA1_80', 'OSRTP-offer', 'pad-crypto'],
      SDES: ['lifetime', 'encrypted-srtp', 'order:AES_CM_128_HMAC_SHA1_80'],
      OSRTP: 'accept-RFC',
    }),
  );
  t.strictSame(r.sdes, {
    no: ['AES_CM_128_HMAC_SHA1_32'],
    only: ['AEAD_AES_256_GCM'],
    pad: true,
    nonew: true,
    params: { UNENCRYPTED_SRTCP: true, UNENCRYPTED_SRTP: false },
    lifetime: true,
  });
  t.strictSame(r.osrtp, { offer: true, accept: true });
  t.strictSame(r.flags?.ignored, ['sdes=no-f8-128-hmac-sha1-80', 'SDES=order:AES_CM_128_HMAC_SHA1_80'], 'unsupported suites and options are reported, not applied');
  t.strictSame(parseOffer(offer({ rtpp_flags: 'SDES-off OSRTP=offer' })).sdes, { off: true });
  t.strictSame(parseOffer(offer({ rtpp_flags: 'SDES-off OSRTP=offer' })).osrtp, { offer: true });
});

t.test('direction: key, flags and from/to-interface', async (t) => {
  t.strictSame(parseOffer(offer({ direction: ['priv', 'pub'] })).direction, ['priv', 'pub']);
  t.strictSame(parseOffer(offer({ flags: ['direction=priv', 'direction=pub'] })).direction, ['priv', 'pub'], 'repeated flag gives the pair');
  t.strictSame(parseOffer(offer({ 'from-interface': 'a', 'to-interface': 'b' })).direction, ['a', 'b']);
  t.strictSame(parseOffer(offer({ direction: ['a', 'b'], 'to-interface': 'c' })).direction, ['a', 'c']);
  t.strictSame(parseOffer(offer({ flags: ['direction=x', 'direction=y'], direction: ['a', 'b'] })).direction, ['a', 'b'], 'the key wins over flags');
  t.equal(parseOffer(offer()).direction, undefined);
});

t.test('rtpp_flags string', async (t) => {
  const r = parseOffer(
    offer({
      rtpp_flags:
        'replace-origin via-branch=auto-next strict-source label=callee OSRTP-accept transport-protocol=RTP/AVP address-family=IP4 ' +
        'direction=[priv pub] rtcp-mux=[offer demux] replace=[session-connection] codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR] strip=[EVS]] ICE=remove',
    }),
  );
  t.strictSame(r, {
    callId: 'call1',
    fromTag: 'ftag',
    viaBranch: 'auto-next',
    sdp: SDP,
    flags: { strictSource: true },
    replace: ['origin', 'session-connection'],
    direction: ['priv', 'pub'],
    addressFamily: 'IP4',
    ice: 'remove',
    rtcpMux: ['offer', 'demux'],
    transportProtocol: 'RTP/AVP',
    osrtp: { accept: true },
    codec: { transcode: ['PCMA', 'PCMU'], accept: ['AMR-WB', 'AMR'], strip: ['EVS'] },
    label: 'callee',
  });
  t.strictSame(parseOffer(offer({ rtpp_flags: '  ' })), parseOffer(offer()), 'blank string');
  t.strictSame(parseOffer(offer({ 'rtpp-flags': 'received-from=[IP4 10.1.1.1]' })).receivedFrom, { family: 'IP4', address: '10.1.1.1' });
  const order = parseOffer(offer({ rtpp_flags: 'ICE=remove label=a', flags: ['ICE=force'], label: 'b' }));
  t.equal(order.ice, 'force', 'flags list applies after rtpp_flags');
  t.equal(order.label, 'b', 'dictionary keys apply last');
  t.strictSame(parseDelete({ 'call-id': 'c', rtpp_flags: 'fatal delete-delay=0' }), { callId: 'c', deleteDelay: 0, fatal: true });
  t.throws(() => parseOffer(offer({ rtpp_flags: 'direction=[a b c]' })), { code: 'NG_BAD_PARAM', message: '"direction" must be a list of two interface names' });
});

t.test('delete', async (t) => {
  t.strictSame(parseDelete({ 'call-id': 'c' }), { callId: 'c' });
  t.strictSame(parseDelete({ 'call-id': 'c', 'from-tag': 'a', 'to-tag': 'b', 'via-branch': 'v', flags: ['fatal', 'fast'] }), {
    callId: 'c',
    fromTag: 'a',
    viaBranch: 'v',
    fatal: true,
    fast: true,
  }, 'to-tag is disregarded without the to-tag flag');
  t.equal(parseDelete({ 'call-id': 'c', 'to-tag': 'b', flags: ['to-tag'] }).toTag, 'b', 'honoured with it');
  t.equal(parseDelete({ 'call-id': 'c', 'delete delay': '0' }).deleteDelay, 0, 'numeric string');
  t.equal(parseDelete({ 'call-id': 'c', 'delete-delay': 30 }).deleteDelay, 30);
  t.equal(parseDelete({ 'call-id': 'c', flags: ['delete-delay=7'] }).deleteDelay, 7, 'flag form');
  t.strictSame(parseDelete({ 'call-id': 'c', flags: ['trust-address', 'ICE=remove'], ICE: 7 }), { callId: 'c' }, 'offer-only keys and flags are not looked at');
});

t.test('query and list', async (t) => {
  t.strictSame(parseQuery({ 'call-id': 'c', 'from-tag': 'a', 'to-tag': 'b' }), { callId: 'c', fromTag: 'a', toTag: 'b' });
  t.strictSame(parseQuery({ 'call-id': 'c' }), { callId: 'c' });
  t.strictSame(parseList({}), { limit: 32 });
  t.strictSame(parseList({ limit: 5 }), { limit: 5 });
  t.strictSame(parseList({ limit: '7' }), { limit: 7 });
});
