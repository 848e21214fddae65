/**
 * rtpengine's CLI protocol (`--listen-cli`): a client connects, sends one command line, reads the answer
 * until the connection closes. Input is capped and slow clients are cut off.
 */
import { createServer, type Server } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Relay } from '../relay.js';
import { familyOf, parseHostPort } from '../util/address.js';
import { runCliCommand } from './cli-commands.js';

const MAX_LINE = 64 * 1024;
const IDLE_MS = 10_000;

export class CliServer {
  private readonly servers: Server[] = [];

  constructor(
    private readonly relay: Relay,
    private readonly listen: string[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<Array<{ address: string; port: number }>> {
    const bound: Array<{ address: string; port: number }> = [];
    for (const spec of this.listen) {
      const ep = parseHostPort(spec);
      if (!ep) throw new ConfigError(`invalid CLI listen address '${spec}'`);
      const server = createServer((socket) => {
        let input = '';
        socket.setTimeout(IDLE_MS, () => socket.destroy());
        socket.on('error', () => undefined);
        const answer = (line: string): void => {
          socket.removeAllListeners('data');
          runCliCommand(this.relay, line.trim().split(/\s+/)).then(
            (text) => socket.end(text),
            (err: unknown) => {
              this.log.error({ err }, 'CLI command failed');
              socket.end('internal error\n');
            },
          );
        };
        socket.on('data', (chunk: Buffer) => {
          input += chunk.toString('utf8');
          const newline = input.indexOf('\n');
          if (newline >= 0) answer(input.slice(0, newline));
          else if (input.length > MAX_LINE) socket.destroy();
        });
        // A client that sends its command and half-closes without a newline still gets an answer.
        socket.on('end', () => socket.listenerCount('data') > 0 && answer(input));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: ep.port, host: ep.address, ipv6Only: familyOf(ep.address) === 'IP6' }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.servers.push(server);
      const a = server.address();
      if (a && typeof a === 'object') bound.push({ address: a.address, port: a.port });
    }
    return bound;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
