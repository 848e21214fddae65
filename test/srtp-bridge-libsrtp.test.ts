/**
 * The running relay bridges a plain RTP/AVP phone and an SDES-SRTP phone built on libsrtp2
 * (test/fixtures/srtp/libsrtp-peer.c, Debian's libsrtp2-dev: an implementation that shares no code
 * with the relay), signalled over ng like Kamailio does, for every suite both implementations have,
 * with the plain phone offering and with the SRTP phone offering. RTP and RTCP flow both ways with
 * sequence numbers that wrap (ROC 0 -> 1) in both directions: libsrtp must decrypt exactly what the
 * plain phone sent, and the plain phone must receive exactly what libsrtp protected. The call must
 * run on the native engine (the TypeScript workers with RTPBRIDGE_NATIVE=0).
 *
 * Relay ports 29600-29799. Without a C compiler or libsrtp2-dev the tests are skipped, or fail when
 * RTPBRIDGE_TEST_REQUIRE_ALL is set (CI installs libsrtp2-dev: .ci/run). `CC` picks the compiler.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { SRTP_SUITES, type SrtpSuite } from '../src/srtp/suites.js';
import { expectedEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { Phone } from './helpers/media.js';
import type { NgClient } from './helpers/ng-client.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';
import { requireTool } from './helpers/tools.js';

/** Plain and SDES calls without DTLS run on the addon whenever it is in use. */
const ENGINE = expectedEngine({ handshakes: false });
/** Packets each way per call; the first sequence number is close enough to 65535 that they wrap. */
const RTP_COUNT = 10;
const FIRST_SEQ = 65531;
const RTCP_COUNT = 3;

/** Builds the peer into a temporary directory; the error says why not. */
function buildPeer(): { bin: string } | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-libsrtp-peer-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'libsrtp-peer');
  try {
    execFileSync(process.env.CC || 'cc', ['-O1', '-o', bin, join(import.meta.dirname, 'fixtures/srtp/libsrtp-peer.c'), '-lsrtp2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { bin };
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return { error: `cannot build the libsrtp2 peer (apt-get install libsrtp2-dev): ${e.stderr?.toString().trim() || e.message}` };
  }
}

interface PeerPacket {
  kind: 'rtp' | 'rtcp';
  plain: Buffer;
  srtp: Buffer;
}

/** The libsrtp2 phone as a child process: commands on stdin, events on stdout (see the C file). */
class LibsrtpPeer {
  readonly received: PeerPacket[] = [];
  readonly refused: string[] = [];
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  port = 0;
  version = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [what, kind, a, b] = line.split(' ');
      if (what === 'recv') this.received.push({ kind: kind as 'rtp' | 'rtcp', plain: Buffer.from(a!, 'hex'), srtp: Buffer.from(b!, 'hex') });
      else if (what === 'recv-err') this.refused.push(line);
      else this.lines.push(line);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async start(t: Test, bin: string): Promise<LibsrtpPeer> {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new LibsrtpPeer(child);
    t.teardown(() => {
      child.stdin.end('quit\n');
      setTimeout(() => child.kill('SIGKILL'), 1000).unref();
    });
    peer.port = Number((await peer.line('port ')).slice(5));
    peer.version = (await peer.line('version ')).slice(8);
    return peer;
  }

  /** The next unread output line starting with `prefix`; an `err` line or silence for `ms` fails. */
  private async line(prefix: string, ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix) || l.startsWith('err'));
      if (i >= 0) {
        const [line] = this.lines.splice(i, 1);
        if (line!.startsWith('err')) throw new Error(`libsrtp peer: ${line}`);
        return line!;
      }
      if (this.child.exitCode !== null) throw new Error(`libsrtp peer exited ${this.child.exitCode}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`libsrtp peer: no '${prefix}' line within ${ms} ms`);
      await this.wake(left);
    }
  }

  private wake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A fresh outbound key of the peer's own, as its a=crypto line will carry it. */
  async tx(suite: string): Promise<Buffer> {
    this.child.stdin.write(`tx ${suite}\n`);
    return Buffer.from((await this.line('key ')).slice(4), 'hex');
  }

  /** Keys the inbound session with what the relay's a=crypto line gave. */
  async rx(suite: string, key: Buffer): Promise<void> {
    this.child.stdin.write(`rx ${suite} ${key.toString('hex')}\n`);
    await this.line('rx ok');
  }

  /** libsrtp protects `plain` and sends it to the relay's `port`; resolves to the SRTP it sent. */
  async send(port: number, kind: 'rtp' | 'rtcp', plain: Buffer): Promise<Buffer> {
    this.child.stdin.write(`send ${port} ${kind} ${plain.toString('hex')}\n`);
    return Buffer.from((await this.line(`sent ${kind} `)).split(' ')[2]!, 'hex');
  }

  async waitForReceived(count: number, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.received.length + this.refused.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`libsrtp peer: expected ${count} packets, got ${this.received.length} (+${this.refused.length} refused)`);
      await this.wake(left);
    }
  }
}

/** RTP with a random payload, so no two packets are alike. */
function rtp(seq: number, ssrc: number): Buffer {
  const p = Buffer.concat([Buffer.alloc(12), randomBytes(160)]);
  p[0] = 0x80;
  p[1] = 0; // PCMU
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 160) >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  return p;
}

/** A sender report with one report block (52 octets), random where the values do not matter. */
function rtcp(ssrc: number): Buffer {
  const p = randomBytes(52);
  p[0] = 0x81;
  p[1] = 200;
  p.writeUInt16BE(12, 2);
  p.writeUInt32BE(ssrc, 4);
  return p;
}

const isRtcp = (p: Buffer): boolean => p[1]! >= 192 && p[1]! <= 223;

function cryptoLines(sdp: string): Array<{ tag: number; suite: string; key: Buffer }> {
  return [...sdp.matchAll(/^a=crypto:(\d+) (\S+) inline:([^|\s]+)/gm)].map((m) => ({ tag: Number(m[1]), suite: m[2]!, key: Buffer.from(m[3]!, 'base64') }));
}

interface Call {
  plain: Phone;
  peer: LibsrtpPeer;
  /** The relay's ports each phone sends to. */
  plainToRelay: { rtp: number; rtcp: number };
  peerToRelay: { rtp: number; rtcp: number };
}

const relayPorts = (sdp: string): { rtp: number; rtcp: number } => {
  const ep = relayEndpoints(sdp)[0]!;
  return { rtp: ep.port, rtcp: ep.rtcpPort ?? ep.port + 1 };
};

/** Each phone's SDP names its one socket for RTP and RTCP alike, so both arrive where it listens. */
const sdpOf = (port: number, protocol: string, extra: string[] = []): string => phoneSdp({ address: '127.0.0.1', port, protocol, extra: [`a=rtcp:${port}`, ...extra] });

/**
 * Plain phone offers, the relay offers SRTP (every suite) to the libsrtp phone, which answers with `suite`.
 * `DTLS=off` keeps DTLS out of the relay's offer (a call that may need DTLS goes to the TypeScript
 * workers); `answerFlags` are what the proxy adds to the answer, by default the same `DTLS=off`.
 */
async function plainOffers(
  t: Test,
  ng: NgClient,
  bin: string,
  suite: SrtpSuite,
  callId: string,
  answerFlags: Record<string, unknown> = { DTLS: 'off' },
): Promise<Call | undefined> {
  const plain = await Phone.open();
  t.teardown(() => plain.close());
  const peer = await LibsrtpPeer.start(t, bin);
  const o = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'plain', sdp: sdpOf(plain.port, 'RTP/AVP'), 'transport-protocol': 'RTP/SAVP', DTLS: 'off' });
  t.equal(o.result, 'ok', 'offer');
  t.match(o.sdp, /^m=audio \d+ RTP\/SAVP /m, 'the relay offers RTP/SAVP to the SRTP phone');
  const line = cryptoLines(String(o.sdp)).find((l) => l.suite === suite.name);
  t.ok(line, `the relay offers ${suite.name}`);
  t.equal(line!.key.length, suite.keyLength + suite.saltLength, 'with a key and salt of the right length');
  await peer.rx(suite.name, line!.key);
  const peerKey = await peer.tx(suite.name);
  const a = await ng.request({
    command: 'answer',
    'call-id': callId,
    'from-tag': 'plain',
    'to-tag': 'srtp',
    sdp: sdpOf(peer.port, 'RTP/SAVP', [`a=crypto:${line!.tag} ${suite.name} inline:${peerKey.toString('base64')}`]),
    ...answerFlags,
  });
  t.equal(a.result, 'ok', `answer ${a['error-reason'] ?? ''}`);
  if (a.result !== 'ok') return undefined;
  t.match(a.sdp, /^m=audio \d+ RTP\/AVP /m, 'the plain phone is answered in RTP/AVP');
  t.notMatch(a.sdp, /a=crypto/, 'and sees no keys');
  return { plain, peer, plainToRelay: relayPorts(String(a.sdp)), peerToRelay: relayPorts(String(o.sdp)) };
}

/** The libsrtp phone offers `suite` in RTP/SAVP, the relay offers RTP/AVP to the plain phone, which answers. */
async function srtpOffers(t: Test, ng: NgClient, bin: string, suite: SrtpSuite, callId: string): Promise<Call | undefined> {
  const plain = await Phone.open();
  t.teardown(() => plain.close());
  const peer = await LibsrtpPeer.start(t, bin);
  const peerKey = await peer.tx(suite.name);
  const o = await ng.request({
    command: 'offer',
    'call-id': callId,
    'from-tag': 'srtp',
    sdp: sdpOf(peer.port, 'RTP/SAVP', [`a=crypto:1 ${suite.name} inline:${peerKey.toString('base64')}`]),
    'transport-protocol': 'RTP/AVP',
  });
  t.equal(o.result, 'ok', 'offer');
  t.match(o.sdp, /^m=audio \d+ RTP\/AVP /m, 'the relay offers RTP/AVP to the plain phone');
  t.notMatch(o.sdp, /a=crypto/, 'and no keys');
  const a = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'srtp', 'to-tag': 'plain', sdp: sdpOf(plain.port, 'RTP/AVP') });
  t.equal(a.result, 'ok', 'answer');
  t.match(a.sdp, /^m=audio \d+ RTP\/SAVP /m, 'the SRTP phone is answered in RTP/SAVP');
  const lines = cryptoLines(String(a.sdp));
  t.same(
    lines.map((l) => `${l.tag} ${l.suite}`),
    [`1 ${suite.name}`],
    'with its own tag and suite',
  );
  t.not(lines[0]!.key.toString('hex'), peerKey.toString('hex'), "and the relay's own key");
  await peer.rx(suite.name, lines[0]!.key);
  return { plain, peer, plainToRelay: relayPorts(String(o.sdp)), peerToRelay: relayPorts(String(a.sdp)) };
}

/** RTP (across a sequence wrap) and RTCP both ways, checked packet for packet at each end. */
async function exchange(t: Test, call: Call, suite: SrtpSuite): Promise<void> {
  const { plain, peer } = call;
  const fromPlain = Array.from({ length: RTP_COUNT }, (_, i) => rtp(FIRST_SEQ + i, 0x9a1a0001));
  const fromPeer = Array.from({ length: RTP_COUNT }, (_, i) => rtp(FIRST_SEQ + 1 + i, 0x5e1f0001));
  const reportsFromPlain = Array.from({ length: RTCP_COUNT }, () => rtcp(0x9a1a0001));
  const reportsFromPeer = Array.from({ length: RTCP_COUNT }, () => rtcp(0x5e1f0001));
  const peerSent: Buffer[] = [];
  for (let i = 0; i < RTP_COUNT; i++) {
    await plain.send(fromPlain[i]!, call.plainToRelay.rtp, '127.0.0.1');
    peerSent.push(await peer.send(call.peerToRelay.rtp, 'rtp', fromPeer[i]!));
  }
  for (let i = 0; i < RTCP_COUNT; i++) {
    await plain.send(reportsFromPlain[i]!, call.plainToRelay.rtcp, '127.0.0.1');
    await peer.send(call.peerToRelay.rtcp, 'rtcp', reportsFromPeer[i]!);
  }
  t.equal(peerSent[0]!.length, fromPeer[0]!.length + suite.srtpTagLength, 'libsrtp appends the tag the suite says');

  await peer.waitForReceived(RTP_COUNT + RTCP_COUNT);
  t.same(peer.refused, [], 'libsrtp refuses none of what the relay sent');
  const gotRtp = peer.received.filter((p) => p.kind === 'rtp');
  const gotRtcp = peer.received.filter((p) => p.kind === 'rtcp');
  t.same(
    gotRtp.map((p) => p.plain.toString('hex')),
    fromPlain.map((p) => p.toString('hex')),
    'libsrtp decrypts every RTP packet the plain phone sent, across the wrap, byte for byte',
  );
  t.same(
    gotRtcp.map((p) => p.plain.toString('hex')),
    reportsFromPlain.map((p) => p.toString('hex')),
    'libsrtp decrypts every RTCP packet the plain phone sent',
  );
  t.ok(
    gotRtp.every((p) => p.srtp.length === p.plain.length + suite.srtpTagLength),
    'SRTP from the relay carries the suite tag',
  );
  t.ok(
    gotRtcp.every((p) => p.srtp.length === p.plain.length + 4 + suite.srtcpTagLength),
    'SRTCP from the relay carries the index and the suite tag',
  );
  if (suite.cipher !== 'null') {
    t.ok(
      gotRtp.every((p) => !p.srtp.subarray(12, p.plain.length).equals(p.plain.subarray(12))),
      'RTP payloads were encrypted on the wire',
    );
    t.ok(
      gotRtcp.every((p) => !p.srtp.subarray(8, p.plain.length).equals(p.plain.subarray(8))),
      'RTCP was encrypted on the wire',
    );
  }

  const got = await plain.waitFor(RTP_COUNT + RTCP_COUNT);
  t.same(
    got.filter((r) => !isRtcp(r.data)).map((r) => r.data.toString('hex')),
    fromPeer.map((p) => p.toString('hex')),
    'the plain phone receives every RTP packet libsrtp protected, across the wrap, byte for byte',
  );
  t.same(
    got.filter((r) => isRtcp(r.data)).map((r) => r.data.toString('hex')),
    reportsFromPeer.map((p) => p.toString('hex')),
    'the plain phone receives every RTCP packet libsrtp protected',
  );
}

const peerBuild = buildPeer();

const buildError = 'error' in peerBuild ? peerBuild.error : '';
if (requireTool(t, 'libsrtp2 (a C compiler and libsrtp2-dev)', !('error' in peerBuild), `apt-get install libsrtp2-dev (${buildError})`) && 'bin' in peerBuild) {
  const bin = peerBuild.bin;

  t.test('the relay bridges plain RTP and libsrtp2 SDES-SRTP, every common suite, both offer directions, ROC wrap both ways', async (t) => {
    const { ng, relay } = await startRelay(t, { deleteDelay: 0 });
    const probe = await LibsrtpPeer.start(t, bin);
    // Debian's libsrtp2 before 2.8 derives AES-192 session keys with AES-256 over a zero-padded key
    // (cisco/libsrtp issue 763, fixed in 2.8.0), so it cannot talk AES-192 to any RFC 6188 peer; the
    // relay's AES-192 is checked against rtpengine (test/srtp-rtpengine.test.ts) and RFC 6188 §7
    // (test/srtp-rfc-vectors.test.ts) instead.
    const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(probe.version) ?? []).slice(1).map(Number);
    const aes192 = major > 2 || (major === 2 && minor >= 8);
    const suites = SRTP_SUITES.filter((s) => aes192 || s.keyLength !== 24);
    t.comment(`${probe.version}: ${suites.map((s) => s.name).join(' ')}`);
    t.ok(suites.length >= 8, 'AES-CM 128/256, GCM 128/256 and NULL, each tag length, at least');
    for (const suite of suites) {
      for (const [label, setup] of [
        ['plain offers', plainOffers],
        ['SRTP offers', srtpOffers],
      ] as const) {
        await t.test(`${suite.name}, ${label}`, async (t) => {
          const callId = `libsrtp-${suite.name}-${label.split(' ')[0]}`;
          const call = await setup(t, ng, bin, suite, callId);
          if (!call) return;
          t.equal((await relay.query({ callId })).engine, ENGINE, `the call runs on the ${ENGINE} engine`);
          await exchange(t, call, suite);
          t.equal((await relay.query({ callId })).engine, ENGINE, 'and stayed there');
          await ng.request({ command: 'delete', 'call-id': callId });
        });
      }
    }
  });

  // Kamailio configurations pass DTLS=off to rtpengine_offer() and nothing to rtpengine_answer(): an
  // SDES answer (RTP/SAVP, a=crypto, no a=fingerprint, no ICE) needs no DTLS, and rtpengine accepts it.
  // The relay offers nothing in an answer, so the call stays where it is (the addon, when built).
  t.test('an SDES answer without DTLS=off, after an offer with it, bridges too', async (t) => {
    const { ng, relay } = await startRelay(t, { deleteDelay: 0 });
    const suite = SRTP_SUITES.find((s) => s.name === 'AES_CM_128_HMAC_SHA1_80')!;
    const callId = 'libsrtp-answer-without-dtls-off';
    const call = await plainOffers(t, ng, bin, suite, callId, {});
    if (!call) return;
    t.equal((await relay.query({ callId })).engine, ENGINE, `the call runs on the ${ENGINE} engine`);
    await exchange(t, call, suite);
  });
}
