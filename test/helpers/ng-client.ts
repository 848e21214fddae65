/** A real ng client over UDP, as Kamailio's rtpengine module talks to the relay. */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decode, encode } from '../../src/ng/bencode.js';

export type Dict = Record<string, unknown>;

export class NgClient {
  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {}

  /** `local`: the address the client sends from (another loopback address, to test source checks). */
  static async open(port: number, host = '127.0.0.1', local = host.includes(':') ? '::1' : '127.0.0.1'): Promise<NgClient> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: host.includes(':') });
    await new Promise<void>((resolve) => socket.bind(0, local, () => resolve()));
    return new NgClient(socket, host, port);
  }

  /** Sends raw bytes and returns the raw reply datagram (or throws after `ms`). */
  raw(data: Buffer | string, ms = 2000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error('no ng reply'));
      }, ms);
      const onMessage = (msg: Buffer): void => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(msg);
      };
      this.socket.on('message', onMessage);
      this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, this.port, this.host);
    });
  }

  /** Sends `<cookie> <bencode dict>` and decodes the reply, checking the cookie came back. */
  async request(dict: Dict, cookie = randomBytes(6).toString('hex')): Promise<Dict> {
    const reply = await this.raw(Buffer.concat([Buffer.from(`${cookie} `), encode(dict as never)]));
    const space = reply.indexOf(0x20);
    const gotCookie = reply.subarray(0, space).toString();
    if (gotCookie !== cookie) throw new Error(`cookie mismatch: sent ${cookie}, got ${gotCookie}`);
    return decode(reply.subarray(space + 1)) as Dict;
  }

  close(): void {
    this.socket.close();
  }
}
