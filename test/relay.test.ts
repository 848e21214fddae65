/**
 * Relay-level tests on an in-memory data plane: SDP in, SDP out, and exactly what the control plane
 * told the data plane, per feature. No sockets, so they are fast and say precisely which part broke.
 */
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { RelayError } from '../src/errors.js';
import { Relay } from '../src/relay.js';
import type { RelayOptions } from '../src/config/options.js';
import { MemoryDataPlane } from './helpers/memory-dataplane.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

function relayOn(t: Test, options: Partial<RelayOptions> = {}): { relay: Relay; dp: MemoryDataPlane } {
  const dp = new MemoryDataPlane();
  const relay = new Relay({ portMin: 40000, portMax: 40099, ...options }, { dataPlane: dp, logger: pino({ level: 'silent' }) });
  t.teardown(() => relay.close());
  return { relay, dp };
}

const caller = phoneSdp({ address: '192.0.2.10', port: 4000 });
const callee = phoneSdp({ address: '198.51.100.20', port: 5000 });

async function plainCall(relay: Relay, callId = 'c1'): Promise<{ toCallee: string; toCaller: string }> {
  const offer = await relay.offer({ callId, fromTag: 'a', sdp: caller });
  const answer = await relay.answer({ callId, fromTag: 'a', toTag: 'b', sdp: callee });
  return { toCallee: offer.sdp, toCaller: answer.sdp };
}

t.test('a plain call: each side sends to the other, media addressed as the SDP says, on the fast shard', async (t) => {
  const { relay, dp } = relayOn(t);
  const { toCallee, toCaller } = await plainCall(relay);
  const [calleeFacing] = relayEndpoints(toCallee);
  const [callerFacing] = relayEndpoints(toCaller);
  const [aId, a] = dp.sideAt(callerFacing!.port);
  const [bId, b] = dp.sideAt(calleeFacing!.port);
  t.same(a.config!.sinks, [bId], "the caller's media goes to the callee's side");
  t.same(b.config!.sinks, [aId], 'and back');
  t.same(a.config!.rtp, { address: '192.0.2.10', port: 4000 });
  t.same(b.config!.rtcp, { address: '198.51.100.20', port: 5001 });
  t.equal(a.shard, 0, 'a call needing no handshakes goes on the addon');
  t.equal(a.config!.srtp, null);
  t.equal((await relay.query({ callId: 'c1' })).engine, 'native');
});

t.test('events fire after the commit; a listener that throws is logged and breaks nothing', async (t) => {
  const { relay, dp } = relayOn(t);
  const seen: string[] = [];
  relay.on('call:created', () => {
    throw new Error('listener bug');
  });
  relay.on('call:created', ({ callId }) => {
    seen.push(callId);
    t.ok([...dp.sides.values()].every((s) => s.config !== undefined), 'the data plane was configured before the event');
  });
  relay.on('call:created', async () => {
    throw new Error('async listener bug');
  });
  const offer = await relay.offer({ callId: 'c2', fromTag: 'a', sdp: caller });
  t.match(offer.sdp, /m=audio 400\d\d RTP\/AVP/, 'the offer still succeeds');
  t.same(seen, ['c2'], 'listeners after the throwing one still run');
  t.same(relay.list(), ['c2'], 'and the call is kept');
});

t.test('learned endpoints are committed and announced with the participant and m= line', async (t) => {
  const { relay, dp } = relayOn(t);
  const { toCaller } = await plainCall(relay, 'c3');
  const [aId] = dp.sideAt(relayEndpoints(toCaller)[0]!.port);
  const learned = new Promise((resolve) => relay.once('stream:learned', resolve));
  dp.learn(aId, 'RTP', { address: '203.0.113.7', port: 6000 });
  t.same(await learned, { callId: 'c3', tag: 'a', mediaIndex: 0, kind: 'RTP', endpoint: { family: 'IPv4', address: '203.0.113.7', port: 6000 } });
});

t.test('SDES: the offer carries the relay keys, the answer gives both sides their key pairs', async (t) => {
  const { relay, dp } = relayOn(t);
  // DTLS off: a secure offer otherwise carries DTLS too, and would go where handshakes run.
  const offer = await relay.offer({ callId: 'c4', fromTag: 'a', sdp: caller, transportProtocol: 'RTP/SAVP', dtls: 'off' });
  t.notMatch(offer.sdp, /a=fingerprint/);
  t.match(offer.sdp, /m=audio \d+ RTP\/SAVP 0 8 101/);
  const line = /a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 inline:(\S+)/.exec(offer.sdp)!;
  t.ok(line, 'AES_CM_128_HMAC_SHA1_80 is offered');
  const key = Buffer.alloc(30, 7).toString('base64');
  const answered = phoneSdp({ address: '198.51.100.20', port: 5000, protocol: 'RTP/SAVP', extra: [`a=crypto:${line[1]} AES_CM_128_HMAC_SHA1_80 inline:${key}`] });
  const answer = await relay.answer({ callId: 'c4', fromTag: 'a', toTag: 'b', sdp: answered });
  t.match(answer.sdp, /m=audio \d+ RTP\/AVP /, 'the plain caller is answered plain');
  const [, b] = dp.sideAt(relayEndpoints(offer.sdp)[0]!.port);
  const [, a] = dp.sideAt(relayEndpoints(answer.sdp)[0]!.port);
  t.same(b.config!.srtp!.decrypt.masterKey, Buffer.alloc(16, 7), "the callee's key decrypts what it sends");
  t.equal(b.config!.srtp!.encrypt.suite, 'AES_CM_128_HMAC_SHA1_80');
  t.equal(a.config!.srtp, null, 'the caller leg stays plain');
  t.equal(b.shard, 0, 'SDES runs on the addon');
});

t.test('rtcp-mux offered by the caller and accepted by the callee', async (t) => {
  const { relay, dp } = relayOn(t);
  const offer = await relay.offer({ callId: 'c5', fromTag: 'a', sdp: phoneSdp({ address: '192.0.2.10', port: 4000, rtcpMux: true }) });
  const [calleeFacing] = relayEndpoints(offer.sdp);
  t.match(offer.sdp, /a=rtcp-mux/);
  t.equal(calleeFacing!.rtcpPort, calleeFacing!.port + 1, 'an offer still names the separate RTCP port');
  const answer = await relay.answer({ callId: 'c5', fromTag: 'a', toTag: 'b', sdp: phoneSdp({ address: '198.51.100.20', port: 5000, rtcpMux: true }) });
  const [callerFacing] = relayEndpoints(answer.sdp);
  t.equal(callerFacing!.rtcpPort, callerFacing!.port, 'the answer muxes');
  t.ok(dp.sideAt(callerFacing!.port)[1].config!.mux && dp.sideAt(calleeFacing!.port)[1].config!.mux, 'both sides mux');
});

t.test('ICE and DTLS towards a WebRTC callee: the call goes on the shard that runs handshakes', async (t) => {
  const { relay, dp } = relayOn(t);
  const offer = await relay.offer({ callId: 'c6', fromTag: 'a', sdp: caller, ice: 'force', transportProtocol: 'UDP/TLS/RTP/SAVPF' });
  t.match(offer.sdp, /\r\na=ice-lite\r\n/);
  t.match(offer.sdp, /a=setup:actpass\r\na=fingerprint:sha-256 /);
  const [, b] = dp.sideAt(relayEndpoints(offer.sdp)[0]!.port);
  t.equal(b.shard, 1);
  t.same(b.config!.dtls, { role: 'server', fingerprint: null }, 'ready for a callee that starts the handshake early');
  t.match(b.config!.ice, { ufrag: /^\S{8}$/, pwd: /^\S{24}$/ });
});

t.test('a re-offer that adds DTLS moves the call to the handshake shard on the same ports, state restored', async (t) => {
  const { relay, dp } = relayOn(t);
  const { toCallee, toCaller } = await plainCall(relay, 'c7');
  const calleePort = relayEndpoints(toCallee)[0]!.port;
  const callerPort = relayEndpoints(toCaller)[0]!.port;
  const [aId, a] = dp.sideAt(callerPort);
  const learned = { packets: 5, bytes: 860, errors: 0, lastPacketMs: 1, endpoint: { address: '203.0.113.7', port: 6000 }, confirmed: true };
  a.state = { rtp: learned, rtcp: { ...learned, packets: 0 } };
  dp.log.length = 0;
  const reoffer = await relay.offer({ callId: 'c7', fromTag: 'a', toTag: 'b', sdp: caller, ice: 'force', transportProtocol: 'UDP/TLS/RTP/SAVPF' });
  t.equal(relayEndpoints(reoffer.sdp)[0]!.port, calleePort, 'the callee keeps its port');
  t.equal(dp.sideAt(callerPort)[1].shard, 1, 'both sides moved');
  t.equal(dp.sideAt(calleePort)[1].shard, 1);
  t.same(
    dp.log.filter((o) => o.side === aId).map((o) => o.op).slice(0, 4),
    ['release', 'bind', 'configure', 'restore'],
    'each side: released, bound again, configured as before, then its state given back',
  );
  t.same(dp.sideAt(callerPort)[1].state!.rtp, learned, 'the learned endpoint and counters');
  t.equal((await relay.query({ callId: 'c7' })).engine, 'workers');
});

t.test('a failed first offer frees its ports and announces nothing; a failed re-offer keeps the call', async (t) => {
  const { relay, dp } = relayOn(t);
  let created = 0;
  relay.on('call:created', () => created++);
  const bad = phoneSdp({ address: '192.0.2.10', port: 4000, protocol: 'RTP/SAVP', extra: ['a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short'] });
  await t.rejects(relay.offer({ callId: 'c8', fromTag: 'a', sdp: bad }), { code: 'SRTP_INVALID' });
  t.equal(dp.sides.size, 0, 'no port stays bound');
  t.equal(created, 0);
  t.same(relay.list(), []);
  await plainCall(relay, 'c9');
  await t.rejects(relay.offer({ callId: 'c9', fromTag: 'a', toTag: 'b', sdp: bad }), { code: 'SRTP_INVALID' });
  t.same(relay.list(), ['c9']);
  t.equal(dp.sides.size, 2);
});

t.test('delete: at once frees the ports and announces the end; with a delay keeps relaying', async (t) => {
  const { relay, dp } = relayOn(t);
  await plainCall(relay, 'c10');
  const ended = new Promise((resolve) => relay.once('call:deleted', resolve));
  const result = await relay.delete({ callId: 'c10', deleteDelay: 0 });
  t.equal(result.call?.callId, 'c10');
  t.same(await ended, { callId: 'c10', reason: 'delete' });
  t.equal(dp.sides.size, 0);
  await plainCall(relay, 'c11');
  await relay.delete({ callId: 'c11', deleteDelay: 30 });
  t.same(relay.list(), ['c11'], 'a delayed delete keeps the call');
  t.equal(dp.sides.size, 2);
  t.match(await relay.statistics(), { managedSessions: 2, regularTerminatedSessions: 1, currentSessions: 1 });
});

const iceSdp = (port: number, address: string): string =>
  phoneSdp({ address, port, protocol: 'RTP/AVP', extra: ['a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdef012345', `a=candidate:1 1 UDP 2130706431 192.0.2.30 ${port === 9 ? 4000 : port} typ host`] });

t.test("an ICE agent's 0.0.0.0 and port 9 are placeholders, not hold: the recipient gets the relay address", async (t) => {
  const { relay } = relayOn(t);
  const offer = await relay.offer({ callId: 'c12', fromTag: 'a', sdp: iceSdp(9, '0.0.0.0'), ice: 'remove' });
  t.same(relayEndpoints(offer.sdp)[0]!.address, '127.0.0.1');
  const hold = await relay.offer({ callId: 'c13', fromTag: 'a', sdp: phoneSdp({ address: '0.0.0.0', port: 4000 }) });
  t.same(relayEndpoints(hold.sdp)[0]!.address, '0.0.0.0', 'without ICE a zero address is still passed on as hold');
});

t.test('an answer with ICE to an offerer that did not offer ICE brings it none', async (t) => {
  const { relay } = relayOn(t);
  await relay.offer({ callId: 'c14', fromTag: 'a', sdp: caller });
  const answer = await relay.answer({ callId: 'c14', fromTag: 'a', toTag: 'b', sdp: iceSdp(5000, '198.51.100.20') });
  t.notMatch(answer.sdp, /a=(ice-|candidate)/);
  const forced = await relay.answer({ callId: 'c14', fromTag: 'a', toTag: 'b', sdp: iceSdp(5000, '198.51.100.20'), ice: 'force' });
  t.match(forced.sdp, /a=ice-ufrag:/, 'unless ICE=force says so');
});

t.test('load limits: --max-sessions and drain refuse new calls, never calls already up', async (t) => {
  const { relay } = relayOn(t, { maxSessions: 1 });
  await plainCall(relay, 'l1');
  await t.rejects(relay.offer({ callId: 'l2', fromTag: 'a', sdp: caller }), { code: 'LOAD_LIMIT', message: 'Parallel session limit reached' });
  const reoffer = await relay.offer({ callId: 'l1', fromTag: 'a', toTag: 'b', sdp: caller });
  t.match(reoffer.sdp, /m=audio/, 'a re-offer of a call already up is no new call');
  let drained = 0;
  relay.on('drained', () => drained++);
  relay.drain();
  t.equal(drained, 0, 'not drained while a call is up');
  await relay.delete({ callId: 'l1', deleteDelay: 0 });
  t.equal(drained, 1, 'drained once the last call is gone');
  await t.rejects(relay.offer({ callId: 'l3', fromTag: 'a', sdp: caller }), { code: 'LOAD_LIMIT', message: 'Draining: no new calls' });
  relay.resume();
  t.match((await relay.offer({ callId: 'l3', fromTag: 'a', sdp: caller })).sdp, /m=audio/, 'resume takes calls again');
});

t.test('a change the data plane refuses fails the request; a first offer leaves nothing behind', async (t) => {
  const { relay, dp } = relayOn(t);
  let created = 0;
  relay.on('call:created', () => created++);
  const configure = dp.configure.bind(dp);
  dp.configure = () => {
    throw new RelayError('SRTP_INVALID', 'the data plane refuses these keys');
  };
  await t.rejects(relay.offer({ callId: 'r1', fromTag: 'a', sdp: caller }), { code: 'SRTP_INVALID' });
  t.same(relay.list(), [], 'no call');
  t.equal(dp.sides.size, 0, 'no port bound');
  t.equal(created, 0, 'nothing announced');
  dp.configure = configure;
  await plainCall(relay, 'r1');
  t.equal(created, 1, 'the same call can be set up afterwards');
});

t.test('a move that finds a port taken goes back where the call was, and the request fails', async (t) => {
  const { relay, dp } = relayOn(t);
  const { toCallee } = await plainCall(relay, 'm1');
  const calleePort = relayEndpoints(toCallee)[0]!.port;
  const bind = dp.bind.bind(dp);
  dp.bind = async (side, shard, local, family, rtpPort, alias) => (shard === 1 && rtpPort === calleePort ? 'in-use' : bind(side, shard, local, family, rtpPort, alias));
  await t.rejects(relay.offer({ callId: 'm1', fromTag: 'a', toTag: 'b', sdp: caller, ice: 'force', transportProtocol: 'UDP/TLS/RTP/SAVPF' }), { code: 'NO_PORTS' });
  t.same(
    [...dp.sides.values()].map((s) => s.shard),
    [0, 0],
    'both sides are bound on the addon again',
  );
  t.equal(dp.sideAt(calleePort)[1].config?.sinks.length, 1, 'and configured');
  t.equal((await relay.query({ callId: 'm1' })).engine, 'native');
});

t.test('--max-cpu: with the machine busy beyond the limit, a new call is refused', async (t) => {
  const { relay } = relayOn(t, { maxCpu: 0 });
  // Busy for more than one sweep (1 s), so the measured CPU use is above zero.
  const until = Date.now() + 1300;
  while (Date.now() < until) Math.sqrt(Math.random());
  await new Promise((resolve) => setTimeout(resolve, 50));
  await t.rejects(relay.offer({ callId: 'cpu', fromTag: 'a', sdp: caller }), { code: 'LOAD_LIMIT', message: 'CPU usage limit reached' });
});
