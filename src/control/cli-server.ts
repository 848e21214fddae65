/**
 * rtpengine's CLI protocol (`--listen-cli`): a client connects, sends one command line, reads the answer
 * until the connection closes. Input is capped and slow clients are cut off.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Relay } from '../relay.js';
import { runCliCommand } from './cli-commands.js';
import type { ControlAcl } from './acl.js';
import { closeAll, listenAll, type Bound } from './listen.js';

const MAX_LINE = 64 * 1024;
const IDLE_MS = 10_000;

export class CliServer {
  private readonly servers: Server[] = [];

  constructor(
    private readonly relay: Relay,
    private readonly listen: string[],
    private readonly log: Logger,
    private readonly acl?: ControlAcl,
  ) {}

  async start(): Promise<Bound[]> {
    const listening = await listenAll(this.listen, 'CLI', () => createServer((socket) => this.serve(socket)), this.acl && { acl: this.acl, transport: 'cli' });
    this.servers.push(...listening.map((l) => l.server));
    return listening.map((l) => l.bound);
  }

  /** One connection: a command line in, its answer out, then closed. */
  private serve(socket: Socket): void {
    let input = '';
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    const answer = (line: string): void => {
      socket.removeAllListeners('data');
      runCliCommand(this.relay, line.trim().split(/\s+/))
        .then((text) => socket.end(text))
        .catch((err: unknown) => {
          this.log.error({ err }, 'CLI command failed');
          socket.end('internal error\n');
        });
    };
    socket.on('data', (chunk: Buffer) => {
      input += chunk.toString('utf8');
      const newline = input.indexOf('\n');
      if (newline >= 0) answer(input.slice(0, newline));
      else if (input.length > MAX_LINE) socket.destroy();
    });
    // A client that sends its command and half-closes without a newline still gets an answer.
    socket.on('end', () => socket.listenerCount('data') > 0 && answer(input));
  }

  async close(): Promise<void> {
    await closeAll(this.servers);
  }
}
