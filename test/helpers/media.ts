/** Real UDP endpoints that play SIP phones in tests: send RTP/RTCP, collect what arrives. */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';

export interface Received {
  data: Buffer;
  from: RemoteInfo;
}

export class Phone {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {
    socket.on('message', (data, from) => {
      this.received.push({ data, from });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(address = '127.0.0.1', port = 0): Promise<Phone> {
    const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', ipv6Only: address.includes(':') });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new Phone(socket, address, socket.address().port);
  }

  /**
   * An RTP phone and its RTCP socket on the port above, as a phone whose SDP has no a=rtcp uses them.
   * The kernel picks the RTP port; if the one above is taken, both close and another pair is tried
   * (20 times at most).
   */
  static async openPair(address = '127.0.0.1'): Promise<[rtp: Phone, rtcp: Phone]> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const rtp = await Phone.open(address);
      if (rtp.port < 65535) {
        const rtcp = await Phone.open(address, rtp.port + 1).catch(() => undefined);
        if (rtcp) return [rtp, rtcp];
      }
      rtp.close();
    }
    throw new Error(`no two adjacent free UDP ports on ${address} after 20 attempts`);
  }

  send(data: Buffer, port: number, address: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())));
  }

  /** Resolves once `count` packets arrived in total, or rejects after `ms`. */
  async waitFor(count: number, ms = 2000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} packets on ${this.address}:${this.port}, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.slice(0, count);
  }

  close(): void {
    this.socket.close();
  }
}

/** A minimal RTP packet: V=2, payload type, sequence number, SSRC and a payload marker byte. */
export function rtpPacket(seq: number, opts: { pt?: number; ssrc?: number; payloadSize?: number; mark?: number } = {}): Buffer {
  const buf = Buffer.alloc(12 + (opts.payloadSize ?? 160), opts.mark ?? 0xd5);
  buf[0] = 0x80;
  buf[1] = opts.pt ?? 0;
  buf.writeUInt16BE(seq & 0xffff, 2);
  buf.writeUInt32BE((seq * 160) >>> 0, 4);
  buf.writeUInt32BE(opts.ssrc ?? 0x1234abcd, 8);
  return buf;
}

/** An RTCP receiver report with no report blocks (PT 201). */
export function rtcpPacket(ssrc = 0x1234abcd): Buffer {
  const buf = Buffer.alloc(8);
  buf[0] = 0x80;
  buf[1] = 201;
  buf.writeUInt16BE(1, 2);
  buf.writeUInt32BE(ssrc, 4);
  return buf;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when nothing holds the UDP port any more: how tests see that the relay freed it. */
/**
 * Whether some socket holds UDP `port` on IPv4, read from /proc/net/udp: waiting for a process starting
 * up to bind a port must not probe it by binding, which can take the port from under that process.
 */
export function udpPortHeld(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').split('\n').some((line) => line.trim().split(/\s+/)[1]?.endsWith(hex) === true);
}

export async function canBind(port: number, address = '127.0.0.1'): Promise<boolean> {
  const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, address, () => s.close(() => resolve(true)));
  });
}

/**
 * True once the port can be bound, polling for up to `ms`: the TypeScript workers close a released
 * side's sockets one message after the control plane let it go, so "freed at once" means within a
 * moment, not before the reply.
 */
export async function freed(port: number, ms = 1000, address = '127.0.0.1'): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await canBind(port, address))) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
