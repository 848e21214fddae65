/**
 * The WebRTC bridge with a real browser headless Chromium with a fake microphone
 * talks UDP/TLS/RTP/SAVPF + ICE + rtcp-mux to rtpbridge, which bridges it through its ng interface to
 * a plain RTP/AVP phone in this test. Both ways round: the browser offers, or the phone offers and the
 * relay turns the offer into a WebRTC one for the browser.
 *
 * RTP headers cross SRTP in the clear, so counting packets would not tell forwarded ciphertext from
 * decrypted media. The page therefore uses encoded insertable streams with PCMU (payload type 0, whose
 * payload the browser sends and hands over as is): its sender transform replaces every frame with a
 * known 160-byte pattern, which the phone must receive byte for byte, and its receiver transform
 * records every frame, which must be exactly the patterns the phone sent. Needs `apt-get install chromium`.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Page } from 'puppeteer-core';
import t, { type Test } from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, sleep } from './helpers/media.js';
import { crlf, phoneSdp, relayEndpoints } from './helpers/sdp.js';
import { requireTool } from './helpers/tools.js';

const CHROMIUM = '/usr/bin/chromium';

/** First payload byte of the browser's frames and of the phone's packets. */
const FROM_BROWSER = 0xb0;
const FROM_PHONE = 0xf0;
const FRAME_BYTES = 160;
/** Frames each way a test waits for; at 50 frames a second about half a second of audio. */
const ENOUGH = 25;
/**
 * Frame `n` of a sender: its tag, `n` (32 bits, big-endian), then bytes that depend on both, so no two
 * frames and no SRTP ciphertext look alike. The page computes the same pattern (PAGE below).
 */
function pattern(tag: number, n: number): Buffer {
  const b = Buffer.alloc(FRAME_BYTES);
  b[0] = tag;
  b.writeUInt32BE(n >>> 0, 1);
  for (let i = 5; i < FRAME_BYTES; i++) b[i] = (n + i * 13 + tag) & 0xff;
  return b;
}

/**
 * The page: one peer connection with encoded insertable streams on the fake microphone's track, PCMU
 * only. The sender transform numbers its frames with `pattern` (sentFrames counts them); the receiver
 * transform keeps each frame's payload type and bytes (hex) in `received`, up to 500 frames.
 */
const PAGE = `<!doctype html><title>rtpbridge webrtc test</title><script>
const FRAME_BYTES = ${FRAME_BYTES};
function pattern(tag, n) {
  const b = new Uint8Array(FRAME_BYTES);
  b[0] = tag;
  new DataView(b.buffer).setUint32(1, n >>> 0);
  for (let i = 5; i < FRAME_BYTES; i++) b[i] = (n + i * 13 + tag) & 0xff;
  return b;
}
window.pc = new RTCPeerConnection({ encodedInsertableStreams: true });
window.sentFrames = 0;
window.received = [];
window.errors = [];
const hex = (buf) => Array.from(new Uint8Array(buf), (x) => x.toString(16).padStart(2, '0')).join('');
function transform(streams, onFrame) {
  streams.readable
    .pipeThrough(new TransformStream({ transform(frame, ctl) { onFrame(frame); ctl.enqueue(frame); } }))
    .pipeTo(streams.writable)
    .catch((e) => errors.push(String(e)));
}
/** Sends the microphone on the transceiver through the pattern transform, records what it receives, PCMU only. */
async function wire(transceiver) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  await transceiver.sender.replaceTrack(stream.getAudioTracks()[0]);
  transceiver.sender.setStreams(stream);
  transceiver.direction = 'sendrecv';
  transform(transceiver.sender.createEncodedStreams(), (frame) => { frame.data = pattern(${FROM_BROWSER}, sentFrames++).buffer; });
  transform(transceiver.receiver.createEncodedStreams(), (frame) => {
    if (received.length < 500) received.push({ pt: frame.getMetadata().payloadType, hex: hex(frame.data) });
  });
  transceiver.setCodecPreferences(RTCRtpReceiver.getCapabilities('audio').codecs.filter((c) => c.mimeType === 'audio/PCMU'));
}
window.makeOffer = async () => {
  await wire(pc.addTransceiver('audio', { direction: 'sendrecv' }));
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription.sdp;
};
window.makeAnswer = async (offer) => {
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await wire(pc.getTransceivers()[0]);
  await pc.setLocalDescription(await pc.createAnswer());
  return pc.localDescription.sdp;
};
window.progress = () => ({ sentFrames, received: received.length, errors, ice: pc.iceConnectionState, state: pc.connectionState });
window.takeReceived = () => received.splice(0);
// page.evaluate() runs its function in the page, where api() gives what the test's api() types.
window.api = () => window;
</script>`;

interface PageApi {
  pc: RTCPeerConnection;
  makeOffer(): Promise<string>;
  makeAnswer(offer: string): Promise<string>;
  progress(): { sentFrames: number; received: number; errors: string[]; ice: string; state: string };
  takeReceived(): Array<{ pt: number; hex: string }>;
}
/** The page's globals, typed; the callbacks given to page.evaluate() call the page's own api(). */
const api = (): PageApi => window as unknown as PageApi;

/** Launches Chromium and opens the page from a loopback server. */
async function openPage(t: Test): Promise<Page> {
  const http = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(() => http.close());
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // Chromium leaves loopback out of ICE unless told; the relay is on 127.0.0.1 here.
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
    ],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
  return page;
}

/** The payload of an RTP packet (after CSRCs and any header extension, without padding), or undefined if it is not RTP with payload type `pt`. */
function rtpPayload(pkt: Buffer, pt: number): Buffer | undefined {
  if (pkt.length < 12 || pkt[0]! >> 6 !== 2 || (pkt[1]! & 0x7f) !== pt) return undefined;
  let offset = 12 + 4 * (pkt[0]! & 0x0f);
  if (pkt[0]! & 0x10) offset += 4 + 4 * pkt.readUInt16BE(offset + 2);
  const padding = pkt[0]! & 0x20 ? pkt[pkt.length - 1]! : 0;
  return pkt.subarray(offset, pkt.length - padding);
}

/** Checks that ENOUGH frames arrived and every one is `pattern(tag, n)` for its own n, no n twice. */
function checkFrames(t: Test, frames: Buffer[], tag: number, what: string): void {
  const seen = new Set<number>();
  const bad: string[] = [];
  for (const f of frames) {
    const n = f.length >= 5 ? f.readUInt32BE(1) : -1;
    if (f.length !== FRAME_BYTES || !f.equals(pattern(tag, n)) || seen.has(n)) bad.push(`${f.length} bytes ${f.subarray(0, 8).toString('hex')}…`);
    else seen.add(n);
  }
  t.ok(frames.length >= ENOUGH, `${what}: ${frames.length} frames arrived (at least ${ENOUGH})`);
  t.same(bad, [], `${what}: every frame is one of the sent ${FRAME_BYTES}-byte patterns, each once`);
}

/**
 * Media both ways until each side has ENOUGH frames (or 15 s): the phone sends PCMU packets carrying
 * pattern(FROM_PHONE, i) to `relayPort` every 20 ms while the browser sends its own. Then checks the
 * payloads the phone got from the browser and the frames the browser's receiver transform saw.
 */
async function exchange(t: Test, page: Page, phone: Phone, relayPort: number): Promise<void> {
  const fromBrowser = (): Buffer[] => phone.received.map((r) => rtpPayload(r.data, 0)).filter((p): p is Buffer => p !== undefined);
  let progress = await page.evaluate(() => api().progress());
  const deadline = Date.now() + 15_000;
  for (let i = 0; i < 750 && Date.now() < deadline; i++) {
    const pkt = Buffer.concat([Buffer.alloc(12), pattern(FROM_PHONE, i)]);
    pkt[0] = 0x80;
    pkt[1] = i === 0 ? 0x80 : 0; // PCMU, marker on the first packet
    pkt.writeUInt16BE(i, 2);
    pkt.writeUInt32BE(i * 160, 4);
    pkt.writeUInt32BE(0x0bb0e000, 8);
    await phone.send(pkt, relayPort, '127.0.0.1');
    await sleep(20);
    if (i % 10 === 9) {
      progress = await page.evaluate(() => api().progress());
      if (progress.received >= ENOUGH && fromBrowser().length >= ENOUGH) break;
    }
  }
  t.same(progress.errors, [], `the page's transforms ran without errors (ICE ${progress.ice}, ${progress.state}, ${progress.sentFrames} frames sent)`);
  checkFrames(t, fromBrowser(), FROM_BROWSER, 'browser -> phone, RTP payloads at the phone');
  const received = await page.evaluate(() => api().takeReceived());
  t.same([...new Set(received.map((r) => r.pt))], [0], 'the browser receives PCMU (payload type 0) only');
  checkFrames(t, received.map((r) => Buffer.from(r.hex, 'hex')), FROM_PHONE, 'phone -> browser, frames in the receiver transform');
}

t.test('Chromium offer bridged to a plain RTP phone and back, payloads checked both ways', async (t) => {
  if (!requireTool(t, CHROMIUM, existsSync(CHROMIUM), 'apt-get install chromium')) return;
  const page = await openPage(t);
  const { ng, relay } = await startRelay(t);
  const phone = await Phone.open();
  t.teardown(() => phone.close());

  const browserOffer = await page.evaluate(() => api().makeOffer());
  t.match(browserOffer, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 0\r\n/, 'the browser offers DTLS-SRTP with PCMU only');
  const offer = await ng.request({ command: 'offer', 'call-id': 'chromium-offers', 'from-tag': 'browser', sdp: browserOffer, ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'] });
  t.equal(offer.result, 'ok', String(offer['error-reason'] ?? ''));
  const toPhone = String(offer.sdp);
  t.match(toPhone, /\r\nm=audio \d+ RTP\/AVP 0\r\n/, 'the phone is offered plain RTP, PCMU');
  t.notMatch(toPhone, /a=(fingerprint|setup|ice-|candidate|crypto)/, 'and no DTLS, ICE or SDES');
  t.equal(relayEndpoints(toPhone)[0]!.address, '127.0.0.1', "the phone is told the relay's address, not the browser's trickle-ICE 0.0.0.0");

  const phoneAnswer = crlf(['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${phone.port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', `a=rtcp:${phone.port}`, 'a=sendrecv']);
  const answer = await ng.request({ command: 'answer', 'call-id': 'chromium-offers', 'from-tag': 'browser', 'to-tag': 'phone', sdp: phoneAnswer });
  t.equal(answer.result, 'ok', String(answer['error-reason'] ?? ''));
  t.match(String(answer.sdp), /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 0\r\n/, 'the browser gets a DTLS-SRTP answer');
  await page.evaluate((sdp) => api().pc.setRemoteDescription({ type: 'answer', sdp }), String(answer.sdp));

  // Until the DTLS handshake is done the relay drops both directions, so arriving patterns mean ICE,
  // DTLS, SRTP decryption (browser -> phone) and encryption (phone -> browser) all worked.
  await exchange(t, page, phone, relayEndpoints(toPhone)[0]!.port);
  await expectEngine(t, relay, 'chromium-offers', { handshakes: true });
});

t.test('plain RTP phone offer bridged to Chromium as WebRTC, payloads checked both ways', async (t) => {
  if (!requireTool(t, CHROMIUM, existsSync(CHROMIUM), 'apt-get install chromium')) return;
  const page = await openPage(t);
  const { ng, relay } = await startRelay(t);
  const phone = await Phone.open();
  t.teardown(() => phone.close());

  const phoneOffer = phoneSdp({ address: '127.0.0.1', port: phone.port, extra: [`a=rtcp:${phone.port}`] });
  const offer = await ng.request({ command: 'offer', 'call-id': 'chromium-answers', 'from-tag': 'phone', sdp: phoneOffer, 'transport-protocol': 'UDP/TLS/RTP/SAVPF', ICE: 'force', 'rtcp-mux': ['offer'] });
  t.equal(offer.result, 'ok', String(offer['error-reason'] ?? ''));
  const toBrowser = String(offer.sdp);
  t.match(toBrowser, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8 101\r\n/, 'the browser is offered DTLS-SRTP');
  for (const attr of ['a=fingerprint:sha-256 ', 'a=setup:actpass', 'a=ice-ufrag:', 'a=ice-pwd:', 'a=candidate:', 'a=rtcp-mux']) t.ok(toBrowser.includes(attr), `the offer to the browser has ${attr}`);

  const browserAnswer = await page.evaluate((sdp) => api().makeAnswer(sdp), toBrowser);
  t.match(browserAnswer, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 0\r\n/, 'the browser answers DTLS-SRTP with PCMU only');
  t.match(browserAnswer, /\r\na=setup:active\r\n/, 'the browser is the DTLS client, so the relay is the server');
  const answer = await ng.request({ command: 'answer', 'call-id': 'chromium-answers', 'from-tag': 'phone', 'to-tag': 'browser', sdp: browserAnswer });
  t.equal(answer.result, 'ok', String(answer['error-reason'] ?? ''));
  const toPhone = String(answer.sdp);
  t.match(toPhone, /\r\nm=audio \d+ RTP\/AVP 0\r\n/, 'the phone gets a plain RTP answer, PCMU');
  t.notMatch(toPhone, /a=(fingerprint|setup|crypto)/, 'and no DTLS or SDES');
  t.notMatch(toPhone, /a=(ice-|candidate)/, 'and no ICE: the phone did not offer it');
  t.equal(relayEndpoints(toPhone)[0]!.address, '127.0.0.1', "the phone is told the relay's address, not the browser's trickle-ICE 0.0.0.0");

  await exchange(t, page, phone, relayEndpoints(toPhone)[0]!.port);
  await expectEngine(t, relay, 'chromium-answers', { handshakes: true });
});
