/** Call quality from RTCP: the report parser, the E-model MOS against G.107's figures, and the per-SSRC tracker. */
import t from 'tap';
import { mosFromR, mos, rFactor } from '../src/quality/mos.js';
import { parseRtcp } from '../src/quality/rtcp.js';
import { CallQuality } from '../src/quality/tracker.js';
import { ntpMiddle, receiverReport, senderReport } from './helpers/rtcp.js';

t.test('a compound SR + RR is read block by block; a truncated part stops the walk', async (t) => {
  const compound = Buffer.concat([senderReport(0xaaaa, 3_900_000_000, 0x80000000, [{ ssrc: 0xbbbb, fractionLost: 64, cumulativeLost: -3, jitter: 160 }]), receiverReport(0xcccc, [{ ssrc: 0xdddd, lsr: 5, dlsr: 65536 }])]);
  const parsed = parseRtcp(compound);
  t.same(parsed.senderReports, [{ ssrc: 0xaaaa, ntpMiddle: ntpMiddle(3_900_000_000, 0x80000000) }]);
  t.same(
    parsed.blocks.map((b) => [b.reporter, b.block.ssrc, b.block.fractionLost, b.block.cumulativeLost, b.block.jitter, b.block.lsr, b.block.dlsr]),
    [
      [0xaaaa, 0xbbbb, 64, -3, 160, 0, 0],
      [0xcccc, 0xdddd, 0, 0, 0, 5, 65536],
    ],
  );
  t.same(parseRtcp(compound.subarray(0, compound.length - 4)).blocks.length, 1, 'the cut-short RR is not read');
  t.same(parseRtcp(Buffer.from([0x80, 200, 0, 50, 1, 2, 3, 4])), { senderReports: [], blocks: [] }, 'a length beyond the packet: nothing');
});

t.test("the E-model's R to MOS mapping meets G.107's published points", async (t) => {
  // G.107 Annex B's mapping, at the R values of G.109's user-satisfaction categories (and R0 93.2).
  for (const [r, expected] of [
    [93.2, 4.41],
    [90, 4.34],
    [80, 4.02],
    [70, 3.6],
    [60, 3.1],
    [50, 2.58],
  ] as const) {
    t.equal(Number(mosFromR(r).toFixed(2)), expected, `R ${r} -> MOS ${expected}`);
  }
  t.equal(mosFromR(-5), 1);
  t.equal(mosFromR(120), 4.5);
  t.equal(Number(rFactor({ rttMs: 0, jitterMs: 0, lossPercent: 0 }).toFixed(2)), 92.96, 'a perfect leg: R0 less the packetization delay');
  t.ok(mos({ rttMs: 0, jitterMs: 0, lossPercent: 5 }) < mos({ rttMs: 0, jitterMs: 0, lossPercent: 1 }), 'loss lowers MOS');
  t.ok(mos({ rttMs: 600, jitterMs: 0, lossPercent: 0 }) < mos({ rttMs: 100, jitterMs: 0, lossPercent: 0 }), 'so does delay');
});

t.test('the tracker: RTT from an SR seen passing and the RR that answers it; average, lowest, highest', async (t) => {
  const q = new CallQuality();
  // B's SR passes at t=10 s; A answers 300 ms later with a block about B's stream, LSR = that SR, DLSR 100 ms.
  q.receive(senderReport(0xb, 100, 0, []), 10_000, 1);
  q.receive(receiverReport(0xa, [{ ssrc: 0xb, fractionLost: 0, jitter: 80, lsr: ntpMiddle(100, 0), dlsr: 6554 }]), 10_300, 2);
  q.receive(receiverReport(0xa, [{ ssrc: 0xb, fractionLost: 26, cumulativeLost: 12, jitter: 160 }]), 15_000, 2);
  const report = q.report().get(0xb)!;
  t.equal(report.samples, 2);
  t.equal(report.cumulativeLoss, 12);
  t.match(report.highest, { jitter: 10, packetLoss: 0, reportedAt: 10 }, 'jitter 80 units at 8 kHz');
  t.ok(Math.abs(report.highest.rtt - 200_000) < 100, `RTT 300 - 100 ms (${report.highest.rtt} µs)`);
  t.match(report.lowest, { rtt: 0, jitter: 20, packetLoss: 10, reportedAt: 15 }, 'a block without LSR has no RTT');
  t.ok(report.highest.mos > report.lowest.mos, `${report.highest.mos} > ${report.lowest.mos}`);
  t.equal(q.ssrcOf(1), 0xb, "side 1 sends the SSRC its SR names");
  t.equal(q.ssrcOf(2), 0xa, "side 2 the one its RR names as reporter");
  t.equal(q.ssrcOf(3), undefined, "a side without RTCP sends none known");
  t.equal(report.average.mos, Math.round((report.highest.mos + report.lowest.mos) / 2));
});

t.test('the MOS progression: about ten samples spread over the call, however long', async (t) => {
  const q = new CallQuality();
  for (let i = 0; i < 300; i++) q.receive(receiverReport(0xa, [{ ssrc: 0xb, fractionLost: i % 50 }]), 1_000_000 + i * 5000, 1);
  const { progression, samples } = q.report().get(0xb)!;
  t.equal(samples, 300);
  t.equal(progression.interval, 149, 'a tenth of the 1495 s the samples span');
  t.ok(progression.entries.length >= 9 && progression.entries.length <= 11, `${progression.entries.length} entries`);
  t.equal(progression.entries[0]!.reportedAt, 1000, 'from the first sample');
  t.ok(progression.entries.every((e, i, all) => i === 0 || e.reportedAt - all[i - 1]!.reportedAt >= 149), 'an interval apart');
});
