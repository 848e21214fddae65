import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { pino, type Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Relay } from '../relay.js';
import { familyOf, parseHostPort } from '../util/address.js';
import type { NgCommands } from './commands.js';
import { NgEndpoint } from './endpoint.js';

export interface NgServerOptions {
  /** `host:port`, `[v6]:port` or `port`, as for rtpengine's `--listen-ng`. */
  listen: string[];
  logger?: Logger;
  /** How long a reply is replayed for a retransmitted cookie (rtpengine: 30 s). */
  replyCacheMs?: number;
}

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
  /** Requests being handled: close() lets them answer first. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    relay: Relay,
    private readonly options: NgServerOptions,
  ) {
    this.log = options.logger ?? pino({ level: 'silent' });
    this.endpoint = new NgEndpoint(relay, this.log, options.replyCacheMs);
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
      const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
      socket.on('message', (msg, rinfo) => {
        const handling = this.handle(socket, msg, rinfo).finally(() => this.inFlight.delete(handling));
        this.inFlight.add(handling);
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
      const a = socket.address();
      bound.push({ address: a.address, port: a.port, family: a.family });
    }
    return bound;
  }

  /** Stops listening once the requests in flight have been answered (a stop from within one, e.g. when drained, included). */
  async close(): Promise<void> {
    await Promise.all(this.inFlight);
    this.endpoint.close();
    await Promise.all(this.sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private async handle(socket: Socket, msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    const reply = await this.endpoint.framed(msg, rinfo.address);
    if (!reply) return;
    await new Promise<void>((resolve) =>
      socket.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) this.log.warn({ err, to: rinfo.address }, 'ng reply not sent');
        resolve();
      }),
    );
  }
}
