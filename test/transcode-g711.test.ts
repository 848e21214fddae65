/**
 * `transcode` between the G.711 laws: the relay adds the codec a PCMU caller lacks to the offer, and
 * when the callee answers with it, converts both ways. Checked on the audio (a tone through the relay
 * keeps its frequency and level within G.711's quantisation), on the SDP (as rtpengine answers the
 * same requests), and on the engine: one law from the other is a byte map, which the native addon
 * applies as the workers do, so these calls stay on the fast path.
 */
import t from 'tap';
import { decodeG711, encodeG711, g711Table, type G711Law } from '../src/codecs/g711.js';
import { senderReport } from './helpers/rtcp.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { Phone, sleep } from './helpers/media.js';
import { crlf, relayEndpoints } from './helpers/sdp.js';
import { RTPENGINE, rtpengineInstalled, startRtpengine } from './helpers/rtpengine.js';
import { requireTool } from './helpers/tools.js';
import { rtp, tone, toneOf } from './helpers/tone.js';
import type { NgClient } from './helpers/ng-client.js';

const SESSION = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const sdp = (port: number, pts: string): string => crlf([...SESSION, `m=audio ${port} RTP/AVP ${pts}`, 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv']);

/** A 20 ms packet of `law` carrying samples [seq * 160, seq * 160 + 160) of a `hz` tone at `amplitude`. */
function tonePacket(law: G711Law, pt: number, seq: number, hz: number, amplitude: number): Buffer {
  return rtp(pt, seq, seq * 160, encodeG711(law, tone(hz, 8000, amplitude, seq * 160, 160)));
}

const mLine = (text: unknown): string => /m=audio \d+ (.*)\r\n/.exec(String(text))![1]!;

t.test('a PCMU caller, a callee that takes only PCMA: the relay offers PCMA, converts both ways, and the tone arrives', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'tc', 'from-tag': 'alice', codec: { transcode: ['PCMA'] }, sdp: sdp(alice.port, '0 101') });
  t.equal(mLine(offer.sdp), 'RTP/AVP 0 8 101', 'PCMA added after the caller\'s audio codecs');
  t.match(offer.sdp, /\r\na=rtpmap:8 PCMA\/8000\r\n/);
  const answer = await ng.request({ command: 'answer', 'call-id': 'tc', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '8 101') });
  t.equal(mLine(answer.sdp), 'RTP/AVP 0 101', 'the caller is answered with its own codec');
  t.notMatch(answer.sdp, /a=rtpmap:8 /);
  await expectEngine(t, relay, 'tc', { handshakes: false });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;
  const packets = 10;
  for (let seq = 0; seq < packets; seq++) {
    await alice.send(tonePacket('PCMU', 0, seq, 1000, 8000), toAlice, '127.0.0.1');
    await bob.send(tonePacket('PCMA', 8, seq, 440, 4000), toBob, '127.0.0.1');
    await sleep(2);
  }
  const atBob = await bob.waitFor(packets);
  const atAlice = await alice.waitFor(packets);
  t.same(atBob.map((r) => r.data[1]! & 0x7f), Array(packets).fill(8), 'the callee gets PCMA');
  t.same(atAlice.map((r) => r.data[1]! & 0x7f), Array(packets).fill(0), 'the caller gets PCMU');
  t.same(atBob.map((r) => r.data.readUInt16BE(2)), [...Array(packets).keys()], 'sequence numbers as sent');
  t.same(atBob.map((r) => r.data.readUInt32BE(4)), [...Array(packets).keys()].map((s) => s * 160), 'timestamps as sent');
  for (const [label, received, law, hz, amplitude] of [['caller to callee', atBob, 'PCMA', 1000, 8000], ['callee to caller', atAlice, 'PCMU', 440, 4000]] as const) {
    const samples = Int16Array.from(received.flatMap((r) => [...decodeG711(law, r.data.subarray(12))]));
    const { share, rms } = toneOf(samples, hz);
    t.ok(share > 0.95, `${label}: ${(share * 100).toFixed(1)} % of the power at ${hz} Hz`);
    t.ok(Math.abs(rms / (amplitude / Math.SQRT2) - 1) < 0.05, `${label}: level ${rms.toFixed(0)} RMS, sent ${(amplitude / Math.SQRT2).toFixed(0)}`);
  }
});

t.test('a byte map changes the payload only: CSRCs, extension and padding stay, telephone events and RTCP pass, bad padding is dropped', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const [bob, bobRtcp] = await Phone.openPair();
  t.teardown(() => [alice, bob, bobRtcp].forEach((p) => p.close()));
  await ng.request({ command: 'offer', 'call-id': 'edges', 'from-tag': 'alice', codec: { transcode: ['PCMA'] }, sdp: sdp(alice.port, '0 101') });
  const answer = await ng.request({ command: 'answer', 'call-id': 'edges', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '8 101') });
  await expectEngine(t, relay, 'edges', { handshakes: false });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const ulaw = encodeG711('PCMU', tone(1000, 8000, 8000, 0, 160));
  const table = g711Table('PCMU', 'PCMA');
  // One CSRC and a one-word header extension, then 160 bytes of μ-law and 4 bytes of padding.
  const header = Buffer.from([0x80 | 0x20 | 0x10 | 1, 0x80 | 0, 0, 1, 0, 0, 0, 160, 0, 0, 0xaa, 0xaa, 0, 0, 0, 7, 0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
  const padded = Buffer.concat([header, ulaw, Buffer.from([0, 0, 0, 4])]);
  const event = rtp(101, 2, 320, Buffer.from([5, 0x8a, 0x03, 0x20]));
  const badPadding = Buffer.concat([rtp(0, 3, 480, ulaw.subarray(0, 10)), Buffer.from([200])]);
  badPadding[0]! |= 0x20;
  const before = (await relay.statistics()).dropped.malformed;
  for (const packet of [padded, event, badPadding]) {
    await alice.send(packet, toAlice, '127.0.0.1');
    await sleep(5);
  }
  const sr = senderReport(0xaaaa, 3_900_000_000, 160);
  await alice.send(sr, toAlice + 1, '127.0.0.1');
  const got = (await bob.waitFor(2)).map((r) => r.data);
  t.same((await bobRtcp.waitFor(1))[0]!.data, sr, 'RTCP passes unchanged (same clock, same octet count)');
  const expected = Buffer.from(padded);
  expected[1] = 0x80 | 8;
  for (let i = header.length; i < header.length + 160; i++) expected[i] = table[padded[i]!]!;
  t.same(got[0], expected, 'PCMA out: marker, CSRC, extension and padding as they came, each payload byte mapped');
  t.same(got[1], event, 'the telephone event passes unchanged');
  await sleep(100);
  t.equal(bob.received.length, 2, 'the packet whose padding claims more than it holds went no further');
  t.equal((await relay.statistics()).dropped.malformed - before, 1, 'and was counted as malformed');
});

t.test('the callee takes the caller\'s own codec: nothing is converted and the call stays on the fast path', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  await ng.request({ command: 'offer', 'call-id': 'same', 'from-tag': 'alice', codec: { transcode: ['PCMA'] }, sdp: sdp(alice.port, '0 101') });
  const answer = await ng.request({ command: 'answer', 'call-id': 'same', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, '0 101') });
  t.equal(mLine(answer.sdp), 'RTP/AVP 0 101');
  await expectEngine(t, relay, 'same', { handshakes: false });
  const packet = tonePacket('PCMU', 0, 1, 1000, 8000);
  await alice.send(packet, relayEndpoints(answer.sdp as string)[0]!.port, '127.0.0.1');
  t.same((await bob.waitFor(1))[0]!.data, packet, 'the packet passes byte for byte');
});

const CASES: Array<[string, string, Record<string, unknown>, string]> = [
  ['transcode PCMA to a PCMA callee', '0 101', { codec: { transcode: ['PCMA'] } }, '8 101'],
  ['mask all, transcode PCMA', '0 101', { codec: { mask: ['all'], transcode: ['PCMA'] } }, '8'],
  ['mask PCMU, transcode PCMA: telephone-event goes on with PCMA', '0 101', { codec: { mask: ['PCMU'], transcode: ['PCMA'] } }, '8 101'],
  ['transcode PCMU to a PCMU callee, from PCMA', '8 101', { flags: ['transcode-PCMU'] }, '0 101'],
  ['transcode PCMA, the callee keeps PCMU', '0 101', { codec: { transcode: ['PCMA'] } }, '0 101'],
];

t.test('offers and answers with transcode, through rtpengine and rtpbridge: the same payload types', async (t) => {
  if (!requireTool(t, 'rtpengine', rtpengineInstalled(), `apt-get install rtpengine-daemon (${RTPENGINE})`)) return;
  const engine = await startRtpengine(t, (await mediaPorts(100)).portMin);
  const { ng } = await startRelay(t, await mediaPorts(CASES.length * 8 + 8));
  for (const [label, offered, flags, answered] of CASES) {
    const both = async (client: NgClient): Promise<[string, string]> => {
      const offer = await client.request({ command: 'offer', 'call-id': label, 'from-tag': 'a', sdp: sdp(4000, offered), ...flags });
      const answer = await client.request({ command: 'answer', 'call-id': label, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(5000, answered) });
      await client.request({ command: 'delete', 'call-id': label });
      return [mLine(offer.sdp), mLine(answer.sdp)];
    };
    t.same(await both(ng), await both(engine), `${label}: offer and answer as rtpengine writes them`);
  }
});
