import t from 'tap';
import { decode, encode } from '../src/ng/bencode.js';
import { encodeNgReply, parseNgMessage, salvageCookie } from '../src/ng/message.js';

const msg = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s) : s);

t.test('bencode request', async (t) => {
  t.strictSame(parseNgMessage(msg('5323_1 d7:command4:pinge')), { cookie: '5323_1', dict: { command: 'ping' }, format: 'bencode' });
  const body = { command: 'offer', 'call-id': 'a@b', sdp: 'v=0\r\n', flags: ['trust address'] };
  const parsed = parseNgMessage(Buffer.concat([Buffer.from('c00kie '), encode(body)]));
  t.equal(parsed.cookie, 'c00kie');
  t.strictSame(parsed.dict, body);
  t.equal(parsed.format, 'bencode');
});

t.test('JSON request', async (t) => {
  const p = parseNgMessage(msg('j1 {"command":"offer","received from":["IP4","10.0.0.1"],"limit":5,"nested":{"deep":[1,"x"]}}'));
  t.equal(p.format, 'json');
  t.equal(p.cookie, 'j1');
  t.strictSame(p.dict, { command: 'offer', 'received from': ['IP4', '10.0.0.1'], limit: 5, nested: { deep: [1, 'x'] } });
  t.strictSame(parseNgMessage(msg('j2 {"a":true,"b":false}')).dict, { a: 1, b: 0 }, 'booleans become 1/0');
  const proto = parseNgMessage(msg('j3 {"__proto__":{"x":1}}')).dict;
  t.ok(Object.hasOwn(proto, '__proto__'), '__proto__ stays an own key');
  t.equal(Object.getPrototypeOf(proto), Object.prototype);
});

t.test('JSON values bencode cannot carry', async (t) => {
  t.throws(() => parseNgMessage(msg('j {"a":1.5}')), { code: 'NG_MALFORMED', message: 'JSON number 1.5 is not an integer' });
  t.throws(() => parseNgMessage(msg('j {"a":1e300}')), { code: 'NG_MALFORMED', message: /not an integer/ });
  t.throws(() => parseNgMessage(msg('j {"a":null}')), { code: 'NG_MALFORMED', message: 'JSON null is not allowed' });
  t.throws(() => parseNgMessage(msg('j {"a":[null]}')), { code: 'NG_MALFORMED', message: /null/ });
  t.throws(() => parseNgMessage(msg('j {"a":')), { code: 'NG_MALFORMED', message: /^invalid JSON: / });
  t.throws(() => parseNgMessage(msg('j {"a":1} x')), { code: 'NG_MALFORMED', message: /^invalid JSON/ });
  t.throws(() => parseNgMessage(msg('j ["command","ping"]')), { code: 'NG_MALFORMED', message: 'message is not a dictionary' });
});

t.test('JSON limits match the bencode limits', async (t) => {
  const deep = '{"a":' + '['.repeat(40) + ']'.repeat(40) + '}';
  t.throws(() => parseNgMessage(msg(`j ${deep}`)), { code: 'NG_TOO_LARGE', message: /nesting deeper than 32/ });
  const wide = '{"a":[' + Array(10000).fill('1').join(',') + ']}';
  t.throws(() => parseNgMessage(msg(`j ${wide}`)), { code: 'NG_TOO_LARGE', message: /more than 10000 elements/ });
  t.throws(() => parseNgMessage(msg('j {"a":[1,2,3]}'), { maxElements: 3 }), { code: 'NG_TOO_LARGE' });
});

t.test('framing errors', async (t) => {
  const cases: [string | Buffer, string, RegExp | string][] = [
    ['', 'NG_MALFORMED', 'empty message'],
    ['d7:command4:pinge', 'NG_MALFORMED', /^no cookie/],
    [' d7:command4:pinge', 'NG_MALFORMED', /^no cookie/],
    ['cookie', 'NG_MALFORMED', /^no cookie/],
    ['cookie ', 'NG_MALFORMED', 'empty message body'],
    [`${'c'.repeat(257)} de`, 'NG_MALFORMED', 'cookie longer than 256 bytes'],
    [Buffer.concat([Buffer.from('co\x01kie de')]), 'NG_MALFORMED', 'cookie contains non-printable bytes'],
    ['c l4:pinge', 'NG_MALFORMED', 'message is not a dictionary'],
    ['c i1e', 'NG_MALFORMED', 'message is not a dictionary'],
    ['c 4:ping', 'NG_MALFORMED', 'message is not a dictionary'],
    ['c d7:command4:ping', 'NG_MALFORMED', 'truncated bencode at byte 16'],
    ['c d7:command4:pingee', 'NG_MALFORMED', /trailing garbage .* byte 17/],
    ['c d7:command4:pinge\n', 'NG_MALFORMED', /trailing garbage/],
    ['c hello', 'NG_MALFORMED', /invalid bencode at byte 0/],
    ['c  d7:command4:pinge', 'NG_MALFORMED', /invalid bencode at byte 0: unexpected ' '/],
    ['c ' + 'l'.repeat(100) + 'e'.repeat(100), 'NG_TOO_LARGE', /nesting/],
  ];
  for (const [input, code, message] of cases) {
    t.throws(() => parseNgMessage(msg(input)), { code, message }, JSON.stringify(String(input).slice(0, 30)));
  }
  t.strictSame(parseNgMessage(msg(`${'c'.repeat(256)} de`)), { cookie: 'c'.repeat(256), dict: {}, format: 'bencode' }, '256-byte cookie is fine');
});

t.test('64 KiB of garbage', async (t) => {
  const garbage = Buffer.alloc(65507);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) % 256;
  t.throws(() => parseNgMessage(garbage), { code: 'NG_MALFORMED' });
  const withCookie = Buffer.concat([Buffer.from('abc '), garbage]);
  t.throws(() => parseNgMessage(withCookie), { code: 'NG_MALFORMED' });
  t.equal(salvageCookie(withCookie), 'abc');
});

t.test('salvageCookie', async (t) => {
  t.equal(salvageCookie(msg('5323_1 d7:command')), '5323_1');
  t.equal(salvageCookie(msg('abc ')), 'abc');
  t.equal(salvageCookie(msg('abc {"broken')), 'abc');
  t.equal(salvageCookie(msg('nospace')), undefined);
  t.equal(salvageCookie(msg(' leading')), undefined);
  t.equal(salvageCookie(msg('')), undefined);
  t.equal(salvageCookie(msg(`${'x'.repeat(257)} de`)), undefined, 'too long');
  t.equal(salvageCookie(msg(`${'x'.repeat(256)} de`)), 'x'.repeat(256));
  t.equal(salvageCookie(Buffer.from([0x61, 0x00, 0x20, 0x64, 0x65])), undefined, 'binary junk is no cookie');
});

t.test('encodeNgReply answers in the request format', async (t) => {
  const reply = { result: 'ok', sdp: 'v=0\r\n', warning: undefined, n: 3, list: ['a'] };
  const bencoded = encodeNgReply('ck', reply, 'bencode');
  t.equal(bencoded.toString(), 'ck d4:listl1:ae1:ni3e6:result2:ok3:sdp5:v=0\r\ne');
  t.strictSame(decode(bencoded.subarray(3)), { list: ['a'], n: 3, result: 'ok', sdp: 'v=0\r\n' });

  const json = encodeNgReply('ck', reply, 'json');
  t.equal(json.toString(), 'ck {"result":"ok","sdp":"v=0\\r\\n","n":3,"list":["a"]}');
  t.equal(encodeNgReply('ck', { result: 'ok', raw: Buffer.from('txt') }, 'json').toString(), 'ck {"result":"ok","raw":"txt"}', 'Buffers as text');

  const round = parseNgMessage(encodeNgReply('rt', { result: 'error', 'error-reason': 'x' }, 'json'));
  t.strictSame(round, { cookie: 'rt', dict: { result: 'error', 'error-reason': 'x' }, format: 'json' });
  t.throws(() => encodeNgReply('ck', { n: 0.5 }, 'bencode'), { code: 'NG_BAD_PARAM' });
});
