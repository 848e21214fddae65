/** The forwarding threads behind the Relay: placement, exact counters, drops by reason, worker restart. */
import t from 'tap';
import { Relay } from '../src/relay.js';
import { WorkerDataPlane } from '../src/dataplane/workers.js';
import { expectEngine, nativeInUse } from './helpers/engine.js';
import { Phone, rtpPacket, sleep } from './helpers/media.js';
import { mediaPorts } from './helpers/ports.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

async function twoPartyCall(relay: Relay, callId: string) {
  const [alice, bob] = await Promise.all([Phone.open(), Phone.open()]);
  const offer = await relay.offer({ callId, fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const answer = await relay.answer({ callId, fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  return { alice, bob, toBob: relayEndpoints(offer.sdp)[0]!.port, toAlice: relayEndpoints(answer.sdp)[0]!.port };
}

t.test('counters in query and statistics are exact right after the packets', async (t) => {
  const relay = new Relay({ ...(await mediaPorts(50)), threads: 2 });
  t.teardown(() => relay.close());
  const c = await twoPartyCall(relay, 'exact');
  t.teardown(() => [c.alice, c.bob].forEach((p) => p.close()));
  for (let i = 0; i < 200; i++) await c.alice.send(rtpPacket(i), c.toAlice, '127.0.0.1');
  await c.bob.waitFor(200);
  await c.alice.send(Buffer.from('junk'), c.toAlice, '127.0.0.1');
  await c.bob.send(rtpPacket(1), c.toBob, '127.0.0.1');
  await c.alice.waitFor(1);
  const info = await relay.query({ callId: 'exact' });
  t.same(info.totals.RTP, { packets: 201, bytes: 201 * 172, errors: 1 });
  await expectEngine(t, relay, 'exact', { handshakes: false });
  const stats = await relay.statistics();
  t.equal(stats.engine, relay.forwarding.engine);
  // Two forwarding threads asked; with the addon, as many TypeScript workers again stand by for SRTP calls.
  t.equal(stats.threads, relay.forwarding.engine === 'workers' ? 2 : 4);
  t.equal(stats.packetsIn, 202);
  t.equal(stats.packetsOut, 201);
  t.equal(stats.bytesOut, 201 * 172);
  t.same(stats.dropped, { malformed: 1, unknownSource: 0, noDestination: 0, sendError: 0, srtp: 0, stun: 0, dtls: 0, rateLimited: 0, dtmfBlocked: 0, undecodable: 0 });
});

t.test('calls are spread over the forwarding threads and all relay', async (t) => {
  const relay = new Relay({ ...(await mediaPorts(50)), threads: 2 });
  t.teardown(() => relay.close());
  const calls = [await twoPartyCall(relay, 'one'), await twoPartyCall(relay, 'two')];
  t.teardown(() => calls.forEach((c) => [c.alice, c.bob].forEach((p) => p.close())));
  for (const c of calls) {
    await c.alice.send(rtpPacket(1), c.toAlice, '127.0.0.1');
    await c.bob.send(rtpPacket(2), c.toBob, '127.0.0.1');
    const [atBob] = await c.bob.waitFor(1);
    const [atAlice] = await c.alice.waitFor(1);
    t.same([atBob!.data.readUInt16BE(2), atBob!.from.port], [1, c.toBob], 'alice to bob, from the port bob was given');
    t.same([atAlice!.data.readUInt16BE(2), atAlice!.from.port], [2, c.toAlice], 'bob to alice, from the port alice was given');
  }
  for (const callId of ['one', 'two']) t.same((await relay.query({ callId })).totals.RTP, { packets: 2, bytes: 2 * 172, errors: 0 }, `${callId}: both packets counted`);
  await expectEngine(t, relay, 'one', { handshakes: false });
  await expectEngine(t, relay, 'two', { handshakes: false });
});

t.test('a forwarding worker that dies is replaced and media resumes', async (t) => {
  const dataPlane = new WorkerDataPlane(1);
  const relay = new Relay({ ...(await mediaPorts(50)), endpointLearning: 'immediate' }, { dataPlane });
  t.teardown(() => relay.close());
  const c = await twoPartyCall(relay, 'phoenix');
  t.teardown(() => [c.alice, c.bob].forEach((p) => p.close()));
  for (let i = 0; i < 10; i++) await c.alice.send(rtpPacket(i), c.toAlice, '127.0.0.1');
  await c.bob.waitFor(10);
  await relay.query({ callId: 'phoenix' });

  await dataPlane.terminateWorker(0);
  const killedAt = Date.now();
  let resumedAfter = -1;
  // A replacement loads its modules in a few hundred milliseconds; the bound is for a loaded machine.
  for (let seq = 100; Date.now() - killedAt < 5000; seq++) {
    await c.alice.send(rtpPacket(seq), c.toAlice, '127.0.0.1');
    await sleep(20);
    if (c.bob.received.some((r) => r.data.readUInt16BE(2) >= 100)) {
      resumedAfter = Date.now() - killedAt;
      break;
    }
  }
  t.ok(resumedAfter >= 0, `media resumed ${resumedAfter} ms after the worker died`);
  await c.bob.send(rtpPacket(7), c.toBob, '127.0.0.1');
  await c.alice.waitFor(1);
  const info = await relay.query({ callId: 'phoenix' });
  const aRtp = info.tags.find((x) => x.tag === 'A')!.medias[0]!.streams[0]!;
  // 10 before the restart, then those the new worker got: every one of them reached bob.
  t.equal(aRtp.stats.packets, c.bob.received.length, 'counters carried over from before the restart');
  t.equal(aRtp.endpoint?.port, c.alice.port, 'learned endpoint carried over');
  await expectEngine(t, relay, 'phoenix', { handshakes: false, workersOnly: true });
});

t.test('statistics report packet rates per second', async (t) => {
  const relay = new Relay({ ...(await mediaPorts(50)), threads: 1 });
  t.teardown(() => relay.close());
  const c = await twoPartyCall(relay, 'rate');
  t.teardown(() => [c.alice, c.bob].forEach((p) => p.close()));
  // 100 pps for ~2.5 s: at least one full sweep interval sees the steady rate.
  for (let i = 0; i < 250; i++) {
    await c.alice.send(rtpPacket(i), c.toAlice, '127.0.0.1');
    await sleep(10);
  }
  const stats = await relay.statistics();
  t.ok(stats.packetRateIn > 40 && stats.packetRateIn < 200, `packetRateIn ${stats.packetRateIn} near the 100 pps sent`);
  t.ok(stats.packetRateOut > 40 && stats.packetRateOut < 200, `packetRateOut ${stats.packetRateOut}`);
  await expectEngine(t, relay, 'rate', { handshakes: false });
});

t.test('the engine is the native addon (with workers beside it for SRTP) when built, TypeScript workers with RTPBRIDGE_NATIVE=0', async (t) => {
  const relay = new Relay({ ...(await mediaPorts(50)), threads: 1 });
  t.teardown(() => relay.close());
  const expected = nativeInUse() ? 'native+workers' : 'workers';
  // Under RTPBRIDGE_TEST_REQUIRE_ALL=1 (.ci/run) the addon must have been built: a silent fallback would
  // leave the native path untested.
  t.equal(relay.forwarding.engine, expected);
});
