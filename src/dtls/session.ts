/**
 * One DTLS-SRTP association (RFC 5763/5764) on a media port, run inside the forwarding thread that
 * owns the port: handshake packets come in demultiplexed from RTP and STUN (RFC 7983) and go out on
 * the same socket; once connected the exported keys become the side's SRTP contexts.
 */
import type { Endpoint } from '../shared/vocabulary.js';
import type { SrtpKeyPair } from '../srtp/keys.js';
import { suiteByName } from '../srtp/suites.js';
import type { DtlsIdentity } from './identity.js';
import { DtlsClient, DtlsServer, HashAlgorithm, SignatureAlgorithm, type DtlsSocket } from './werift.js';

/** Our role in the handshake: `a=setup:active` is the client (RFC 5763 §5). */
export type DtlsRole = 'client' | 'server';

export interface DtlsResult {
  srtp: SrtpKeyPair;
  /** DER; checked against the peer's a=fingerprint by the caller. */
  remoteCertificate: Buffer;
}

/** use_srtp profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) in our order of preference, and their SDES suites. */
const PROFILES: ReadonlyArray<readonly [1 | 7, string]> = [
  [1, 'AES_CM_128_HMAC_SHA1_80'],
  [7, 'AEAD_AES_128_GCM'],
];

export class DtlsSession {
  private readonly socket: DtlsSocket;
  private readonly transport: WeriftTransport;
  private peer: Endpoint | undefined;
  private closed = false;

  constructor(
    identity: DtlsIdentity,
    readonly role: DtlsRole,
    send: (msg: Buffer, to: Endpoint) => void,
    onConnected: (result: DtlsResult) => void,
    onFailed: (reason: string) => void,
  ) {
    this.transport = {
      type: 'udp',
      address: { address: '', family: '', port: 0 },
      closed: false,
      onData: () => undefined,
      send: async (data: Buffer) => {
        if (!this.closed && this.peer) send(data, this.peer);
      },
      close: async () => undefined,
    };
    const options = {
      transport: this.transport,
      srtpProfiles: PROFILES.map(([id]) => id),
      cert: identity.certPem,
      key: identity.keyPem,
      signatureHash: { hash: HashAlgorithm.sha256_4, signature: identity.signature === 'ecdsa' ? SignatureAlgorithm.ecdsa_3 : SignatureAlgorithm.rsa_1 },
      // The client's certificate is what its a=fingerprint vouches for: we must see it.
      certificateRequest: true,
      extendedMasterSecret: true,
    };
    this.socket = role === 'server' ? new DtlsServer(options) : new DtlsClient(options);
    this.socket.onConnect.subscribe(() => {
      if (this.closed) return;
      try {
        onConnected(this.result());
      } catch (err) {
        onFailed((err as Error).message);
      }
    });
    this.socket.onError.subscribe((err: unknown) => !this.closed && onFailed(String((err as Error)?.message ?? err)));
  }

  /** Who the handshake is with: the source of its packets (server) or where we connect (client). */
  get remote(): Endpoint | undefined {
    return this.peer;
  }

  /** Feeds one datagram; false when it is not DTLS the library could read. */
  receive(msg: Buffer, from: Endpoint): boolean {
    if (this.closed) return false;
    this.peer = from;
    try {
      this.transport.onData(msg, [from.address, from.port]);
      return true;
    } catch {
      return false;
    }
  }

  /** Client role: starts the handshake towards `to` (retransmitted by the library until it gives up). */
  connect(to: Endpoint): void {
    if (this.closed || this.role !== 'client') return;
    this.peer = to;
    (this.socket as DtlsClient).connect().catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.transport.closed = true;
    this.socket.onConnect.allUnsubscribe();
    this.socket.onError.allUnsubscribe();
  }

  private result(): DtlsResult {
    const profile = PROFILES.find(([id]) => id === this.socket.srtp.srtpProfile);
    const suite = profile && suiteByName(profile[1]);
    if (!suite) throw new Error(`DTLS peer chose no SRTP profile we offered (${String(this.socket.srtp.srtpProfile)})`);
    const remoteCertificate = this.socket.remoteCertificate;
    if (!remoteCertificate) throw new Error('DTLS peer sent no certificate');
    const keys = this.socket.extractSessionKeys(suite.keyLength, suite.saltLength) as Record<'localKey' | 'localSalt' | 'remoteKey' | 'remoteSalt', Buffer>;
    return {
      srtp: {
        decrypt: { suite: suite.name, masterKey: keys.remoteKey, masterSalt: keys.remoteSalt },
        encrypt: { suite: suite.name, masterKey: keys.localKey, masterSalt: keys.localSalt },
      },
      remoteCertificate: Buffer.from(remoteCertificate),
    };
  }
}

/** The transport shape werift drives (its Transport interface). */
interface WeriftTransport {
  type: string;
  address: { address: string; family: string; port: number };
  closed: boolean;
  onData: (data: Buffer, addr: readonly [string, number]) => void;
  send: (data: Buffer) => Promise<void>;
  close: () => Promise<void>;
}
