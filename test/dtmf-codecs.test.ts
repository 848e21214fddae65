/**
 * DTMF in audio beyond G.711: `play DTMF` writes its tones into G.722, L16 and Opus when the receiver
 * takes no telephone-event; `DTMF-security` silence and tone write those codecs too; `detect DTMF`
 * hears tones in Opus, whose payload type only the SDP names. Each is read back from the packets the
 * other participant got: decoded, and run through the relay's own in-band detector or measured.
 */
import t, { type Test } from 'tap';
import { G722Decoder, G722Encoder } from '../src/codecs/g722.js';
import { opusAddon, opusDecoder, opusEncoder } from '../src/codecs/opus.js';
import type { AudioFormat } from '../src/codecs/stand-in.js';
import { DtmfDetector } from '../src/dtmf/detector.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, sleep } from './helpers/media.js';
import { crlf, relayEndpoints } from './helpers/sdp.js';
import { requireTool } from './helpers/tools.js';
import { dial, rms, rtp, tone, toneOf } from './helpers/tone.js';
import type { NgClient } from './helpers/ng-client.js';
import type { Relay } from '../src/relay.js';

const SESSION = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const sdp = (port: number, pts: string, lines: string[]): string => crlf([...SESSION, `m=audio ${port} RTP/AVP ${pts}`, ...lines, 'a=sendrecv']);
const opusBuilt = (t: Test): boolean => requireTool(t, 'libopus addon', opusAddon() !== undefined, 'apt-get install libopus-dev, then npm ci');

function l16(samples: Int16Array): Uint8Array {
  const out = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => out.writeInt16BE(v, 2 * i));
  return out;
}

/** A codec as a test sends it: its m= line, its SDP's dynamic formats, and a fresh encoder and decoder per stream. */
interface Codec {
  label: string;
  pt: number;
  clock: number;
  rate: number;
  lines: string[];
  formats: AudioFormat[];
  encoder(): (samples: Int16Array) => Uint8Array;
  decoder(): (payload: Uint8Array) => Int16Array;
}

const G722: Codec = {
  label: 'G.722',
  pt: 9,
  clock: 8000,
  rate: 16000,
  lines: ['a=rtpmap:9 G722/8000'],
  formats: [],
  encoder: () => {
    const e = new G722Encoder();
    return (s) => e.encode(s);
  },
  decoder: () => {
    const d = new G722Decoder();
    return (p) => d.decode(p);
  },
};

const L16_16K: Codec = {
  label: 'L16 at 16 kHz on payload type 96',
  pt: 96,
  clock: 16000,
  rate: 16000,
  lines: ['a=rtpmap:96 L16/16000'],
  formats: [{ pt: 96, name: 'L16', clock: 16000, channels: 1 }],
  encoder: () => l16,
  decoder: () => (p) => Int16Array.from({ length: p.length / 2 }, (_, i) => Buffer.from(p).readInt16BE(2 * i)),
};

const OPUS: Codec = {
  label: 'Opus on payload type 111',
  pt: 111,
  clock: 48000,
  rate: 48000,
  lines: ['a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1'],
  formats: [{ pt: 111, name: 'opus', clock: 48000, channels: 2 }],
  encoder: () => {
    const e = opusEncoder(48000);
    return (s) => e.encode(s);
  },
  decoder: () => {
    const d = opusDecoder(48000);
    return (p) => d.decode(p) ?? new Int16Array(0);
  },
};

/** alice and bob in a call in `codec` (with telephone-event at its clock when `events`), with `flags` on offer and answer. */
async function call(t: Test, ng: NgClient, id: string, codec: Codec, flags: string[], events = false): Promise<{ alice: Phone; bob: Phone; toAlice: number; toBob: number }> {
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const te = events ? [`a=rtpmap:101 telephone-event/${codec.clock}`, 'a=fmtp:101 0-15'] : [];
  const pts = `${codec.pt}${events ? ' 101' : ''}`;
  const offer = await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'alice', flags, sdp: sdp(alice.port, pts, [...codec.lines, ...te]) });
  const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'alice', 'to-tag': 'bob', flags, sdp: sdp(bob.port, pts, [...codec.lines, ...te]) });
  return { alice, bob, toAlice: relayEndpoints(answer.sdp as string)[0]!.port, toBob: relayEndpoints(offer.sdp as string)[0]!.port };
}

/** The keys the relay's detector hears in packets of `codec`. */
function heard(codec: Codec, packets: Buffer[]): string[] {
  const detector = new DtmfDetector();
  return packets.flatMap((p) => detector.receiveAudio(1, p, codec.formats, 0)).map((p) => p.digit);
}

t.test('play DTMF without telephone-event: the tones are written in G.722, L16 and Opus, headers and the rest of the audio unchanged', async (t) => {
  const { ng, relay } = await startRelay(t);
  for (const codec of [G722, L16_16K, OPUS]) {
    if (codec === OPUS && !opusBuilt(t)) continue;
    const id = `play-${codec.pt}`;
    const { alice, toAlice, bob } = await call(t, ng, id, codec, ['inject DTMF']);
    await expectEngine(t, relay, id, { handshakes: false, transcoding: true });
    const encode = codec.encoder();
    const frame = codec.rate / 50;
    const sent: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      // Quiet speech-band audio, well below a key's level.
      sent.push(rtp(codec.pt, 1000 + i, 5000 + (i * codec.clock) / 50, encode(tone(300, codec.rate, 300, i * frame, frame)), 0xaaaa));
      await alice.send(sent[i]!, toAlice, '127.0.0.1');
      if (i === 5) await ng.request({ command: 'play DTMF', 'call-id': id, 'from-tag': 'alice', digit: '#', duration: 200 });
      await sleep(20);
    }
    const got = (await bob.waitFor(30)).map((r) => r.data);
    t.same(got.map((d) => [d[1], d.readUInt16BE(2), d.readUInt32BE(4), d.readUInt32BE(8)]), sent.map((d) => [d[1], d.readUInt16BE(2), d.readUInt32BE(4), 0xaaaa]), `${codec.label}: payload type, sequence numbers, timestamps and SSRC as sent`);
    const replaced = got.flatMap((d, i) => (d.equals(sent[i]!) ? [] : [i]));
    t.same(replaced, Array.from({ length: 10 }, (_, i) => 6 + i), `${codec.label}: 200 ms of packets replaced, the rest passed as sent`);
    t.same(heard(codec, got), ['#'], `${codec.label}: the in-band detector hears #`);
    t.same(heard(codec, sent), [], `${codec.label}: and heard nothing in what alice sent`);
  }
});

t.test('DTMF-security silence and tone in G.722 and Opus: the press becomes audio of the stream\'s own codec', async (t) => {
  const { ng } = await startRelay(t);
  for (const codec of [G722, OPUS]) {
    if (codec === OPUS && !opusBuilt(t)) continue;
    for (const mode of ['silence', 'tone'] as const) {
      const id = `${mode}-${codec.pt}`;
      const { alice, bob, toAlice } = await call(t, ng, id, codec, [], true);
      t.same(await ng.request({ command: 'block DTMF', 'call-id': id, 'from-tag': 'alice', 'DTMF-security': mode, frequency: 1000 }), { result: 'ok' });
      const encode = codec.encoder();
      const frame = codec.rate / 50;
      const step = codec.clock / 50;
      const audio = (i: number, seq = i): Buffer => rtp(codec.pt, seq, i * step, encode(tone(300, codec.rate, 6000, i * frame, frame)), 0x5eed);
      // Three frames of a 300 Hz tone, a press of five frames' time from the fourth (growing durations,
      // the end three times: sequence numbers 3-9), then the tone again.
      const events = Array.from({ length: 7 }, (_, k) => {
        const duration = Math.min(5, k + 1) * step;
        return rtp(101, 3 + k, 3 * step, Buffer.from([5, (k >= 4 ? 0x80 : 0) | 10, duration >> 8, duration & 0xff]), 0x5eed);
      });
      for (const packet of [audio(0), audio(1), audio(2), ...events, audio(8, 10), audio(9, 11)]) {
        await alice.send(packet, toAlice, '127.0.0.1');
        await sleep(3);
      }
      const got = (await bob.waitFor(10)).map((r) => r.data);
      await sleep(50);
      t.equal(bob.received.length, 10, `${codec.label}, ${mode}: nothing more arrived`);
      const expected = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11].map((seq, i) => [codec.pt, seq, i * step]);
      t.same(got.map((d) => [d[1], d.readUInt16BE(2), d.readUInt32BE(4)]), expected, `${codec.label}, ${mode}: five audio packets of the stream's codec in place of the press, at the timestamps it covers; its repeated end dropped`);
      const decode = codec.decoder();
      const decoded = got.map((d) => decode(d.subarray(12)));
      // Measured from the second made-up frame: the first carries the end of alice's tone out of the decoder.
      const press = Int16Array.from(decoded.slice(4, 8).flatMap((d) => [...d]));
      if (mode === 'silence') t.ok(rms(press) < 60, `${codec.label}: silence, ${rms(press).toFixed(0)} RMS where the audio had ${rms(decoded[1]!).toFixed(0)}`);
      else {
        const { share } = toneOf(press, 1000, codec.rate);
        t.ok(share > 0.9, `${codec.label}: ${(share * 100).toFixed(1)} % of the power at 1000 Hz`);
      }
    }
  }
});

t.test('detect DTMF in Opus: the caller\'s SDP names its payload type, and the tones in it are reported', async (t) => {
  if (!opusBuilt(t)) return;
  const { ng, relay } = await startRelay(t);
  const presses: Array<{ callId: string; digit: string; duration: number }> = [];
  relay.on('dtmf', (e) => presses.push(e));
  const { alice, bob, toAlice } = await call(t, ng, 'opus-tones', OPUS, ['detect DTMF']);
  const encode = OPUS.encoder();
  const samples = dial('3#', 6000, 100, 60, 48000);
  const sent: Buffer[] = [];
  for (let i = 0; i + 960 <= samples.length; i += 960) sent.push(rtp(111, i / 960, i, encode(samples.subarray(i, i + 960))));
  for (const packet of sent) {
    await alice.send(packet, toAlice, '127.0.0.1');
    await sleep(2);
  }
  t.equal((await bob.waitFor(sent.length)).length, sent.length, 'the audio reaches the callee');
  await sleep(100);
  t.same(presses.map((p) => `${p.callId} ${p.digit}`), ['opus-tones 3', 'opus-tones #'], 'each key once');
  // The detector counts whole 20 ms blocks; Opus's delay moves a tone off their edges.
  t.ok(presses.every((p) => p.duration >= 80 && p.duration <= 100), `about 100 ms each: ${presses.map((p) => p.duration).join(', ')} ms`);
  t.match((await ng.request({ command: 'query', 'call-id': 'opus-tones' })).DTMF, [{ tag: 'alice', digit: '3' }, { tag: 'alice', digit: '#' }]);
});
