/**
 * Our SRTP against rtpengine's (OpenSSL-based) for every suite, over real sockets: rtpengine bridges a
 * plain-RTP phone to an SDES phone whose packets our SrtpContext protects and unprotects. This is the
 * independent check for AES-192, where Debian's libsrtp2 disagrees with both (test/srtp-crypto.test.ts).
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { SrtpContext } from '../src/srtp/context.js';
import { SRTP_SUITES } from '../src/srtp/suites.js';
import { Phone, rtcpPacket, rtpPacket } from './helpers/media.js';
import { mediaPorts } from './helpers/ports.js';
import { RTPENGINE, rtpengineInstalled, startRtpengine } from './helpers/rtpengine.js';
import { requireTool } from './helpers/tools.js';
import { crlf } from './helpers/sdp.js';

const sdp = (port: number, protocol: string, extra: string[] = []): string =>
  crlf(['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} ${protocol} 0`, ...extra]);

t.test('rtpengine and rtpbridge SRTP interoperate in both directions, every encrypting suite', async (t) => {
  if (!requireTool(t, RTPENGINE, rtpengineInstalled(), 'apt-get install rtpengine-daemon')) return;
  // rtpengine's ng port is the first of the range, its media ports the 99 above it.
  const ng = await startRtpengine(t, (await mediaPorts(100)).portMin);
  // rtpengine 10.5 (Debian 12) dies on the first NULL_HMAC_SHA1_* packet; libsrtp2 checks NULL instead.
  for (const suite of SRTP_SUITES.filter((s) => s.cipher !== 'null')) {
    const plainPhone = await Phone.open();
    const srtpPhone = await Phone.open();
    t.teardown(() => {
      plainPhone.close();
      srtpPhone.close();
    });
    const callId = `interop-${suite.name}`;
    const offer = await ng.request({
      command: 'offer',
      'call-id': callId,
      'from-tag': 'plain',
      sdp: sdp(plainPhone.port, 'RTP/AVP', [`a=rtcp:${plainPhone.port}`]),
      'transport-protocol': 'RTP/SAVP',
      DTLS: 'off',
    });
    const offered = String(offer.sdp);
    const line = offered.split('\r\n').find((l) => l.includes(` ${suite.name} inline:`));
    t.ok(line, `rtpengine offers ${suite.name}`);
    const [, tag, inline] = /^a=crypto:(\d+) \S+ inline:([^|\s]+)/.exec(line!)!;
    const theirKey = Buffer.from(inline!, 'base64');
    const ourKey = randomBytes(suite.keyLength + suite.saltLength);
    const relayToSrtp = Number(/^m=audio (\d+)/m.exec(offered)![1]);
    const answer = await ng.request({
      command: 'answer',
      'call-id': callId,
      'from-tag': 'plain',
      'to-tag': 'srtp',
      sdp: sdp(srtpPhone.port, 'RTP/SAVP', [`a=rtcp:${srtpPhone.port}`, `a=crypto:${tag} ${suite.name} inline:${ourKey.toString('base64')}`]),
    });
    const relayToPlain = Number(/^m=audio (\d+)/m.exec(String(answer.sdp))![1]);
    const split = (k: Buffer) => ({ suite: suite.name, masterKey: k.subarray(0, suite.keyLength), masterSalt: k.subarray(suite.keyLength) });
    const tx = new SrtpContext(split(ourKey));
    const rx = new SrtpContext(split(theirKey));

    const fromSrtp = rtpPacket(7, { ssrc: 0x5eed0001, mark: 0x11 });
    const fromPlain = rtpPacket(9, { ssrc: 0x5eed0002, mark: 0x22 });
    await srtpPhone.send(tx.protectRtp(fromSrtp) as Buffer, relayToSrtp, '127.0.0.1');
    await plainPhone.send(fromPlain, relayToPlain, '127.0.0.1');
    await srtpPhone.send(tx.protectRtcp(rtcpPacket(0x5eed0001)), relayToSrtp + 1, '127.0.0.1');
    await plainPhone.send(rtcpPacket(0x5eed0002), relayToPlain + 1, '127.0.0.1');
    // RTP and RTCP use different ports, so either may arrive first.
    const plainGot = await plainPhone.waitFor(2);
    t.same(plainGot.find((r) => r.data[1] !== 201)?.data, fromSrtp, `${suite.name}: rtpengine decrypts our SRTP`);
    t.same(plainGot.find((r) => r.data[1] === 201)?.data, rtcpPacket(0x5eed0001), `${suite.name}: rtpengine decrypts our SRTCP`);
    const got = await srtpPhone.waitFor(2);
    const rtp = got.find((r) => r.data[1] !== 201)!;
    const rtcp = got.find((r) => r.data[1] === 201)!;
    t.same(rx.unprotectRtp(rtp.data), fromPlain, `${suite.name}: we decrypt rtpengine's SRTP`);
    t.same(rx.unprotectRtcp(rtcp.data), rtcpPacket(0x5eed0002), `${suite.name}: we decrypt rtpengine's SRTCP`);
    await ng.request({ command: 'delete', 'call-id': callId });
  }
});
