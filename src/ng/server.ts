import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { pino, type Logger } from 'pino';
import type { ControlAcl } from '../control/acl.js';
import { udpDrops } from '../control/udp-drops.js';
import { ConfigError } from '../errors.js';
import type { Relay } from '../relay.js';
import { familyOf, literalLookup, parseHostPort } from '../util/address.js';
import { InFlight } from '../util/in-flight.js';
import type { NgCommands } from './commands.js';
import { NgEndpoint } from './endpoint.js';
import { encodeNgReply, parseNgMessage } from './message.js';
import { errorReply } from './replies.js';

export interface NgServerOptions {
  /** `host:port`, `[v6]:port` or `port`, as for rtpengine's `--listen-ng`. */
  listen: string[];
  logger?: Logger;
  /** How long a reply is replayed for a retransmitted cookie (rtpengine: 30 s). */
  replyCacheMs?: number;
  /** ng requests waiting or executing beyond which new ones are refused (`--max-ng-queue`). */
  maxInProgress?: number;
  /** How long a request may wait for its turn and still be executed (`--max-ng-wait`). */
  maxWaitMs?: number;
  /** Who may send requests; without one, anyone (a library user's choice). */
  acl?: ControlAcl;
  /** Receive buffer asked for each socket: a burst of requests waits there, not in the relay. */
  receiveBufferBytes?: number;
}

/** The largest UDP payload (IPv4); a reply past it cannot be sent as one datagram. */
const MAX_DATAGRAM = 65_507;
/**
 * About 1,600 requests (a kilobyte of kernel memory each): a burst waits here while the event loop is
 * busy, and what does not fit the kernel drops and counts. The loop reads faster than it works (the
 * endpoint's requests take turns), so the backlog moves on to where its wait is measured.
 */
const RECEIVE_BUFFER_BYTES = 1024 * 1024;

export interface ListeningAddress {
  address: string;
  port: number;
  family: string;
}

/** The ng control protocol over UDP: `<cookie> <dict>` in, `<cookie> <dict>` out, one socket per listen address. */
export class NgServer {
  /** The transport-free ng adapter; other transports (HTTP, TCP, WebSocket) share it. */
  readonly endpoint: NgEndpoint;
  private readonly log: Logger;
  private readonly sockets: Socket[] = [];
  /** Requests being handled, until their reply is sent: close() lets them answer first. */
  private readonly inFlight = new InFlight();
  private lastMessageAt = 0;

  constructor(
    relay: Relay,
    private readonly options: NgServerOptions,
  ) {
    this.log = options.logger ?? pino({ level: 'silent' });
    const { replyCacheMs, maxInProgress, maxWaitMs } = options;
    this.endpoint = new NgEndpoint(relay, this.log, { replyCacheMs, maxInProgress, maxWaitMs });
  }

  get commands(): NgCommands {
    return this.endpoint.commands;
  }

  async start(): Promise<ListeningAddress[]> {
    const bound: ListeningAddress[] = [];
    for (const spec of this.options.listen) {
      const ep = parseHostPort(spec);
      if (!ep) throw new ConfigError(`invalid ng listen address '${spec}'`);
      const v6 = familyOf(ep.address) === 'IP6';
      const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, lookup: literalLookup });
      socket.on('message', (msg, rinfo) => {
        this.lastMessageAt = performance.now();
        if (this.options.acl && !this.options.acl.admits(rinfo.address, 'udp')) return;
        this.inFlight.start();
        void this.handle(socket, msg, rinfo);
      });
      socket.on('error', (err) => this.log.error({ err }, 'ng socket error'));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(ep.port, ep.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      this.sockets.push(socket);
      this.sizeReceiveBuffer(socket);
      const a = socket.address();
      bound.push({ address: a.address, port: a.port, family: a.family });
    }
    return bound;
  }

  /** Requests the kernel dropped on the ng sockets because their receive buffers were full. */
  kernelDrops(): Promise<number> {
    return udpDrops(this.sockets.map((s) => s.address().port));
  }

  /**
   * Stops listening once the requests in flight have been answered (a stop from within one, e.g. when
   * drained, included); requests arriving meanwhile are refused with an error, not left unanswered.
   */
  async close(): Promise<void> {
    await this.endpoint.close();
    // Requests still waiting in the socket buffers are read and refused too, until a moment passes
    // without one (at most half a second): a proxy hears "shutting down" rather than nothing.
    for (let i = 0; i < 20 && performance.now() - this.lastMessageAt < 25; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    // Bounded: the endpoint refuses new work now, so only the sends of refusals can still start.
    await this.inFlight.idle();
    await Promise.all(this.sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** Answers one request; never rejects, and counts it out of `inFlight` once its reply is sent (or not). */
  private async handle(socket: Socket, msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    let reply: Buffer | undefined;
    try {
      reply = await this.endpoint.framed(msg, rinfo.address);
    } catch (err) {
      // framed() answers every failure with an error reply; reaching here is a bug, logged, not thrown.
      this.log.error({ err, from: rinfo.address }, 'ng request failed without a reply');
    }
    if (!reply) return this.inFlight.end();
    if (reply.length > MAX_DATAGRAM) reply = tooLarge(msg, reply.length);
    try {
      // A callback rather than an awaited promise: one allocation and one turn less per request.
      socket.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) this.log.warn({ err, to: rinfo.address }, 'ng reply not sent');
        this.inFlight.end();
      });
    } catch (err) {
      // The socket closed under a late reply: nothing to send it on.
      this.log.warn({ err, to: rinfo.address }, 'ng reply not sent');
      this.inFlight.end();
    }
  }

  /** Asks for room for a burst; the kernel may grant less (net.core.rmem_max), which is logged. */
  private sizeReceiveBuffer(socket: Socket): void {
    const want = this.options.receiveBufferBytes ?? RECEIVE_BUFFER_BYTES;
    try {
      socket.setRecvBufferSize(want);
    } catch (err) {
      this.log.warn({ err }, 'cannot size the ng receive buffer');
    }
    // Linux reports twice what it grants (the rest is its bookkeeping).
    const got = socket.getRecvBufferSize() / 2;
    if (got < want) this.log.warn({ wanted: want, got, sysctl: 'net.core.rmem_max' }, 'ng receive buffer smaller than asked: a burst of requests overflows sooner (raise net.core.rmem_max)');
  }
}

/** The error a UDP client gets instead of a reply too large for one datagram, under its cookie. */
function tooLarge(msg: Buffer, bytes: number): Buffer {
  const { cookie, format } = parseNgMessage(msg);
  return encodeNgReply(cookie, errorReply(`Reply too large for a UDP datagram (${bytes} bytes): ask for less (list with a smaller limit) or use ng over TCP or HTTP`), format);
}
