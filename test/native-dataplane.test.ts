/** The native addon's data plane driven directly, against real UDP sockets. */
import t, { type Test } from 'tap';
import { RelayError } from '../src/errors.js';
import { loadNativeDataPlane } from '../src/dataplane/native.js';
import { learningPolicy } from '../src/dataplane/policy.js';
import type { DataPlane, LearnedEvent, SideConfig, SideId } from '../src/dataplane/types.js';
import type { EndpointLearning } from '../src/config/options.js';
import { randomBytes } from 'node:crypto';
import { SrtpContext } from '../src/srtp/context.js';
import type { SrtpKeyMaterial } from '../src/srtp/keys.js';
import { SRTP_SUITES } from '../src/srtp/suites.js';
import { Phone, canBind, rtcpPacket, rtpPacket, sleep } from './helpers/media.js';
import { mediaPorts } from './helpers/ports.js';
import { requireTool } from './helpers/tools.js';

/** The tests bind pairs at fixed offsets from here, up to about BASE + 290 (the SRTP suite loop). */
const { portMin: BASE } = await mediaPorts(400);
const LOCAL = '127.0.0.1';
let nextSide = 1;

// These tests are about the addon itself, also in the suite's TypeScript-workers pass (each test file
// is its own process, so this changes nothing for the others).
delete process.env.RTPBRIDGE_NATIVE;
const probe = loadNativeDataPlane(1);
// .ci/run builds the addon; a missing one there is a broken build, elsewhere just a machine without a compiler.
if (requireTool(t, 'the native addon (build/Release/rtpbridge_native.node)', probe !== undefined, 'run `npx node-gyp rebuild`')) {
  void probe!.close();
  run();
}


interface Leg {
  id: SideId;
  rtpPort: number;
  phone: Phone;
}

function config(sink: SideId | null, ep: { rtp?: number | null; rtcp?: number | null; address?: string }, opts: Partial<{ mode: EndpointLearning; strict: boolean; asymmetric: boolean; mux: boolean; demux: boolean }> = {}): SideConfig {
  const address = ep.address ?? LOCAL;
  return {
    sinks: sink === null ? [] : [sink],
    mux: opts.mux ?? false,
    demux: opts.demux ?? opts.mux ?? false,
    policy: learningPolicy(opts.mode ?? 'off', opts.asymmetric ?? false, opts.strict ?? false),
    rtp: ep.rtp ? { address, port: ep.rtp } : null,
    rtcp: ep.rtcp ? { address, port: ep.rtcp } : null,
    srtp: null,
    ice: null,
    dtls: null,
    dtmf: [],
    blockDtmf: false,
    detectDtmf: false,
    transcode: [],
    inject: null,
    codecs: [],
    dtmfSecurity: null,
  };
}

function open(threads: number, t: Test): DataPlane {
  const dp = loadNativeDataPlane(threads)!;
  t.teardown(() => dp.close());
  return dp;
}

/** Two bound sides that are each other's peer, each with a phone advertised as its RTP endpoint. */
async function call(t: Test, dp: DataPlane, port: number, opts: Parameters<typeof config>[2] = {}, shard = 0, address = LOCAL): Promise<[Leg, Leg]> {
  const family = address.includes(':') ? 'IP6' : 'IP4';
  const legs: Leg[] = [];
  for (const rtpPort of [port, port + 2]) {
    const id = nextSide++;
    t.equal(await dp.bind(id, shard, address, family, rtpPort), 'bound');
    const phone = await Phone.open(address);
    t.teardown(() => phone.close());
    legs.push({ id, rtpPort, phone });
  }
  const [a, b] = legs as [Leg, Leg];
  dp.configure(a.id, config(b.id, { rtp: a.phone.port, address }, opts));
  dp.configure(b.id, config(a.id, { rtp: b.phone.port, address }, opts));
  return [a, b];
}

async function stream(dp: DataPlane, id: SideId, kind: 'rtp' | 'rtcp' = 'rtp') {
  return (await dp.read([id])).get(id)![kind];
}

function learnedEvents(dp: DataPlane): LearnedEvent[] {
  const events: LearnedEvent[] = [];
  dp.onLearned((e) => events.push(e));
  return events;
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function run(): void {
  t.test('bind reports ports in use and rejects unusable addresses', async (t) => {
    const dp = open(1, t);
    t.equal(dp.engine, 'native');
    t.equal(dp.shards, 1);
    t.equal(await dp.bind(nextSide++, 0, LOCAL, 'IP4', BASE + 2), 'bound');
    t.equal(await dp.bind(nextSide++, 0, LOCAL, 'IP4', BASE + 2), 'in-use');
    t.equal(await dp.bind(nextSide++, 0, LOCAL, 'IP4', BASE + 3), 'in-use', 'RTP port taken by the RTCP socket');
    t.equal(await dp.bind(nextSide++, 0, LOCAL, 'IP4', BASE + 1), 'in-use', 'RTCP port taken by the RTP socket');
    t.ok(await canBind(BASE + 1), 'a failed pair leaves its free port free');
    const err = await dp.bind(nextSide++, 0, '192.0.2.1', 'IP4', BASE + 4).catch((e: unknown) => e);
    t.ok(err instanceof RelayError && err.code === 'NO_INTERFACE', 'an address not on this host is NO_INTERFACE');
    await t.rejects(dp.bind(nextSide++, 0, '::1', 'IP4', BASE + 4), { code: 'NO_INTERFACE' }, 'family mismatch');
  });

  t.test('RTP and RTCP flow both ways through the peer side, RTCP over mux too', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 10);
    await a.phone.send(rtpPacket(1), a.rtpPort, LOCAL);
    const [toBob] = await b.phone.waitFor(1);
    t.equal(toBob!.from.port, b.rtpPort, 'leaves through the peer side’s RTP socket');
    t.equal(toBob!.data.readUInt16BE(2), 1);
    await b.phone.send(rtpPacket(2), b.rtpPort, LOCAL);
    await a.phone.waitFor(1);

    // RTCP on the RTCP port goes to the peer's RTCP endpoint, from its RTCP socket.
    const [aRtcp, bRtcp] = [await Phone.open(), await Phone.open()];
    t.teardown(() => [aRtcp, bRtcp].forEach((p) => p.close()));
    dp.configure(a.id, config(b.id, { rtp: a.phone.port, rtcp: aRtcp.port }));
    dp.configure(b.id, config(a.id, { rtp: b.phone.port, rtcp: bRtcp.port }));
    await a.phone.send(rtcpPacket(), a.rtpPort + 1, LOCAL);
    const [rr] = await bRtcp.waitFor(1);
    t.equal(rr!.from.port, b.rtpPort + 1);
    // An RTCP-typed packet on the RTP port of a participant that neither muxes nor was offered mux is
    // taken as RTP (RFC 5761 demultiplexing is for mux only); 8 bytes are too short for RTP.
    await a.phone.send(rtcpPacket(), a.rtpPort, LOCAL);
    await sleep(50);
    t.equal(bRtcp.received.length, 1, 'not passed on as RTCP');
    t.match((await dp.read([a.id])).get(a.id)!.rtp, { errors: 1 }, 'but dropped as malformed RTP');
    // Once a offers mux, RTCP on its RTP port is demuxed by packet type.
    dp.configure(a.id, config(b.id, { rtp: a.phone.port, rtcp: aRtcp.port }, { demux: true }));
    await a.phone.send(rtcpPacket(), a.rtpPort, LOCAL);
    await bRtcp.waitFor(2);

    // The peer muxes: RTCP leaves through its RTP socket to its RTP endpoint.
    dp.configure(b.id, config(a.id, { rtp: b.phone.port, rtcp: bRtcp.port }, { mux: true }));
    await a.phone.send(rtcpPacket(), a.rtpPort + 1, LOCAL);
    await b.phone.waitFor(2);
    t.equal(b.phone.received[1]!.from.port, b.rtpPort);
    t.equal(b.phone.received[1]!.data[1], 201);

    const aState = (await dp.read([a.id])).get(a.id)!;
    t.match(aState.rtp, { packets: 1, bytes: 172, errors: 1, endpoint: { address: LOCAL, port: a.phone.port } });
    t.match(aState.rtcp, { packets: 3, bytes: 24, errors: 0 });
    t.ok(aState.rtp.lastPacketMs > Date.now() - 5000 && aState.rtp.lastPacketMs <= Date.now());
  });

  t.test('immediate learning follows the source at once and tells the control plane', async (t) => {
    const dp = open(1, t);
    const events = learnedEvents(dp);
    const [a, b] = await call(t, dp, BASE + 20, { mode: 'immediate' });
    const moved = await Phone.open();
    t.teardown(() => moved.close());
    await moved.send(rtpPacket(1), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    await until(() => events.length === 1, 'learned event');
    t.same(events[0], { side: a.id, kind: 'RTP', endpoint: { address: LOCAL, port: moved.port } });
    t.match(await stream(dp, a.id), { endpoint: { address: LOCAL, port: moved.port }, confirmed: true });
    await b.phone.send(rtpPacket(2), b.rtpPort, LOCAL);
    await moved.waitFor(1);
    t.equal(a.phone.received.length, 0, 'nothing to the advertised address any more');
  });

  t.test('delayed learning moves with each new source and commits after 3 s; the SDP address still wins later', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 30, { mode: 'delayed' });
    // Two sources the SDP does not name (a NAT's, and another's): learning follows them for 3 s.
    const [nat, other] = [await Phone.open(), await Phone.open()];
    t.teardown(() => [nat, other].forEach((p) => p.close()));
    await nat.send(rtpPacket(1), a.rtpPort, LOCAL);
    await other.send(rtpPacket(2), a.rtpPort, LOCAL);
    await b.phone.waitFor(2);
    t.match(await stream(dp, a.id), { endpoint: { port: other.port }, confirmed: false });
    await sleep(3050);
    await nat.send(rtpPacket(3), a.rtpPort, LOCAL);
    await b.phone.waitFor(3);
    t.match(await stream(dp, a.id), { endpoint: { port: nat.port }, confirmed: true });
    await other.send(rtpPacket(4), a.rtpPort, LOCAL);
    await b.phone.waitFor(4);
    t.match(await stream(dp, a.id), { endpoint: { port: nat.port }, confirmed: true }, 'committed: no more moves');
    // The participant's own SDP address is no stranger: it takes the endpoint even now.
    await a.phone.send(rtpPacket(5), a.rtpPort, LOCAL);
    await b.phone.waitFor(5);
    t.match(await stream(dp, a.id), { endpoint: { port: a.phone.port }, confirmed: true }, 'the SDP address wins over a committed stranger');
  });

  t.test('heuristic learning prefers the source matching the SDP', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 40, { mode: 'heuristic' });
    const other = await Phone.open();
    t.teardown(() => other.close());
    await other.send(rtpPacket(1), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    t.match(await stream(dp, a.id), { endpoint: { port: other.port }, confirmed: false }, 'same address beats nothing');
    await a.phone.send(rtpPacket(2), a.rtpPort, LOCAL);
    await other.send(rtpPacket(3), a.rtpPort, LOCAL);
    await b.phone.waitFor(3);
    t.match(await stream(dp, a.id), { endpoint: { port: a.phone.port }, confirmed: true }, 'exact match is kept, and committed at once');
  });

  t.test('learning off keeps the SDP address; strict source drops strangers', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 50, { mode: 'off' });
    const other = await Phone.open();
    t.teardown(() => other.close());
    await other.send(rtpPacket(1), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    t.match(await stream(dp, a.id), { endpoint: { port: a.phone.port }, packets: 1, errors: 0 });

    dp.configure(a.id, config(b.id, { rtp: a.phone.port }, { mode: 'off', strict: true }));
    await other.send(rtpPacket(2), a.rtpPort, LOCAL);
    await a.phone.send(rtpPacket(3), a.rtpPort, LOCAL);
    await b.phone.waitFor(2);
    t.equal(b.phone.received[1]!.data.readUInt16BE(2), 3, 'only the advertised source got through');
    t.match(await stream(dp, a.id), { packets: 2, errors: 1 });
    t.match((await dp.counters()).dropped, { unknownSource: 1 });
  });

  t.test('strict source after immediate learning', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 60, { mode: 'immediate', strict: true });
    const other = await Phone.open();
    t.teardown(() => other.close());
    await a.phone.send(rtpPacket(1), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    await other.send(rtpPacket(2), a.rtpPort, LOCAL);
    await a.phone.send(rtpPacket(3), a.rtpPort, LOCAL);
    await b.phone.waitFor(2);
    t.same(
      b.phone.received.map((r) => r.data.readUInt16BE(2)),
      [1, 3],
    );
    t.match(await stream(dp, a.id), { packets: 2, errors: 1, endpoint: { port: a.phone.port } });
  });

  t.test('asymmetric sides never learn; RTCP learns on its own', async (t) => {
    const dp = open(1, t);
    const events = learnedEvents(dp);
    const [a, b] = await call(t, dp, BASE + 160, { mode: 'immediate', asymmetric: true });
    const other = await Phone.open();
    t.teardown(() => other.close());
    await other.send(rtpPacket(1), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    t.match(await stream(dp, a.id), { endpoint: { port: a.phone.port }, confirmed: false, packets: 1 });

    dp.configure(a.id, config(b.id, { rtp: a.phone.port }, { mode: 'immediate' }));
    await other.send(rtcpPacket(), a.rtpPort + 1, LOCAL);
    await until(() => events.length === 1, 'learned event');
    t.same(events, [{ side: a.id, kind: 'RTCP', endpoint: { address: LOCAL, port: other.port } }]);
    t.match(await stream(dp, a.id), { endpoint: { port: a.phone.port } }, 'RTP endpoint untouched');
  });

  t.test('malformed packets are dropped and counted on the stream they arrived for', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 70);
    await a.phone.send(Buffer.from('junk'), a.rtpPort, LOCAL);
    await a.phone.send(rtpPacket(1).subarray(0, 11), a.rtpPort, LOCAL);
    const v1 = rtpPacket(2);
    v1[0] = 0x40;
    await a.phone.send(v1, a.rtpPort, LOCAL);
    await a.phone.send(rtpPacket(3, { payloadSize: 3000 }), a.rtpPort, LOCAL);
    await a.phone.send(rtcpPacket().subarray(0, 7), a.rtpPort + 1, LOCAL);
    await a.phone.send(rtpPacket(4), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    t.equal(b.phone.received[0]!.data.readUInt16BE(2), 4);
    const state = (await dp.read([a.id])).get(a.id)!;
    t.match(state.rtp, { packets: 1, errors: 4 });
    t.match(state.rtcp, { packets: 0, errors: 1 });
    const c = await dp.counters();
    t.equal(c.packetsIn, 6);
    t.equal(c.bytesIn, 4 + 11 + 172 + 3012 + 7 + 172);
    t.equal(c.packetsOut, 1);
    t.equal(c.bytesOut, 172);
    t.same(c.dropped, { malformed: 5, unknownSource: 0, noDestination: 0, sendError: 0, srtp: 0, stun: 0, dtls: 0, rateLimited: 0, dtmfBlocked: 0, undecodable: 0 });
  });

  t.test('read() and counters() are exact right after the packets arrive', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 80);
    // In bursts the receiving phone's default socket buffer (~200 KiB) takes without dropping.
    const N = 2000;
    for (let sent = 0; sent < N; sent += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => a.phone.send(rtpPacket(sent + i), a.rtpPort, LOCAL)));
      await b.phone.waitFor(sent + 100);
    }
    t.match(await stream(dp, a.id), { packets: N, bytes: N * 172, errors: 0 });
    t.match(await dp.counters(), { packetsIn: N, packetsOut: N, bytesIn: N * 172, bytesOut: N * 172 });

    // A side without a peer counts what it receives and drops it for lack of a destination.
    dp.configure(b.id, config(null, { rtp: b.phone.port }));
    await b.phone.send(rtpPacket(1), b.rtpPort, LOCAL);
    await sleep(50);
    t.match(await stream(dp, b.id), { packets: 1 });
    t.match((await dp.counters()).dropped, { noDestination: 1 });
    t.same([...(await dp.read([a.id, 999_999, b.id])).keys()], [a.id, b.id], 'unknown sides are left out');
  });

  t.test('release (asked to wait) frees the ports at once and unlinks the peer', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 90);
    await dp.release(b.id, true);
    t.ok(await canBind(b.rtpPort), 'RTP port free');
    t.ok(await canBind(b.rtpPort + 1), 'RTCP port free');
    t.equal((await dp.read([b.id])).size, 0);
    await a.phone.send(rtpPacket(1), a.rtpPort, LOCAL);
    await sleep(50);
    t.match((await dp.counters()).dropped, { noDestination: 1 });
    // Bound again under the same id, the side links up with the peer that still names it.
    t.equal(await dp.bind(b.id, 0, LOCAL, 'IP4', b.rtpPort), 'bound');
    dp.configure(b.id, config(a.id, { rtp: b.phone.port }));
    await a.phone.send(rtpPacket(2), a.rtpPort, LOCAL);
    const [resumed] = await b.phone.waitFor(1);
    t.equal(resumed!.data.readUInt16BE(2), 2, 'forwarding resumed with the packet sent after the re-bind');
    t.equal(resumed!.from.port, b.rtpPort, 'through the re-bound RTP socket');
  });

  t.test('two shards forward independently', async (t) => {
    const dp = open(2, t);
    const calls = [await call(t, dp, BASE + 100, {}, 0), await call(t, dp, BASE + 110, {}, 1)];
    for (const [a, b] of calls) {
      await a.phone.send(rtpPacket(1), a.rtpPort, LOCAL);
      await b.phone.send(rtpPacket(2), b.rtpPort, LOCAL);
      await b.phone.waitFor(1);
      await a.phone.waitFor(1);
    }
    const ids = calls.flatMap(([a, b]) => [a.id, b.id]);
    const states = await dp.read(ids);
    t.same(
      ids.map((id) => states.get(id)!.rtp.packets),
      [1, 1, 1, 1],
    );
    t.match(await dp.counters(), { packetsIn: 4, packetsOut: 4 });
    await t.rejects(dp.bind(nextSide++, 2, LOCAL, 'IP4', BASE + 120), { code: 'DATAPLANE_FAILED' });
  });

  t.test('IPv6 sides relay', async (t) => {
    const dp = open(1, t);
    const [a, b] = await call(t, dp, BASE + 130, { mode: 'immediate' }, 0, '::1');
    await a.phone.send(rtpPacket(1), a.rtpPort, '::1');
    await b.phone.waitFor(1);
    t.match(await stream(dp, a.id), { endpoint: { address: '::1', port: a.phone.port }, packets: 1 });
  });

  t.test('close() joins the threads, frees the ports and is idempotent', async (t) => {
    const dp = loadNativeDataPlane(2)!;
    const [a, b] = await call(t, dp, BASE + 140);
    await a.phone.send(rtpPacket(1), a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    await dp.close();
    await dp.close();
    t.ok(await canBind(a.rtpPort), 'ports freed');
    t.match(await dp.counters(), { packetsIn: 1, packetsOut: 1 }, 'counters survive close');
    t.equal((await dp.read([a.id])).size, 0);
    await t.rejects(dp.bind(nextSide++, 0, LOCAL, 'IP4', BASE + 150), { code: 'DATAPLANE_FAILED' });
  });

  t.test('SRTP in the addon (OpenSSL) against the TypeScript SrtpContext, every suite, RTP and SRTCP, across a ROC wrap', async (t) => {
    const dp = open(1, t);
    const material = (suite: (typeof SRTP_SUITES)[number], params: Partial<SrtpKeyMaterial> = {}): SrtpKeyMaterial => ({
      suite: suite.name,
      masterKey: randomBytes(suite.keyLength),
      masterSalt: randomBytes(suite.saltLength),
      ...params,
    });
    let port = BASE + 170;
    for (const suite of SRTP_SUITES) {
      for (const params of [{}, { unencryptedSrtcp: true }, ...(suite.cipher === 'aes-gcm' ? [] : [{ unencryptedSrtp: true, unauthenticatedSrtp: true }])]) {
        const label = `${suite.name} ${JSON.stringify(params)}`;
        const [a, b] = await call(t, dp, port);
        port += 4;
        // Leg A speaks SRTP with its phone (its key and the relay's), leg B plain.
        const phoneKey = material(suite, params);
        const relayKey = material(suite, params);
        dp.configure(a.id, { ...config(b.id, { rtp: a.phone.port, rtcp: a.phone.port }), srtp: { decrypt: phoneKey, encrypt: relayKey } });
        dp.configure(b.id, config(a.id, { rtp: b.phone.port, rtcp: b.phone.port }));
        const phoneTx = new SrtpContext(phoneKey);
        const phoneRx = new SrtpContext(relayKey);
        const sent: Buffer[] = [];
        for (const seq of [65534, 65535, 0, 1]) {
          const p = rtpPacket(seq, { ssrc: 0x5eed0001, mark: seq & 0xff });
          sent.push(p);
          await a.phone.send(phoneTx.protectRtp(p) as Buffer, a.rtpPort, LOCAL);
        }
        await a.phone.send(phoneTx.protectRtcp(rtcpPacket(0x5eed0001)), a.rtpPort + 1, LOCAL);
        const atB = await b.phone.waitFor(5);
        t.same(atB.filter((r) => r.data[1] !== 201).map((r) => r.data), sent, `${label}: decrypted across the wrap`);
        t.same(atB.find((r) => r.data[1] === 201)?.data, rtcpPacket(0x5eed0001), `${label}: SRTCP decrypted`);

        const back = rtpPacket(7, { ssrc: 0xb0b00001, mark: 0x33 });
        await b.phone.send(back, b.rtpPort, LOCAL);
        await b.phone.send(rtcpPacket(0xb0b00001), b.rtpPort + 1, LOCAL);
        const atA = await a.phone.waitFor(2);
        const rtp = atA.find((r) => r.data[1] !== 201 && (r.data[1]! & 0x7f) === 0)!.data;
        const rtcp = atA.find((r) => r.data[1] === 201)!.data;
        t.same(phoneRx.unprotectRtp(rtp), back, `${label}: encrypted towards the SRTP phone`);
        t.same(phoneRx.unprotectRtcp(rtcp), rtcpPacket(0xb0b00001), `${label}: SRTCP towards it`);
      }
    }
    // Replays and forged tags are dropped and counted; they never reach the plain side.
    const suite = SRTP_SUITES.find((s) => s.name === 'AES_CM_128_HMAC_SHA1_80')!;
    const [a, b] = await call(t, dp, port);
    const phoneKey = material(suite);
    dp.configure(a.id, { ...config(b.id, { rtp: a.phone.port }), srtp: { decrypt: phoneKey, encrypt: material(suite) } });
    const tx = new SrtpContext(phoneKey);
    const good = tx.protectRtp(rtpPacket(1)) as Buffer;
    const forged = Buffer.from(tx.protectRtp(rtpPacket(2)) as Buffer);
    forged[forged.length - 1]! ^= 1;
    for (const p of [good, good, forged]) await a.phone.send(p, a.rtpPort, LOCAL);
    await b.phone.waitFor(1);
    await sleep(100);
    t.equal(b.phone.received.length, 1, 'only the first, authentic packet is forwarded');
    t.match(await stream(dp, a.id), { packets: 1, errors: 2 });
    t.equal((await dp.counters()).dropped.srtp, 2);
  });

  t.test('RTPBRIDGE_NATIVE=0 selects the TypeScript workers', async (t) => {
    process.env.RTPBRIDGE_NATIVE = '0';
    t.teardown(() => delete process.env.RTPBRIDGE_NATIVE);
    t.equal(loadNativeDataPlane(1), undefined);
  });
}
