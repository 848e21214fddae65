import t, { type Test } from 'tap';
import { decode, encode, type BencodeValue } from '../src/ng/bencode.js';
import { NgProtocolError } from '../src/errors.js';

const b = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

/** Asserts the decoder rejects `input` with `code` and a message matching `message`. */
function rejects(t: Test, input: string | Buffer, code: string, message: RegExp, limits?: Parameters<typeof decode>[1]): void {
  try {
    decode(b(input), limits);
    t.fail(`expected ${code} for ${JSON.stringify(String(input).slice(0, 40))}`);
  } catch (err) {
    t.ok(err instanceof NgProtocolError, 'is an NgProtocolError');
    t.equal((err as NgProtocolError).code, code, `code for ${JSON.stringify(String(input).slice(0, 40))}`);
    t.match((err as Error).message, message);
  }
}

t.test('decodes every type', async (t) => {
  t.equal(decode(b('4:spam')), 'spam');
  t.equal(decode(b('0:')), '');
  t.equal(decode(b('i0e')), 0);
  t.equal(decode(b('i42e')), 42);
  t.equal(decode(b('i-3e')), -3);
  t.equal(decode(b(`i${Number.MAX_SAFE_INTEGER}e`)), Number.MAX_SAFE_INTEGER);
  t.equal(decode(b(`i-${Number.MAX_SAFE_INTEGER}e`)), -Number.MAX_SAFE_INTEGER);
  t.strictSame(decode(b('le')), []);
  t.strictSame(decode(b('de')), {});
  t.strictSame(decode(b('l4:spami7ee')), ['spam', 7]);
  t.strictSame(decode(b('d7:command4:ping5:flagsl13:trust-addressee')), { command: 'ping', flags: ['trust-address'] });
  t.strictSame(decode(b('d1:bi1e1:ai2ee')), { b: 1, a: 2 }, 'unsorted keys are accepted');
});

t.test('string lengths count bytes, and text is UTF-8', async (t) => {
  const euro = Buffer.concat([Buffer.from('3:'), Buffer.from('€')]);
  t.equal(decode(euro), '€');
  t.equal(encode('€').toString('latin1'), Buffer.concat([Buffer.from('3:'), Buffer.from('€')]).toString('latin1'));
  const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n';
  t.equal(decode(encode(sdp)), sdp, 'CRLF and spaces survive');
});

t.test('a __proto__ key is an ordinary key', async (t) => {
  const d = decode(b('d9:__proto__d1:xi1eee')) as Record<string, unknown>;
  t.ok(Object.hasOwn(d, '__proto__'));
  t.equal(Object.getPrototypeOf(d), Object.prototype, 'prototype untouched');
  t.equal((d as { x?: unknown }).x, undefined);
});

t.test('round-trips', async (t) => {
  const values: BencodeValue[] = [
    'x',
    0,
    -17,
    [],
    {},
    ['a', ['b', ['c', 1]], { k: 'v' }],
    { command: 'offer', 'call-id': 'abc@host', 'received from': ['IP4', '10.0.0.1'], nested: { list: [1, 2, 3], empty: '' } },
  ];
  for (const v of values) t.strictSame(decode(encode(v)), v, JSON.stringify(v));
});

t.test('encode sorts keys by bytes, skips undefined, takes Buffers raw', async (t) => {
  t.equal(encode({ b: 1, a: 'x', c: undefined }).toString(), 'd1:a1:x1:bi1ee');
  t.equal(encode({ Z: 1, a: 2, 'a b': 3 }).toString(), 'd1:Zi1e1:ai2e3:a bi3ee', 'byte order: uppercase before lowercase, prefix first');
  t.equal(encode({ 'é': 1, z: 2 }).toString(), 'd1:zi2e2:éi1ee', 'non-ASCII sorts after ASCII by UTF-8 bytes');
  t.equal(encode(Buffer.from([0xff, 0x00])).toString('latin1'), '2:\xff\x00');
  t.equal(encode(['a', 1, [{}]]).toString(), 'l1:ai1eldeee');
  t.ok(encode({ x: [1, 2], y: 'z' }).equals(encode({ y: 'z', x: [1, 2] })), 'deterministic');
});

t.test('encode rejects what bencode cannot carry', async (t) => {
  for (const bad of [1.5, NaN, Infinity, 2 ** 60, true, null, undefined, () => 1, new Date(0), new Map(), Symbol('s'), 10n]) {
    t.throws(() => encode(bad as never), { code: 'NG_BAD_PARAM' }, String(typeof bad === 'symbol' ? 'symbol' : bad));
  }
  t.throws(() => encode([undefined] as never), { code: 'NG_BAD_PARAM' }, 'undefined inside a list');
  t.throws(() => encode({ a: { b: 0.5 } }), { code: 'NG_BAD_PARAM', message: /0\.5/ });
});

t.test('malformed input', async (t) => {
  rejects(t, '', 'NG_MALFORMED', /truncated bencode at byte 0/);
  rejects(t, '5:abc', 'NG_MALFORMED', /truncated bencode at byte 5: string at byte 0 needs 5 bytes, 3 left/);
  rejects(t, '5', 'NG_MALFORMED', /truncated bencode at byte 1/);
  rejects(t, '99999999999999999999:x', 'NG_MALFORMED', /string length at byte 0: out of range/);
  rejects(t, '03:abc', 'NG_MALFORMED', /leading zero/);
  rejects(t, '3x:abc', 'NG_MALFORMED', /invalid string length at byte 1: unexpected 'x'/);
  rejects(t, 'i12', 'NG_MALFORMED', /truncated bencode at byte 3/);
  rejects(t, 'i', 'NG_MALFORMED', /truncated bencode at byte 1/);
  rejects(t, 'ie', 'NG_MALFORMED', /invalid integer at byte 1: no digits/);
  rejects(t, 'i-e', 'NG_MALFORMED', /no digits/);
  rejects(t, 'i-0e', 'NG_MALFORMED', /negative zero/);
  rejects(t, 'i03e', 'NG_MALFORMED', /leading zero/);
  rejects(t, 'i-03e', 'NG_MALFORMED', /leading zero/);
  rejects(t, 'i1.5e', 'NG_MALFORMED', /invalid integer at byte 2: unexpected '\.'/);
  rejects(t, 'i+1e', 'NG_MALFORMED', /unexpected '\+'/);
  rejects(t, 'i 1e', 'NG_MALFORMED', /unexpected ' '/);
  rejects(t, `i${2 ** 53}e`, 'NG_MALFORMED', /out of range/);
  rejects(t, 'l', 'NG_MALFORMED', /truncated bencode at byte 1/);
  rejects(t, 'l4:spam', 'NG_MALFORMED', /truncated bencode at byte 7/);
  rejects(t, 'd', 'NG_MALFORMED', /truncated/);
  rejects(t, 'd3:key', 'NG_MALFORMED', /truncated bencode at byte 6/);
  rejects(t, 'd3:key5:value', 'NG_MALFORMED', /truncated bencode at byte 13/);
  rejects(t, 'di1e1:xe', 'NG_MALFORMED', /byte 1: dictionary key is not a string/);
  rejects(t, 'dl1:ae1:xe', 'NG_MALFORMED', /dictionary key is not a string/);
  rejects(t, 'de ', 'NG_MALFORMED', /trailing garbage after bencode value at byte 2/);
  rejects(t, 'i1ei2e', 'NG_MALFORMED', /trailing garbage .* byte 3/);
  rejects(t, 'x', 'NG_MALFORMED', /invalid bencode at byte 0: unexpected 'x'/);
  rejects(t, 'e', 'NG_MALFORMED', /unexpected 'e'/);
  rejects(t, 'l1:ax', 'NG_MALFORMED', /byte 4: unexpected 'x'/);
});

t.test('64 KiB of garbage is rejected quickly and cleanly', async (t) => {
  const noise = Buffer.alloc(64 * 1024);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + 13) % 256;
  rejects(t, noise, 'NG_MALFORMED', /^invalid bencode at byte 0: unexpected '\r'$/);
  rejects(t, Buffer.alloc(64 * 1024, '9'), 'NG_MALFORMED', /^truncated bencode at byte 65536$/);
  rejects(t, Buffer.from('i' + '1'.repeat(65535)), 'NG_MALFORMED', /^truncated bencode at byte 65536$/);
});

t.test('nesting limit', async (t) => {
  const nested = (n: number): string => 'l'.repeat(n) + 'e'.repeat(n);
  t.strictSame(decode(b(nested(3))), [[[]]]);
  t.doesNotThrow(() => decode(b(nested(32))), 'default depth 32 is allowed');
  rejects(t, nested(33), 'NG_TOO_LARGE', /nesting deeper than 32/);
  rejects(t, 'd1:a' + nested(32) + 'e', 'NG_TOO_LARGE', /nesting/, undefined);
  rejects(t, nested(3), 'NG_TOO_LARGE', /deeper than 2/, { maxDepth: 2 });
  rejects(t, 'l'.repeat(60000), 'NG_TOO_LARGE', /nesting/);
});

t.test('element limit', async (t) => {
  const list = (n: number): string => 'l' + 'i1e'.repeat(n) + 'e';
  t.equal((decode(b(list(9999))) as unknown[]).length, 9999, 'list + 9999 items = 10000 elements');
  rejects(t, list(10000), 'NG_TOO_LARGE', /more than 10000 elements/);
  rejects(t, 'd1:a1:b1:c1:de', 'NG_TOO_LARGE', /more than 4 elements/, { maxElements: 4 });
  t.strictSame(decode(b('d1:a1:be'), { maxElements: 3 }), { a: 'b' }, 'keys count as elements');
});
