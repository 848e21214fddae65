/**
 * Packet-triggered switchover (`--active-switchover`): a standby listens on each foreign call's relay
 * ports for the first packet, which tells it the call's media now arrives here (the active relay died,
 * or the floating address moved to this host). While the active relay lives those ports are not ours
 * to bind (same host: in use; floating address: not here yet), so they are probed, one port per
 * address per round, and bound once that succeeds. The first packet on any port of a call hands the
 * call to `onPacket`, which takes it over; that packet is lost, the next one is relayed.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { AddressFamily } from '../shared/vocabulary.js';
import type { CallSnapshot } from './snapshot.js';

/** How often unbound ports are probed. */
const PROBE_MS = 250;

export interface WatchedPort {
  local: string;
  family: AddressFamily;
  port: number;
}

interface Watched {
  ports: WatchedPort[];
  /** One per port, once bound. */
  sockets: Array<Socket | undefined>;
}

export class PortWatch {
  private readonly calls = new Map<string, Watched>();
  /** Calls whose sockets are being closed, so a second unwatch waits for the same close. */
  private readonly closing = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly onPacket: (callId: string) => void,
    private readonly log: Logger,
  ) {}

  /** Starts (or updates) watching a foreign call's ports. */
  watch(callId: string, ports: WatchedPort[]): void {
    const known = this.calls.get(callId);
    if (known && sameList(known.ports, ports)) return;
    if (known) {
      // Other ports now (a re-INVITE on the active relay): watch those once the old ones are closed.
      void this.unwatch(callId).then(() => this.watch(callId, ports));
      return;
    }
    this.calls.set(callId, { ports, sockets: ports.map(() => undefined) });
    this.schedule();
  }

  /** Stops watching a call and frees its ports; resolves once they are closed (to be bound again). */
  async unwatch(callId: string): Promise<void> {
    const watched = this.calls.get(callId);
    if (!watched) return this.closing.get(callId);
    this.calls.delete(callId);
    const closed = Promise.all(watched.sockets.map((s) => s && closeSocket(s))).then(() => void this.closing.delete(callId));
    this.closing.set(callId, closed);
    await closed;
  }

  /** Ports bound right now (for tests and logs). */
  get bound(): number {
    let n = 0;
    for (const w of this.calls.values()) n += w.sockets.filter(Boolean).length;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await Promise.all([...this.calls.keys()].map((id) => this.unwatch(id)));
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.probe();
    }, PROBE_MS).unref();
  }

  /** One round: every unbound port is tried, except on an address where a bind just failed. */
  private async probe(): Promise<void> {
    const refused = new Set<string>();
    let unbound = false;
    for (const [callId, watched] of [...this.calls]) {
      for (const [i, p] of watched.ports.entries()) {
        if (watched.sockets[i]) continue;
        if (refused.has(p.local) || this.calls.get(callId) !== watched) {
          unbound = true;
          continue;
        }
        const socket = await this.bind(callId, p);
        // The call may have been unwatched (taken over, or gone) while the bind was in flight.
        if (socket && this.calls.get(callId) !== watched) void closeSocket(socket);
        else if (socket) watched.sockets[i] = socket;
        else {
          refused.add(p.local);
          unbound = true;
        }
      }
    }
    if (unbound) this.schedule();
  }

  private bind(callId: string, p: WatchedPort): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const socket = createSocket({ type: p.family === 'IP6' ? 'udp6' : 'udp4', ipv6Only: p.family === 'IP6' });
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(p.port, p.local, () => {
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.log.warn({ err, callId, port: p.port }, 'switchover watch socket failed'));
        socket.once('message', () => {
          this.log.info({ callId, port: p.port }, 'media for a foreign call arrived here: taking it over');
          this.onPacket(callId);
        });
        resolve(socket);
      });
    });
  }
}

/** The relay ports a stored call receives media on: RTP, and RTCP unless muxed, of every m= line. */
export function watchedPorts(snapshot: CallSnapshot): WatchedPort[] {
  const ports: WatchedPort[] = [];
  for (const mono of snapshot.monologues) {
    for (const media of mono.medias) {
      if (!media || media.rejected) continue;
      const { local, family } = media.address;
      ports.push({ local, family, port: media.side.rtpPort });
      if (!media.side.mux) ports.push({ local, family, port: media.side.rtpPort + 1 });
    }
  }
  return ports;
}

function sameList(a: readonly WatchedPort[], b: readonly WatchedPort[]): boolean {
  return a.length === b.length && a.every((p, i) => p.local === b[i]!.local && p.port === b[i]!.port && p.family === b[i]!.family);
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
