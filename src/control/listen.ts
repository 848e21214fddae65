/** Stream listeners of the control transports (HTTP, CLI, TCP ng): one server per listen address. */
import type { Server as NetServer } from 'node:net';
import { ConfigError } from '../errors.js';
import type { ControlAcl, ControlTransport } from './acl.js';
import { familyOf, parseHostPort } from '../util/address.js';

export interface Bound {
  address: string;
  port: number;
}

/** Who may connect to a stream listener: connections from elsewhere are closed before a byte is read. */
export interface Guard {
  acl: ControlAcl;
  transport: ControlTransport;
}

/** Makes a server per `host:port` spec with `create` and listens on it; resolves once all listen. */
export async function listenAll<S extends NetServer>(specs: readonly string[], what: string, create: () => S, guard?: Guard): Promise<Array<{ server: S; bound: Bound }>> {
  const out: Array<{ server: S; bound: Bound }> = [];
  for (const spec of specs) {
    const ep = parseHostPort(spec);
    if (!ep) throw new ConfigError(`invalid ${what} listen address '${spec}'`);
    const server = create();
    if (guard) server.prependListener('connection', (socket) => void (guard.acl.admits(socket.remoteAddress, guard.transport) || socket.destroy()));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: ep.port, host: ep.address, ipv6Only: familyOf(ep.address) === 'IP6' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    out.push({ server, bound: a && typeof a === 'object' ? { address: a.address, port: a.port } : { address: ep.address, port: ep.port } });
  }
  return out;
}

/** Closes servers, resolving when each has stopped. */
export function closeAll(servers: NetServer[]): Promise<void> {
  return Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
}
