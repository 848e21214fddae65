/**
 * STUN and DTLS on the media port of a side that faces an ICE or DTLS-SRTP participant (RFC 7983
 * demultiplexing: first byte 0-3 STUN, 20-63 DTLS). The relay is an ICE-lite agent: it answers
 * connectivity checks and takes the nominated address as the participant's; it runs the DTLS handshake
 * and hands the exported keys to the side. Everything here is rate-limited per side, so a flood of
 * handshakes on one port costs that port, not the thread.
 */
import type { Endpoint } from '../shared/vocabulary.js';
import { DtlsSession, type DtlsResult } from '../dtls/session.js';
import { FINGERPRINT_HASHES, fingerprintOf, type DtlsIdentity } from '../dtls/identity.js';
import { bindingSuccess, readBindingRequest } from '../ice/stun.js';
import { sameEndpoint } from '../util/address.js';
import type { SideDtls, SideIce, SrtpKeyPair, StreamKind } from './types.js';

/**
 * What the forwarder does with the outcome of one handshake packet. `via` is the stream it arrived on,
 * `port` the socket (the side may have one per address of its interface); sends without a port (DTLS
 * retransmissions) leave from the stream's current socket.
 */
export interface HandshakeHost<P> {
  send(msg: Buffer, to: Endpoint, via: StreamKind, port?: P): void;
  /** An authenticated check (or the nomination) from `from` at `port`: media for the participant goes there, from there. */
  nominated(from: Endpoint, via: StreamKind, port: P): void;
  /** The DTLS handshake of `association` finished and the peer's certificate matched its a=fingerprint; null: its keys are void. */
  secured(srtp: SrtpKeyPair | null, association?: SideDtls): void;
}

export type HandshakeVerdict = 'ok' | 'stun' | 'dtls';

/**
 * How long a handshake the relay serves belongs to the address that started it. Datagrams from elsewhere
 * would restart or derail it (a ClientHello makes the server begin anew); after this long without
 * finishing it is given up, so a stray sender that got there first cannot hold the port. As client the
 * relay takes the reply to its own ClientHello from wherever it comes (NAT).
 */
const HANDSHAKE_PIN_MS = 3000;

/** Packets per second (and burst) beyond which STUN/DTLS is dropped; a real ICE + DTLS exchange needs a few dozen. */
const RATE = 50;
const BURST = 100;

/** A token bucket: at most BURST at once, refilled at RATE per second. */
class Allowance {
  private tokens = BURST;
  private refilledAt = 0;

  take(now: number): boolean {
    this.tokens = Math.min(BURST, this.tokens + ((now - this.refilledAt) * RATE) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

export class SideHandshakes<P> {
  private ice: SideIce | null = null;
  private dtlsConfig: SideDtls | null = null;
  private session: DtlsSession | undefined;
  /** Finished handshake waiting for the peer's fingerprint (the answer may arrive after the handshake). */
  private pending: DtlsResult | undefined;
  private securedBy: Endpoint | undefined;
  /** When the session in progress began, for HANDSHAKE_PIN_MS. */
  private sessionSince = 0;
  /** Where the participant's SDP says it is: its handshake may always start over. */
  private expected: Endpoint | null = null;
  /** Address of the last authenticated connectivity check: the only one allowed to do DTLS once known. */
  private iceRemote: Endpoint | undefined;
  /** The peer that proved it knows the ICE password (or finished the handshake) has its own allowance, so a flood from elsewhere cannot starve it. */
  private readonly verified = new Allowance();
  private readonly others = new Allowance();

  constructor(
    private readonly host: HandshakeHost<P>,
    private readonly identity: () => DtlsIdentity | undefined,
  ) {}

  get active(): boolean {
    return this.ice !== null || this.dtlsConfig !== null;
  }

  configure(ice: SideIce | null, dtls: SideDtls | null, endpoint: Endpoint | null): void {
    this.ice = ice;
    this.expected = endpoint;
    const before = this.dtlsConfig;
    this.dtlsConfig = dtls;
    const peerChanged = before?.fingerprint != null && (before.fingerprint.hash !== dtls?.fingerprint?.hash || before.fingerprint.value !== dtls.fingerprint.value);
    if ((dtls === null || dtls.role !== before?.role || peerChanged) && (this.session || this.securedBy)) {
      // Another certificate or role is another association: its keys, if any, no longer hold.
      if (this.securedBy) this.host.secured(null);
      this.reset();
    }
    if (this.pending && dtls?.fingerprint) this.finish(this.pending);
    // A client without ICE connects to the address from the SDP; with ICE it waits for the first check.
    if (ice === null && endpoint !== null) this.startClient(endpoint);
  }

  /** One STUN or DTLS datagram from `from`, received on a socket that replies via `host.send`. */
  receive(msg: Buffer, from: Endpoint, via: StreamKind, now: number, port: P): HandshakeVerdict {
    const trusted = sameEndpoint(from, this.iceRemote) || sameEndpoint(from, this.securedBy);
    if (!(trusted ? this.verified : this.others).take(now)) return msg[0]! < 4 ? 'stun' : 'dtls';
    return msg[0]! < 4 ? this.stun(msg, from, via, port) : this.dtls(msg, from, via, now);
  }

  close(): void {
    this.reset();
  }

  private stun(msg: Buffer, from: Endpoint, via: StreamKind, port: P): HandshakeVerdict {
    const ice = this.ice;
    if (!ice) return 'stun';
    const request = readBindingRequest(msg, ice.ufrag, ice.pwd);
    if (typeof request === 'string') return 'stun';
    this.host.send(bindingSuccess(request, from, ice.pwd), from, via, port);
    // ICE-lite learns from the nominated pair; before any nomination the first valid check will do.
    if (via === 'RTCP') this.host.nominated(from, via, port);
    else if (request.useCandidate || this.iceRemote === undefined) {
      this.iceRemote = from;
      this.host.nominated(from, via, port);
      this.startClient(from);
    }
    return 'ok';
  }

  /** DTLS runs on the RTP port only; its keys protect RTCP too (mux, as every WebRTC peer does). */
  private dtls(msg: Buffer, from: Endpoint, via: StreamKind, now: number): HandshakeVerdict {
    if (!this.dtlsConfig || via !== 'RTP' || msg[0]! < 20 || msg[0]! > 63) return 'dtls';
    // With ICE, only the address that proved it knows the ICE password may handshake.
    if (this.ice !== null && !sameEndpoint(from, this.iceRemote)) return 'dtls';
    if (this.securedBy && !sameEndpoint(from, this.securedBy)) return 'dtls';
    const inProgress = this.session?.role === 'server' ? this.session.remote : undefined;
    if (!this.securedBy && inProgress && !sameEndpoint(from, inProgress)) {
      // Someone else mid-handshake: dropped, unless it is where the SDP says the participant is or the handshake stalled.
      if (!sameEndpoint(from, this.expected ?? undefined) && now - this.sessionSince < HANDSHAKE_PIN_MS) return 'dtls';
      this.reset();
    }
    const session = this.ensureSession();
    if (!session) return 'dtls';
    return session.receive(msg, from) ? 'ok' : 'dtls';
  }

  private startClient(to: Endpoint): void {
    if (this.dtlsConfig?.role !== 'client' || this.session) return;
    this.ensureSession()?.connect(to);
  }

  private ensureSession(): DtlsSession | undefined {
    if (this.session) return this.session;
    const identity = this.identity();
    const config = this.dtlsConfig;
    if (!identity || !config) return undefined;
    this.sessionSince = Date.now();
    this.session = new DtlsSession(
      identity,
      config.role,
      (m, to) => this.host.send(m, to, 'RTP'),
      (result) => {
        this.securedBy = this.session?.remote;
        this.pending = result;
        if (this.dtlsConfig?.fingerprint) this.finish(result);
      },
      // A failed handshake starts over with the next ClientHello (or the next check, as client).
      () => this.reset(),
    );
    return this.session;
  }

  private finish(result: DtlsResult): void {
    this.pending = undefined;
    const expected = this.dtlsConfig?.fingerprint;
    const known = expected !== undefined && expected !== null && Object.hasOwn(FINGERPRINT_HASHES, expected.hash.toLowerCase());
    if (!known || fingerprintOf(result.remoteCertificate, expected.hash) !== expected.value.toUpperCase()) {
      // RFC 5763 §5: a certificate that does not match a=fingerprint ends the association.
      this.reset();
      return;
    }
    this.host.secured(result.srtp, this.dtlsConfig!);
  }

  private reset(): void {
    this.session?.close();
    this.session = undefined;
    this.pending = undefined;
    this.securedBy = undefined;
  }
}
