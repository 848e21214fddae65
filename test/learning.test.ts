/** Endpoint learning modes with real packets: where media for a NATed participant goes. */
import t, { type Test } from 'tap';
import type { EndpointLearning } from '../src/config/options.js';
import { Relay } from '../src/relay.js';
import { expectEngine } from './helpers/engine.js';
import { Phone, rtpPacket, sleep } from './helpers/media.js';
import { mediaPorts } from './helpers/ports.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

/** Alice's SDP names `alice`; what the relay learns decides whether Bob's media reaches `alice` or `nat`. */
async function call(t: Test, mode: EndpointLearning) {
  const relay = new Relay({ ...(await mediaPorts(50)), endpointLearning: mode });
  const [alice, nat, bob] = await Promise.all([Phone.open(), Phone.open(), Phone.open()]);
  t.teardown(async () => {
    [alice, nat, bob].forEach((p) => p.close());
    await relay.close();
  });
  const offer = await relay.offer({ callId: mode, fromTag: 'A', sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const answer = await relay.answer({ callId: mode, fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  const fromAlice = relayEndpoints(answer.sdp)[0]!.port;
  const toAlice = relayEndpoints(offer.sdp)[0]!.port;
  const stream = async () => (await relay.query({ callId: mode })).tags.find((x) => x.tag === 'A')!.medias[0]!.streams[0]!;
  return { relay, alice, nat, bob, fromAlice, toAlice, stream };
}

t.test('off: media always goes to the SDP address', async (t) => {
  const c = await call(t, 'off');
  await c.nat.send(rtpPacket(1), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(1);
  await c.bob.send(rtpPacket(2), c.toAlice, '127.0.0.1');
  await c.alice.waitFor(1);
  t.equal(c.nat.received.length, 0);
  await expectEngine(t, c.relay, 'off', { handshakes: false });
});

t.test('delayed: follows the source for 3 s, then commits', async (t) => {
  const c = await call(t, 'delayed');
  await c.nat.send(rtpPacket(1), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(1);
  t.equal((await c.stream()).endpoint?.port, c.nat.port, 'learned at once');
  t.notOk((await c.stream()).flags.includes('confirmed'), 'not yet committed');
  await sleep(3100);
  await c.nat.send(rtpPacket(2), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(2);
  t.ok((await c.stream()).flags.includes('confirmed'), 'committed after the window');
  const other = await Phone.open();
  t.teardown(() => other.close());
  await other.send(rtpPacket(3), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(3);
  await sleep(50);
  t.equal((await c.stream()).endpoint?.port, c.nat.port, 'a later source does not move a committed endpoint');
  await c.alice.send(rtpPacket(4), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(4);
  await sleep(50);
  t.equal((await c.stream()).endpoint?.port, c.alice.port, 'but the address the SDP names does');
  await c.bob.send(rtpPacket(4), c.toAlice, '127.0.0.1');
  await c.alice.waitFor(1);
  t.equal(c.nat.received.length, 0, "bob's media goes to alice's own address from then on");
  await expectEngine(t, c.relay, 'delayed', { handshakes: false });
});

t.test('heuristic: a source matching the SDP beats any other', async (t) => {
  const c = await call(t, 'heuristic');
  await c.nat.send(rtpPacket(1), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(1);
  t.equal((await c.stream()).endpoint?.port, c.nat.port, 'any source is better than none');
  await c.alice.send(rtpPacket(2), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(2);
  t.equal((await c.stream()).endpoint?.port, c.alice.port, 'the exact SDP match wins');
  await c.nat.send(rtpPacket(3), c.fromAlice, '127.0.0.1');
  await c.bob.waitFor(3);
  t.equal((await c.stream()).endpoint?.port, c.alice.port, 'and is not displaced by a worse match');
  await expectEngine(t, c.relay, 'heuristic', { handshakes: false });
});

t.test('asymmetric: never learns, forwards from anywhere', async (t) => {
  const relay = new Relay({ ...(await mediaPorts(50)), endpointLearning: 'immediate' });
  const [alice, nat, bob] = await Promise.all([Phone.open(), Phone.open(), Phone.open()]);
  t.teardown(async () => {
    [alice, nat, bob].forEach((p) => p.close());
    await relay.close();
  });
  const offer = await relay.offer({ callId: 'asym', fromTag: 'A', flags: { asymmetric: true }, sdp: phoneSdp({ address: '127.0.0.1', port: alice.port }) });
  const answer = await relay.answer({ callId: 'asym', fromTag: 'A', toTag: 'B', sdp: phoneSdp({ address: '127.0.0.1', port: bob.port }) });
  await nat.send(rtpPacket(1), relayEndpoints(answer.sdp)[0]!.port, '127.0.0.1');
  await bob.waitFor(1);
  await bob.send(rtpPacket(2), relayEndpoints(offer.sdp)[0]!.port, '127.0.0.1');
  await alice.waitFor(1);
  t.equal(nat.received.length, 0, 'media keeps going to the SDP address');
  await expectEngine(t, relay, 'asym', { handshakes: false });
});
