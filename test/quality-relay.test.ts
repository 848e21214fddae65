/**
 * Call quality through a running relay, on the engine of this pass: RTCP sender and receiver reports
 * cross the relay, and query shows per-SSRC MOS, jitter, loss and round-trip time under rtpengine's
 * keys (what Kamailio's mos_*_pv parameters read).
 */
import t from 'tap';
import { createMetrics } from '../src/metrics/prometheus.js';
import { ControlStats } from '../src/ng/replies.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, sleep } from './helpers/media.js';
import { ntpMiddle, receiverReport, senderReport } from './helpers/rtcp.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

t.test('SR from the caller, RR about it from the callee: SSRC stats with MOS in query and delete', async (t) => {
  const { ng, relay } = await startRelay(t);
  const [a, b] = await Promise.all([Phone.open(), Phone.open()]);
  t.teardown(() => [a, b].forEach((p) => p.close()));
  const offer = await ng.request({ command: 'offer', 'call-id': 'q1', 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: a.port }) });
  const answer = await ng.request({ command: 'answer', 'call-id': 'q1', 'from-tag': 'a', 'to-tag': 'b', sdp: phoneSdp({ address: '127.0.0.1', port: b.port }) });
  const toB = relayEndpoints(String(answer.sdp))[0]!.port; // where a sends
  const toA = relayEndpoints(String(offer.sdp))[0]!.port; // where b sends
  t.equal((await ng.request({ command: 'query', 'call-id': 'q1' })).SSRC, undefined, 'no SSRC stats before any RTCP');

  await a.send(senderReport(0xa11ce, 3_900_000_100, 0, []), toB + 1, '127.0.0.1');
  await sleep(150);
  await b.send(receiverReport(0xb0b, [{ ssrc: 0xa11ce, fractionLost: 13, cumulativeLost: 4, jitter: 240, lsr: ntpMiddle(3_900_000_100, 0), dlsr: 3277 }]), toA + 1, '127.0.0.1');
  let ssrc: Record<string, Record<string, Record<string, number>>> | undefined;
  for (let i = 0; i < 50 && !ssrc; i++) {
    await sleep(20);
    ssrc = (await ng.request({ command: 'query', 'call-id': 'q1' })).SSRC as typeof ssrc;
  }
  const stats = ssrc?.[String(0xa11ce)];
  t.ok(stats, "the caller's stream has stats");
  t.match(stats, { 'cumulative loss': 4, 'average MOS': { samples: 1, jitter: 30, 'packet loss': 5 } }, 'loss and jitter (240 units at 8 kHz)');
  const rtt = stats!['average MOS']!['round-trip time']!;
  t.ok(rtt >= 90_000 && rtt < 400_000, `round-trip time from the SR's passage, less DLSR: ${rtt} µs`);
  const mos = stats!['average MOS']!.MOS!;
  t.ok(mos >= 30 && mos <= 44, `MOS x 10 in range: ${mos}`);
  t.same(stats!['lowest MOS'], stats!['highest MOS'], 'one sample: lowest is highest');
  t.match(stats!['MOS progression'], { interval: 0, entries: [{ MOS: mos }] }, 'and the progression has it');
  const tags = (await ng.request({ command: 'query', 'call-id': 'q1' })).tags as Record<string, { medias: Array<{ streams: Array<Record<string, unknown>> }> }>;
  t.equal(tags.a?.medias[0]?.streams[0]?.SSRC, 0xa11ce, "the caller's RTP stream names the SSRC it sends, the key Kamailio's mos_A/mos_B follow");
  t.equal(tags.b?.medias[0]?.streams[0]?.SSRC, 0xb0b, "the callee's the one its RR came from");
  t.equal(tags.a?.medias[0]?.streams[1]?.SSRC, undefined, 'RTCP streams carry none, as with rtpengine');
  await expectEngine(t, relay, 'q1', { handshakes: false });
  const metrics = await createMetrics(relay, new ControlStats()).metrics();
  t.match(metrics, /^rtpbridge_mos_samples_total 1$/m, 'the sample counts in the relay-wide metrics');
  t.match(metrics, new RegExp(`^rtpbridge_mos_total ${mos / 10}$`, 'm'), 'with its MOS');
  t.match(metrics, /^rtpbridge_packetloss_total 5$/m);
  const deleted = await ng.request({ command: 'delete', 'call-id': 'q1', 'from-tag': 'a', 'delete-delay': 0 });
  t.same((deleted.SSRC as typeof ssrc)?.[String(0xa11ce)], stats, 'delete reports the same, for Kamailio at BYE');
});
