/**
 * The WebRTC bridge with a real browser: headless Chromium with a fake microphone
 * offers UDP/TLS/RTP/SAVPF + ICE + rtcp-mux; the offer and answer go through rtpbridge's ng interface
 * to a plain RTP/AVP phone in this test. The phone must receive decrypted RTP, and what it sends back
 * must show up in the browser's getStats() as inbound packets. Needs `apt-get install chromium`.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import puppeteer from 'puppeteer-core';
import t from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, sleep } from './helpers/media.js';
import { relayEndpoints } from './helpers/sdp.js';
import { requireTool } from './helpers/tools.js';

const CHROMIUM = '/usr/bin/chromium';

/** The page: a peer connection with the fake microphone; the test drives it through these globals. */
const PAGE = `<!doctype html><title>rtpbridge webrtc test</title><script>
window.pc = new RTCPeerConnection();
window.makeOffer = async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription.sdp;
};
window.inbound = async () => {
  const out = { packetsReceived: 0, ice: pc.iceConnectionState, dtls: pc.connectionState };
  (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') out.packetsReceived += s.packetsReceived; });
  return out;
};
</script>`;

t.test('Chromium offer bridged to a plain RTP phone and back', async (t) => {
  if (!requireTool(t, CHROMIUM, existsSync(CHROMIUM), 'apt-get install chromium')) return;
  const { ng, relay } = await startRelay(t);
  const phone = await Phone.open();
  t.teardown(() => phone.close());

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

  const browserOffer = await page.evaluate(() => (window as unknown as { makeOffer: () => Promise<string> }).makeOffer());
  t.match(browserOffer, /UDP\/TLS\/RTP\/SAVPF/, 'the browser offers DTLS-SRTP');
  const offer = await ng.request({ command: 'offer', 'call-id': 'chromium', 'from-tag': 'browser', sdp: browserOffer, ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'] });
  t.equal(offer.result, 'ok', String(offer['error-reason'] ?? ''));
  const toPhone = String(offer.sdp);
  t.match(toPhone, /\r\nm=audio \d+ RTP\/AVP /, 'the phone is offered plain RTP');
  const opus = /a=rtpmap:(\d+) opus\/48000\/2/.exec(toPhone)![1]!;

  const phoneSdp = ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${phone.port} RTP/AVP ${opus}`, `a=rtpmap:${opus} opus/48000/2`, `a=rtcp:${phone.port}`, 'a=sendrecv', ''].join('\r\n');
  const answer = await ng.request({ command: 'answer', 'call-id': 'chromium', 'from-tag': 'browser', 'to-tag': 'phone', sdp: phoneSdp });
  t.equal(answer.result, 'ok', String(answer['error-reason'] ?? ''));
  await page.evaluate((sdp) => (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp }), String(answer.sdp));

  // The relay forwards the browser's packets only once they authenticate under the DTLS-exported keys
  // (until then they are dropped), so RTP at the phone means the whole DTLS-SRTP path worked.
  const deadline = Date.now() + 20_000;
  while (phone.received.filter((r) => r.data[1]! % 128 === Number(opus)).length < 10 && Date.now() < deadline) await sleep(100);
  const rtp = phone.received.filter((r) => r.data[0]! >> 6 === 2 && (r.data[1]! & 0x7f) === Number(opus));
  t.ok(rtp.length >= 10, `the phone receives the browser's audio as plain RTP (${rtp.length} packets)`);

  // The phone sends RTP back (its own SSRC); the browser must count it as inbound.
  const toRelay = relayEndpoints(toPhone)[0]!.port;
  let stats = { packetsReceived: 0, ice: '', dtls: '' };
  for (let i = 0; i < 150 && stats.packetsReceived === 0; i++) {
    const src = rtp[i % rtp.length]!.data;
    const echo = Buffer.from(src);
    echo.writeUInt16BE(i, 2);
    echo.writeUInt32BE(i * 960, 4);
    echo.writeUInt32BE(0x0bb0e000, 8);
    await phone.send(echo, toRelay, '127.0.0.1');
    await sleep(20);
    if (i % 10 === 9) stats = await page.evaluate(() => (window as unknown as { inbound: () => Promise<typeof stats> }).inbound());
  }
  t.ok(stats.packetsReceived > 0, `the browser's getStats() shows inbound packets from the relay (${stats.packetsReceived}, ICE ${stats.ice}, ${stats.dtls})`);
  await expectEngine(t, relay, 'chromium', { handshakes: true });
});
