/**
 * DTLS-SRTP (RFC 5763/5764) against a peer that shares no code with the relay: the `openssl` command line runs the handshake and exports the keying
 * material (s_client when the relay serves, s_server when it connects), a small C program on libsrtp2
 * (test/fixtures/dtls/srtp-peer.c) then takes over the same local port and carries SRTP and SRTCP with
 * those keys. The other leg is a plain RTP/AVP phone. Every payload is compared byte for byte, so
 * anything forwarded still encrypted, or encrypted with keys the peer did not export, fails.
 *
 * Needs openssl and libsrtp2-dev (and a C compiler). Without them the tests are skipped, unless
 * RTPBRIDGE_TEST_REQUIRE_ALL=1 is set (.ci/run): then they fail.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { mediaPorts } from './helpers/ports.js';
import { requireAll } from './helpers/tools.js';
import { Phone, sleep } from './helpers/media.js';
import type { NgClient } from './helpers/ng-client.js';
import { phoneSdp, relayEndpoints } from './helpers/sdp.js';


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
const skip = missing !== undefined && !requireAll() ? missing : false;

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

/** A self-signed certificate: ECDSA P-256 as browsers make them, or RSA as some SIP endpoints do. */
function makeIdentity(name: string, kind: 'ec' | 'rsa' = 'ec'): Identity {
  const cert = join(work, `${name}.crt`);
  const key = join(work, `${name}.key`);
  const keyArgs = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  opensslSync(['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key, fingerprint: fingerprintOfPem(opensslSync(['x509', '-in', cert])) };
}

/** use_srtp profiles (openssl's names) and the SRTP suite, master key and salt lengths they key (RFC 5764 §4.1.2, RFC 7714 §12). */
const PROFILES = {
  SRTP_AES128_CM_SHA1_80: { suite: 'AES_CM_128_HMAC_SHA1_80', keyLength: 16, saltLength: 14 },
  SRTP_AEAD_AES_128_GCM: { suite: 'AEAD_AES_128_GCM', keyLength: 16, saltLength: 12 },
} as const;
type Profile = keyof typeof PROFILES;

/** How the peer's openssl is run: the profile it offers and anything else on its command line. */
interface PeerOptions {
  profile?: Profile;
  args?: string[];
}

const srtpArgs = (profile: Profile): string[] => {
  const p = PROFILES[profile];
  return ['-use_srtp', profile, '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', String(2 * (p.keyLength + p.saltLength))];
};

/** What openssl printed once the handshake was done. */
interface Handshake {
  /** The EXTRACTOR-dtls_srtp keying material (60 bytes for SRTP_AES128_CM_SHA1_80). */
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

  /**
   * Waits for the exported keys and the relay's certificate, which openssl prints after the handshake.
   * s_client prints "Keying material" even after a failed handshake (exported from an empty master
   * secret, with "Cipher is (NONE)"), so success is read from the cipher line, not from the keys.
   */
  async handshake(ms = 5000): Promise<Handshake> {
    const material = Buffer.from((await this.waitFor(/Keying material: ([0-9A-F]+)\r?\n/, ms))[1]!, 'hex');
    const cipher = (await this.waitFor(/^(?:New, \S+, Cipher is|CIPHER is) (\S+)/m, 100))[1]!;
    if (cipher === '(NONE)' || /:error:/.test(this.err)) throw new Error(`the DTLS handshake failed:\n${this.out.slice(-1500)}\n${this.err.slice(-1500)}`);
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
function sClient(t: Test, id: Identity, peerPort: number, relayPort: number, opts: PeerOptions = {}): OpensslPeer {
  const args = ['s_client', '-dtls', '-connect', `127.0.0.1:${relayPort}`, '-bind', `127.0.0.1:${peerPort}`, '-noservername', '-cert', id.cert, '-key', id.key];
  return OpensslPeer.start(t, [...args, ...srtpArgs(opts.profile ?? 'SRTP_AES128_CM_SHA1_80'), ...(opts.args ?? [])]);
}

/** Relay as DTLS client: the peer listens on its fixed port and asks for the relay's certificate. */
async function sServer(t: Test, id: Identity, peerPort: number, opts: PeerOptions = {}): Promise<OpensslPeer> {
  const args = ['s_server', '-dtls', '-accept', `127.0.0.1:${peerPort}`, '-naccept', '1', '-verify', '1', '-cert', id.cert, '-key', id.key];
  const peer = OpensslPeer.start(t, [...args, ...srtpArgs(opts.profile ?? 'SRTP_AES128_CM_SHA1_80'), ...(opts.args ?? [])]);
  await peer.waitFor(/^ACCEPT$/m, 5000);
  return peer;
}

/**
 * RFC 5764 §4.2: the exported material is client_write_SRTP_master_key | server_write_SRTP_master_key |
 * client_write_SRTP_master_salt | server_write_SRTP_master_salt (16, 16, 14, 14 bytes for
 * SRTP_AES128_CM_HMAC_SHA1_80). Each side encrypts with its own write key and salt.
 */
function srtpKeys(material: Buffer, peerRole: 'client' | 'server', profile: Profile = 'SRTP_AES128_CM_SHA1_80'): SrtpKeys {
  const { suite, keyLength: k, saltLength: s } = PROFILES[profile];
  if (material.length !== 2 * (k + s)) throw new Error(`expected ${2 * (k + s)} bytes of keying material, got ${material.length}`);
  const client = Buffer.concat([material.subarray(0, k), material.subarray(2 * k, 2 * k + s)]);
  const server = Buffer.concat([material.subarray(k, 2 * k), material.subarray(2 * k + s, 2 * k + 2 * s)]);
  return peerRole === 'client' ? { suite, tx: client, rx: server } : { suite, tx: server, rx: client };
}

interface SrtpKeys {
  suite: string;
  /** Master key and salt the peer encrypts with, and the ones it decrypts with. */
  tx: Buffer;
  rx: Buffer;
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

  static async start(t: Test, peerPort: number, relayPort: number, keys: SrtpKeys): Promise<SrtpPeer> {
    const child = spawn(SRTP_PEER, [String(peerPort), String(relayPort), keys.tx.toString('hex'), keys.rx.toString('hex'), keys.suite], { stdio: ['pipe', 'pipe', 'pipe'] });
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
async function phoneCalls(ng: NgClient, callId: string, phone: Phone, answerSdp: string): Promise<Legs> {
  const toPeer = ok(
    await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'phone', sdp: phoneAnswerOrOffer(phone), ICE: 'remove', 'transport-protocol': 'UDP/TLS/RTP/SAVP', 'rtcp-mux': ['offer'] }),
    'offer',
  );
  const toPhone = ok(await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'phone', 'to-tag': 'dtls', sdp: answerSdp, ICE: 'remove' }), 'answer');
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
function checkRelayCertificate(t: Test, hs: Handshake, legs: Legs, profile: Profile = 'SRTP_AES128_CM_SHA1_80'): void {
  t.equal(hs.profile, profile, `use_srtp negotiated ${profile}`);
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
  t.ok(gotRtp.length > 0 && gotRtp.every((p) => sent.get(key(p))?.equals(p)), 'every RTP packet the phone got is byte for byte what the peer sent before libsrtp protected it');

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
  t.ok(gotSrtp.length > 0 && gotSrtp.every((p) => sent.get(key(p))?.equals(p)), 'libsrtp2 decrypts each to exactly what the phone sent');

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

/** A relay, a phone, and a fixed port for the peer (openssl, then libsrtp2 on the same port), free of other tests. */
async function setup(t: Test) {
  const fixture = await startRelay(t);
  const phone = await Phone.open();
  t.teardown(() => phone.close());
  return { ...fixture, phone, peerPort: (await mediaPorts(2)).portMin };
}

function prerequisites(t: Test): boolean {
  if (missing === undefined) return true;
  t.fail(`${missing}; RTPBRIDGE_TEST_REQUIRE_ALL=1 (.ci/run) is set, so this test must run`);
  return false;
}

const peerIdentity = missing === undefined ? makeIdentity('dtls-peer') : undefined;
const otherIdentity = missing === undefined ? makeIdentity('someone-else') : undefined;
const rsaIdentity = missing === undefined ? makeIdentity('rsa-peer', 'rsa') : undefined;

/**
 * One call between the DTLS peer and the phone, set up by `caller`, the peer saying `peerSetup`: the
 * handshake by openssl in the role that leaves the relay, then SRTP/SRTCP by libsrtp2 both ways.
 */
interface Scenario {
  callId: string;
  caller: 'peer' | 'phone';
  peerSetup: 'active' | 'passive' | 'actpass';
  /** What the relay must say back: the opposite role, active for actpass, actpass in its own offer. */
  relaySetup: 'active' | 'passive' | 'actpass';
  identity?: Identity;
  peer?: PeerOptions;
}

async function call(t: Test, sc: Scenario): Promise<void> {
  if (!prerequisites(t)) return;
  const id = sc.identity ?? peerIdentity!;
  const profile = sc.peer?.profile ?? 'SRTP_AES128_CM_SHA1_80';
  const { ng, relay, phone, peerPort } = await setup(t);
  // a=setup:active is the DTLS client (RFC 5763 §5); an actpass offerer is answered active by the relay.
  const peerRole = sc.peerSetup === 'active' ? 'client' : 'server';
  const sdp = peerSdp(peerPort, sc.peerSetup, id.fingerprint);
  // A relay that connects does so once it knows its role and the address: openssl listens before that.
  const server = peerRole === 'server' ? await sServer(t, id, peerPort, sc.peer) : undefined;
  const legs = sc.caller === 'peer' ? await peerCalls(ng, sc.callId, sdp, phone) : await phoneCalls(ng, sc.callId, phone, sdp);
  checkSdp(t, legs, sc.relaySetup);
  const openssl = server ?? sClient(t, id, peerPort, legs.peerFacing, sc.peer);
  const hs = await openssl.handshake();
  checkRelayCertificate(t, hs, legs, profile);
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, peerRole, profile));
  await media(t, peer, phone, legs);
  await expectEngine(t, relay, sc.callId, { handshakes: true });
}

t.test('DTLS peer offers a=setup:active: the relay serves, openssl s_client connects, libsrtp2 carries the media', { skip }, (t) =>
  call(t, { callId: 'o1', caller: 'peer', peerSetup: 'active', relaySetup: 'passive' }),
);

t.test('DTLS peer offers a=setup:actpass: the relay answers active and connects to openssl s_server', { skip }, (t) =>
  call(t, { callId: 'o2', caller: 'peer', peerSetup: 'actpass', relaySetup: 'active' }),
);

t.test('plain caller to a DTLS callee answering a=setup:passive: the relay connects to openssl s_server', { skip }, (t) =>
  call(t, { callId: 'o3', caller: 'phone', peerSetup: 'passive', relaySetup: 'actpass' }),
);

t.test('plain caller to a DTLS callee answering a=setup:active: the relay serves openssl s_client', { skip }, (t) =>
  call(t, { callId: 'o4', caller: 'phone', peerSetup: 'active', relaySetup: 'actpass' }),
);

t.test('the AEAD_AES_128_GCM profile, relay serving: s_client offers only SRTP_AEAD_AES_128_GCM, libsrtp2 keys AES-GCM from 56 bytes', { skip }, (t) =>
  call(t, { callId: 'o5', caller: 'peer', peerSetup: 'active', relaySetup: 'passive', peer: { profile: 'SRTP_AEAD_AES_128_GCM' } }),
);

t.test('the AEAD_AES_128_GCM profile, relay connecting: s_server picks it from the relay\'s use_srtp list', { skip }, (t) =>
  call(t, { callId: 'o11', caller: 'peer', peerSetup: 'passive', relaySetup: 'active', peer: { profile: 'SRTP_AEAD_AES_128_GCM' } }),
);

// An RSA certificate (~800 bytes) over a 400-byte link MTU: openssl splits its handshake messages into
// fragments the relay must reassemble, and the relay must verify RSA signatures (ECDHE-RSA as server peer).
t.test('an RSA peer certificate in fragmented handshake messages, relay serving', { skip }, (t) =>
  call(t, { callId: 'o6', caller: 'phone', peerSetup: 'active', relaySetup: 'actpass', identity: rsaIdentity, peer: { args: ['-mtu', '400'] } }),
);

t.test('an RSA peer certificate in fragmented handshake messages, relay connecting', { skip }, (t) =>
  call(t, { callId: 'o7', caller: 'peer', peerSetup: 'actpass', relaySetup: 'active', identity: rsaIdentity, peer: { args: ['-mtu', '400'] } }),
);

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
  const { ng, phone, peerPort } = await setup(t);
  // The SDP vouches for someone else's certificate; openssl presents the peer's own.
  const legs = await peerCalls(ng, 'o8', peerSdp(peerPort, 'active', otherIdentity!.fingerprint), phone);
  const openssl = sClient(t, peerIdentity!, peerPort, legs.peerFacing);
  // openssl finishes its side of the handshake before the relay has checked the certificate.
  const hs = await openssl.handshake();
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'client'));
  await noMedia(t, ng, peer, phone, legs);
});

t.test('the peer\'s certificate does not match its a=fingerprint (relay connecting): no media either way', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const { ng, phone, peerPort } = await setup(t);
  const openssl = await sServer(t, peerIdentity!, peerPort);
  const legs = await phoneCalls(ng, 'o9', phone, peerSdp(peerPort, 'passive', otherIdentity!.fingerprint));
  const hs = await openssl.handshake();
  await openssl.stop();
  const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'server'));
  await noMedia(t, ng, peer, phone, legs);
});

/** A genuine first ClientHello (no cookie) from openssl, caught on a plain UDP socket. */
async function capturedClientHello(t: Test, id: Identity): Promise<Buffer> {
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const first = new Promise<Buffer>((resolve) => socket.once('message', (msg) => resolve(msg)));
  const openssl = OpensslPeer.start(t, ['s_client', '-dtls', '-connect', `127.0.0.1:${socket.address().port}`, '-noservername', '-cert', id.cert, '-key', id.key, ...srtpArgs('SRTP_AES128_CM_SHA1_80')]);
  const hello = await Promise.race([first, sleep(5000).then(() => undefined)]);
  await openssl.stop();
  if (!hello) throw new Error('openssl sent no ClientHello');
  return hello;
}

// Without ICE, DTLS from any address reaches the side's one DTLS server, and every cookieless ClientHello
// would rerun its flight 2 (new randoms, new ECDHE key pair) and redirect its next flights. ClientHellos
// from a second address while the real peer handshakes (a forked callee, or anyone who can reach the
// port) must not cost the real peer its association: a handshake in progress belongs to its address.
t.test('ClientHellos from another address during the handshake do not cost the real peer its media', { skip }, async (t) => {
  if (!prerequisites(t)) return;
  const id = peerIdentity!;
  const hello = await capturedClientHello(t, otherIdentity!);
  t.equal(hello[0], 22, 'a DTLS handshake record');
  t.equal(hello[13], 1, 'holding a ClientHello');
  const { ng, phone, peerPort } = await setup(t);
  const legs = await peerCalls(ng, 'o10', peerSdp(peerPort, 'active', id.fingerprint), phone);
  const stray = await Phone.open();
  t.teardown(() => stray.close());
  const openssl = sClient(t, id, peerPort, legs.peerFacing);
  let handshaking = true;
  const flood = (async () => {
    for (let i = 0; i < 40 && handshaking; i++) {
      await stray.send(hello, legs.peerFacing, '127.0.0.1');
      await sleep(5);
    }
  })();
  const hs = await openssl.handshake(2000).catch(() => undefined);
  handshaking = false;
  await flood;
  await openssl.stop();
  t.ok(hs, 'the real peer completes its handshake');
  let through = false;
  if (hs) {
    const peer = await SrtpPeer.start(t, peerPort, legs.peerFacing, srtpKeys(hs.material, 'client'));
    through = await sendUntil((i) => peer.send('rtp', rtp(1 + i, 0x5ee0_0003)), () => phone.received.length > 0, 10, 50);
  }
  t.ok(through, 'and its SRTP reaches the phone');
});
