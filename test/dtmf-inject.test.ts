/**
 * `play DTMF` on calls marked `inject DTMF`: key presses take the place of the audio the other
 * participant is sent, as RFC 4733 events (read back by the relay's own detector) or, without
 * telephone-event, as the two tones in G.711 (read back by its in-band detector); sequence numbers
 * and timestamps run on unbroken. The packet pattern was compared with rtpengine's for the same request.
 */
import t, { type Test } from 'tap';
import { DtmfDetector } from '../src/dtmf/detector.js';
import { InbandDtmf } from '../src/dtmf/inband.js';
import { decodeG711 } from '../src/codecs/g711.js';
import { parsePlayDtmf } from '../src/ng/params.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, sleep } from './helpers/media.js';
import { crlf, relayEndpoints } from './helpers/sdp.js';
import { rtp } from './helpers/tone.js';
import type { NgClient } from './helpers/ng-client.js';
import type { Relay } from '../src/relay.js';

const SESSION = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const sdp = (port: number, events: boolean): string =>
  crlf([...SESSION, `m=audio ${port} RTP/AVP 0${events ? ' 101' : ''}`, 'a=rtpmap:0 PCMU/8000', ...(events ? ['a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15'] : []), 'a=sendrecv']);
const SILENCE = new Uint8Array(160).fill(0xff);

/** alice and bob in a PCMU call marked `inject DTMF` (unless `inject` is false), with or without telephone-event. */
async function call(t: Test, id: string, events: boolean, inject = true): Promise<{ ng: NgClient; relay: Relay; alice: Phone; bob: Phone; toBob: number }> {
  const { ng, relay } = await startRelay(t);
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const flags = inject ? ['inject DTMF'] : [];
  await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'alice', flags, sdp: sdp(alice.port, events) });
  const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'alice', 'to-tag': 'bob', flags, sdp: sdp(bob.port, events) });
  return { ng, relay, alice, bob, toBob: relayEndpoints(answer.sdp as string)[0]!.port };
}

/** alice sends `n` packets of silence 20 ms apart; `play` is asked for after the sixth. */
async function talk(alice: Phone, toBob: number, n: number, play: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i++) {
    await alice.send(rtp(0, 1000 + i, 5000 + i * 160, SILENCE, 0xaaaa), toBob, '127.0.0.1');
    if (i === 5) await play();
    await sleep(20);
  }
}

t.test('with telephone-event: a press replaces the audio one for one, as RFC 4733 events', async (t) => {
  const { ng, relay, alice, bob, toBob } = await call(t, 'te', true);
  await expectEngine(t, relay, 'te', { handshakes: false, transcoding: true });
  await talk(alice, toBob, 24, () => ng.request({ command: 'play DTMF', 'call-id': 'te', 'from-tag': 'alice', code: '5', duration: 100, volume: -10 }));
  const got = await bob.waitFor(24);
  t.same(got.map((r) => r.data.readUInt16BE(2)), Array.from({ length: 24 }, (_, i) => 1000 + i), 'sequence numbers run on unbroken');
  const events = got.filter((r) => (r.data[1]! & 0x7f) === 101);
  t.same(events.map((r) => r.data.readUInt16BE(2)), [1006, 1007, 1008, 1009, 1010, 1011, 1012], 'seven packets in place of seven audio packets');
  t.same(events.map((r) => [r.data.readUInt32BE(4), r.data[1]! >> 7, r.data[12], r.data[13]! >> 7, r.data[13]! & 0x3f, r.data.readUInt16BE(14)]), [
    [5960, 1, 5, 0, 10, 160],
    [5960, 0, 5, 0, 10, 320],
    [5960, 0, 5, 0, 10, 480],
    [5960, 0, 5, 0, 10, 640],
    [5960, 0, 5, 1, 10, 800],
    [5960, 0, 5, 1, 10, 800],
    [5960, 0, 5, 1, 10, 800],
  ], 'one timestamp (the first replaced packet\'s), marker first, growing durations, the end three times');
  t.equal(got[13]!.data.readUInt32BE(4), 5000 + 13 * 160, 'audio goes on at its own timestamp');
  t.equal(got[0]!.data.readUInt32BE(8), 0xaaaa, 'the SSRC stays');
  const detector = new DtmfDetector();
  const heard = got.flatMap((r) => detector.receive(1, r.data, [{ pt: 101, clock: 8000 }], 0));
  t.same(heard.map((p) => [p.digit, p.duration, p.volume]), [['5', 100, 10]], 'a receiver reads one press of 5, 100 ms');
});

t.test('without telephone-event: the two tones in the G.711 audio', async (t) => {
  const { ng, alice, bob, toBob } = await call(t, 'inband', false);
  await talk(alice, toBob, 30, () => ng.request({ command: 'play DTMF', 'call-id': 'inband', 'from-tag': 'alice', digit: '#', duration: 200 }));
  const got = await bob.waitFor(30);
  t.same(got.map((r) => [r.data[1], r.data.readUInt16BE(2), r.data.readUInt32BE(4)]), Array.from({ length: 30 }, (_, i) => [0, 1000 + i, 5000 + i * 160]), 'PCMU packets as sent, headers unchanged');
  const toned = got.filter((r) => r.data.subarray(12).some((b) => b !== 0xff)).map((r) => r.data.readUInt16BE(2));
  t.same(toned, Array.from({ length: 10 }, (_, i) => 1006 + i), '200 ms of tone in ten packets');
  const inband = new InbandDtmf();
  const heard = got.flatMap((r) => inband.receive(decodeG711('PCMU', r.data.subarray(12)), 0));
  t.same(heard.map((p) => p.digit), ['#'], 'the in-band detector hears #');
});

t.test('presses queue: two in a row, with the pause between', async (t) => {
  const { ng, alice, bob, toBob } = await call(t, 'two', true);
  const play = async (): Promise<void> => {
    await ng.request({ command: 'play DTMF', 'call-id': 'two', 'from-tag': 'alice', code: 1, duration: 100, pause: 100 });
    await ng.request({ command: 'play DTMF', 'call-id': 'two', 'from-tag': 'alice', code: 2, duration: 100, pause: 100 });
  };
  await talk(alice, toBob, 30, play);
  const got = await bob.waitFor(30);
  const kinds = got.map((r) => ((r.data[1]! & 0x7f) === 101 ? String(r.data[12]) : '.')).join('');
  t.equal(kinds, '......1111111.....2222222.....', 'seven packets of 1, five of audio (100 ms pause), seven of 2');
});

t.test('refused: a call not marked, a bad key, an unknown call or tag, no participant named', async (t) => {
  const { ng } = await call(t, 'plain', true, false);
  const play = (extra: Record<string, unknown>) => ng.request({ command: 'play DTMF', 'call-id': 'plain', 'from-tag': 'alice', code: '1', ...extra });
  t.match(await play({}), { result: 'error', 'error-reason': /not marked for DTMF injection/ });
  t.match(await play({ code: 'X' }), { result: 'error', 'error-reason': /"code" must be a DTMF key/ });
  t.match(await play({ code: 16 }), { result: 'error', 'error-reason': /"code" must be a DTMF key/ });
  t.match(await play({ duration: 'long' }), { result: 'error', 'error-reason': /"duration" must be an integer/ });
  t.match(await play({ 'call-id': 'nope' }), { result: 'error', 'error-reason': /Unknown call-id/i });
  t.match(await play({ 'from-tag': 'carol' }), { result: 'error', 'error-reason': /Unknown tag 'carol'/ });
  t.match(await ng.request({ command: 'play DTMF', 'call-id': 'plain', code: '1' }), { result: 'error', 'error-reason': /from-tag/ });
  t.same((await ng.request({ command: 'ping' })).result, 'pong', 'the relay goes on');
});

t.test('play DTMF parameters: rtpengine\'s defaults and bounds', async (t) => {
  const base = { command: 'play DTMF', 'call-id': 'c', 'from-tag': 'a' };
  t.same(parsePlayDtmf({ ...base, code: '*' }), { callId: 'c', fromTag: 'a', event: 10, durationMs: 250, volume: 8, pauseMs: 100 });
  t.same(parsePlayDtmf({ ...base, digit: 'd', duration: 20, volume: 12, pause: 9000 }), { callId: 'c', fromTag: 'a', event: 15, durationMs: 100, volume: 12, pauseMs: 5000 });
  t.same(parsePlayDtmf({ command: 'play DTMF', 'call-id': 'c', flags: ['all'], code: 0 }), { callId: 'c', all: true, event: 0, durationMs: 250, volume: 8, pauseMs: 100 });
});
