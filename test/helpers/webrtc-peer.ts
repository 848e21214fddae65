/**
 * A WebRTC-like endpoint for tests, independent of the relay's own DTLS glue: one UDP socket carrying
 * STUN, DTLS (werift) and SRTP, demultiplexed by first byte as a browser does (RFC 7983).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { CipherContext, DtlsClient, DtlsServer, HashAlgorithm, NamedCurveAlgorithm, SignatureAlgorithm, type DtlsSocket } from '../../src/dtls/werift.js';
import { encodeStun, parseStun, StunAttr, StunType } from '../../src/ice/stun.js';
import { SrtpContext } from '../../src/srtp/context.js';
import { suiteByName } from '../../src/srtp/suites.js';

export interface RelayIce {
  ufrag: string;
  pwd: string;
}

export class WebrtcPeer {
  readonly ufrag = randomBytes(3).toString('hex');
  readonly pwd = randomBytes(12).toString('hex');
  readonly rtp: Buffer[] = [];
  readonly stunResponses: Buffer[] = [];
  private dtls: DtlsSocket | undefined;
  private onDtls: (msg: Buffer) => void = () => undefined;
  tx: SrtpContext | undefined;
  rx: SrtpContext | undefined;

  private constructor(
    readonly socket: Socket,
    readonly address: string,
    readonly port: number,
    private readonly identity: { certPem: string; keyPem: string },
    readonly fingerprint: string,
  ) {
    socket.on('message', (msg) => {
      const first = msg[0]!;
      if (first < 4) this.stunResponses.push(msg);
      else if (first >= 20 && first <= 63) this.onDtls(msg);
      else if (first >= 128) this.rtp.push(msg);
    });
  }

  /** `address`: where the peer's one socket lives, and where it sends to the relay (same family). */
  static async open(address = '127.0.0.1'): Promise<WebrtcPeer> {
    const socket = createSocket(address.includes(':') ? { type: 'udp6', ipv6Only: true } : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    const identity = await CipherContext.createSelfSignedCertificateWithKey({ hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 }, NamedCurveAlgorithm.secp256r1_23);
    const der = Buffer.from(identity.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const fingerprint = createHash('sha256').update(der).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
    return new WebrtcPeer(socket, address, socket.address().port, identity, fingerprint);
  }

  /** A browser's offer: UDP/TLS/RTP/SAVPF, ICE, DTLS actpass, rtcp-mux, opus. */
  offer(setup = 'actpass', fingerprint = this.fingerprint): string {
    return [
      'v=0',
      'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=group:BUNDLE 0',
      `m=audio ${this.port} UDP/TLS/RTP/SAVPF 111 0`,
      'c=IN IP4 127.0.0.1',
      `a=rtcp:${this.port} IN IP4 127.0.0.1`,
      `a=candidate:1 1 udp 2113937151 127.0.0.1 ${this.port} typ host generation 0`,
      `a=ice-ufrag:${this.ufrag}`,
      `a=ice-pwd:${this.pwd}`,
      'a=ice-options:trickle',
      `a=fingerprint:sha-256 ${fingerprint}`,
      `a=setup:${setup}`,
      'a=mid:0',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=rtpmap:0 PCMU/8000',
      '',
    ].join('\r\n');
  }

  /** A connectivity check to the relay (controlling agent), optionally nominating, optionally with a wrong password. */
  async check(relayPort: number, relay: RelayIce, opts: { nominate?: boolean; pwd?: string } = {}): Promise<Buffer> {
    const txid = randomBytes(12);
    const attrs = [
      { type: StunAttr.Username, value: Buffer.from(`${relay.ufrag}:${this.ufrag}`) },
      { type: StunAttr.Priority, value: Buffer.from([0x6e, 0x7f, 0x1e, 0xff]) },
      { type: StunAttr.IceControlling, value: randomBytes(8) },
      ...(opts.nominate ? [{ type: StunAttr.UseCandidate, value: Buffer.alloc(0) }] : []),
    ];
    const msg = encodeStun(StunType.BindingRequest, txid, attrs, opts.pwd ?? relay.pwd);
    await this.send(msg, relayPort);
    return txid;
  }

  /** The response to `txid`, if one arrived; with its attributes. */
  response(txid: Buffer): { msg: Buffer; attrs: Map<number, Buffer> } | undefined {
    const msg = this.stunResponses.find((m) => m.subarray(8, 20).equals(txid));
    if (!msg) return undefined;
    return { msg, attrs: new Map(parseStun(msg)!.map((a) => [a.type, a.value])) };
  }

  /** Runs the DTLS handshake with the relay at `relayPort` in `role`, then keys SRTP from it. */
  async handshake(relayPort: number, role: 'client' | 'server', timeoutMs = 20_000): Promise<void> {
    const transport = {
      type: 'udp',
      address: { address: this.address, family: this.address.includes(':') ? 'IPv6' : 'IPv4', port: this.port },
      closed: false,
      onData: (_d: Buffer, _a: readonly [string, number]): void => undefined,
      send: async (data: Buffer) => this.send(data, relayPort),
      close: async () => undefined,
    };
    const options = {
      transport,
      srtpProfiles: [1 as const, 7 as const],
      cert: this.identity.certPem,
      key: this.identity.keyPem,
      signatureHash: { hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 },
      certificateRequest: true,
      extendedMasterSecret: true,
    };
    const dtls = role === 'client' ? new DtlsClient(options) : new DtlsServer(options);
    this.dtls = dtls;
    this.onDtls = (msg) => transport.onData(msg, [this.address, relayPort]);
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('DTLS handshake timed out')), timeoutMs);
      dtls.onConnect.once(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (role === 'client') void (dtls as DtlsClient).connect().catch(() => undefined);
    await connected;
    const suite = suiteByName(dtls.srtp.srtpProfile === 7 ? 'AEAD_AES_128_GCM' : 'AES_CM_128_HMAC_SHA1_80')!;
    const keys = dtls.extractSessionKeys(suite.keyLength, suite.saltLength) as Record<string, Buffer>;
    this.tx = new SrtpContext({ suite: suite.name, masterKey: keys.localKey!, masterSalt: keys.localSalt! });
    this.rx = new SrtpContext({ suite: suite.name, masterKey: keys.remoteKey!, masterSalt: keys.remoteSalt! });
  }

  send(msg: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(msg, port, this.address, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.dtls?.onConnect.allUnsubscribe();
    this.socket.close();
  }
}
