/**
 * `ptime` and `ptime-reverse`: the relay writes a=ptime into the offer (towards the callee) or the
 * answer (towards the caller) as rtpengine does, and repacketizes what that participant is sent:
 * longer packets from shorter ones and shorter from longer, numbered on without gaps, audio intact.
 */
import t from 'tap';
import { decodeG711, encodeG711 } from '../src/codecs/g711.js';
import { parseOffer } from '../src/ng/params.js';
import { opusAddon } from '../src/codecs/opus.js';
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
const sdp = (port: number, extra: string[] = []): string => crlf([...SESSION, `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', ...extra, 'a=sendrecv']);
const ptimes = (text: unknown): string[] => String(text).split('\r\n').filter((l) => l.startsWith('a=ptime:'));
const steps = (values: number[]): number[] => values.slice(1).map((v, i) => (v - values[i]! + 2 ** 32) % 2 ** 32);

t.test('ptime 40 towards the callee, ptime-reverse 10 towards the caller: SDP and packets', async (t) => {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'pt', 'from-tag': 'alice', ptime: 40, 'ptime-reverse': 10, sdp: sdp(alice.port, ['a=ptime:20']) });
  t.same(ptimes(offer.sdp), ['a=ptime:40'], 'the callee is offered 40 ms');
  t.match(offer.sdp, /a=rtcp:\d+\r\na=ptime:40\r\n$/, 'written last, as rtpengine does');
  const answer = await ng.request({ command: 'answer', 'call-id': 'pt', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port, ['a=ptime:20']) });
  t.same(ptimes(answer.sdp), ['a=ptime:10'], 'the caller is answered with 10 ms');
  await expectEngine(t, relay, 'pt', { handshakes: false, transcoding: true });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  const toBob = relayEndpoints(offer.sdp as string)[0]!.port;
  const n = 20;
  for (let i = 0; i < n; i++) {
    await alice.send(rtp(0, 500 + i, 8000 + i * 160, encodeG711('PCMU', tone(1000, 8000, 8000, i * 160, 160)), 0xa11ce), toAlice, '127.0.0.1');
    await bob.send(rtp(0, 900 + i, 16000 + i * 160, encodeG711('PCMU', tone(440, 8000, 6000, i * 160, 160)), 0xb0b), toBob, '127.0.0.1');
    await sleep(4);
  }
  const atBob = await bob.waitFor(n / 2);
  const atAlice = await alice.waitFor(n * 2);
  t.same(atBob.map((r) => [r.data.readUInt16BE(2), r.data.length - 12]), Array.from({ length: n / 2 }, (_, i) => [500 + i, 320]), 'the callee gets 40 ms packets, numbered on from the caller\'s first');
  t.same(steps(atBob.map((r) => r.data.readUInt32BE(4))), Array(n / 2 - 1).fill(320), 'timestamps 320 apart');
  t.same(atAlice.map((r) => [r.data.readUInt16BE(2), r.data.length - 12]), Array.from({ length: n * 2 }, (_, i) => [900 + i, 80]), 'the caller gets 10 ms packets, two for each');
  t.same(steps(atAlice.map((r) => r.data.readUInt32BE(4))), Array(n * 2 - 1).fill(80), 'timestamps 80 apart');
  t.equal(atAlice[0]!.data.readUInt32BE(8), 0xb0b, 'the SSRC stays');
  for (const [label, got, hz, amplitude] of [['to the callee', atBob, 1000, 8000], ['to the caller', atAlice, 440, 6000]] as const) {
    const { share, rms } = toneOf(Int16Array.from(got.flatMap((r) => [...decodeG711('PCMU', r.data.subarray(12))])), hz);
    t.ok(share > 0.99, `${label}: ${(share * 100).toFixed(1)} % of the power at ${hz} Hz (no sample lost or doubled)`);
    t.ok(Math.abs(rms / (amplitude / Math.SQRT2) - 1) < 0.05, `${label}: level ${rms.toFixed(0)}`);
  }
});

t.test('a lost packet: the repacketized stream starts again at the next one\'s timestamp', async (t) => {
  const { ng } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  await ng.request({ command: 'offer', 'call-id': 'loss', 'from-tag': 'alice', ptime: 40, sdp: sdp(alice.port) });
  const answer = await ng.request({ command: 'answer', 'call-id': 'loss', 'from-tag': 'alice', 'to-tag': 'bob', sdp: sdp(bob.port) });
  const toAlice = relayEndpoints(answer.sdp as string)[0]!.port;
  // 0, 1 make a packet; 2 is lost; 3 is left alone by the loss; 4, 5 make a packet.
  for (const i of [0, 1, 3, 4, 5]) {
    await alice.send(rtp(0, i, i * 160, new Uint8Array(160).fill(0xff)), toAlice, '127.0.0.1');
    await sleep(4);
  }
  await bob.waitFor(2);
  await sleep(50);
  t.same(bob.received.map((r) => [r.data.readUInt16BE(2), r.data.readUInt32BE(4)]), [[0, 0], [1, 480]], 'two packets, the second at packet 3\'s timestamp');
});

t.test('bad ptime: an ng error; Opus gets the nearest length it takes', async (t) => {
  const base = { command: 'offer', 'call-id': 'c', 'from-tag': 'a', sdp: sdp(4000) };
  t.throws(() => parseOffer({ ...base, ptime: 0 }), { code: 'NG_BAD_PARAM', message: /"ptime" must be a packet time of 1 to 300 ms/ });
  t.throws(() => parseOffer({ ...base, 'ptime-reverse': 'x' }), { code: 'NG_BAD_PARAM' });
  t.throws(() => parseOffer({ ...base, flags: ['ptime=9999'] }), { code: 'NG_BAD_PARAM' });
  t.equal(parseOffer({ ...base, flags: ['ptime=30'] }).ptime, 30);
  if (!opusAddon()) return;
  const { ng } = await startRelay(t);
  await ng.request({ ...base, ptime: 30, codec: { transcode: ['opus'] }, sdp: sdp(4000) });
  const answer = await ng.request({ command: 'answer', 'call-id': 'c', 'from-tag': 'a', 'to-tag': 'b', sdp: crlf([...SESSION, 'm=audio 5000 RTP/AVP 96', 'a=rtpmap:96 opus/48000/2', 'a=sendrecv']) });
  t.match(answer.warning, /Opus does not take a ptime of 30 ms; 20 ms used/);
});

t.test('a=ptime in offers and answers, through rtpengine and rtpbridge: the same lines', async (t) => {
  if (!requireTool(t, 'rtpengine', rtpengineInstalled(), `apt-get install rtpengine-daemon (${RTPENGINE})`)) return;
  const engine = await startRtpengine(t, (await mediaPorts(100)).portMin);
  const { ng } = await startRelay(t, await mediaPorts(40));
  const cases: Array<[string, Record<string, unknown>, string[], string[]]> = [
    ['ptime 30', { ptime: 30 }, ['a=ptime:20'], ['a=ptime:20']],
    ['ptime 60 and ptime-reverse 40', { ptime: 60, 'ptime-reverse': 40 }, [], []],
    ['ptime-reverse only', { 'ptime-reverse': 30 }, ['a=ptime:20'], ['a=ptime:20']],
  ];
  for (const [label, flags, offerExtra, answerExtra] of cases) {
    const both = async (client: NgClient): Promise<string[][]> => {
      const offer = await client.request({ command: 'offer', 'call-id': label, 'from-tag': 'a', sdp: sdp(4000, offerExtra), ...flags });
      const answer = await client.request({ command: 'answer', 'call-id': label, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(5000, answerExtra) });
      await client.request({ command: 'delete', 'call-id': label });
      return [ptimes(offer.sdp), ptimes(answer.sdp)];
    };
    t.same(await both(ng), await both(engine), `${label}: a=ptime as rtpengine writes it`);
  }
});
