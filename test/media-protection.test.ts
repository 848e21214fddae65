/**
 * Media ports against third parties, on both engines: a silent callee's port cannot be hijacked for
 * good, nothing is forwarded before the callee has signalled, strangers are rate-limited before any
 * work, the relay never reflects a stranger's packets back to it, and --strict-source applies to
 * every call.
 */
import t, { type Test } from 'tap';
import type { RelayOptions } from '../src/config/options.js';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone, rtpPacket, sleep } from './helpers/media.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

/** A call caller <-> callee; `toCallee`: where the caller sends, `toCaller`: where the callee sends. */
async function call(t: Test, callId: string, options: Partial<RelayOptions> = {}, answer = true) {
  const fixture = await startRelay(t, options);
  const [caller, callee, attacker] = await Promise.all([Phone.open(), Phone.open(), Phone.open()]);
  t.teardown(() => [caller, callee, attacker].forEach((p) => p.close()));
  const offer = await fixture.ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: phoneSdp({ address: '127.0.0.1', port: caller.port }) });
  const toCaller = relayEndpoints(String(offer.sdp))[0]!.port;
  let toCallee = -1;
  if (answer) {
    const reply = await fixture.ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: phoneSdp({ address: '127.0.0.1', port: callee.port }) });
    toCallee = relayEndpoints(String(reply.sdp))[0]!.port;
  }
  return { ...fixture, caller, callee, attacker, toCaller, toCallee };
}

t.test('a silent callee: a third party that speaks first to its port loses the media as soon as the callee speaks', async (t) => {
  for (const strict of [false, true]) {
    const c = await call(t, `hijack-${strict}`, { endpointLearning: 'delayed', ...(strict ? { strictSource: true } : {}) });
    // The attacker sends to the callee-facing port before the callee says anything, and keeps at it.
    await c.attacker.send(rtpPacket(1, { ssrc: 0xbad }), c.toCaller, '127.0.0.1');
    await sleep(30);
    for (let i = 0; i < 5; i++) await c.caller.send(rtpPacket(10 + i), c.toCallee, '127.0.0.1');
    await sleep(50);
    const stolenBefore = c.attacker.received.length;
    t.comment(`${strict ? 'strict' : 'default'}: while the callee was silent the attacker got ${stolenBefore} of 5 caller packets (learning, as rtpengine's)`);
    // The callee starts to talk, from the address its SDP named: it takes its media back for good.
    const mark = c.caller.received.length;
    await c.callee.send(rtpPacket(100), c.toCaller, '127.0.0.1');
    await c.caller.waitFor(mark + 1);
    for (let i = 0; i < 20; i++) {
      await c.attacker.send(rtpPacket(2 + i, { ssrc: 0xbad }), c.toCaller, '127.0.0.1');
      await c.caller.send(rtpPacket(20 + i), c.toCallee, '127.0.0.1');
    }
    await c.callee.waitFor(20, 2000);
    await sleep(50);
    t.equal(c.attacker.received.length, stolenBefore, `${strict ? 'strict' : 'default'}: once the callee spoke, no caller packet went to the attacker`);
    t.ok(c.callee.received.length >= 20, 'the callee hears the caller');
    const injected = c.caller.received.slice(mark).filter((r) => r.data.readUInt32BE(8) === 0xbad).length;
    if (strict) t.equal(injected, 0, "strict-source drops the attacker's packets once the callee spoke");
    else t.ok(injected > 0, `without strict-source they still reach the caller (${injected}), as with rtpengine`);
    await expectEngine(t, c.relay, `hijack-${strict}`, { handshakes: false });
  }
});

t.test('before the callee answers, nothing sent to its port is forwarded: a caller cannot aim the relay at a third party', async (t) => {
  const fixture = await startRelay(t);
  const [victim, attacker] = await Promise.all([Phone.open(), Phone.open()]);
  t.teardown(() => [victim, attacker].forEach((p) => p.close()));
  // The "caller" names the victim as its media address.
  const offer = await fixture.ng.request({ command: 'offer', 'call-id': 'aim', 'from-tag': 'caller', sdp: phoneSdp({ address: '127.0.0.1', port: victim.port }) });
  const calleeFacing = relayEndpoints(String(offer.sdp))[0]!.port;
  const before = (await fixture.relay.statistics()).dropped.noDestination;
  for (let i = 0; i < 50; i++) await attacker.send(rtpPacket(i, { payloadSize: 1000 }), calleeFacing, '127.0.0.1');
  await sleep(100);
  t.equal(victim.received.length, 0, 'the victim got nothing');
  t.equal((await fixture.relay.statistics()).dropped.noDestination - before, 50, 'every packet dropped and counted');
  await expectEngine(t, fixture.relay, 'aim', { handshakes: false });
});

t.test('a stranger flooding a confirmed call is rate-limited before any work, gets nothing back, and the call goes on', async (t) => {
  const c = await call(t, 'flood', { endpointLearning: 'immediate' });
  await c.caller.send(rtpPacket(1), c.toCallee, '127.0.0.1');
  await c.callee.send(rtpPacket(1), c.toCaller, '127.0.0.1');
  await c.callee.waitFor(1);
  await c.caller.waitFor(1);
  const before = await c.relay.statistics();
  const FLOOD = 1000;
  let sentBytes = 0;
  const started = performance.now();
  for (let i = 0; i < FLOOD; i++) {
    const junk = rtpPacket(i, { ssrc: 0xf100d, payloadSize: 200 });
    sentBytes += junk.length;
    void c.attacker.send(junk, c.toCallee, '127.0.0.1');
    if (i % 100 === 99) await sleep(1);
  }
  for (let i = 0; i < 10; i++) await c.caller.send(rtpPacket(100 + i), c.toCallee, '127.0.0.1');
  await c.callee.waitFor(11, 2000);
  await sleep(100);
  const after = await c.relay.statistics();
  const seconds = (performance.now() - started) / 1000;
  const limited = after.dropped.rateLimited - before.dropped.rateLimited;
  // Without strict-source what passes the bucket is injected, so the callee's count of flood packets is
  // what got past it. Every flood packet was handled between `started` and the last statistics read,
  // so the bucket (100 at once, then 100/s) can have let through at most this many, however slow the
  // box. The rest of the flood the kernel may have dropped before the relay read it (a full buffer).
  const injected = c.callee.received.filter((r) => r.data.readUInt32BE(8) === 0xf100d).length;
  const allowed = Math.floor(100 + 100 * seconds) + 1;
  t.comment(`${FLOOD} stranger packets in ${seconds.toFixed(2)} s: ${limited} rate-limited, ${injected} injected, ${FLOOD - limited - injected} dropped before the relay read them`);
  t.ok(injected <= allowed, `no more of the flood reached SRTP or learning than the bucket allows (${injected}, at most ${allowed})`);
  t.ok(limited > 0 && limited + injected <= FLOOD, 'the rest that the relay read was rate-limited');
  t.equal(c.attacker.received.length, 0, `bytes sent to the stranger per byte it sent: 0 / ${sentBytes}`);
  t.ok(c.callee.received.filter((r) => r.data.readUInt32BE(8) !== 0xf100d).length >= 11, "the caller's media still arrives");
});

t.test('--strict-source for every call: a stranger is dropped after learning without any per-call flag', async (t) => {
  const c = await call(t, 'strict', { endpointLearning: 'immediate', strictSource: true });
  await c.caller.send(rtpPacket(1), c.toCallee, '127.0.0.1');
  await c.callee.waitFor(1);
  const before = (await c.relay.statistics()).dropped.unknownSource;
  await c.attacker.send(rtpPacket(2, { ssrc: 0xbad }), c.toCallee, '127.0.0.1');
  await c.caller.send(rtpPacket(3), c.toCallee, '127.0.0.1');
  await c.callee.waitFor(2);
  t.same(c.callee.received.map((r) => r.data.readUInt16BE(2)), [1, 3], 'only the caller got through');
  t.equal((await c.relay.statistics()).dropped.unknownSource - before, 1, 'the stranger counted as unknownSource');
});
