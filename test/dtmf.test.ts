/**
 * DTMF from RFC 4733 telephone events: parsed once per key press, on both engines (each copies the
 * telephone-event packets up), reported as the `dtmf` event, in `query` and to `--dtmf-log-dest` in
 * rtpengine's JSON, checked against what Debian's rtpengine logs for the same packets.
 */
import { createSocket, type Socket } from 'node:dgram';
import t from 'tap';
import { parseCommandLine } from '../src/config/cli.js';
import { DtmfDetector } from '../src/dtmf/detector.js';
import { eventDigit, parseTelephoneEvent } from '../src/dtmf/rfc4733.js';
import { InbandDtmf } from '../src/dtmf/inband.js';
import { decodeG711, encodeG711 } from '../src/codecs/g711.js';
import { G722Encoder } from '../src/codecs/g722.js';
import { dial, toneOf } from './helpers/tone.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { Phone, sleep } from './helpers/media.js';
import { crlf, relayEndpoints } from './helpers/sdp.js';
import { RTPENGINE, rtpengineInstalled, startRtpengine } from './helpers/rtpengine.js';
import { requireTool } from './helpers/tools.js';
import type { NgClient } from './helpers/ng-client.js';

/** An RTP packet: `payload` after a 12-byte header (plus `csrcs` CSRCs and an `extension` of that many words). */
function rtp(seq: number, timestamp: number, pt: number, payload: Buffer, opts: { marker?: boolean; csrcs?: number; extension?: number } = {}): Buffer {
  const csrcs = opts.csrcs ?? 0;
  const ext = opts.extension;
  const header = Buffer.alloc(12 + 4 * csrcs + (ext === undefined ? 0 : 4 + 4 * ext));
  header[0] = 0x80 | csrcs | (ext === undefined ? 0 : 0x10);
  header[1] = (opts.marker ? 0x80 : 0) | pt;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(0x5eed, 8);
  if (ext !== undefined) header.writeUInt16BE(ext, 12 + 4 * csrcs + 2);
  return Buffer.concat([header, payload]);
}

const event = (digit: number, end: boolean, volume: number, duration: number): Buffer => Buffer.from([digit, (end ? 0x80 : 0) | volume, duration >> 8, duration & 0xff]);

/** One key press as a phone sends it: growing durations every 20 ms, then the end three times. */
function press(digit: number, startSeq: number, timestamp: number, pt = 101, ms = 100, clock = 8000): Buffer[] {
  const packets: Buffer[] = [];
  const total = (ms * clock) / 1000;
  let seq = startSeq;
  for (let d = clock / 50; d < total; d += clock / 50) packets.push(rtp(seq++, timestamp, pt, event(digit, false, 10, d), { marker: d === clock / 50 }));
  for (let i = 0; i < 3; i++) packets.push(rtp(seq++, timestamp, pt, event(digit, true, 10, total)));
  return packets;
}

t.test('RFC 4733 events: header with CSRCs and extension, digits, one report per press', async (t) => {
  t.same(parseTelephoneEvent(rtp(1, 8000, 101, event(11, true, 7, 960), { csrcs: 2, extension: 1 })), { ssrc: 0x5eed, timestamp: 8000, event: 11, end: true, volume: 7, duration: 960 });
  t.equal(parseTelephoneEvent(rtp(1, 8000, 101, Buffer.from([1, 2]))), undefined, 'too short for an event');
  t.equal(parseTelephoneEvent(rtp(1, 8000, 101, Buffer.alloc(0), { extension: 3 })), undefined, 'extension beyond the packet');
  t.same([0, 9, 10, 11, 12, 15, 16, 40].map(eventDigit), ['0', '9', '*', '#', 'A', 'D', 'flash', 'event 40']);

  const formats = [{ pt: 101, clock: 8000 }, { pt: 110, clock: 48000 }];
  const detector = new DtmfDetector();
  const reports = press(5, 1, 1000).flatMap((p) => detector.receive(7, p, formats, 1_000));
  t.same(reports, [{ event: 5, digit: '5', duration: 100, volume: 10, at: 1_000 }], 'three end packets, one press');
  t.same(press(11, 20, 48000, 110, 250, 48000).flatMap((p) => detector.receive(7, p, formats, 2_000)), [{ event: 11, digit: '#', duration: 250, volume: 10, at: 2_000 }], 'durations in the clock of the payload type');
  // A press whose end packets were all lost is reported when the next one begins.
  const lost = press(3, 40, 96000).slice(0, -3);
  t.same(lost.flatMap((p) => detector.receive(7, p, formats, 3_000)), [], 'no end yet');
  const next = press(4, 60, 99000);
  t.same(detector.receive(7, next[0]!, formats, 3_500), [{ event: 3, digit: '3', duration: 80, volume: 10, at: 3_500 }], 'lost end: reported at the next press, with the last duration');
  t.same(detector.receive(7, rtp(99, 1, 0, Buffer.alloc(160)), formats, 4_000), [], 'not a telephone-event payload type');
  t.equal(detector.presses.length, 3);
});

t.test('--dtmf-log-dest', async (t) => {
  t.same(parseCommandLine(['--dtmf-log-dest=127.0.0.1:5555'], {}).options.dtmfLogDest, { address: '127.0.0.1', port: 5555 });
  t.same(parseCommandLine(['--dtmf-log-dest=[::1]:5556'], {}).options.dtmfLogDest, { address: '::1', port: 5556 });
  t.throws(() => parseCommandLine(['--dtmf-log-dest=localhost'], {}), /invalid dtmf-log-dest 'localhost'/);
  t.equal(parseCommandLine([], {}).options.dtmfLogDest, undefined);
});

const SESSION = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const phoneSdp = (port: number): string => crlf([...SESSION, `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv']);

/** A UDP listener collecting datagrams as text. */
async function listener(t: Test): Promise<{ socket: Socket; port: number; got: string[] }> {
  const socket = createSocket('udp4');
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  return { socket, port: socket.address().port, got };
}
type Test = Parameters<Parameters<typeof t.test>[1]>[0];

/** Phones alice and bob in a call through `ng` (offer with `flags`), closed at the end of `t`; the relay ports each sends to. */
async function call(t: Test, ng: NgClient, callId: string, flags: string[] = []): Promise<{ alice: Phone; bob: Phone; toAlice: number; toBob: number }> {
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'alice', flags, sdp: phoneSdp(alice.port) });
  const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'alice', 'to-tag': 'bob', sdp: phoneSdp(bob.port) });
  return { alice, bob, toAlice: relayEndpoints(answer.sdp as string)[0]!.port, toBob: relayEndpoints(offer.sdp as string)[0]!.port };
}

/** Sets up alice -> bob through `ng`, has alice send some audio, `5` and `#`, and some audio again. */
async function pressThrough(t: Test, ng: NgClient, callId: string): Promise<{ alice: Phone; bob: Phone; sent: Buffer[] }> {
  const { alice, bob, toAlice } = await call(t, ng, callId);
  const audio = (seq: number, ts: number): Buffer => rtp(seq, ts, 0, Buffer.alloc(160, 0xff));
  const sent = [audio(1, 0), audio(2, 160), ...press(5, 3, 320), audio(20, 1280), ...press(11, 21, 1440, 101, 200), audio(40, 3040)];
  for (const packet of sent) {
    await alice.send(packet, toAlice, '127.0.0.1');
    await sleep(2);
  }
  return { alice, bob, sent };
}

t.test('a call: each press once as the dtmf event, in query and to --dtmf-log-dest; the events still reach the callee', async (t) => {
  const log = await listener(t);
  const { ng, relay } = await startRelay(t, { dtmfLogDest: { address: '127.0.0.1', port: log.port } });
  const events: unknown[] = [];
  relay.on('dtmf', (e) => events.push(e));
  const { bob, sent } = await pressThrough(t, ng, 'dtmf');
  const received = await bob.waitFor(sent.length);
  t.same(received.map((r) => r.data), sent, 'every packet, audio and telephone events, reaches the callee unchanged');
  for (let i = 0; i < 50 && log.got.length < 2; i++) await sleep(20);
  t.match(events, [
    { callId: 'dtmf', tag: 'alice', event: 5, digit: '5', duration: 100, volume: 10 },
    { callId: 'dtmf', tag: 'alice', event: 11, digit: '#', duration: 200, volume: 10 },
  ]);
  t.equal(events.length, 2, 'one event per press');
  const query = await ng.request({ command: 'query', 'call-id': 'dtmf' });
  t.match(query.DTMF, [
    { tag: 'alice', event: 5, digit: '5', duration: 100, volume: 10 },
    { tag: 'alice', event: 11, digit: '#', duration: 200, volume: 10 },
  ]);
  const logged = log.got.map((l) => JSON.parse(l));
  t.equal(logged.length, 2);
  t.match(logged[0], { callid: 'dtmf', source_tag: 'alice', type: 'DTMF', source_ip: '127.0.0.1', event: 5, duration: 100, volume: 10 });
  t.same([...logged[0].tags].sort(), ['alice', 'bob']);
  t.ok(Math.abs(logged[0].timestamp - Date.now() / 1000) < 10, 'a Unix time in seconds');
});

t.test('the DTMF log of rtpengine and of rtpbridge for the same packets: the same keys and values', async (t) => {
  if (!requireTool(t, 'rtpengine', rtpengineInstalled(), `apt-get install rtpengine-daemon (${RTPENGINE})`)) return;
  const theirsLog = await listener(t);
  const oursLog = await listener(t);
  const engine = await startRtpengine(t, (await mediaPorts(100)).portMin, [`--dtmf-log-dest=127.0.0.1:${theirsLog.port}`]);
  const { ng } = await startRelay(t, { dtmfLogDest: { address: '127.0.0.1', port: oursLog.port } });
  for (const [client, log] of [[engine, theirsLog], [ng, oursLog]] as const) {
    await pressThrough(t, client, 'compare');
    for (let i = 0; i < 50 && log.got.length < 2; i++) await sleep(20);
  }
  const normal = (line: string): Record<string, unknown> => {
    const { timestamp, tags, ...rest } = JSON.parse(line) as Record<string, unknown>;
    return { ...rest, tags: [...(tags as string[])].sort(), timestamp: typeof timestamp };
  };
  t.equal(theirsLog.got.length, 2, 'rtpengine logged both presses');
  t.same(oursLog.got.map(normal), theirsLog.got.map(normal), 'rtpbridge logged the same');
});

t.test('block DTMF and unblock DTMF: a participant\'s telephone events stop at the relay, are still detected, and flow again', async (t) => {
  const { ng, relay } = await startRelay(t);
  const events: unknown[] = [];
  relay.on('dtmf', (e) => events.push(e));
  const { alice, bob, toAlice } = await call(t, ng, 'block');
  let seq = 1;
  let ts = 0;
  /** Alice sends audio, a press of `digit`, audio; returns the payload types Bob got. */
  const round = async (digit: number): Promise<number[]> => {
    const packets = [rtp(seq++, (ts += 160), 0, Buffer.alloc(160, 0xff)), ...press(digit, seq, (ts += 160)), rtp((seq += 10), (ts += 960), 0, Buffer.alloc(160, 0xff))];
    seq++;
    const before = bob.received.length;
    for (const packet of packets) {
      await alice.send(packet, toAlice, '127.0.0.1');
      await sleep(2);
    }
    await sleep(100);
    return bob.received.slice(before).map((r) => r.data[1]! & 0x7f);
  };
  t.same(await round(1), [0, 101, 101, 101, 101, 101, 101, 101, 0], 'before: the events reach the callee');
  t.same(await ng.request({ command: 'block DTMF', 'call-id': 'block', 'from-tag': 'alice' }), { result: 'ok' });
  const droppedBefore = (await relay.statistics()).dropped.dtmfBlocked;
  t.same(await round(2), [0, 0], "blocked: only the caller's audio passes");
  t.equal((await relay.statistics()).dropped.dtmfBlocked - droppedBefore, 7, 'the seven event packets counted as dtmfBlocked');
  t.same(await ng.request({ command: 'unblock DTMF', 'call-id': 'block', 'from-tag': 'alice' }), { result: 'ok' });
  t.same(await round(3), [0, 101, 101, 101, 101, 101, 101, 101, 0], 'unblocked: they pass again');
  t.same(await ng.request({ command: 'block DTMF', 'call-id': 'block' }), { result: 'ok' }, 'the whole call');
  t.same(await round(4), [0, 0]);
  t.match(events, [{ digit: '1' }, { digit: '2' }, { digit: '3' }, { digit: '4' }], 'blocked presses are still detected and reported');
  t.match(await ng.request({ command: 'block DTMF', 'call-id': 'nope' }), { result: 'error', 'error-reason': 'Unknown call-id' });
  t.match(await ng.request({ command: 'unblock DTMF', 'call-id': 'block', 'from-tag': 'carol' }), { result: 'error', 'error-reason': "Unknown tag 'carol'" });
  t.match(await ng.request({ command: 'block DTMF' }), { result: 'error', 'error-reason': 'No call-id in message' });
});

t.test('block DTMF with DTMF-security=silence: the events become silence in the audio, timestamps running on; the call moves to the workers', async (t) => {
  const { ng, relay } = await startRelay(t);
  const { alice, bob, toAlice } = await call(t, ng, 'silence');
  t.same(await ng.request({ command: 'block DTMF', 'call-id': 'silence', 'from-tag': 'alice', 'DTMF-security': 'silence' }), { result: 'ok' });
  t.equal((await relay.query({ callId: 'silence' })).engine, 'workers', 'silence is written on the workers');
  // Audio at 0 and 160, a press of 100 ms from 320 (four growing packets, the end three times), audio at 1120.
  const sent = [rtp(1, 0, 0, Buffer.alloc(160, 0x55)), rtp(2, 160, 0, Buffer.alloc(160, 0x55)), ...press(5, 3, 320), rtp(11, 1120, 0, Buffer.alloc(160, 0x55))];
  for (const packet of sent) {
    await alice.send(packet, toAlice, '127.0.0.1');
    await sleep(2);
  }
  const got = await bob.waitFor(8);
  await sleep(50);
  t.same(bob.received.map((r) => [r.data[1], r.data.readUInt16BE(2), r.data.readUInt32BE(4), r.data[12]]), [
    [0, 1, 0, 0x55],
    [0, 2, 160, 0x55],
    [0, 3, 320, 0xff],
    [0, 4, 480, 0xff],
    [0, 5, 640, 0xff],
    [0, 6, 800, 0xff],
    [0, 7, 960, 0xff],
    [0, 11, 1120, 0x55],
  ], 'five packets of PCMU silence in place of the press (its repeated end dropped), then the audio again');
  t.ok(got.every((r) => r.data.length === 172), 'each as long as the audio around it');
  t.same(await ng.request({ command: 'unblock DTMF', 'call-id': 'silence', 'from-tag': 'alice' }), { result: 'ok' });
  t.match(await ng.request({ command: 'block DTMF', 'call-id': 'silence', 'DTMF-security': 'loud' }), { result: 'error', 'error-reason': /"DTMF-security" must be one of drop, silence, tone, zero, DTMF, random, off/ });
  t.match(await ng.request({ command: 'block DTMF', 'call-id': 'silence', 'DTMF-security': 'DTMF', digit: 'X' }), { result: 'error', 'error-reason': /"digit" must be a DTMF key/ });
  t.match(await ng.request({ command: 'block DTMF', 'call-id': 'silence', 'DTMF-security': 'tone', frequency: 9000 }), { result: 'error', 'error-reason': /"frequency" must be an integer from 20 to 3999/ });
});

t.test('DTMF-security zero, DTMF and random: the press goes on as another key; tone: a tone in its place', async (t) => {
  const { ng } = await startRelay(t);
  const { alice, bob, toAlice } = await call(t, ng, 'other');
  let seq = 1;
  /** Alice presses 5 after some audio; what bob got for it, as [payload type, event, volume] per packet. */
  const round = async (security: Record<string, unknown>): Promise<Buffer[]> => {
    t.same(await ng.request({ command: 'block DTMF', 'call-id': 'other', 'from-tag': 'alice', ...security }), { result: 'ok' });
    const ts = seq * 160;
    const packets = [rtp(seq, ts, 0, Buffer.alloc(160, 0x55)), ...press(5, seq + 1, ts + 160)];
    seq += packets.length;
    const before = bob.received.length;
    for (const packet of packets) {
      await alice.send(packet, toAlice, '127.0.0.1');
      await sleep(2);
    }
    await sleep(100);
    return bob.received.slice(before + 1).map((r) => r.data);
  };
  const events = (got: Buffer[]): number[][] => got.map((d) => [d[1]! & 0x7f, d[12]!, d[13]! & 0x3f]);
  t.same(events(await round({ 'DTMF-security': 'zero' })), Array(7).fill([101, 0, 10]), 'zero: every packet of the press as key 0, at -10 dB');
  t.same(events(await round({ 'DTMF-security': 'DTMF', digit: '#', volume: -20 })), Array(7).fill([101, 11, 20]), 'DTMF: as the key asked for, at the volume asked for');
  const random = events(await round({ 'DTMF-security': 'random' }));
  t.equal(new Set(random.map((e) => e[1])).size, 1, 'random: one key for the whole press');
  t.ok(random.length === 7 && random[0]![1]! >= 0 && random[0]![1]! <= 15, `random: key ${random[0]![1]}`);
  const tone = await round({ 'DTMF-security': 'tone', frequency: 1000 });
  t.same(tone.map((d) => d[1]), [0, 0, 0, 0, 0], 'tone: five PCMU packets in place of the press');
  const { share } = toneOf(Int16Array.from(tone.flatMap((d) => [...decodeG711('PCMU', d.subarray(12))])), 1000);
  t.ok(share > 0.95, `tone: ${(share * 100).toFixed(1)} % of the power at 1000 Hz`);
  // A list takes turns, one frequency per press, from the first again after the last (rtpengine's `frequencies`).
  t.same(await ng.request({ command: 'block DTMF', 'call-id': 'other', 'from-tag': 'alice', 'DTMF-security': 'tone', frequencies: '600,1400' }), { result: 'ok' });
  for (const hz of [600, 1400, 600]) {
    const got = await round({ 'DTMF-security': 'tone', frequencies: [600, 1400] });
    const samples = Int16Array.from(got.flatMap((d) => [...decodeG711('PCMU', d.subarray(12))]));
    const heard = toneOf(samples, hz).share;
    t.ok(heard > 0.95, `frequencies: the next press heard at ${hz} Hz (${(heard * 100).toFixed(1)} %)`);
  }
  t.match(await ng.request({ command: 'block DTMF', 'call-id': 'other', 'DTMF-security': 'tone', frequencies: '600,x' }), { result: 'error', 'error-reason': /"frequencies" must be an integer from 20 to 3999/ });
  t.match(await ng.request({ command: 'block DTMF', 'call-id': 'other', 'DTMF-security': 'tone', frequencies: [] }), { result: 'error', 'error-reason': /"frequencies" must list 1 to 32 frequencies/ });
});

t.test('in-band DTMF: dual tones in G.711 are heard; silence, noise, single tones and short blips are not', async (t) => {
  const hear = (samples: Int16Array, law: 'PCMU' | 'PCMA' = 'PCMU'): string[] => {
    const inband = new InbandDtmf();
    const decoded = decodeG711(law, encodeG711(law, samples));
    const out: string[] = [];
    for (let i = 0; i < decoded.length; i += 160) out.push(...inband.receive(decoded.subarray(i, i + 160), i / 8).map((p) => `${p.digit} ${p.duration} ${p.volume}`));
    return out;
  };
  t.same(hear(dial('159#0D')), ['1 100 12', '5 100 12', '9 100 12', '# 100 12', '0 100 12', 'D 100 12'], 'PCMU: each key, its duration and level (dBm0 below zero)');
  t.same(hear(dial('7*', 3000, 200), 'PCMA'), ['7 200 18', '* 200 18'], 'PCMA, quieter and longer');
  t.same(hear(dial('159', 150)), [], 'below the level a phone sends');
  t.same(hear(dial('159', 6000, 30)), [], 'a 30 ms blip is no press');
  let seed = 1;
  const noise = Int16Array.from({ length: 8000 }, () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 16000) - 8000);
  t.same(hear(noise), [], 'noise');
  t.same(hear(Int16Array.from({ length: 8000 }, (_, n) => Math.round(8000 * Math.sin((2 * Math.PI * 697 * n) / 8000)))), [], 'one DTMF frequency alone');
  const voiced = Int16Array.from({ length: 16000 }, (_, n) => Math.round(Array.from({ length: 20 }, (_, h) => (3000 / (h + 1)) * Math.sin((2 * Math.PI * 150 * (h + 1) * n) / 8000 + h)).reduce((a, b) => a + b, 0)));
  t.same(hear(voiced), [], 'a voice-like harmonic series');
});

t.test('in-band DTMF in G.722 and L16 (static payload types 9 and 11): decoded, resampled to 8 kHz, heard', async (t) => {
  const hear = (pt: number, rate: number, encode: (s: Int16Array) => Uint8Array): string[] => {
    const detector = new DtmfDetector();
    const samples = dial('1#9', 6000, 100, 60, rate);
    const frame = rate / 50;
    const out: string[] = [];
    for (let i = 0, seq = 0; i + frame <= samples.length; i += frame, seq++) {
      out.push(...detector.receiveAudio(1, rtp(seq, i, pt, Buffer.from(encode(samples.subarray(i, i + frame)))), [], 0).map((p) => p.digit));
    }
    return out;
  };
  const g722 = new G722Encoder();
  t.same(hear(9, 16000, (s) => g722.encode(s)), ['1', '#', '9'], 'G.722');
  const l16 = (s: Int16Array): Uint8Array => {
    const out = Buffer.alloc(s.length * 2);
    s.forEach((v, i) => out.writeInt16BE(v, 2 * i));
    return out;
  };
  t.same(hear(11, 44100, l16), ['1', '#', '9'], 'L16 at 44.1 kHz');
  t.same(hear(96, 8000, (s) => encodeG711('PCMU', s)), [], 'a dynamic payload type names no codec without its SDP: not listened to');
});

t.test('detect DTMF: tones in the caller\'s audio are reported as presses; without the flag they are not listened for', async (t) => {
  const { ng, relay } = await startRelay(t);
  const events: Array<{ callId: string; digit: string }> = [];
  relay.on('dtmf', (e) => events.push(e));
  const samples = dial('7*');
  for (const [callId, flags] of [['listening', ['detect DTMF']], ['deaf', []]] as const) {
    const { alice, bob, toAlice } = await call(t, ng, callId, [...flags]);
    const sent: Buffer[] = [];
    for (let i = 0, seq = 1; i < samples.length; i += 160, seq++) sent.push(rtp(seq, i, 0, Buffer.from(encodeG711('PCMU', samples.subarray(i, i + 160)))));
    for (const packet of sent) {
      await alice.send(packet, toAlice, '127.0.0.1');
      await sleep(1);
    }
    t.same((await bob.waitFor(sent.length)).map((r) => r.data), sent, `${callId}: the audio reaches the callee unchanged`);
  }
  await sleep(100);
  t.same(events.map((e) => `${e.callId} ${e.digit}`), ['listening 7', 'listening *'], 'only the call that asked hears the tones');
  t.match((await ng.request({ command: 'query', 'call-id': 'listening' })).DTMF, [{ tag: 'alice', digit: '7', duration: 100 }, { tag: 'alice', digit: '*', duration: 100 }]);
});

t.test('the block DTMF flag: the sender of the offer (or answer) has its telephone events stopped from the start', async (t) => {
  const { ng, relay } = await startRelay(t);
  const events: unknown[] = [];
  relay.on('dtmf', (e) => events.push(e));
  const { alice, bob, toAlice, toBob } = await call(t, ng, 'flagged', ['block DTMF']);
  for (const packet of press(5, 1, 1000)) await alice.send(packet, toAlice, '127.0.0.1');
  for (const packet of press(9, 1, 1000)) await bob.send(packet, toBob, '127.0.0.1');
  await alice.waitFor(7);
  await sleep(100);
  t.equal(bob.received.length, 0, "the caller's events stop at the relay");
  t.equal(alice.received.length, 7, "the callee's pass");
  t.match(events, [{ tag: 'alice', digit: '5' }, { tag: 'bob', digit: '9' }], 'both are detected');
});
