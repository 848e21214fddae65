/**
 * Transcoding beyond the G.711 pair: Opus (RFC 7587, through libopus) and G.722 to and from PCMU, with
 * telephone-events across clock rates and RTCP made to match. Checked on decoded audio (a tone keeps
 * its frequency and level), on RTP fields per direction, on the SDP (as rtpengine answers the same
 * requests) and on bad input (corrupt frames are dropped and counted; the call goes on).
 */
import t, { type Test } from 'tap';
import { decodeG711, encodeG711 } from '../src/codecs/g711.js';
import { G722Decoder, G722Encoder } from '../src/codecs/g722.js';
import { opusAddon, opusDecoder, opusEncoder } from '../src/codecs/opus.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { Phone, sleep, type Received } from './helpers/media.js';
import { crlf, relayEndpoints } from './helpers/sdp.js';
import { senderReport } from './helpers/rtcp.js';
import { RTPENGINE, rtpengineInstalled, startRtpengine } from './helpers/rtpengine.js';
import { requireTool } from './helpers/tools.js';
import { rtp, tone, toneOf } from './helpers/tone.js';
import type { NgClient } from './helpers/ng-client.js';

const SESSION = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const sdp = (port: number, pts: string, lines: string[]): string => crlf([...SESSION, `m=audio ${port} RTP/AVP ${pts}`, ...lines, 'a=sendrecv']);
const PCMU = ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16'];
const OPUS = ['a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1', 'a=rtpmap:97 telephone-event/48000', 'a=fmtp:97 0-16'];
const mLine = (text: unknown): string => /m=audio \d+ (.*)\r\n/.exec(String(text))![1]!;
const rtpmaps = (text: unknown): string[] => String(text).split('\r\n').filter((l) => /^a=(rtpmap|fmtp):/.test(l)).sort();

const opusBuilt = (t: Test): boolean => requireTool(t, 'libopus addon', opusAddon() !== undefined, 'apt-get install libopus-dev, then npm ci');

/** Packets 0..n-1 of a tone, one 20 ms frame each, encoded by `encode` at `rate`, timestamps in `clock`. */
function tonePackets(n: number, pt: number, hz: number, amplitude: number, rate: number, clock: number, encode: (s: Int16Array) => Uint8Array): Buffer[] {
  const frame = rate / 50;
  return Array.from({ length: n }, (_, seq) => rtp(pt, seq, (seq * clock) / 50, encode(tone(hz, rate, amplitude, seq * frame, frame))));
}

/** Sends both lists, a packet of each every 5 ms (bounded: at most 200 each). */
async function exchange(a: Phone, toA: number, fromA: Buffer[], b: Phone, toB: number, fromB: Buffer[]): Promise<void> {
  for (let i = 0; i < Math.min(200, Math.max(fromA.length, fromB.length)); i++) {
    if (fromA[i]) await a.send(fromA[i]!, toA, '127.0.0.1');
    if (fromB[i]) await b.send(fromB[i]!, toB, '127.0.0.1');
    await sleep(5);
  }
}

/** The decoded tone of what arrived, decoded from the first packet on (the decoders adapt), measured after `skip` packets. */
function measure(t: Test, label: string, received: Received[], skip: number, decode: (p: Buffer) => Int16Array, hz: number, rate: number, sentRms: number): void {
  const decoded = received.map((r) => decode(r.data.subarray(12)));
  const samples = Int16Array.from(decoded.slice(skip).flatMap((d) => [...d]));
  const { share, rms } = toneOf(samples, hz, rate);
  t.ok(share > 0.95, `${label}: ${(share * 100).toFixed(1)} % of the power at ${hz} Hz`);
  t.ok(Math.abs(rms / sentRms - 1) < 0.1, `${label}: level ${rms.toFixed(0)} RMS, sent ${sentRms.toFixed(0)}`);
}

const steps = (received: Received[], at: number, size: number): number[] => received.slice(1).map((r, i) => (r.data.readUIntBE(at, size) - received[i]!.data.readUIntBE(at, size) + 2 ** (8 * size)) % 2 ** (8 * size));

t.test('a PCMU caller and an Opus callee: Opus added to the offer, tones both ways, DTMF and RTCP across the clocks', async (t) => {
  if (!opusBuilt(t)) return;
  const { ng, relay } = await startRelay(t);
  const [alice, aliceRtcp] = await Phone.openPair();
  const bob = await Phone.open();
  t.teardown(() => [alice, aliceRtcp, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'op', 'from-tag': 'alice', codec: { transcode: ['opus'] }, sdp: sdp(alice.port, '0 101', PCMU) });
  t.equal(mLine(offer.sdp), 'RTP/AVP 0 96 97 101', 'Opus and a telephone-event at 48 kHz after the caller\'s codecs');
  t.match(offer.sdp, /\r\na=rtpmap:96 opus\/48000\/2\r\n/);
  t.match(offer.sdp, /\r\na=rtpmap:97 telephone-event\/48000\r\na=fmtp:97 0-15\r\n/);
  const answer = await ng.request({ command: 'answer', 'call-id': 'op', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '96 97', OPUS) });
  t.equal(mLine(answer.sdp), 'RTP/AVP 0 101', 'the caller is answered with its own codec and telephone-event');
  t.same(rtpmaps(answer.sdp), ['a=fmtp:101 0-16', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000']);
  await expectEngine(t, relay, 'op', { handshakes: false, transcoding: true });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;

  const n = 40;
  const encoder = opusEncoder(48000);
  const fromAlice = tonePackets(n, 0, 1000, 8000, 8000, 8000, (s) => encodeG711('PCMU', s));
  const fromBob = tonePackets(n, 96, 440, 6000, 48000, 48000, (s) => encoder.encode(s));
  await exchange(alice, toAlice, fromAlice, bob, toBob, fromBob);
  const atBob = await bob.waitFor(n);
  const atAlice = await alice.waitFor(n);
  t.same(atBob.map((r) => r.data[1]! & 0x7f), Array(n).fill(96), 'the callee gets Opus');
  t.same(atAlice.map((r) => [r.data[1]! & 0x7f, r.data.length]), Array(n).fill([0, 172]), 'the caller gets 20 ms of PCMU a packet');
  t.same(atBob.map((r) => r.data.readUInt16BE(2)), [...Array(n).keys()], 'sequence numbers as sent');
  t.same(steps(atBob, 4, 4), Array(n - 1).fill(960), 'timestamps at 48 kHz towards the callee');
  t.same(steps(atAlice, 4, 4), Array(n - 1).fill(160), 'and at 8 kHz towards the caller');
  t.equal(atBob[0]!.data.readUInt32BE(8), 0xc0dec, 'the SSRC stays');
  const decoder = opusDecoder(48000);
  measure(t, 'caller to callee (PCMU to Opus)', atBob, 5, (p) => decoder.decode(p)!, 1000, 48000, 8000 / Math.SQRT2);
  measure(t, 'callee to caller (Opus to PCMU)', atAlice, 5, (p) => decodeG711('PCMU', p), 440, 8000, 6000 / Math.SQRT2);

  // A key press at 48 kHz reaches the caller at 8 kHz: its timestamp on the audio's and its duration / 6.
  const lastBobTs = (n - 1) * 960;
  const event = rtp(97, n, lastBobTs, Buffer.from([5, 0x8a, 0x12, 0xc0]));
  await bob.send(event, toBob, '127.0.0.1');
  const [dtmf] = (await alice.waitFor(n + 1)).slice(n);
  const lastAliceTs = atAlice[n - 1]!.data.readUInt32BE(4);
  t.same([dtmf!.data[1]! & 0x7f, dtmf!.data.readUInt32BE(4), dtmf!.data[12], dtmf!.data.readUInt16BE(14)], [101, lastAliceTs, 5, 0x12c0 / 6], 'telephone-event renumbered, on the caller\'s clock');

  // The callee's sender report reaches the caller with its RTP timestamp on the caller's clock.
  const report = senderReport(0xc0dec, 1000, 0);
  report.writeUInt32BE(lastBobTs + 4800, 16);
  report.writeUInt32BE(12345, 24);
  await bob.send(report, toBob + 1, '127.0.0.1');
  const [{ data: rtcp }] = await aliceRtcp.waitFor(1);
  t.equal(rtcp.readUInt32BE(16), (lastAliceTs + 800) >>> 0, 'the report\'s RTP timestamp on the caller\'s clock');
  t.equal(rtcp.readUInt32BE(24), alice.received.reduce((sum, r) => sum + r.data.length - 12, 0), 'and its octet count that of the payloads the caller got');
});


t.test('a PCMU caller and a G.722 callee: 16 kHz audio both ways under the same 8 kHz clock', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'g722', 'from-tag': 'alice', flags: ['transcode-G722'], sdp: sdp(alice.port, '0 101', PCMU) });
  t.equal(mLine(offer.sdp), 'RTP/AVP 0 9 101', 'G.722 on its static payload type; no new telephone-event at the same clock');
  const answer = await ng.request({ command: 'answer', 'call-id': 'g722', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '9 101', ['a=rtpmap:9 G722/8000', ...PCMU.slice(1)]) });
  t.equal(mLine(answer.sdp), 'RTP/AVP 0 101');
  await expectEngine(t, relay, 'g722', { handshakes: false, transcoding: true });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;
  const n = 30;
  const encoder = new G722Encoder();
  const fromAlice = tonePackets(n, 0, 1000, 8000, 8000, 8000, (s) => encodeG711('PCMU', s));
  const fromBob = tonePackets(n, 9, 440, 6000, 16000, 8000, (s) => encoder.encode(s));
  await exchange(alice, toAlice, fromAlice, bob, toBob, fromBob);
  const atBob = await bob.waitFor(n);
  const atAlice = await alice.waitFor(n);
  t.same(atBob.map((r) => [r.data[1]! & 0x7f, r.data.length]), Array(n).fill([9, 172]), 'the callee gets 20 ms of G.722 a packet');
  t.same(atAlice.map((r) => [r.data[1]! & 0x7f, r.data.length]), Array(n).fill([0, 172]), 'the caller gets PCMU');
  t.same(steps(atBob, 4, 4), Array(n - 1).fill(160), 'G.722 counts its timestamps at 8 kHz');
  const decoder = new G722Decoder();
  measure(t, 'caller to callee (PCMU to G.722)', atBob, 2, (p) => decoder.decode(p), 1000, 16000, 8000 / Math.SQRT2);
  measure(t, 'callee to caller (G.722 to PCMU)', atAlice, 2, (p) => decodeG711('PCMU', p), 440, 8000, 6000 / Math.SQRT2);
});

t.test('bad input: corrupt Opus frames, late packets and broken telephone-events are dropped and counted; the call goes on', async (t) => {
  if (!opusBuilt(t)) return;
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'bad', 'from-tag': 'alice', codec: { transcode: ['opus'] }, sdp: sdp(alice.port, '0 101', PCMU) });
  const answer = await ng.request({ command: 'answer', 'call-id': 'bad', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '96 97', OPUS) });
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const encoder = opusEncoder(48000);
  const good = (seq: number): Buffer => rtp(96, seq, seq * 960, encoder.encode(tone(440, 48000, 6000, seq * 960, 960)));
  // Learn bob's address first, then: a good frame, an empty one, an invalid one (code 3 with no frames),
  // one older than the last, a telephone-event too short to read, and a good one again.
  await bob.send(good(0), toBob, '127.0.0.1');
  await alice.send(rtp(0, 0, 0, new Uint8Array(160).fill(0xff)), toAlice, '127.0.0.1');
  await bob.waitFor(1);
  await alice.waitFor(1);
  for (const packet of [good(1), rtp(96, 2, 1920, new Uint8Array(0)), rtp(96, 3, 2880, Uint8Array.of(3, 0)), good(0), rtp(97, 4, 2880, Uint8Array.of(5)), good(5)]) {
    await bob.send(packet, toBob, '127.0.0.1');
    await sleep(5);
  }
  const atAlice = await alice.waitFor(3);
  t.same(atAlice.slice(1).map((r) => r.data.readUInt16BE(2)), [1, 5], 'only the good frames arrive, converted');
  t.equal((await relay.statistics()).dropped.undecodable, 4, 'the other four counted as undecodable');
  // Other calls go on.
  const other = await ng.request({ command: 'offer', 'call-id': 'next', 'from-tag': 'a', codec: { transcode: ['opus'] }, sdp: sdp(4000, '0', PCMU.slice(0, 1)) });
  t.equal(mLine(other.sdp), 'RTP/AVP 0 96');
});

t.test('a small jitter buffer: a packet overtaken by the next waits for it; after a loss the waiting ones go on', async (t) => {
  if (!opusBuilt(t)) return;
  const { ng } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'jb', 'from-tag': 'alice', codec: { transcode: ['opus'] }, sdp: sdp(alice.port, '0 101', PCMU) });
  await ng.request({ command: 'answer', 'call-id': 'jb', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '96 97', OPUS) });
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;
  const encoder = opusEncoder(48000);
  const frames = Array.from({ length: 10 }, (_, seq) => rtp(96, seq, seq * 960, encoder.encode(tone(440, 48000, 6000, seq * 960, 960))));
  // 3 comes before 2; 5 is lost, so 6 and 7 wait and go on with 8.
  await bob.send(frames[0]!, toBob, '127.0.0.1');
  await sleep(20);
  for (const seq of [1, 3, 2, 4, 6, 7, 8]) {
    await bob.send(frames[seq]!, toBob, '127.0.0.1');
    await sleep(5);
  }
  await alice.waitFor(8);
  await sleep(50);
  t.same(alice.received.map((r) => r.data.readUInt16BE(2)), [0, 1, 2, 3, 4, 6, 7, 8], 'in order, 5 missing');
  t.same(alice.received.map((r) => r.data.readUInt32BE(4) / 160), [0, 1, 2, 3, 4, 6, 7, 8], 'each at its own timestamp');
});

const CASES: Array<[string, string, string[], Record<string, unknown>, string, string[], Record<string, unknown>?]> = [
  ['transcode opus, answered with Opus', '0 101', PCMU, { codec: { transcode: ['opus'] } }, '96 97', OPUS],
  ['transcode G722, answered with G.722', '0 101', PCMU, { flags: ['transcode-G722'] }, '9 101', ['a=rtpmap:9 G722/8000', ...PCMU.slice(1)]],
  ['transcode G722 and opus, answered with Opus', '0 101', PCMU, { codec: { transcode: ['G722', 'opus'] } }, '96 97', OPUS],
  ['an Opus caller, transcode PCMU', '96 97', OPUS, { codec: { transcode: ['PCMU'] } }, '0 101', PCMU],
  ['an Opus and PCMA caller, transcode PCMU, mask opus', '96 8', ['a=rtpmap:96 opus/48000/2', 'a=rtpmap:8 PCMA/8000'], { codec: { transcode: ['PCMU'], mask: ['opus'] } }, '0', []],
  ['an Opus and PCMU caller, transcode PCMA, accept PCMU: converted from PCMU', '96 0 101', ['a=rtpmap:96 opus/48000/2', ...PCMU], { codec: { transcode: ['PCMA'], accept: ['PCMU'] } }, '8 101', PCMU.slice(1)],
  ['always transcode, answered with the same codec', '0 101', PCMU, { flags: ['always transcode'] }, '0 101', PCMU],
  ['single codec in the answer', '0 8 101', ['a=rtpmap:8 PCMA/8000', ...PCMU], {}, '8 0 101', ['a=rtpmap:8 PCMA/8000', ...PCMU], { flags: ['single codec'] }],
];

t.test('offers and answers with transcode to Opus and G.722, through rtpengine and rtpbridge: the same SDP formats', async (t) => {
  if (!opusBuilt(t)) return;
  if (!requireTool(t, 'rtpengine', rtpengineInstalled(), `apt-get install rtpengine-daemon (${RTPENGINE})`)) return;
  const engine = await startRtpengine(t, (await mediaPorts(100)).portMin);
  const { ng } = await startRelay(t, await mediaPorts(CASES.length * 8 + 8));
  for (const [label, offered, offerLines, flags, answered, answerLines, answerFlags] of CASES) {
    const both = async (client: NgClient): Promise<string[][]> => {
      const offer = await client.request({ command: 'offer', 'call-id': label, 'from-tag': 'a', sdp: sdp(4000, offered, offerLines), ...flags });
      const answer = await client.request({ command: 'answer', 'call-id': label, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(5000, answered, answerLines), ...answerFlags });
      await client.request({ command: 'delete', 'call-id': label });
      return [[mLine(offer.sdp)], rtpmaps(offer.sdp), [mLine(answer.sdp)], rtpmaps(answer.sdp)];
    };
    t.same(await both(ng), await both(engine), `${label}: offer and answer as rtpengine writes them`);
  }
});

t.test('an encoder bitrate for the added codec: set, or the transcode spec\'s fourth field', async (t) => {
  if (!opusBuilt(t)) return;
  const { ng } = await startRelay(t);
  const sizes: number[] = [];
  for (const [id, codec] of [['set', { transcode: ['opus'], set: ['opus/48000/2/12000'] }], ['spec', { transcode: ['opus/48000/2/64000'] }]] as const) {
    const alice = await Phone.open();
    const bob = await Phone.open();
    t.teardown(() => [alice, bob].forEach((p) => p.close()));
    await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'alice', codec, sdp: sdp(alice.port, '0 101', PCMU) });
    const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '96 97', OPUS) });
    const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
    // Noise, so the encoder spends what it is allowed.
    let seed = 7;
    const noise = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 16000) - 8000;
    const n = 25;
    for (let seq = 0; seq < n; seq++) {
      await alice.send(rtp(0, seq, seq * 160, encodeG711('PCMU', Int16Array.from({ length: 160 }, noise))), toAlice, '127.0.0.1');
      await sleep(3);
    }
    const got = await bob.waitFor(n);
    sizes.push(got.slice(5).reduce((sum, r) => sum + r.data.length - 12, 0) / (n - 5));
  }
  t.ok(sizes[0]! > 20 && sizes[0]! < 40, `12 kbit/s: ${sizes[0]!.toFixed(0)} bytes a packet (30 expected)`);
  t.ok(sizes[1]! > 120 && sizes[1]! < 200, `64 kbit/s: ${sizes[1]!.toFixed(0)} bytes a packet (160 expected)`);
});
