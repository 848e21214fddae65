import { createSocket, type Socket } from 'node:dgram';
import { RelayError } from '../errors.js';
import type { AddressFamily } from '../config/options.js';

/** An even RTP port and the odd RTCP port after it, both bound on one local address. */
export interface BoundPair {
  local: string;
  family: AddressFamily;
  rtpPort: number;
  rtcpPort: number;
  rtp: Socket;
  rtcp: Socket;
}

/**
 * Hands out RTP/RTCP port pairs from [portMin, portMax] per local address. Ports are proven free by
 * binding them (another process may hold some), and a cursor walks the range so a freed pair is not
 * reused at once: late packets of an old call must not land in a new one.
 */
export class PortAllocator {
  private readonly used = new Map<string, Set<number>>();
  private readonly cursor = new Map<string, number>();
  private readonly firstEven: number;
  private readonly pairCount: number;

  constructor(portMin: number, portMax: number) {
    this.firstEven = portMin % 2 === 0 ? portMin : portMin + 1;
    this.pairCount = Math.max(0, Math.floor((portMax - this.firstEven + 1) / 2));
    if (this.pairCount === 0) throw new RelayError('CONFIG_INVALID', `port range ${portMin}-${portMax} holds no RTP/RTCP pair`);
  }

  get pairsInUse(): number {
    let n = 0;
    for (const set of this.used.values()) n += set.size;
    return n;
  }

  async allocate(local: string, family: AddressFamily): Promise<BoundPair> {
    let used = this.used.get(local);
    if (!used) this.used.set(local, (used = new Set()));
    let slot = this.cursor.get(local) ?? Math.floor(Math.random() * this.pairCount);
    for (let tried = 0; tried < this.pairCount; tried++, slot = (slot + 1) % this.pairCount) {
      const rtpPort = this.firstEven + slot * 2;
      if (used.has(rtpPort)) continue;
      const pair = await bindPair(local, family, rtpPort);
      if (!pair) continue;
      used.add(rtpPort);
      this.cursor.set(local, (slot + 1) % this.pairCount);
      return pair;
    }
    throw new RelayError('NO_PORTS', `no free media ports on ${local}`);
  }

  release(pair: BoundPair): void {
    this.used.get(pair.local)?.delete(pair.rtpPort);
    closeQuietly(pair.rtp);
    closeQuietly(pair.rtcp);
  }
}

async function bindPair(local: string, family: AddressFamily, rtpPort: number): Promise<BoundPair | undefined> {
  const type = family === 'IP6' ? 'udp6' : 'udp4';
  const rtp = await bindOne(type, local, rtpPort);
  if (!rtp) return undefined;
  const rtcp = await bindOne(type, local, rtpPort + 1);
  if (!rtcp) {
    closeQuietly(rtp);
    return undefined;
  }
  return { local, family, rtpPort, rtcpPort: rtpPort + 1, rtp, rtcp };
}

/** Resolves undefined when the port is taken; rejects when the address itself is unusable. */
function bindOne(type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type, ipv6Only: type === 'udp6' });
    const onError = (err: NodeJS.ErrnoException): void => {
      closeQuietly(socket);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(undefined);
      else reject(new RelayError('NO_INTERFACE', `cannot bind media port on ${address}: ${err.code ?? err.message}`));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}
