/**
 * rtpengine's codec flags on offers, without transcoding: which payload types reach the answerer, in
 * which order, with which attribute lines; checked against Debian's rtpengine for the same requests,
 * and with packets through a call whose offer was filtered.
 */
import t from 'tap';
import { parseOffer } from '../src/ng/params.js';
import { accompanied, selectCodecs, type CodecSpec } from '../src/codecs/selection.js';
import { mediaFormats, telephoneEvents } from '../src/codecs/format.js';
import { addableCodecs } from '../src/codecs/transcoding.js';
import { parseSdp } from '../src/sdp/parse.js';
import type { CodecOptions } from '../src/api/requests.js';
import { RelayError } from '../src/errors.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { Phone, rtpPacket } from './helpers/media.js';
import { crlf, relayEndpoints } from './helpers/sdp.js';
import { RTPENGINE, rtpengineInstalled, startRtpengine } from './helpers/rtpengine.js';
import { requireTool } from './helpers/tools.js';
import type { NgClient } from './helpers/ng-client.js';

const session = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const AUDIO = ['m=audio 4000 RTP/AVP 111 0 8 9 18 101 110', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtcp-fb:111 transport-cc', 'a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=rtpmap:110 telephone-event/48000', 'a=ptime:20'];
const VIDEO = ['m=video 4002 RTP/AVP 96 97', 'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack', 'a=rtpmap:97 H264/90000', 'a=fmtp:97 profile-level-id=42e01f'];
const OFFER = crlf([...session, ...AUDIO, ...VIDEO]);

const select = (o: CodecOptions, lines = AUDIO, addedClocks: number[] = []): string[] | undefined => {
  const formats = mediaFormats(parseSdp(crlf([...session, ...lines])).medias[0]!);
  return accompanied(selectCodecs(formats, o).kept, formats, addedClocks);
};

t.test('selection: names and specs, all/except/offer order, telephone-event follows its clock', async (t) => {
  t.same(select({ strip: ['PCMU'] }), ['111', '8', '9', '18', '101', '110'], 'a static payload type by name');
  t.same(select({ strip: ['pcmu', 'OPUS'] }), ['8', '9', '18', '101'], 'names match whatever their case; telephone-event/48000 leaves with opus');
  t.same(select({ strip: ['PCMU', 'PCMA', 'G722', 'G729'] }), ['111', '110'], 'telephone-event/8000 leaves with the last 8 kHz codec');
  t.same(select({ strip: ['opus/48000/1'] }), ['111', '0', '8', '9', '18', '101', '110'], 'a spec with other channels does not match');
  t.same(select({ strip: ['opus/48000/2', 'PCMU/8000'] }), ['8', '9', '18', '101'], 'specs with clock and channels');
  t.same(select({ strip: ['all'], except: ['PCMA', 'opus'] }), ['111', '8'], 'all but the excepted, in offered order, without telephone-event');
  t.same(select({ strip: ['full'], offer: ['G722', 'PCMA'] }), ['9', '8'], 'all but the offered, in the order offer names them');
  t.same(select({ mask: ['all'], transcode: ['PCMA'] }), ['8'], 'mask all, transcode one the offer has');
  t.same(select({ strip: ['PCMU'], except: ['PCMU'] }), ['111', '8', '9', '18', '101', '110'], 'except only guards against all');
  t.same(select({ consume: ['G729'] }), ['111', '0', '8', '9', '101', '110'], 'consume removes as strip does');
  t.same(select({ offer: ['PCMA'] }), ['111', '0', '8', '9', '18', '101', '110'], 'offering a codec the offer has changes nothing');
  t.same(select({ strip: ['G729'] }, ['m=audio 4000 RTP/AVP 0 97']), ['0', '97'], 'a dynamic payload type without a=rtpmap stays');
  t.same(select({ strip: ['PCMA'] }, ['m=audio 4000 RTP/AVP 0 8', 'a=rtpmap:8 FOO/8000']), ['0', '8'], "a=rtpmap's name counts, not the static table's");
  t.same(select({ strip: ['PCMU'] }, ['m=audio 4000 RTP/AVP 9 0 13 101', 'a=rtpmap:101 telephone-event/8000']), ['9', '13', '101'], 'CN and telephone-event stay while G722 keeps 8 kHz');
  const res = selectCodecs(mediaFormats(parseSdp(crlf([...session, ...AUDIO])).medias[0]!), { strip: ['all'], offer: ['PCMA', 'AMR'] });
  t.same([res.kept.map((f) => f.pt), res.missingOffer, res.missingTranscode], [['8'], ['AMR'], []], 'a codec the offer lacks is reported, not added');
  t.same(selectCodecs(mediaFormats(parseSdp(crlf([...session, ...AUDIO])).medias[0]!), { transcode: ['AMR-WB/16000', 'PCMU'] }).missingTranscode, [{ name: 'AMR-WB', clock: 16000, channels: undefined }]);
  t.equal(select({ strip: ['all'] }), undefined, 'nothing left: no selection (the line stays as offered)');
  t.equal(select({ strip: ['PCMU', 'PCMA', 'G722', 'G729', 'opus'] }), undefined, 'telephone-event alone is no codec');
  t.same(select({ mask: ['PCMU', 'PCMA', 'G722', 'G729'] }, AUDIO, [8000]), ['111', '101', '110'], 'telephone-event/8000 stays for an 8 kHz codec the relay adds');
  t.same(select({ mask: ['all'] }, AUDIO, [8000]), [], 'a line left with an added codec only is no empty line');
  t.throws(() => select({ strip: ['PCMU/abc'] }), { code: 'NG_BAD_PARAM', message: /invalid clock rate/ });
  t.throws(() => select({ strip: ['PC MU'] }), RelayError);
});

t.test('ng forms: the codec dictionary, codec-X-Y flags, transcode-Y, key=value flags and rtpp-flags', async (t) => {
  const base = { command: 'offer', 'call-id': 'c', 'from-tag': 'a', sdp: OFFER };
  t.same(parseOffer({ ...base, codec: { strip: ['PCMU', 'G729'], except: 'PCMA opus', offer: ['G722'], 'Transcode': ['AMR'] } }).codec, { strip: ['PCMU', 'G729'], except: ['PCMA', 'opus'], offer: ['G722'], transcode: ['AMR'] });
  t.same(parseOffer({ ...base, flags: ['codec-strip-PCMU', 'codec-mask-all', 'codec-transcode-PCMA', 'transcode-G722', 'codec-except=opus', 'codec_offer-G729'] }).codec, { strip: ['pcmu'], mask: ['all'], transcode: ['pcma', 'g722'], except: ['opus'], offer: ['g729'] });
  t.same(parseOffer({ ...base, 'rtpp-flags': 'codec-strip-PCMU codec-except=[PCMA G722]' }).codec, { strip: ['pcmu'], except: ['PCMA', 'G722'] });
  const accept = parseOffer({ ...base, codec: { accept: ['PCMA'], set: ['opus/48000/2/32000'], ignore: ['G722'], bogus: ['x'] } });
  t.same(accept.codec, { accept: ['PCMA'], set: ['opus/48000/2/32000'], ignore: ['G722'] });
  t.same(accept.flags?.ignored, ['codec.bogus', 'codec-ignore-G722'], 'an unknown list and ignore (no effect, as rtpengine shows) are reported as ignored');
  t.throws(() => parseOffer({ ...base, codec: 'strip' }), { code: 'NG_BAD_PARAM', message: /"codec" must be a dictionary/ });
});

/** The payload types of each m= line, and each kept type's fmtp and rtcp-fb lines. */
function codecLines(sdp: string): Array<{ m: string; pts: string[]; attributes: string[]; rtpmaps: string[] }> {
  return sdp.split('\r\nm=').slice(1).map((section) => {
    const lines = `m=${section}`.split('\r\n');
    const fields = lines[0]!.split(' ');
    return { m: fields[0]!, pts: fields.slice(3), attributes: lines.filter((l) => /^a=(fmtp|rtcp-fb):/.test(l)).sort(), rtpmaps: lines.filter((l) => l.startsWith('a=rtpmap:')).sort() };
  });
}

const CASES: Array<[string, Record<string, unknown>]> = [
  ['codec strip', { codec: { strip: ['PCMU', 'G729'] } }],
  ['strip is case-blind', { codec: { strip: ['pcmu', 'OPUS'] } }],
  ['strip by spec', { codec: { strip: ['opus/48000/2', 'PCMA/8000', 'VP8'] } }],
  ['a spec with other channels', { codec: { strip: ['opus/48000/1'] } }],
  ['all but except', { codec: { strip: ['all'], except: ['PCMA', 'opus'] } }],
  ['all but offer, in offer order', { codec: { strip: ['all'], offer: ['G722', 'PCMA'] } }],
  ['mask all, transcode one present', { codec: { mask: ['all'], transcode: ['PCMA'] } }],
  ['mask', { codec: { mask: ['G729', 'H264'] } }],
  ['consume', { codec: { consume: ['G722'] } }],
  ['flags', { flags: ['codec-strip-PCMA', 'codec-strip-G722'] }],
  ['flags with all and except', { flags: ['codec-strip-all', 'codec-except-PCMU', 'codec-except-VP8'] }],
  ['all but an audio codec: the video line stays as offered', { codec: { strip: ['all'], except: ['PCMA'] } }],
  ['the only video codecs: that line stays as offered', { codec: { strip: ['VP8', 'H264'] } }],
  ['the last 8 kHz codec takes telephone-event', { codec: { strip: ['PCMU', 'PCMA', 'G722', 'G729'] } }],
];

t.test('the same offers through rtpengine and rtpbridge: the same payload types, fmtp and rtcp-fb lines', async (t) => {
  if (!requireTool(t, 'rtpengine', rtpengineInstalled(), `apt-get install rtpengine-daemon (${RTPENGINE})`)) return;
  const engine = await startRtpengine(t, (await mediaPorts(100)).portMin);
  // Eight ports an offer; deleted ones rest for seconds before they are handed out again.
  const { ng } = await startRelay(t, await mediaPorts(CASES.length * 8 + 8));
  const offer = (client: NgClient, id: string, extra: Record<string, unknown>) => client.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: OFFER, ...extra });
  for (const [label, extra] of CASES) {
    const [theirs, ours] = [await offer(engine, label, extra), await offer(ng, label, extra)];
    t.equal(ours.result, 'ok', `${label}: ok ${String(ours['error-reason'] ?? '')}`);
    const [a, b] = [codecLines(theirs.sdp as string), codecLines(ours.sdp as string)];
    t.same(b.map((m) => m.pts), a.map((m) => m.pts), `${label}: payload types as rtpengine offers them`);
    t.same(b.map((m) => m.attributes), a.map((m) => m.attributes), `${label}: fmtp and rtcp-fb lines as rtpengine's`);
    // rtpengine writes a=rtpmap for static payload types too; rtpbridge keeps the sender's lines.
    b.forEach((m, i) => t.ok(m.rtpmaps.every((l) => a[i]!.rtpmaps.includes(l)), `${label}: every a=rtpmap line is one rtpengine writes too`));
    await Promise.all([engine, ng].map((client) => client.request({ command: 'delete', 'call-id': label })));
  }
});

t.test('flags that leave no line a codec, and malformed specs: a clear error, and the call is not created', async (t) => {
  const { ng, relay } = await startRelay(t);
  const offer = (id: string, extra: Record<string, unknown>) => ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: OFFER, ...extra });
  const none = await offer('none', { codec: { strip: ['all'] } });
  t.equal(none.result, 'error');
  t.match(none['error-reason'], /codec flags leave m=audio line 1 and m=video line 2 without a codec/);
  const transcode = await offer('transcode', { flags: ['codec-mask-all', 'codec-transcode-AMR'] });
  t.match(transcode['error-reason'], /\(amr would need transcoding, which this relay does not do for them\)/);
  const malformed = await offer('malformed', { codec: { strip: ['PCMU/8k'] } });
  t.match(malformed['error-reason'], /codec 'PCMU\/8k' has an invalid clock rate/);
  t.same(relay.list(), [], 'no call was left behind');
  const partial = await offer('partial', { codec: { strip: ['all'], offer: ['PCMU', 'AMR'] } });
  t.equal(partial.result, 'ok');
  t.match(partial.warning, /m=audio line 1: AMR not offered \(codec-offer adds no codec the offer lacks\)/, 'what could not be offered is in the warning');
  t.match(partial.warning, /m=video line 2: codec flags would leave no codec, left as offered/);
  t.match(partial.sdp, /m=audio \d+ RTP\/AVP 0\r\n[^]*m=video \d+ RTP\/AVP 96 97\r\n/);
});

t.test('a call whose offer was filtered relays its packets unchanged, both ways', async (t) => {
  const { ng } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({
    command: 'offer',
    'call-id': 'filtered',
    'from-tag': 'A',
    codec: { strip: ['PCMU'] },
    sdp: crlf([...session, `m=audio ${alice.port} RTP/AVP 0 8 101`, 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv']),
  });
  t.match(offer.sdp, /m=audio \d+ RTP\/AVP 8 101\r\n/);
  t.notMatch(offer.sdp, /a=rtpmap:0 /);
  const answer = await ng.request({ command: 'answer', 'call-id': 'filtered', 'from-tag': 'A', 'to-tag': 'B', sdp: crlf([...session, `m=audio ${bob.port} RTP/AVP 8 101`, 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv']) });
  t.match(answer.sdp, /m=audio \d+ RTP\/AVP 8 101\r\n/, 'the answer passes through as it came');
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const fromAlice = rtpPacket(1, { pt: 8, ssrc: 0xa1, payloadSize: 160 });
  const fromBob = rtpPacket(7, { pt: 8, ssrc: 0xb0, payloadSize: 160 });
  await alice.send(fromAlice, toAlice, '127.0.0.1');
  await bob.send(fromBob, toBob, '127.0.0.1');
  t.same((await bob.waitFor(1))[0]!.data, fromAlice, "the caller's PCMA reaches the callee byte for byte");
  t.same((await alice.waitFor(1))[0]!.data, fromBob, "and the callee's reaches the caller");
});

t.test('bad input: payload type clashes, codecs nothing converts to, bad telephone-event clocks, malformed codec lists', async (t) => {
  const formatsOf = (lines: string[]) => mediaFormats(parseSdp(crlf([...session, ...lines])).medias[0]!);
  const add = (spec: CodecSpec, lines: string[]) => {
    const media = parseSdp(crlf([...session, ...lines])).medias[0]!;
    return addableCodecs([spec], mediaFormats(media), media.lines);
  };
  const pcmu = { name: 'PCMU', clock: 8000, channels: 1 };
  const pcma = { name: 'PCMA', clock: 8000, channels: 1 };
  t.same(add({ name: 'PCMA' }, ['m=audio 4000 RTP/AVP 0 8', 'a=rtpmap:8 G726-32/8000']), { added: [{ pt: 96, codec: pcma, source: { pt: 0, codec: pcmu, lines: [] }, lines: ['a=rtpmap:96 PCMA/8000'] }], unaddable: [] }, "PCMA's static number is taken: the first free dynamic one");
  t.same(add({ name: 'pcmu' }, ['m=audio 4000 RTP/AVP 8 96', 'a=rtpmap:96 opus/48000/2']).added[0], { pt: 0, codec: pcmu, source: { pt: 8, codec: pcma, lines: [] }, lines: ['a=rtpmap:0 PCMU/8000'] }, "from the offer's first codec the relay decodes");
  t.same(add({ name: 'PCMA' }, ['m=audio 4000 RTP/AVP 18']), { added: [], unaddable: ['PCMA'] }, 'nothing to convert from');
  t.same(add({ name: 'PCMA', clock: 16000 }, ['m=audio 4000 RTP/AVP 0']), { added: [], unaddable: ['PCMA'] }, 'not at another clock');
  t.same(add({ name: 'AMR' }, ['m=audio 4000 RTP/AVP 0']), { added: [], unaddable: ['AMR'] }, 'not a codec it converts');
  t.same(add({ name: 'opus' }, ['m=audio 4000 RTP/AVP 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16']).added.map((a) => a.lines), [['a=rtpmap:96 opus/48000/2'], ['a=rtpmap:97 telephone-event/48000', 'a=fmtp:97 0-15']], 'a telephone-event at the new clock, with rtpengine\'s default events');
  t.same(telephoneEvents(parseSdp(crlf([...session, 'm=audio 4000 RTP/AVP 0 101 102 103', 'a=rtpmap:101 telephone-event/0', 'a=rtpmap:102 telephone-event/8000', 'a=rtpmap:103 TELEPHONE-EVENT/48000'])).medias[0]!), [{ pt: 102, clock: 8000 }, { pt: 103, clock: 48000 }], 'a zero clock is no telephone-event');
  const base = { command: 'offer', 'call-id': 'c', 'from-tag': 'a', sdp: OFFER };
  t.throws(() => parseOffer({ ...base, codec: ['strip'] }), { code: 'NG_BAD_PARAM', message: /"codec" must be a dictionary/ });
  t.throws(() => parseOffer({ ...base, codec: { strip: 5 } }), { code: 'NG_BAD_PARAM', message: /"codec.strip" must be a string or a list of strings/ });
  t.throws(() => parseOffer({ ...base, flags: ['codec-strip-PCMU/0'] }), { code: 'NG_BAD_PARAM', message: /invalid clock rate/ });
});
