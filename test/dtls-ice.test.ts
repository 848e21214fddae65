/**
 * DTLS-SRTP and ICE-lite end to end: a WebRTC-like peer (werift DTLS, our STUN
 * codec, SRTP) bridged through the relay's ng offer/answer to a plain RTP phone, with real packets.
 */
import t, { type Test } from 'tap';
import { WorkerDataPlane } from '../src/dataplane/workers.js';
import { readXorAddress, StunAttr } from '../src/ice/stun.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import type { NgClient } from './helpers/ng-client.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';
import { WebrtcPeer, type RelayIce } from './helpers/webrtc-peer.js';

async function peers(t: Test): Promise<{ web: WebrtcPeer; sip: Phone }> {
  const web = await WebrtcPeer.open();
  const sip = await Phone.open();
  t.teardown(() => {
    web.close();
    sip.close();
  });
  return { web, sip };
}

function iceOf(sdp: string): RelayIce {
  return { ufrag: /a=ice-ufrag:(\S+)/.exec(sdp)![1]!, pwd: /a=ice-pwd:(\S+)/.exec(sdp)![1]! };
}

/** Browser offers, SIP phone answers: the Kamailio recipe (ICE=remove + RTP/AVP towards SIP). */
async function bridge(ng: NgClient, callId: string, web: WebrtcPeer, sip: Phone, answerFlags: Record<string, unknown> = {}, offerSdp = web.offer()) {
  const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'web', sdp: offerSdp, ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'] });
  if (offer.result !== 'ok') throw new Error(String(offer['error-reason']));
  const answer = await ng.request({
    command: 'answer',
    'call-id': callId,
    'from-tag': 'web',
    'to-tag': 'sip',
    sdp: phoneSdp({ address: '127.0.0.1', port: sip.port, extra: [`a=rtcp:${sip.port}`] }),
    ...answerFlags,
  });
  if (answer.result !== 'ok') throw new Error(String(answer['error-reason']));
  return { toSip: String(offer.sdp), toWeb: String(answer.sdp), webPort: relayEndpoints(String(answer.sdp))[0]!.port, sipPort: relayEndpoints(String(offer.sdp))[0]!.port };
}

/** A nominating check, repeated until answered: a check may meet a port still rate-limiting a flood. */
async function nominate(t: Test, web: WebrtcPeer, port: number, ice: RelayIce): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const txid = await web.check(port, ice, { nominate: true });
    await sleep(50);
    if (web.response(txid)) return;
  }
  t.fail('the relay never answered a valid connectivity check');
}

/** RTP both ways and RTCP from the browser: SRTP on the WebRTC leg, plain on the SIP leg, same payloads. */
async function media(t: Test, web: WebrtcPeer, sip: Phone, webPort: number, sipPort: number): Promise<void> {
  const fromWeb = rtpPacket(7, { pt: 111, ssrc: 0xaaaa0001, mark: 0x57 });
  await web.send(web.tx!.protectRtp(fromWeb) as Buffer, webPort);
  await web.send(web.tx!.protectRtcp(rtcpPacket(0xaaaa0001)), webPort);
  const got = await sip.waitFor(2);
  t.same(got.find((r) => r.data[1] === 111)?.data, fromWeb, 'the SIP phone gets the browser RTP decrypted');
  t.same(got.find((r) => r.data[1] === 201)?.data, rtcpPacket(0xaaaa0001), 'and its SRTCP decrypted (demuxed to the RTCP port)');
  const fromSip = rtpPacket(9, { pt: 111, ssrc: 0xbbbb0001, mark: 0x53 });
  await sip.send(fromSip, sipPort, '127.0.0.1');
  const deadline = Date.now() + 2000;
  while (web.rtp.length === 0 && Date.now() < deadline) await sleep(10);
  t.ok(web.rtp[0] && !web.rtp[0].equals(fromSip), 'the browser gets SRTP, not the plain packet');
  t.same(web.rx!.unprotectRtp(web.rtp[0]!), fromSip, 'which decrypts to what the SIP phone sent');
}

t.test('browser offer (DTLS passive relay, ICE-lite) to a plain SIP phone and back', async (t) => {
  const { ng, relay } = await startRelay(t);
  const { web, sip } = await peers(t);
  const { toSip, toWeb, webPort, sipPort } = await bridge(ng, 'w1', web, sip, { DTLS: 'passive' });

  t.match(toSip, /\r\nm=audio \d+ RTP\/AVP 111 0\r\n/, 'SIP leg: plain RTP/AVP');
  t.notMatch(toSip, /a=(fingerprint|setup|candidate|ice-|rtcp-mux)/, 'SIP leg: no DTLS, ICE or mux');
  t.match(toWeb, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 8 101\r\n/, 'WebRTC leg answered in its own profile');
  t.match(toWeb, /\r\na=ice-lite\r\n/);
  t.match(toWeb, /\r\na=mid:0\r\n/, 'the offer\'s mid comes back');
  t.match(toWeb, /\r\na=rtcp-mux\r\n/);
  t.match(toWeb, /\r\na=setup:passive\r\na=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r\n/, 'DTLS=passive: the relay serves');
  t.match(toWeb, new RegExp(`a=candidate:\\w+ 1 UDP 2130706431 127\\.0\\.0\\.1 ${webPort} typ host\\r\\n`), 'one host candidate (mux agreed)');
  t.notMatch(toWeb, / 2 UDP /, 'no RTCP component with rtcp-mux');
  t.notMatch(toWeb, /a=crypto:/, 'DTLS is favoured over SDES');
  const ice = iceOf(toWeb);

  const forged = await web.check(webPort, ice, { pwd: 'not-the-password-at-all!' });
  const check = await web.check(webPort, ice, { nominate: true });
  const deadline = Date.now() + 2000;
  while (!web.response(check) && Date.now() < deadline) await sleep(10);
  const response = web.response(check);
  t.ok(response, 'the relay answers a valid check');
  t.same(readXorAddress(response!.attrs.get(StunAttr.XorMappedAddress)!, check), { address: '127.0.0.1', port: web.port }, 'XOR-MAPPED-ADDRESS is the browser');
  t.ok(response!.attrs.has(StunAttr.MessageIntegrity) && response!.attrs.has(StunAttr.Fingerprint), 'signed and fingerprinted');
  t.notOk(web.response(forged), 'a check with a bad MESSAGE-INTEGRITY gets no answer');

  await web.handshake(webPort, 'client');
  await media(t, web, sip, webPort, sipPort);
  const stats = ((await ng.request({ command: 'statistics' })).statistics as any).totalstatistics;
  t.equal(stats.droppedstun, 1, 'the forged check is dropped and counted');
  await expectEngine(t, relay, 'w1', { handshakes: true });
});

t.test('default DTLS role: the relay is active (client) and connects after the nomination', async (t) => {
  const { ng, relay } = await startRelay(t);
  const { web, sip } = await peers(t);
  const { toWeb, webPort, sipPort } = await bridge(ng, 'w2', web, sip);
  t.match(toWeb, /\r\na=setup:active\r\n/, 'actpass offer answered active, as rtpengine does');
  const handshake = web.handshake(webPort, 'server');
  await nominate(t, web, webPort, iceOf(toWeb));
  await handshake;
  await media(t, web, sip, webPort, sipPort);
  await expectEngine(t, relay, 'w2', { handshakes: true });
});

t.test('a certificate that does not match a=fingerprint gets no keys: media is dropped, never forwarded', async (t) => {
  const { ng, relay } = await startRelay(t);
  const { web, sip } = await peers(t);
  const wrong = web.fingerprint.replace(/^../, web.fingerprint.startsWith('00') ? '11' : '00');
  const { toWeb, webPort } = await bridge(ng, 'w3', web, sip, { DTLS: 'passive' }, web.offer('actpass', wrong));
  await nominate(t, web, webPort, iceOf(toWeb));
  // werift's client does not wait for the relay to check its certificate: it believes it connected.
  await web.handshake(webPort, 'client');
  for (let i = 0; i < 5; i++) await web.send(web.tx!.protectRtp(rtpPacket(i, { pt: 111 })) as Buffer, webPort);
  await sleep(300);
  t.equal(sip.received.length, 0, 'nothing reaches the SIP phone');
  const stats = ((await ng.request({ command: 'statistics' })).statistics as any).totalstatistics;
  t.equal(stats.droppedsrtp, 5, 'the packets are dropped and counted');
  await expectEngine(t, relay, 'w3', { handshakes: true });
});

t.test('plain SIP caller to a WebRTC callee: UDP/TLS/RTP/SAVPF offer with ICE=force, the callee starts DTLS', async (t) => {
  const { ng, relay } = await startRelay(t);
  const { web, sip } = await peers(t);
  const offer = await ng.request({
    command: 'offer',
    'call-id': 'w4',
    'from-tag': 'sip',
    sdp: phoneSdp({ address: '127.0.0.1', port: sip.port, extra: [`a=rtcp:${sip.port}`] }),
    ICE: 'force',
    'transport-protocol': 'UDP/TLS/RTP/SAVPF',
    'rtcp-mux': ['offer'],
  });
  const toWeb = String(offer.sdp);
  t.match(toWeb, /\r\na=setup:actpass\r\na=fingerprint:sha-256 /);
  t.match(toWeb, / 2 UDP 2130706430 /, 'an RTCP candidate too: mux is only offered');
  const webPort = relayEndpoints(toWeb)[0]!.port;
  const answerSdp = web.offer('active').replace('a=group:BUNDLE 0\r\n', '').replace(/m=audio (\d+) UDP\/TLS\/RTP\/SAVPF 111 0/, 'm=audio $1 UDP/TLS/RTP/SAVPF 0');
  const answer = await ng.request({ command: 'answer', 'call-id': 'w4', 'from-tag': 'sip', 'to-tag': 'web', sdp: answerSdp, ICE: 'remove', 'transport-protocol': 'RTP/AVP' });
  t.equal(answer.result, 'ok');
  t.notMatch(answer.sdp, /a=(fingerprint|setup|crypto|candidate)/, 'the SIP caller gets plain RTP back');
  await nominate(t, web, webPort, iceOf(toWeb));
  await web.handshake(webPort, 'client');
  await media(t, web, sip, webPort, relayEndpoints(String(answer.sdp))[0]!.port);
  await expectEngine(t, relay, 'w4', { handshakes: true });
});

t.test('an interface with an IPv4 and an IPv6 address: a candidate on each, media follows the nominated one', async (t) => {
  const { ng, relay } = await startRelay(t, {
    interfaces: [{ name: 'default', addresses: [{ local: '127.0.0.1', advertised: '127.0.0.1', family: 'IP4' }, { local: '::1', advertised: '::1', family: 'IP6' }] }],
  });
  const web = await WebrtcPeer.open('::1');
  const sip = await Phone.open();
  t.teardown(() => {
    web.close();
    sip.close();
  });
  const { toWeb, sipPort } = await bridge(ng, 'w7', web, sip, { DTLS: 'passive' });
  const v4 = /a=candidate:\w+ 1 UDP (\d+) 127\.0\.0\.1 (\d+) typ host/.exec(toWeb);
  const v6 = /a=candidate:\w+ 1 UDP (\d+) ::1 (\d+) typ host/.exec(toWeb);
  t.ok(v4 && v6, 'one candidate per address');
  t.ok(Number(v4![1]) > Number(v6![1]), 'the primary address is preferred');
  const v6Port = Number(v6![2]);
  await nominate(t, web, v6Port, iceOf(toWeb));
  await web.handshake(v6Port, 'client');
  await media(t, web, sip, v6Port, sipPort);
  await expectEngine(t, relay, 'w7', { handshakes: true });
});

t.test('a forwarding worker that dies comes back with the DTLS-SRTP keys: no new handshake needed', async (t) => {
  const dataPlane = new WorkerDataPlane(1);
  const { ng, relay } = await startRelay(t, {}, '127.0.0.1:0', { dataPlane });
  const { web, sip } = await peers(t);
  const { toWeb, webPort, sipPort } = await bridge(ng, 'w8', web, sip, { DTLS: 'passive' });
  await nominate(t, web, webPort, iceOf(toWeb));
  await web.handshake(webPort, 'client');
  await media(t, web, sip, webPort, sipPort);
  await relay.query({ callId: 'w8' });

  await dataPlane.terminateWorker(0);
  sip.received.length = 0;
  web.rtp.length = 0;
  const deadline = Date.now() + 2000;
  for (let seq = 100; sip.received.length === 0 && Date.now() < deadline; seq++) {
    await web.send(web.tx!.protectRtp(rtpPacket(seq, { pt: 111, ssrc: 0xaaaa0001 })) as Buffer, webPort);
    await sleep(20);
  }
  t.ok(sip.received.length > 0, 'SRTP from the browser is decrypted again after the restart');
  await sip.send(rtpPacket(500, { pt: 111, ssrc: 0xbbbb0001 }), sipPort, '127.0.0.1');
  while (web.rtp.length === 0 && Date.now() < deadline + 2000) await sleep(10);
  t.same(web.rx!.unprotectRtp(web.rtp[0]!), rtpPacket(500, { pt: 111, ssrc: 0xbbbb0001 }), 'and encrypted towards it with the same keys');
  await expectEngine(t, relay, 'w8', { handshakes: true, workersOnly: true });
});

t.test('a DTLS ClientHello flood and STUN garbage on one port: dropped and counted, the other call carries on', async (t) => {
  const { ng, relay } = await startRelay(t);
  const { web, sip } = await peers(t);
  const { toWeb, webPort, sipPort } = await bridge(ng, 'w5', web, sip, { DTLS: 'passive' });
  await nominate(t, web, webPort, iceOf(toWeb));
  await web.handshake(webPort, 'client');

  const victim = await peers(t);
  const other = await bridge(ng, 'w6', victim.web, victim.sip, { DTLS: 'passive' });
  const attacker = await Phone.open();
  t.teardown(() => attacker.close());
  // A DTLS 1.2 ClientHello record header with junk behind it, and STUN-looking junk.
  const hello = Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 1, 0, 0, 0x34]), Buffer.alloc(60, 7)]);
  const junkStun = Buffer.concat([Buffer.from([0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42]), Buffer.alloc(20, 1)]);
  for (let i = 0; i < 1000; i++) {
    await attacker.send(i % 2 ? hello : junkStun, other.webPort, '127.0.0.1');
    if (i % 100 === 0) await sleep(1);
  }
  await media(t, web, sip, webPort, sipPort);
  const stats = ((await ng.request({ command: 'statistics' })).statistics as any).totalstatistics;
  t.equal(stats.droppeddtls, 500, 'every ClientHello from an address that never passed ICE is dropped and counted');
  t.equal(stats.droppedstun, 500, 'every STUN junk packet is dropped and counted');
  // The flooded call still works once the flood is over.
  await nominate(t, victim.web, other.webPort, iceOf(other.toWeb));
  await victim.web.handshake(other.webPort, 'client');
  await media(t, victim.web, victim.sip, other.webPort, other.sipPort);
  await expectEngine(t, relay, 'w5', { handshakes: true });
  await expectEngine(t, relay, 'w6', { handshakes: true });
});

t.test('a re-INVITE adds DTLS-SRTP and ICE to a call that started plain: same ports, moved to a thread that runs them', async (t) => {
  const { ng, relay } = await startRelay(t, { endpointLearning: 'immediate' });
  const { web, sip } = await peers(t);
  // First a plain call: the future WebRTC peer answers RTP/AVP from its one socket.
  const offer = await ng.request({ command: 'offer', 'call-id': 'w9', 'from-tag': 'sip', sdp: phoneSdp({ address: '127.0.0.1', port: sip.port, extra: [`a=rtcp:${sip.port}`] }) });
  const webPort = relayEndpoints(String(offer.sdp))[0]!.port;
  const answer = await ng.request({ command: 'answer', 'call-id': 'w9', 'from-tag': 'sip', 'to-tag': 'web', sdp: phoneSdp({ address: '127.0.0.1', port: web.port, extra: [`a=rtcp:${web.port}`] }) });
  const sipPort = relayEndpoints(String(answer.sdp))[0]!.port;
  const plain = rtpPacket(1, { ssrc: 0x5150001 });
  await sip.send(plain, sipPort, '127.0.0.1');
  const deadline = Date.now() + 2000;
  while (web.rtp.length === 0 && Date.now() < deadline) await sleep(10);
  t.same(web.rtp[0], plain, 'plain media flows first');
  await expectEngine(t, relay, 'w9', { handshakes: false });

  // The caller re-offers towards WebRTC; the callee answers with DTLS (active) and ICE.
  const reoffer = await ng.request({
    command: 'offer',
    'call-id': 'w9',
    'from-tag': 'sip',
    'to-tag': 'web',
    sdp: phoneSdp({ address: '127.0.0.1', port: sip.port, extra: [`a=rtcp:${sip.port}`] }),
    ICE: 'force',
    'transport-protocol': 'UDP/TLS/RTP/SAVPF',
  });
  t.equal(reoffer.result, 'ok', String(reoffer['error-reason'] ?? ''));
  const toWeb = String(reoffer.sdp);
  t.equal(relayEndpoints(toWeb)[0]!.port, webPort, 'the callee keeps its relay port');
  t.match(toWeb, /\r\na=setup:actpass\r\na=fingerprint:sha-256 /);
  await expectEngine(t, relay, 'w9', { handshakes: true });
  const answerSdp = web.offer('active').replace('a=group:BUNDLE 0\r\n', '').replace(/m=audio (\d+) UDP\/TLS\/RTP\/SAVPF 111 0/, 'm=audio $1 UDP/TLS/RTP/SAVPF 0');
  const reanswer = await ng.request({ command: 'answer', 'call-id': 'w9', 'from-tag': 'sip', 'to-tag': 'web', sdp: answerSdp, ICE: 'remove', 'transport-protocol': 'RTP/AVP' });
  t.equal(reanswer.result, 'ok', String(reanswer['error-reason'] ?? ''));
  t.equal(relayEndpoints(String(reanswer.sdp))[0]!.port, sipPort, 'the caller keeps its relay port');
  const info = await relay.query({ callId: 'w9' });
  const sipStream = info.tags.find((tag) => tag.tag === 'sip')!.medias[0]!.streams[0]!;
  t.equal(sipStream.stats.packets, 1, 'the counters survived the move');
  t.same(sipStream.endpoint, { family: 'IPv4', address: '127.0.0.1', port: sip.port }, 'and so did the learned endpoint');
  web.rtp.length = 0;
  await nominate(t, web, webPort, iceOf(toWeb));
  await web.handshake(webPort, 'client');
  await media(t, web, sip, webPort, sipPort);
});
