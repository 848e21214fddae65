/**
 * The ng protocol over TCP (`--listen-tcp-ng`), as rtpengine frames it: `<cookie> <bencode dictionary>`
 * messages back to back on the stream, each found by decoding the dictionary, each answered in turn.
 * A connection that sends something else, or more than MAX_PENDING bytes without completing a message,
 * gets an error reply (when its cookie is readable) and is closed; one cut mid-message just ends.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { decodePrefix } from '../ng/bencode.js';
import type { NgEndpoint } from '../ng/endpoint.js';
import { MAX_COOKIE_LENGTH } from '../ng/message.js';
import { normaliseAddress } from '../util/address.js';
import type { ControlAcl } from './acl.js';
import { closeAll, listenAll, type Bound } from './listen.js';

const MAX_PENDING = 1024 * 1024;

export class TcpNgServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Socket>();

  constructor(
    private readonly endpoint: NgEndpoint,
    private readonly listen: string[],
    private readonly log: Logger,
    private readonly acl?: ControlAcl,
  ) {}

  async start(): Promise<Bound[]> {
    const listening = await listenAll(this.listen, 'TCP ng', () => createServer((socket) => this.serve(socket)), this.acl && { acl: this.acl, transport: 'tcp' });
    this.servers.push(...listening.map((l) => l.server));
    return listening.map((l) => l.bound);
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await closeAll(this.servers);
  }

  private serve(socket: Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => undefined);
    const source = normaliseAddress(socket.remoteAddress ?? '');
    let pending: Buffer = Buffer.alloc(0);
    let busy = false;
    // One message at a time per connection, in order; data that arrives meanwhile waits in `pending`.
    const next = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (let framed = this.split(pending); framed !== undefined; framed = this.split(pending)) {
          if (framed === 'bad') {
            // Answered under its cookie when one can be read (the endpoint salvages it), then closed.
            const reply = await this.endpoint.framed(pending.subarray(0, MAX_PENDING), source);
            if (reply && !socket.destroyed) socket.write(reply);
            pending = Buffer.alloc(0);
            socket.end();
            return;
          }
          pending = pending.subarray(framed.length);
          const reply = await this.endpoint.framed(framed, source);
          if (reply && !socket.destroyed) socket.write(reply);
        }
        if (pending.length > MAX_PENDING) {
          this.log.info({ from: source }, 'TCP ng: message too large, closing');
          socket.destroy();
        }
      } finally {
        busy = false;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // Checked here too: data keeps coming while a request is being answered.
      if (pending.length > MAX_PENDING) {
        this.log.info({ from: source }, 'TCP ng: message too large, closing');
        socket.destroy();
        return;
      }
      void next();
    });
  }

  /** The first whole message in `buf`, undefined while it is incomplete, 'bad' when it cannot become one. */
  private split(buf: Buffer): Buffer | 'bad' | undefined {
    if (buf.length === 0) return undefined;
    const space = buf.subarray(0, MAX_COOKIE_LENGTH + 1).indexOf(0x20);
    if (space < 0) return buf.length > MAX_COOKIE_LENGTH ? 'bad' : undefined;
    try {
      const body = decodePrefix(buf.subarray(space + 1));
      return body === undefined ? undefined : buf.subarray(0, space + 1 + body.length);
    } catch {
      return 'bad';
    }
  }
}
