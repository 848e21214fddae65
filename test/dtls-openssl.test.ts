/**
 * DTLS-SRTP (RFC 5763/5764) against a peer that shares no code with the relay (relay ports 29400-29499,
 * the peer's own ports 29500-29599): the `openssl` command line runs the handshake and exports the keying
 * material (s_client when the relay serves, s_server when it connects), a small C program on libsrtp2
 * (test/fixtures/dtls/srtp-peer.c) then takes over the same local port and carries SRTP and SRTCP with
 * those keys. The other leg is a plain RTP/AVP phone. Every payload is compared byte for byte, so
 * anything forwarded still encrypted, or encrypted with keys the peer did not export, fails.
 *
 * Needs openssl and libsrtp2-dev (and a C compiler). Without them the tests are skipped, unless
 * RTPBRIDGE_TEST_REQUIRE_ALL (or CI) is set: then they fail.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startRelay } from './helpers/fixture.js';
import { Phone, sleep } from './helpers/media.js';
import type { NgClient } from './helpers/ng-client.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';

const PORT_BASE = 29400;
const PEER_PORT_BASE = 29500;

const flag = (v: string | undefined): boolean => v !== undefined && !/^(|0|false|no)$/i.test(v);
const REQUIRED = flag(process.env.RTPBRIDGE_TEST_REQUIRE_ALL) || flag(process.env.CI);

const work = mkdtempSync(join(tmpdir(), 'rtpbridge-dtls-openssl-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const SRTP_PEER = join(work, 'srtp-peer');

/** Why the independent peer cannot be built here, or undefined when it can. */
function missingPrerequisite(): string | undefined {
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return 'the openssl command line tool is not installed (apt-get install openssl)';
  if (!/^OpenSSL 3\./.test(version.stdout)) return `openssl 3.x expected, found ${version.stdout.trim()}`;
  const cc = spawnSync('cc', ['-O1', '-Wall', '-o', SRTP_PEER, join(import.meta.dirname, 'fixtures/dtls/srtp-peer.c'), '-lsrtp2'], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) return `cannot build the libsrtp2 peer (apt-get install libsrtp2-dev): ${cc.error?.message ?? cc.stderr.trim()}`;
  return undefined;
}

const missing = missingPrerequisite();
const skip = missing !== undefined && !REQUIRED ? missing : false;

/** A certificate and key made by openssl, and its SHA-256 fingerprint as openssl prints it. */
interface Identity {
  cert: string;
  key: string;
  fingerprint: string;
}

function opensslSync(args: string[], input?: string): string {
  const run = spawnSync('openssl', args, { encoding: 'utf8', input, timeout: 10_000 });
  if (run.error || run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.error?.message ?? run.stderr}`);
  return run.stdout;
}

function fingerprintOfPem(pem: string): string {
  const out = opensslSync(['x509', '-noout', '-fingerprint', '-sha256'], pem);
  const m = /Fingerprint=([0-9A-F:]+)/i.exec(out);
  if (!m) throw new Error(`no fingerprint in ${out}`);
  return m[1]!.toUpperCase();
}

function makeIdentity(name: string): Identity {
  const cert = join(work, `${name}.crt`);
  const key = join(work, `${name}.key`);
  opensslSync(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key, fingerprint: fingerprintOfPem(opensslSync(['x509', '-in', cert])) };
}

const SRTP_ARGS = ['-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '60'];

/** What openssl printed once the handshake was done. */
interface Handshake {
  /** The 60 bytes of EXTRACTOR-dtls_srtp keying material. */
  material: Buffer;
  profile: string;
  /** The certificate the relay presented, PEM. */
  relayCertificate: string;
}

/** An openssl s_client or s_server process, its stdin held open so it neither closes nor sends close_notify. */
class OpensslPeer {
  private out = '';
  private err = '';
  private code: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => ((this.code = code), resolve())));
  }

  static start(t: Test, args: string[]): OpensslPeer {
    const peer = new OpensslPeer(spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    t.teardown(() => peer.stop());
    return peer;
  }

  /** Resolves with the first match of `re` in what openssl printed, or rejects once it exited or after `ms`. */
  async waitFor(re: RegExp, ms: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (this.code !== undefined || Date.now() > deadline) {
        throw new Error(`openssl ${this.code !== undefined ? `exited (${this.code})` : 'timed out'} before printing ${re}:\n${this.out.slice(-2000)}\n${this.err.slice(-2000)}`);
      }
      await sleep(20);
    }
  }

  /** Waits for the exported keys and the relay's certificate, which openssl prints after the handshake. */
  async handshake(ms = 5000): Promise<Handshake> {
    const material = Buffer.from((await this.waitFor(/Keying material: ([0-9A-F]{120})\b/, ms))[1]!, 'hex');
    const profile = (await this.waitFor(/SRTP Extension negotiated, profile=(\S+)/, 100))[1]!;
    const relayCertificate = (await this.waitFor(/(?:Server|Client) certificate\r?\n(-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----)/, 100))[1]!;
    return { material, profile, relayCertificate };
  }

  /** SIGKILL: openssl ends without a close_notify and its port is free once this resolves. */
  async stop(): Promise<void> {
    if (this.code === undefined) this.child.kill('SIGKILL');
    await Promise.race([this.exited, sleep(2000)]);
  }
}

/** Relay as DTLS server: the peer connects from its fixed port. */
function sClient(t: Test, id: Identity, peerPort: number, relayPort: number): OpensslPeer {
  return OpensslPeer.start(t, ['s_client', '-dtls', '-connect', `127.0.0.1:${relayPort}`, '-bind', `127.0.0.1:${peerPort}`, '-noservername', '-cert', id.cert, '-key', id.key, ...SRTP_ARGS]);
}

/** Relay as DTLS client: the peer listens on its fixed port and asks for the relay's certificate. */
async function sServer(t: Test, id: Identity, peerPort: number): Promise<OpensslPeer> {
  const peer = OpensslPeer.start(t, ['s_server', '-dtls', '-accept', `127.0.0.1:${peerPort}`, '-naccept', '1', '-verify', '1', '-cert', id.cert, '-key', id.key, ...SRTP_ARGS]);
  await peer.waitFor(/^ACCEPT$/m, 5000);
  return peer;
}

/**
 * RFC 5764 §4.2: the exported material is client_write_SRTP_master_key | server_write_SRTP_master_key |
 * client_write_SRTP_master_salt | server_write_SRTP_master_salt (16, 16, 14, 14 bytes for
 * SRTP_AES128_CM_HMAC_SHA1_80). Each side encrypts with its own write key and salt.
 */
function srtpKeys(material: Buffer, peerRole: 'client' | 'server'): { tx: Buffer; rx: Buffer } {
  if (material.length !== 60) throw new Error(`expected 60 bytes of keying material, got ${material.length}`);
  const client = Buffer.concat([material.subarray(0, 16), material.subarray(32, 46)]);
  const server = Buffer.concat([material.subarray(16, 32), material.subarray(46, 60)]);
  return peerRole === 'client' ? { tx: client, rx: server } : { tx: server, rx: client };
}

/** The libsrtp2 program on the peer's port: protects what it is told to send, unprotects what arrives. */
class SrtpPeer {
  readonly lines: string[] = [];
  private partial = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => {
      const text = this.partial + d.toString();
      const parts = text.split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
    });
  }

  static async start(t: Test, peerPort: number, relayPort: number, keys: { tx: Buffer; rx: Buffer }): Promise<SrtpPeer> {
    const child = spawn(SRTP_PEER, [String(peerPort), String(relayPort), keys.tx.toString('hex'), keys.rx.toString('hex')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const peer = new SrtpPeer(child);
    t.teardown(() => {
      child.stdin.end();
      child.kill('SIGKILL');
    });
    const deadline = Date.now() + 3000;
    while (!peer.lines.includes('ready')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`srtp-peer did not start (exit ${child.exitCode}): ${stderr}`);
      await sleep(10);
    }
    return peer;
  }

  send(kind: 'rtp' | 'rtcp', packet: Buffer): void {
    this.child.stdin.write(`${kind} ${packet.toString('hex')}\n`);
  }

  /** Packets libsrtp authenticated and decrypted. */
  received(kind: 'rtp' | 'rtcp'): Buffer[] {
    return this.lines.filter((l) => l.startsWith(`${kind} `)).map((l) => Buffer.from(l.slice(kind.length + 1), 'hex'));
  }

  /** Datagrams that were not SRTP/SRTCP under the exported keys (failed authentication, or not RTP at all). */
  rejected(): string[] {
    return this.lines.filter((l) => /^(rtperr|rtcperr|other|protecterr) /.test(l));
  }
}

const isRtcp = (p: Buffer): boolean => p.length >= 8 && p[1]! >= 192 && p[1]! <= 223;

/** An RTP packet (PCMU) with a random 160-byte payload, so equal bytes mean this very packet came through. */
function rtp(seq: number, ssrc: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 0;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(seq * 160, 4);
  header.writeUInt32BE(ssrc, 8);
  return Buffer.concat([header, randomBytes(160)]);
}

/** An RTCP receiver report with one report block of random content. */
function rtcp(ssrc: number): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(ssrc, 4);
  randomBytes(24).copy(b, 8);
  return b;
}

/** Sends one packet after another (each new) until `arrived` says one came through; bounded by count and time. */
async function sendUntil(send: (i: number) => Promise<void> | void, arrived: () => boolean, tries = 20, waitMs = 100): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    await send(i);
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (arrived()) return true;
      await sleep(5);
    }
  }
  return arrived();
}

/** Waits (bounded) until `done` holds. */
async function until(done: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
  return done();
}

interface Legs {
  /** The relay's port facing the DTLS peer (one port: rtcp-mux). */
  peerFacing: number;
  /** The relay's RTP and RTCP ports facing the phone. */
  phoneRtp: number;
  phoneRtcp: number;
  /** SDP the relay sent to the DTLS peer, and to the phone. */
  toPeer: string;
  toPhone: string;
}

/** The DTLS peer's SDP: no ICE, rtcp-mux, its own fixed port and certificate fingerprint. */
function peerSdp(port: number, setup: string, fingerprint: string): string {
  return [
    'v=0',
    `o=openssl-peer 4242 1 IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} UDP/TLS/RTP/SAVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=ptime:20',
    'a=rtcp-mux',
    `a=setup:${setup}`,
    `a=fingerprint:sha-256 ${fingerprint}`,
    'a=sendrecv',
    '',
  ].join('\r\n');
}

const phoneAnswerOrOffer = (phone: Phone): string => phoneSdp({ address: '127.0.0.1', port: phone.port, extra: [`a=rtcp:${phone.port}`] });

function ok(reply: Record<string, unknown>, what: string): string {
  if (reply.result !== 'ok') throw new Error(`${what}: ${String(reply['error-reason'])}`);
  return String(reply.sdp);
}

/** The DTLS peer calls the phone: ICE=remove and RTP/AVP towards the phone, rtcp-mux demuxed for it. */
async function peerCalls(ng: NgClient, callId: string, sdp: string, phone: Phone): Promise<Legs> {
  const toPhone = ok(await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'dtls', sdp, ICE: 'remove', 'transport-protocol': 'RTP/AVP', 'rtcp-mux': ['demux'] }), 'offer');
  const toPeer = ok(await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'dtls', 'to-tag': 'phone', sdp: phoneAnswerOrOffer(phone) }), 'answer');
  const phoneSide = relayEndpoints(toPhone)[0]!;
  return { peerFacing: relayEndpoints(toPeer)[0]!.port, phoneRtp: phoneSide.port, phoneRtcp: phoneSide.rtcpPort ?? phoneSide.port + 1, toPeer, toPhone };
}

/** The phone calls the DTLS peer: the relay offers UDP/TLS/RTP/SAVP (actpass) without ICE, and rtcp-mux. */
async function phoneCalls(ng: NgClient, callId: string, phone: Phone, answer: (toPeer: string) => Promise<string>): Promise<Legs> {
  const toPeer = ok(
    await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'phone', sdp: phoneAnswerOrOffer(phone), ICE: 'remove', 'transport-protocol': 'UDP/TLS/RTP/SAVP', 'rtcp-mux': ['offer'] }),
    'offer',
  );
  const sdp = await answer(toPeer);
  const toPhone = ok(await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'phone', 'to-tag': 'dtls', sdp, ICE: 'remove' }), 'answer');
  const phoneSide = relayEndpoints(toPhone)[0]!;
  return { peerFacing: relayEndpoints(toPeer)[0]!.port, phoneRtp: phoneSide.port, phoneRtcp: phoneSide.rtcpPort ?? phoneSide.port + 1, toPeer, toPhone };
}

function relayFingerprint(toPeer: string): string {
  const m = /\r\na=fingerprint:sha-256 ([0-9A-F:]+)\r\n/.exec(toPeer);
  if (!m) throw new Error(`no sha-256 a=fingerprint in\n${toPeer}`);
  return m[1]!;
}

/** What both legs' SDP must say, whichever way the call was set up. */
function checkSdp(t: Test, legs: Legs, relaySetup: 'active' | 'passive' | 'actpass'): void {
  t.match(legs.toPeer, /\r\nm=audio \d+ UDP\/TLS\/RTP\/SAVP 0\b/, 'DTLS leg: UDP/TLS/RTP/SAVP');
  t.match(legs.toPeer, new RegExp(`\\r\\na=setup:${relaySetup}\\r\\n`), `the relay says a=setup:${relaySetup} to the DTLS peer`);
  t.notMatch(legs.toPeer, /a=(candidate|ice-)/, 'no ICE towards the DTLS peer');
  t.match(legs.toPhone, /\r\nm=audio \d+ RTP\/AVP 0\b/, 'phone leg: plain RTP/AVP');
  t.notMatch(legs.toPhone, /a=(fingerprint|setup|crypto|candidate|ice-|rtcp-mux)/, 'phone leg: no DTLS, SDES, ICE or mux');
}

/** The relay presented the certificate its a=fingerprint names, as openssl computes it. */
function checkRelayCertificate(t: Test, hs: Handshake, legs: Legs): void {
  t.equal(hs.profile, 'SRTP_AES128_CM_SHA1_80', 'use_srtp negotiated SRTP_AES128_CM_SHA1_80');
  t.equal(fingerprintOfPem(hs.relayCertificate), relayFingerprint(legs.toPeer), 'the certificate the relay presented matches its a=fingerprint');
}

/**
 * RTP and RTCP both ways between the libsrtp2 peer and the plain phone, each packet compared byte for
 * byte with what the other end sent, and nothing on the DTLS leg that fails libsrtp's authentication.
 */
async function media(t: Test, peer: SrtpPeer, phone: Phone, legs: Legs): Promise<void> {
  const sent = new Map<string, Buffer>();
  const key = (p: Buffer): string => (isRtcp(p) ? `rtcp ${p.readUInt32BE(4)}` : `rtp ${p.readUInt16BE(2)}`);
  const phoneRtp = (): Buffer[] => phone.received.filter((r) => !isRtcp(r.data)).map((r) => r.data);
  const phoneRtcp = (): Buffer[] => phone.received.filter((r) => isRtcp(r.data)).map((r) => r.data);

  // Peer -> phone: SRTP in, plain RTP out. The first packet may meet a relay still settling its keys.
  const fromPeer = (seq: number): void => {
    const p = rtp(seq, 0x5ee0_0001);
    sent.set(key(p), p);
    peer.send('rtp', p);
  };
  t.ok(await sendUntil((i) => fromPeer(1000 + i), () => phoneRtp().length > 0), 'SRTP from the libsrtp2 peer reaches the phone');
  for (let i = 0; i < 5; i++) fromPeer(2000 + i);
  await until(() => phoneRtp().filter((p) => p.readUInt16BE(2) >= 2000).length >= 5);
  const gotRtp = phoneRtp();
  t.equal(gotRtp.filter((p) => p.readUInt16BE(2) >= 2000).length, 5, 'a burst of 5 all arrives');
  t.ok(gotRtp.every((p) => sent.get(key(p))?.equals(p)), 'every RTP packet the phone got is byte for byte what the peer sent before libsrtp protected it');

  // Phone -> peer: plain RTP in, SRTP out, which libsrtp2 must authenticate with the exported keys.
  const fromPhone = async (seq: number): Promise<void> => {
    const p = rtp(seq, 0x0fed_0001);
    sent.set(key(p), p);
    await phone.send(p, legs.phoneRtp, '127.0.0.1');
  };
  t.ok(await sendUntil((i) => fromPhone(3000 + i), () => peer.received('rtp').length > 0), 'RTP from the phone reaches the peer as SRTP');
  for (let i = 0; i < 5; i++) await fromPhone(4000 + i);
  await until(() => peer.received('rtp').filter((p) => p.readUInt16BE(2) >= 4000).length >= 5);
  const gotSrtp = peer.received('rtp');
  t.equal(gotSrtp.filter((p) => p.readUInt16BE(2) >= 4000).length, 5, 'a burst of 5 all arrives');
  t.ok(gotSrtp.every((p) => sent.get(key(p))?.equals(p)), 'libsrtp2 decrypts each to exactly what the phone sent');

  // RTCP: SRTCP on the peer's muxed port, plain RTCP on the phone's RTCP port.
  const peerReport = rtcp(0x5ee0_0001);
  t.ok(await sendUntil(() => peer.send('rtcp', peerReport), () => phoneRtcp().length > 0, 5, 200), 'SRTCP from the peer reaches the phone');
  t.same(phoneRtcp()[0], peerReport, 'as the exact RTCP report the peer sent');
  t.equal(phone.received.find((r) => isRtcp(r.data))?.from.port, legs.phoneRtcp, 'from the relay\'s RTCP port (demuxed)');
  const phoneReport = rtcp(0x0fed_0001);
  t.ok(await sendUntil(() => phone.send(phoneReport, legs.phoneRtcp, '127.0.0.1'), () => peer.received('rtcp').length > 0, 5, 200), 'RTCP from the phone reaches the peer as SRTCP');
  t.same(peer.received('rtcp')[0], phoneReport, 'libsrtp2 decrypts it to the exact report the phone sent');

  t.same(peer.rejected(), [], 'nothing reached the peer that libsrtp2 could not authenticate');
}

async function checkEngine(t: Test, relay: { query(req: { callId: string }): Promise<{ engine: string }> }, callId: string): Promise<void> {
  t.equal((await relay.query({ callId })).engine, 'workers', 'the DTLS call runs on the TypeScript workers');
}

/** Relay ports for test `slot` (20 each) and the peer's fixed port. */
async function setup(t: Test, slot: number) {
  const fixture = await startRelay(t, PORT_BASE + slot * 20, { portMax: PORT_BASE + slot * 20 + 19 });
  const phone = await Phone.open();
  t.teardown(() => phone.close());
  return { ...fixture, phone, peerPort: PEER_PORT_BASE + slot * 2 };
}

function prerequisites(t: Test): boolean {
  if (missing === undefined) return true;
  t.fail(`${missing}; RTPBRIDGE_TEST_REQUIRE_ALL or CI is set, so this test must run`);
  return false;
}

const peerIdentity = missing === undefined ? makeIdentity('dtls-peer') : undefined;
const otherIdentity = missing === undefined ? makeIdentity('someone-else') : undefined;

t.test('DTLS peer offers a=setup:active: the relay serves, openssl s_client connects, libsrtp2 carries the media', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const id = peerIdentity!;
  const { ng, relay, phone, peerPort } = await setup(t, 0);
  const legs = await peerCalls(ng, 'o1', peerSdp(peerPort, 'active', id.fingerprint), phone);
  checkSdp(t, legs, 'passive');
  const openssl = sClient(t, id, peerPort, legs.peerFacing);
  const hs = await openssl.handshake();
  checkRelayCertificate(t, hs, legs);
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'client'));
  await media(t, peer, phone, legs);
  await checkEngine(t, relay, 'o1');
});

t.test('DTLS peer offers a=setup:actpass: the relay answers active and connects to openssl s_server', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const id = peerIdentity!;
  const { ng, relay, phone, peerPort } = await setup(t, 1);
  // Listening before the answer: the relay connects as soon as it knows its role and the address.
  const openssl = await sServer(t, id, peerPort);
  const legs = await peerCalls(ng, 'o2', peerSdp(peerPort, 'actpass', id.fingerprint), phone);
  checkSdp(t, legs, 'active');
  const hs = await openssl.handshake();
  checkRelayCertificate(t, hs, legs);
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'server'));
  await media(t, peer, phone, legs);
  await checkEngine(t, relay, 'o2');
});

t.test('plain caller to a DTLS callee answering a=setup:passive: the relay connects to openssl s_server', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const id = peerIdentity!;
  const { ng, relay, phone, peerPort } = await setup(t, 2);
  const openssl = await sServer(t, id, peerPort);
  const legs = await phoneCalls(ng, 'o3', phone, async () => peerSdp(peerPort, 'passive', id.fingerprint));
  checkSdp(t, legs, 'actpass');
  const hs = await openssl.handshake();
  checkRelayCertificate(t, hs, legs);
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'server'));
  await media(t, peer, phone, legs);
  await checkEngine(t, relay, 'o3');
});

t.test('plain caller to a DTLS callee answering a=setup:active: the relay serves openssl s_client', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const id = peerIdentity!;
  const { ng, relay, phone, peerPort } = await setup(t, 3);
  const legs = await phoneCalls(ng, 'o4', phone, async () => peerSdp(peerPort, 'active', id.fingerprint));
  checkSdp(t, legs, 'actpass');
  const openssl = sClient(t, id, peerPort, legs.peerFacing);
  const hs = await openssl.handshake();
  checkRelayCertificate(t, hs, legs);
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'client'));
  await media(t, peer, phone, legs);
  await checkEngine(t, relay, 'o4');
});

/** With a certificate that does not match a=fingerprint nothing may pass, in either direction. */
async function noMedia(t: Test, ng: NgClient, peer: SrtpPeer, phone: Phone, legs: Legs): Promise<void> {
  for (let i = 0; i < 10; i++) {
    peer.send('rtp', rtp(100 + i, 0x5ee0_0002));
    await phone.send(rtp(200 + i, 0x0fed_0002), legs.phoneRtp, '127.0.0.1');
    await sleep(20);
  }
  peer.send('rtcp', rtcp(0x5ee0_0002));
  await phone.send(rtcp(0x0fed_0002), legs.phoneRtcp, '127.0.0.1');
  await sleep(300);
  t.same(phone.received.length, 0, 'nothing from the peer reaches the phone');
  t.same(peer.lines.filter((l) => l !== 'ready' && !l.startsWith('sent ')), [], 'nothing from the phone reaches the peer, in the clear or otherwise');
  const stats = ((await ng.request({ command: 'statistics' })).statistics as Record<string, Record<string, number>>).totalstatistics!;
  t.ok(stats.droppedsrtp! >= 10, `the peer's SRTP is dropped and counted (droppedsrtp ${stats.droppedsrtp})`);
}

t.test('the peer\'s certificate does not match its a=fingerprint (relay serving): no media either way', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const { ng, phone, peerPort } = await setup(t, 4);
  // The SDP vouches for someone else's certificate; openssl presents the peer's own.
  const legs = await peerCalls(ng, 'o5', peerSdp(peerPort, 'active', otherIdentity!.fingerprint), phone);
  const openssl = sClient(t, peerIdentity!, peerPort, legs.peerFacing);
  // openssl finishes its side of the handshake before the relay has checked the certificate.
  const hs = await openssl.handshake();
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'client'));
  await noMedia(t, ng, peer, phone, legs);
});

t.test('the peer\'s certificate does not match its a=fingerprint (relay connecting): no media either way', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const { ng, phone, peerPort } = await setup(t, 5);
  const openssl = await sServer(t, peerIdentity!, peerPort);
  const legs = await phoneCalls(ng, 'o6', phone, async () => peerSdp(peerPort, 'passive', otherIdentity!.fingerprint));
  const hs = await openssl.handshake();
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'server'));
  await noMedia(t, ng, peer, phone, legs);
});
