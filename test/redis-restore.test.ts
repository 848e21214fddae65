/**
 * Call state in a real Redis: the daemon is killed with SIGKILL mid-call and started again; its plain
 * and SDES-SRTP calls come back on the same ports and carry media again without new signalling. A
 * stored call that cannot be restored (its port taken, or a value that is not ours) is removed and the
 * others still come back. Without Redis the daemon refuses to start unless --no-redis-required.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { Relay } from '../src/relay.js';
import { opusAddon, opusEncoder } from '../src/codecs/opus.js';
import { DtmfDetector } from '../src/dtmf/detector.js';
import { decodeG711 } from '../src/codecs/g711.js';
import { toneOf } from './helpers/tone.js';
import { SrtpContext } from '../src/srtp/context.js';
import type { SrtpKeyMaterial } from '../src/srtp/keys.js';
import { Phone, rtpPacket, sleep } from './helpers/media.js';
import { NgClient } from './helpers/ng-client.js';
import { mediaPorts } from './helpers/ports.js';
import { redisInstalled, startRedis, type RedisServer } from './helpers/redis.js';
import { receiverReport } from './helpers/rtcp.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';
import { requireTool } from './helpers/tools.js';
import { WebrtcPeer, type RelayIce } from './helpers/webrtc-peer.js';

const BIN = fileURLToPath(new URL('../dist/bin/rtpbridge.js', import.meta.url));
const CTL = fileURLToPath(new URL('../dist/bin/rtpbridge-ctl.js', import.meta.url));
const KEY = 'rtpbridge:call:';

interface Daemon {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts the daemon in the foreground; resolves once it listens (or has exited). */
async function daemon(t: Test, args: string[]): Promise<Daemon> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTPBRIDGE_') || k === 'RTPBRIDGE_NATIVE'));
  const child = spawn(process.execPath, [BIN, '--foreground', '--interface=127.0.0.1', '--log-level=info', ...args], { env, cwd: tmpdir(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
  const deadline = Date.now() + 10_000;
  while (!err.includes('rtpbridge listening') && child.exitCode === null && Date.now() < deadline) await sleep(20);
  return { child, stderr: () => err, exited };
}

async function kill9(d: Daemon): Promise<void> {
  d.child.kill('SIGKILL');
  await d.exited;
}

const key = (): SrtpKeyMaterial => ({ suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: randomBytes(16), masterSalt: randomBytes(14) });

/** Sends from `phone` to `port` until `to` has `count` more packets, at most 50 tries: media flows (again). */
async function flows(from: Pick<Phone, 'send'>, port: number, to: Phone, packet: (i: number) => Buffer): Promise<boolean> {
  const before = to.received.length;
  for (let i = 0; i < 50; i++) {
    await from.send(packet(i), port, '127.0.0.1');
    await sleep(20);
    if (to.received.length > before) return true;
  }
  return false;
}

/** A plain call a <-> b and an SDES call c (plain) <-> d (SRTP) through the relay at `ng`, media flowing. */
async function twoCalls(t: Test, ng: NgClient) {
  const phones = await Promise.all([0, 1, 2, 3].map(() => Phone.open()));
  t.teardown(() => phones.forEach((p) => p.close()));
  const [a, b, c, d] = phones as [Phone, Phone, Phone, Phone];
  const o1 = await ng.request({ command: 'offer', 'call-id': 'plain', 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: a.port }) });
  const a1 = await ng.request({ command: 'answer', 'call-id': 'plain', 'from-tag': 'a', 'to-tag': 'b', sdp: phoneSdp({ address: '127.0.0.1', port: b.port }) });
  const toB = relayEndpoints(String(a1.sdp))[0]!.port;
  const toA = relayEndpoints(String(o1.sdp))[0]!.port;
  // d speaks SRTP with its key; the relay's key towards d comes from the relay's offer.
  const o2 = await ng.request({ command: 'offer', 'call-id': 'sdes', 'from-tag': 'c', sdp: phoneSdp({ address: '127.0.0.1', port: c.port }), 'transport-protocol': 'RTP/SAVP', DTLS: 'off' });
  const offered = /a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 inline:(\S+)/.exec(String(o2.sdp))!;
  const relayKeySalt = Buffer.from(offered[2]!, 'base64');
  const relayKey: SrtpKeyMaterial = { suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: relayKeySalt.subarray(0, 16), masterSalt: relayKeySalt.subarray(16) };
  const dKey = key();
  const dLine = `a=crypto:${offered[1]} AES_CM_128_HMAC_SHA1_80 inline:${Buffer.concat([dKey.masterKey, dKey.masterSalt]).toString('base64')}`;
  const a2 = await ng.request({ command: 'answer', 'call-id': 'sdes', 'from-tag': 'c', 'to-tag': 'd', sdp: phoneSdp({ address: '127.0.0.1', port: d.port, protocol: 'RTP/SAVP', extra: [dLine, `a=rtcp:${d.port}`] }), DTLS: 'off' });
  t.equal(a2.result, 'ok');
  const toD = relayEndpoints(String(a2.sdp))[0]!.port;
  const toC = relayEndpoints(String(o2.sdp))[0]!.port;
  const dTx = new SrtpContext(dKey);
  const dRx = new SrtpContext(relayKey);
  // d's stream starts near the top of the sequence space, so it wraps (ROC 1) while the relay carries it.
  let seq = 65533;
  let cSeq = 100;
  const srtpFromD = (): Buffer => dTx.protectRtp(rtpPacket(seq++, { ssrc: 0xd0d0 })) as Buffer;
  /** Media both ways on both calls, through the relay ports the phones were given. */
  const media = async (what: string): Promise<void> => {
    for (const p of phones) p.received.length = 0;
    t.ok(await flows(a, toB, b, (i) => rtpPacket(200 + i)), `${what}: plain media a -> b`);
    t.ok(await flows(b, toA, a, (i) => rtpPacket(300 + i)), `${what}: plain media b -> a`);
    t.ok(await flows(d, toC, c, srtpFromD), `${what}: SRTP from d reaches c decrypted`);
    const sent = cSeq;
    t.ok(await flows(c, toD, d, () => rtpPacket(cSeq++, { ssrc: 0xc0c0 })), `${what}: c reaches d`);
    t.same(dRx.unprotectRtp(d.received[0]!.data), rtpPacket(sent, { ssrc: 0xc0c0 }), `${what}: encrypted towards d with the relay key d was given`);
  };
  /** A burst from d: its sequence numbers run past a wrap of the rollover counter (and on, `count` in all). */
  const wrap = async (count = 6): Promise<void> => {
    for (let i = 0; i < count; i++) await d.send(srtpFromD(), toC, '127.0.0.1');
    await sleep(100);
  };
  /**
   * An RTCP report from c: the relay sends it on to d as SRTCP with its own index, which d's context
   * must accept (a reused index is a replay). Resolves to that index.
   */
  const rtcpToD = async (): Promise<number> => {
    d.received.length = 0;
    await c.send(receiverReport(0xc0c0, []), toD + 1, '127.0.0.1');
    for (let i = 0; i < 50 && d.received.length === 0; i++) await sleep(20);
    const srtcp = d.received[0]?.data;
    if (!srtcp) throw new Error('no SRTCP reached d');
    const plain = dRx.unprotectRtcp(srtcp);
    if (!Buffer.isBuffer(plain)) throw new Error(`d refused the SRTCP (failure ${String(plain)}): a replayed index`);
    return srtcp.readUInt32BE(srtcp.length - 14) & 0x7fff_ffff;
  };
  return { toB, media, wrap, rtcpToD, sdesFlows: () => flows(d, toC, c, srtpFromD) };
}

t.test('SIGKILL mid-call, start again: plain and SDES calls come back on their ports, media flows without signalling', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const db = redis.client(1);
  const { portMin, portMax } = await mediaPorts(100);
  const ngPort = (await mediaPorts(2)).portMin;
  const args = [`--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`, `--redis=127.0.0.1:${redis.port}/1`, '--endpoint-learning=immediate', '--redis-srtp-refresh=1'];
  let relay = await daemon(t, args);
  const ng = await NgClient.open(ngPort);
  t.teardown(() => ng.close());
  const { toB, media, wrap, rtcpToD, sdesFlows } = await twoCalls(t, ng);
  await media('before');
  await wrap();
  await sleep(100);
  t.same((await db.keys(`${KEY}*`)).sort(), [`${KEY}plain`, `${KEY}sdes`], 'one key per call in Redis');

  // The SRTP call is written again after the wrap (--redis-srtp-refresh=1), with its rollover counters.
  await sleep(1500);
  // SRTCP sent after that write: the stored index is behind what d has seen when the relay dies.
  let lastIndex = 0;
  for (let i = 0; i < 3; i++) lastIndex = await rtcpToD();
  await kill9(relay);
  const restarted = Date.now();
  relay = await daemon(t, args);
  t.match(relay.stderr(), /"restored":2/, 'both calls are restored');
  await media('after the restart');
  const resumedAt = await rtcpToD();
  t.ok(resumedAt > lastIndex, `SRTCP resumes past every index sent before the crash (${resumedAt} > ${lastIndex}), so d accepts it`);
  t.ok(Date.now() - restarted < 5000, `media back ${Date.now() - restarted} ms after the restart began`);
  t.same(((await ng.request({ command: 'list' })).calls as unknown[]).map(String).sort(), ['plain', 'sdes']);
  const q = await ng.request({ command: 'query', 'call-id': 'plain' });
  t.equal(q.result, 'ok', 'a restored call answers query');

  // Again, with a stored value that is not ours and the plain call's port taken by someone else.
  await kill9(relay);
  await db.set(`${KEY}junk`, 'not a call');
  const squatter = createSocket('udp4');
  await new Promise<void>((resolve) => squatter.bind(toB, '127.0.0.1', resolve));
  t.teardown(() => squatter.close());
  relay = await daemon(t, args);
  t.match(relay.stderr(), /"restored":1/, 'the other call is still restored');
  t.match(relay.stderr(), /cannot restore call from Redis/);
  await sleep(100);
  t.same(await db.keys(`${KEY}*`), [`${KEY}sdes`], 'the unusable values are removed');
  t.ok(await sdesFlows(), 'the SDES call carries media');

  // A delete removes the call from Redis.
  await ng.request({ command: 'delete', 'call-id': 'sdes', 'delete-delay': 0 });
  await sleep(100);
  t.same(await db.keys(`${KEY}*`), [], 'deleted calls leave Redis');
});

t.test('SIGTERM saves every call as it is: SRTP resumes after more packets than the last write saw', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const { portMin, portMax } = await mediaPorts(100);
  const ngPort = (await mediaPorts(2)).portMin;
  // No periodic rewrite during the test: only the call's commits and the stop write it.
  const args = [`--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`, `--redis=127.0.0.1:${redis.port}/1`, '--endpoint-learning=immediate', '--redis-srtp-refresh=3600'];
  const relay = await daemon(t, args);
  const ng = await NgClient.open(ngPort);
  t.teardown(() => ng.close());
  const { media, wrap } = await twoCalls(t, ng);
  await media('before');
  // 40,000 packets from d after its last commit: past its rollover and far enough that a relay
  // resuming from the commit's state would guess the wrong rollover counter.
  await wrap(40_000);
  relay.child.kill('SIGTERM');
  t.equal(await relay.exited, 0, 'a clean stop');
  await daemon(t, args);
  await media('after a graceful restart');
});

t.test('without Redis the daemon refuses to start, unless --no-redis-required; then it writes once Redis is there', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const { portMin, portMax } = await mediaPorts(20);
  const redisPort = (await mediaPorts(2)).portMin;
  const ngPort = redisPort + 1;
  const args = [`--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`, `--redis=127.0.0.1:${redisPort}/3`];
  const refused = await daemon(t, args);
  t.equal(await refused.exited, 1, 'exit 1');
  t.match(refused.stderr(), /cannot reach Redis at 127\.0\.0\.1:\d+\/3.*--no-redis-required/);

  const relay = await daemon(t, [...args, '--no-redis-required']);
  t.match(relay.stderr(), /rtpbridge listening/, 'starts without Redis');
  const ng = await NgClient.open(ngPort);
  t.teardown(() => ng.close());
  const offer = await ng.request({ command: 'offer', 'call-id': 'later', 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  t.equal(offer.result, 'ok', 'and takes calls');
  const redis = await startRedis(t, redisPort);
  const db = redis.client(3);
  let keys: string[] = [];
  for (let i = 0; i < 60 && keys.length === 0; i++) {
    await sleep(100);
    keys = await db.keys(`${KEY}*`);
  }
  t.same(keys, [`${KEY}later`], 'the live call is written once Redis comes back');
});

t.test('standby takeover: the active relay is killed mid-call, the standby is told "active" and carries the calls on the same ports', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const { portMin, portMax } = await mediaPorts(100);
  const control = (await mediaPorts(4)).portMin;
  const [activeNg, standbyNg, standbyCli] = [control, control + 1, control + 2];
  // One host, one port range: the standby binds nothing of the active's until it takes over.
  const common = [`--port-min=${portMin}`, `--port-max=${portMax}`, '--endpoint-learning=immediate'];
  const active = await daemon(t, [`--listen-ng=127.0.0.1:${activeNg}`, `--redis=127.0.0.1:${redis.port}/1`, ...common]);
  const standby = await daemon(t, [`--listen-ng=127.0.0.1:${standbyNg}`, `--listen-cli=127.0.0.1:${standbyCli}`, `--redis=127.0.0.1:${redis.port}/2`, '--subscribe-keyspace=1', ...common]);
  const ng = await NgClient.open(activeNg);
  const ngStandby = await NgClient.open(standbyNg);
  t.teardown(() => [ng, ngStandby].forEach((c) => c.close()));
  const { media } = await twoCalls(t, ng);
  await media('through the active relay');

  let stats: Record<string, unknown> = {};
  for (let i = 0; i < 50 && stats.sessionsforeign !== 2; i++) {
    await sleep(50);
    stats = (((await ngStandby.request({ command: 'statistics' })).statistics as Record<string, unknown>).currentstatistics ?? {}) as Record<string, unknown>;
  }
  t.match(stats, { sessionsown: 0, sessionsforeign: 2 }, 'the standby follows both calls as foreign');
  t.same(((await ngStandby.request({ command: 'list' })).calls as unknown[]).map(String).sort(), ['plain', 'sdes'], 'and lists them');
  t.equal((await ngStandby.request({ command: 'query', 'call-id': 'plain' })).result, 'ok', 'and answers query for them');
  t.match(await ngStandby.request({ command: 'offer', 'call-id': 'plain', 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) }), { result: 'error', 'error-reason': /held by another relay/ }, 'but does not take them over by itself');

  await kill9(active);
  const killed = Date.now();
  const ctl = (await promisify(execFile)(process.execPath, [CTL, '-port', String(standbyCli), 'active'])).stdout;
  t.equal(ctl, '2 foreign call(s) taken over.\n');
  await media('through the standby');
  t.ok(Date.now() - killed < 2000, `media flows again ${Date.now() - killed} ms after the active relay died`);
  t.match((((await ngStandby.request({ command: 'statistics' })).statistics as Record<string, unknown>).currentstatistics ?? {}) as object, { sessionsown: 2, sessionsforeign: 0 });
  await sleep(100);
  t.same((await redis.client(2).keys(`${KEY}*`)).sort(), [`${KEY}plain`, `${KEY}sdes`], 'the new active relay writes the calls to its own database');
  t.same(await redis.client(1).keys(`${KEY}*`), [], 'and removes them from the dead relay\'s, so that one does not restore them');
  t.ok(standby.child.exitCode === null, 'the standby is still running');

  // Failback: the first relay comes back following the second's database; the second hands the calls
  // back (standby) and the first takes them over (active).
  const activeCli = control + 3;
  const back = await daemon(t, [`--listen-ng=127.0.0.1:${activeNg}`, `--listen-cli=127.0.0.1:${activeCli}`, `--redis=127.0.0.1:${redis.port}/1`, '--subscribe-keyspace=2', ...common]);
  t.match(back.stderr(), /"restored":0/, 'the first relay comes back with none of its old calls');
  t.match(back.stderr(), /"foreign":2/, 'and follows the calls the second carries');
  const ctlAt = async (port: number, word: string): Promise<string> => (await promisify(execFile)(process.execPath, [CTL, '-port', String(port), word])).stdout;
  t.equal(await ctlAt(standbyCli, 'standby'), '2 call(s) handed back, now followed as foreign.\n');
  t.match((((await ngStandby.request({ command: 'statistics' })).statistics as Record<string, unknown>).currentstatistics ?? {}) as object, { sessionsown: 0, sessionsforeign: 2 }, 'the second relay follows them again');
  t.equal(await ctlAt(activeCli, 'active'), '2 foreign call(s) taken over.\n');
  await media('back through the first relay');
  const secondStats = async (foreign: number): Promise<Record<string, unknown>> => {
    let stats = {} as Record<string, unknown>;
    for (let i = 0; i < 40 && stats.sessionsforeign !== foreign; i++) {
      await sleep(50);
      stats = (((await ngStandby.request({ command: 'statistics' })).statistics as Record<string, unknown>).currentstatistics ?? {}) as Record<string, unknown>;
    }
    return stats;
  };
  t.same(await redis.client(2).keys(`${KEY}*`), [], "the calls taken back leave the second relay's database");
  t.match(await secondStats(2), { sessionsown: 0, sessionsforeign: 2 }, 'the second relay is standby for them again, from the first relay\'s database');
  const ngBack = await NgClient.open(activeNg);
  t.teardown(() => ngBack.close());
  t.equal((await ngBack.request({ command: 'delete', 'call-id': 'plain', 'delete-delay': 0 })).result, 'ok');
  t.match(await secondStats(1), { sessionsforeign: 1 }, 'and follows a delete there');
});

t.test('Redis going away or stalling mid-run costs no call; what it missed is caught up when it is back', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const { portMin, portMax } = await mediaPorts(40);
  const ngPort = (await mediaPorts(2)).portMin;
  const relay = await daemon(t, [`--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`, `--redis=127.0.0.1:${redis.port}/4`]);
  const ng = await NgClient.open(ngPort);
  t.teardown(() => ng.close());
  const offer = (id: string) => ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  const remove = (id: string) => ng.request({ command: 'delete', 'call-id': id, 'delete-delay': 0 });
  const keysOnceThey = async (want: string[]): Promise<string[]> => {
    const db = redis.client(4);
    let keys: string[] = [];
    for (let i = 0; i < 60 && keys.join() !== want.join(); i++) {
      await sleep(100);
      keys = (await db.keys(`${KEY}*`).catch(() => [])).sort();
    }
    return keys;
  };
  t.equal((await offer('f0')).result, 'ok');
  t.equal((await offer('f1')).result, 'ok');
  t.same(await keysOnceThey([`${KEY}f0`, `${KEY}f1`]), [`${KEY}f0`, `${KEY}f1`], 'both calls stored');

  // Down: Redis dies with both calls saved on disk, so it comes back holding them.
  await redis.client(4).save();
  await redis.crash();
  t.equal((await offer('f2')).result, 'ok', 'offers still work while Redis is down');
  t.equal((await remove('f1')).result, 'ok', 'and deletes');
  await redis.revive();
  // A value of another format version appears meanwhile (a newer relay wrote it): it is not ours to restore.
  await redis.client(4).set(`${KEY}future`, JSON.stringify({ v: 2, callId: 'future' }));
  t.same(await keysOnceThey([`${KEY}f0`, `${KEY}f2`, `${KEY}future`]), [`${KEY}f0`, `${KEY}f2`, `${KEY}future`], 'once back: the call made meanwhile is written, the one deleted meanwhile removed');
  t.match(relay.stderr(), /Redis connection failed; retrying/, 'the outage is logged');
  t.equal(relay.stderr().match(/Redis connection failed/g)?.length, 1, 'once, not per retry');

  // Stalled: the connection stays open but nothing is answered; writes time out instead of piling up.
  redis.pause();
  const stalled = Date.now();
  t.equal((await offer('f3')).result, 'ok', 'an offer while Redis stalls');
  t.ok(Date.now() - stalled < 500, 'is answered without waiting for Redis');
  const timedOut = /Command timed out.*Redis write failed/;
  for (let i = 0; i < 60 && !timedOut.test(relay.stderr()); i++) await sleep(100);
  t.match(relay.stderr(), timedOut, 'the stalled write times out and is logged');
  redis.resume();
  t.same(await keysOnceThey([`${KEY}f0`, `${KEY}f2`, `${KEY}f3`, `${KEY}future`]), [`${KEY}f0`, `${KEY}f2`, `${KEY}f3`, `${KEY}future`], 'after the stall the store is in step again');
  t.ok(relay.child.exitCode === null, 'the relay kept running');

  await kill9(relay);
  const next = await daemon(t, [`--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`, `--redis=127.0.0.1:${redis.port}/4`]);
  t.match(next.stderr(), /format version 2, this relay reads 1/, 'a value of another version is refused with the reason');
  t.match(next.stderr(), /"restored":3/, 'the calls of this version are restored, and not the one deleted while Redis was down');
});

t.test('a DTLS-SRTP call comes back with the keys of its handshake: no new handshake after a restart', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const options = {
    ...(await mediaPorts(40)),
    redis: { read: { host: '127.0.0.1', port: redis.port, db: 6 }, expires: 60, allowedErrors: -1, disableSeconds: 10, connectTimeout: 1, required: true },
  };
  let relay = await Relay.create(options);
  t.teardown(() => relay.close());
  const web = await WebrtcPeer.open();
  const sip = await Phone.open();
  t.teardown(() => {
    web.close();
    sip.close();
  });
  const offer = await relay.offer({ callId: 'dtls', fromTag: 'web', sdp: web.offer(), ice: 'remove', transportProtocol: 'RTP/AVP' });
  const answer = await relay.answer({ callId: 'dtls', fromTag: 'web', toTag: 'sip', sdp: phoneSdp({ address: '127.0.0.1', port: sip.port, extra: [`a=rtcp:${sip.port}`] }), dtls: 'passive' });
  const webPort = relayEndpoints(answer.sdp)[0]!.port;
  const sipPort = relayEndpoints(offer.sdp)[0]!.port;
  const ice: RelayIce = { ufrag: /a=ice-ufrag:(\S+)/.exec(answer.sdp)![1]!, pwd: /a=ice-pwd:(\S+)/.exec(answer.sdp)![1]! };
  for (let i = 0; i < 30 && !web.response(await web.check(webPort, ice, { nominate: true })); i++) await sleep(50);
  await web.handshake(webPort, 'client');
  let seq = 1;
  const both = async (what: string): Promise<void> => {
    sip.received.length = 0;
    web.rtp.length = 0;
    const firstSent = seq;
    t.ok(await flows(web, webPort, sip, () => web.tx!.protectRtp(rtpPacket(seq++, { pt: 0, ssrc: 0xaaaa })) as Buffer), `${what}: SRTP from the browser reaches the phone decrypted`);
    // flows() sends again every 20 ms until one arrives: on a busy box an earlier one may be the first.
    const got = sip.received[0]!.data;
    const gotSeq = got.readUInt16BE(2);
    t.ok(gotSeq >= firstSent && gotSeq < seq, `${what}: one of the packets sent now (${gotSeq})`);
    t.same(got, rtpPacket(gotSeq, { pt: 0, ssrc: 0xaaaa }), `${what}: as sent`);
    await sip.send(rtpPacket(500 + seq, { pt: 0, ssrc: 0xbbbb }), sipPort, '127.0.0.1');
    for (let i = 0; i < 50 && web.rtp.length === 0; i++) await sleep(20);
    t.same(web.rx!.unprotectRtp(web.rtp[0]!), rtpPacket(500 + seq, { pt: 0, ssrc: 0xbbbb }), `${what}: and back, encrypted with the handshake's keys`);
  };
  await both('before');
  await sleep(200);
  await relay.close();
  relay = await Relay.create(options);
  await both('after the restart, with no new handshake');
});

t.test('--active-switchover: the first ng command, or the first packet, for a followed call takes that call over', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const { portMin, portMax } = await mediaPorts(100);
  const control = (await mediaPorts(4)).portMin;
  const [activeNg, standbyNg] = [control, control + 1];
  const common = [`--port-min=${portMin}`, `--port-max=${portMax}`, '--endpoint-learning=immediate'];
  const active = await daemon(t, [`--listen-ng=127.0.0.1:${activeNg}`, `--redis=127.0.0.1:${redis.port}/1`, ...common]);
  const standby = await daemon(t, [`--listen-ng=127.0.0.1:${standbyNg}`, `--redis=127.0.0.1:${redis.port}/2`, '--subscribe-keyspace=1', '--active-switchover', ...common]);
  const ng = await NgClient.open(activeNg);
  const ngStandby = await NgClient.open(standbyNg);
  t.teardown(() => [ng, ngStandby].forEach((c) => c.close()));
  const phones = await Promise.all([0, 1, 2, 3].map(() => Phone.open()));
  t.teardown(() => phones.forEach((p) => p.close()));
  const [a, b, c, d] = phones as [Phone, Phone, Phone, Phone];
  const call = async (callId: string, from: Phone, to: Phone) => {
    const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: from.port }) });
    const answer = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: phoneSdp({ address: '127.0.0.1', port: to.port }) });
    return { offer, toTo: relayEndpoints(String(answer.sdp))[0]!.port };
  };
  const sw = await call('sw', a, b);
  const pkt = await call('pkt', c, d);
  t.ok(await flows(a, sw.toTo, b, (i) => rtpPacket(i)), 'media through the active relay');
  t.ok(await flows(c, pkt.toTo, d, (i) => rtpPacket(i)), 'on both calls');
  for (let i = 0; i < 50 && ((await ngStandby.request({ command: 'list' })).calls as unknown[]).length < 2; i++) await sleep(50);

  await kill9(active);
  const killed = Date.now();
  // The proxy re-sends the dialogue's offer (a re-INVITE, or its failover retry) to the standby.
  const reoffer = await ngStandby.request({ command: 'offer', 'call-id': 'sw', 'from-tag': 'a', 'to-tag': 'b', sdp: phoneSdp({ address: '127.0.0.1', port: a.port }) });
  t.equal(reoffer.result, 'ok', 'the standby answers the call it followed');
  t.equal(relayEndpoints(String(reoffer.sdp))[0]!.port, relayEndpoints(String(sw.offer.sdp))[0]!.port, 'on the same relay port');
  b.received.length = 0;
  t.ok(await flows(a, sw.toTo, b, (i) => rtpPacket(100 + i)), 'and carries its media');

  // No signalling for the other call: its media, still sent to the same relay port, reaches the standby
  // once the dead relay's ports are free, and the first packet takes the call over.
  d.received.length = 0;
  let resumed = false;
  for (let i = 0; i < 100 && !resumed; i++) {
    await c.send(rtpPacket(200 + i), pkt.toTo, '127.0.0.1');
    await sleep(20);
    resumed = d.received.length > 0;
  }
  t.ok(resumed, `media of the unsignalled call flows again ${Date.now() - killed} ms after the active relay died`);
  t.ok(Date.now() - killed < 2000, 'within 2 s');
  t.equal(d.received[0]?.from.port, relayEndpoints(String(pkt.offer.sdp))[0]!.port, 'from the relay port d was given');
  t.match(standby.stderr(), /media for a foreign call arrived here: taking it over/, 'the standby says why it took the call');
  t.match((((await ngStandby.request({ command: 'statistics' })).statistics as Record<string, unknown>).currentstatistics ?? {}) as object, { sessionsown: 2, sessionsforeign: 0 });
});

t.test('a standby whose subscription drops reads the databases again: a delete meanwhile is not missed', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const settings = (db: number, subscribe?: number[]) => ({
    ...(subscribe ? { subscribe } : {}),
    read: { host: '127.0.0.1', port: redis.port, db },
    expires: 60,
    allowedErrors: -1,
    disableSeconds: 10,
    connectTimeout: 1,
    required: true,
  });
  const active = await Relay.create({ ...(await mediaPorts(20)), redis: settings(1) });
  t.teardown(() => active.close());
  for (const callId of ['k1', 'k2']) await active.offer({ callId, fromTag: 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  const standby = await Relay.create({ ...(await mediaPorts(20)), redis: settings(2, [1]) });
  t.teardown(() => standby.close());
  t.equal((await standby.statistics()).foreignSessions, 2, 'the standby follows both calls');
  // The subscription is cut, and a call's key goes while nobody listens.
  const [[killErr], [delErr]] = (await redis.client(1).multi().client('KILL', 'TYPE', 'pubsub').del(`${KEY}k1`).exec())!;
  t.same([killErr, delErr], [null, null]);
  let foreign = 2;
  for (let i = 0; i < 60 && foreign !== 1; i++) {
    await sleep(50);
    foreign = (await standby.statistics()).foreignSessions;
  }
  t.equal(foreign, 1, 'once subscribed again it has read the database again and forgotten the deleted call');
  t.same(standby.list(), ['k2']);
});

/** Redis on `port`, database `db`, as the relays in this process use it: required, errors never disable it. */
function redisOptions(port: number, db: number, writeDelayMs: number) {
  return { read: { host: '127.0.0.1', port, db }, expires: 60, allowedErrors: -1, disableSeconds: 10, connectTimeout: 1, required: true, writeDelayMs };
}

/** A relay in this process, writing to Redis database `db` with the given write delay. */
function libraryRelay(port: number, db: number, writeDelayMs: number): Promise<Relay> {
  return mediaPorts(40).then((ports) => Relay.create({ ...ports, deleteDelay: 0, redis: redisOptions(port, db, writeDelayMs) }));
}

/** An SDP with one audio m= line at `port`: payload types `pts` and their attribute `lines`. */
const audioSdp = (port: number, pts: string, lines: string[]): string => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${pts}`, ...lines, ''].join('\r\n');

interface RestartedCall {
  /** The second relay, which restored the call. */
  relay: Relay;
  alice: Phone;
  bob: Phone;
  /** Where alice sends (the answer's port) and where bob sends (the offer's). */
  toAlice: number;
  toBob: number;
}

/**
 * Call `callId`, which `setUp` makes between alice and bob on a relay writing to Redis database `db`;
 * that relay closed once it wrote the call, `meanwhile` run on the Redis it left, and a second relay
 * on the same ports started, which must have restored the call. Undefined without redis-server.
 */
async function restartedCall(
  t: Test,
  db: number,
  callId: string,
  setUp: (relay: Relay, alice: Phone, bob: Phone) => Promise<{ offer: { sdp: string }; answer: { sdp: string } }>,
  meanwhile: (redis: RedisServer) => Promise<void> = async () => undefined,
): Promise<RestartedCall | undefined> {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return undefined;
  const redis = await startRedis(t);
  const options = { ...(await mediaPorts(40)), deleteDelay: 0, redis: redisOptions(redis.port, db, 0) };
  const alice = await Phone.open();
  const bob = await Phone.open();
  t.teardown(() => [alice, bob].forEach((p) => p.close()));
  const first = await Relay.create(options);
  const { offer, answer } = await setUp(first, alice, bob);
  await sleep(200);
  await first.close();
  await meanwhile(redis);
  const relay = await Relay.create(options);
  t.teardown(() => relay.close());
  t.same(relay.list(), [callId], 'the call is back');
  return { relay, alice, bob, toAlice: relayEndpoints(answer.sdp)[0]!.port, toBob: relayEndpoints(offer.sdp)[0]!.port };
}

t.test('--redis-write-delay: an offer and its answer cost one write; a call torn down within the delay costs none', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const relay = await libraryRelay(redis.port, 7, 50);
  t.teardown(() => relay.close());
  const admin = redis.client(7);
  const calls = async (command: string): Promise<number> => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await admin.info('commandstats'))?.[1] ?? 0);
  const sets = await calls('set');
  await relay.offer({ callId: 'brief', fromTag: 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  await relay.answer({ callId: 'brief', fromTag: 'a', toTag: 'b', sdp: phoneSdp({ address: '127.0.0.1', port: 4002 }) });
  await relay.delete({ callId: 'brief' });
  await relay.offer({ callId: 'kept', fromTag: 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
  await relay.answer({ callId: 'kept', fromTag: 'a', toTag: 'b', sdp: phoneSdp({ address: '127.0.0.1', port: 4002 }) });
  await sleep(200);
  t.equal((await calls('set')) - sets, 1, 'one SET: the kept call once, the brief one never');
  t.equal(await calls('del'), 0, 'and no DEL for a call Redis never had');
  t.same(await admin.keys(`${KEY}*`), [`${KEY}kept`]);
  await relay.delete({ callId: 'kept' });
  await sleep(100);
  t.same(await admin.keys(`${KEY}*`), [], 'a call that was written is removed at its end');
});

t.test('a graceful stop sends the removals still waiting for the write delay: a restart does not bring a deleted call back', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const relay = await libraryRelay(redis.port, 8, 1000);
  const admin = redis.client(8);
  for (const callId of ['gone', 'stays']) {
    await relay.offer({ callId, fromTag: 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
    await relay.answer({ callId, fromTag: 'a', toTag: 'b', sdp: phoneSdp({ address: '127.0.0.1', port: 4002 }) });
  }
  for (let i = 0; i < 30 && (await admin.keys(`${KEY}*`)).length < 2; i++) await sleep(100);
  t.same((await admin.keys(`${KEY}*`)).sort(), [`${KEY}gone`, `${KEY}stays`], 'both calls written');
  // Deleted, then stopped well within the 1 s write delay.
  await relay.delete({ callId: 'gone' });
  await relay.close();
  t.same(await admin.keys(`${KEY}*`), [`${KEY}stays`], 'the deleted call is removed, the live one kept for the next start');
});

t.test('--active-switchover does not take back, on a packet, the calls this relay just handed back with standby', async (t) => {
  if (!requireTool(t, 'redis-server', redisInstalled(), 'apt-get install redis-server')) return;
  const redis = await startRedis(t);
  const relay = await Relay.create({
    ...(await mediaPorts(40)),
    activeSwitchover: true,
    redis: redisOptions(redis.port, 8, 0),
  });
  t.teardown(() => relay.close());
  const phone = await Phone.open();
  t.teardown(() => phone.close());
  const offer = await relay.offer({ callId: 'back', fromTag: 'a', sdp: phoneSdp({ address: '127.0.0.1', port: phone.port }) });
  await relay.answer({ callId: 'back', fromTag: 'a', toTag: 'b', sdp: phoneSdp({ address: '127.0.0.1', port: phone.port + 2 }) });
  t.equal(await relay.standby(), 1);
  // Media keeps arriving at the freed port, past the port watch's probe interval.
  const port = relayEndpoints(offer.sdp)[0]!.port;
  for (let i = 0; i < 10; i++) {
    await phone.send(rtpPacket(i), port, '127.0.0.1');
    await sleep(80);
  }
  t.match(await relay.statistics(), { currentSessions: 0, foreignSessions: 1 }, 'the call stays handed back');
});

t.test('a restart keeps what the codec and DTMF controls set: the call still converts PCMU to PCMA, and blocked DTMF stays blocked', async (t) => {
  const te = ['a=rtpmap:101 telephone-event/8000'];
  const call = await restartedCall(t, 9, 'kept', async (relay, alice, bob) => {
    const offer = await relay.offer({ callId: 'kept', fromTag: 'alice', codec: { transcode: ['PCMA'] }, sdp: audioSdp(alice.port, '0 101', te) });
    const answer = await relay.answer({ callId: 'kept', fromTag: 'alice', toTag: 'bob', sdp: audioSdp(bob.port, '8 101', te) });
    await relay.blockDtmf({ callId: 'kept', fromTag: 'alice' }, true);
    return { offer, answer };
  });
  if (!call) return;
  const { alice, bob, toAlice } = call;
  const pcmu = rtpPacket(1, { pt: 0, ssrc: 0xa11ce, payloadSize: 160 });
  const event = Buffer.concat([rtpPacket(2, { pt: 101, ssrc: 0xa11ce, payloadSize: 0 }), Buffer.from([1, 0x8a, 0x03, 0x20])]);
  await alice.send(event, toAlice, '127.0.0.1');
  await alice.send(pcmu, toAlice, '127.0.0.1');
  const [got] = await bob.waitFor(1);
  t.equal(got!.data[1]! & 0x7f, 8, 'the caller\'s PCMU still reaches the callee as PCMA');
  await sleep(100);
  t.equal(bob.received.length, 1, 'and the caller\'s telephone event stays blocked');
});

t.test('a restart keeps Opus conversion, ptime and DTMF injection: packets still converted and repacketized, presses still played', async (t) => {
  if (!requireTool(t, 'libopus addon', opusAddon() !== undefined, 'apt-get install libopus-dev, then npm ci')) return;
  const flags = { injectDtmf: true };
  const call = await restartedCall(t, 10, 'opus', async (relay, alice, bob) => ({
    offer: await relay.offer({ callId: 'opus', fromTag: 'alice', codec: { transcode: ['opus'] }, ptimeReverse: 40, flags, sdp: audioSdp(alice.port, '0 101', ['a=rtpmap:101 telephone-event/8000']) }),
    answer: await relay.answer({ callId: 'opus', fromTag: 'alice', toTag: 'bob', flags, sdp: audioSdp(bob.port, '96 97', ['a=rtpmap:96 opus/48000/2', 'a=rtpmap:97 telephone-event/48000']) }),
  }));
  if (!call) return;
  const { relay: second, alice, bob, toAlice, toBob: offerPort } = call;
  const encoder = opusEncoder(48000);
  await alice.send(rtpPacket(0, { pt: 0, ssrc: 0xa11ce, payloadSize: 160 }), toAlice, '127.0.0.1');
  for (let seq = 0; seq < 4; seq++) {
    const frame = encoder.encode(Int16Array.from({ length: 960 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * (seq * 960 + i)) / 48000))));
    const packet = rtpPacket(seq, { pt: 96, ssrc: 0xb0b, payloadSize: 0 });
    packet.writeUInt32BE(seq * 960, 4);
    await bob.send(Buffer.concat([packet, frame]), offerPort, '127.0.0.1');
    await sleep(5);
  }
  const got = await alice.waitFor(2);
  t.same(got.map((r) => [r.data[1]! & 0x7f, r.data.length - 12]), [[0, 320], [0, 320]], 'Opus still reaches the caller as PCMU, in 40 ms packets');
  await second.playDtmf({ callId: 'opus', fromTag: 'bob', event: 3, durationMs: 100, volume: 8, pauseMs: 100 });
  for (let seq = 4; seq < 8; seq++) {
    const packet = rtpPacket(seq, { pt: 96, ssrc: 0xb0b, payloadSize: 0 });
    packet.writeUInt32BE(seq * 960, 4);
    await bob.send(Buffer.concat([packet, encoder.encode(new Int16Array(960))]), offerPort, '127.0.0.1');
    await sleep(5);
  }
  const after = await alice.waitFor(4);
  t.same(after.slice(2).map((r) => [r.data[1]! & 0x7f, r.data[12]]), [[101, 3], [101, 3]], 'a press still reaches the caller as telephone-event');
});

t.test('a restart keeps the codecs an SDP put on dynamic payload types: a press is still written into Opus audio', async (t) => {
  if (!requireTool(t, 'libopus addon', opusAddon() !== undefined, 'apt-get install libopus-dev, then npm ci')) return;
  const flags = { injectDtmf: true };
  const opus = ['a=rtpmap:111 opus/48000/2'];
  const call = await restartedCall(t, 10, 'webrtc', async (relay, alice, bob) => ({
    offer: await relay.offer({ callId: 'webrtc', fromTag: 'alice', flags, sdp: audioSdp(alice.port, '111', opus) }),
    answer: await relay.answer({ callId: 'webrtc', fromTag: 'alice', toTag: 'bob', flags, sdp: audioSdp(bob.port, '111', opus) }),
  }));
  if (!call) return;
  const { relay: second, alice, bob, toAlice } = call;
  const encoder = opusEncoder(48000);
  const packet = (seq: number): Buffer => {
    const header = rtpPacket(seq, { pt: 111, ssrc: 0xa11ce, payloadSize: 0 });
    header.writeUInt32BE(seq * 960, 4);
    return Buffer.concat([header, encoder.encode(new Int16Array(960))]);
  };
  await alice.send(packet(0), toAlice, '127.0.0.1');
  await bob.waitFor(1);
  await second.playDtmf({ callId: 'webrtc', fromTag: 'alice', event: 9, durationMs: 200, volume: 8, pauseMs: 100 });
  for (let seq = 1; seq < 16; seq++) {
    await alice.send(packet(seq), toAlice, '127.0.0.1');
    await sleep(5);
  }
  const got = await bob.waitFor(16);
  const detector = new DtmfDetector();
  const heard = got.flatMap((r) => detector.receiveAudio(1, r.data, [{ pt: 111, name: 'opus', clock: 48000, channels: 2 }], 0));
  t.same(heard.map((p) => p.digit), ['9'], 'the press of 9 is heard in the Opus the callee gets');
});

t.test('a snapshot from before tone lists (one DTMF-security `frequency`) still restores its tone', async (t) => {
  const pcmu = ['a=rtpmap:101 telephone-event/8000'];
  const call = await restartedCall(
    t,
    11,
    'legacy',
    async (relay, alice, bob) => {
      const offer = await relay.offer({ callId: 'legacy', fromTag: 'alice', sdp: audioSdp(alice.port, '0 101', pcmu) });
      const answer = await relay.answer({ callId: 'legacy', fromTag: 'alice', toTag: 'bob', sdp: audioSdp(bob.port, '0 101', pcmu) });
      await relay.blockDtmf({ callId: 'legacy', fromTag: 'alice', mode: 'tone', frequencies: [700] }, true);
      return { offer, answer };
    },
    async (redis) => {
      const db = redis.client(11);
      const stored = (await db.get(`${KEY}legacy`))!;
      t.ok(stored.includes('"frequencies":[700]'), 'stored as a list');
      await db.set(`${KEY}legacy`, stored.replace('"frequencies":[700]', '"frequency":700'));
    },
  );
  if (!call) return;
  const { alice, bob, toAlice } = call;
  const event = (seq: number, duration: number): Buffer => {
    const header = rtpPacket(seq, { pt: 101, ssrc: 0xa11ce, payloadSize: 0 });
    header.writeUInt32BE(320, 4);
    return Buffer.concat([header, Buffer.from([1, 0x0a, duration >> 8, duration & 0xff])]);
  };
  for (const packet of [rtpPacket(0, { pt: 0, ssrc: 0xa11ce, payloadSize: 160 }), rtpPacket(1, { pt: 0, ssrc: 0xa11ce, payloadSize: 160 }), event(2, 160), event(3, 320), event(4, 480)]) {
    await alice.send(packet, toAlice, '127.0.0.1');
    await sleep(5);
  }
  const got = await bob.waitFor(5);
  const tone = Int16Array.from(got.slice(2).flatMap((r) => [...decodeG711('PCMU', r.data.subarray(12))]));
  t.ok(toneOf(tone, 700).share > 0.95, `the press arrives as a 700 Hz tone (${(toneOf(tone, 700).share * 100).toFixed(1)} %)`);
});
