/**
 * An ng client that keeps many requests in flight, as a busy SIP proxy does: setting up thousands of
 * calls one round trip at a time would make every trial wait seconds for signalling.
 */
import { createSocket, type Socket } from 'node:dgram';
import { decode, encode, type BencodeDict, type Encodable } from '../src/ng/bencode.js';

interface Pending {
  packet: Buffer;
  attemptsLeft: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (reply: BencodeDict) => void;
  reject: (err: Error) => void;
}

const RETRY_MS = 1000;
const ATTEMPTS = 3;

/** Clients of one process get distinct cookies: the relay replays a cached reply for a cookie it has seen. */
let nextClient = 0;

export class NgClient {
  private readonly pending = new Map<string, Pending>();
  private readonly id = nextClient++;
  private nextCookie = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly port: number,
  ) {
    socket.on('message', (msg) => this.onReply(msg));
  }

  static async open(port: number): Promise<NgClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new NgClient(socket, port);
  }

  /** Resolves to the reply dictionary; retransmits with the same cookie, as proxies do, then gives up. */
  request(dict: { [key: string]: Encodable }): Promise<BencodeDict> {
    const cookie = `b${process.pid}_${this.id}_${this.nextCookie++}`;
    const packet = Buffer.concat([Buffer.from(`${cookie} `), encode(dict)]);
    return new Promise((resolve, reject) => {
      const entry: Pending = { packet, attemptsLeft: ATTEMPTS, timer: undefined, resolve, reject };
      this.pending.set(cookie, entry);
      this.transmit(cookie, entry);
    });
  }

  private transmit(cookie: string, entry: Pending): void {
    if (entry.attemptsLeft-- === 0) {
      this.pending.delete(cookie);
      entry.reject(new Error(`no ng reply from 127.0.0.1:${this.port} after ${ATTEMPTS} attempts`));
      return;
    }
    this.socket.send(entry.packet, this.port, '127.0.0.1');
    entry.timer = setTimeout(() => this.transmit(cookie, entry), RETRY_MS);
  }

  private onReply(msg: Buffer): void {
    const space = msg.indexOf(0x20);
    const cookie = msg.subarray(0, space).toString();
    const entry = this.pending.get(cookie);
    if (space < 0 || !entry) return; // a late duplicate of an answered retransmission
    this.pending.delete(cookie);
    clearTimeout(entry.timer);
    try {
      entry.resolve(decode(msg.subarray(space + 1)) as BencodeDict);
    } catch (err) {
      entry.reject(err as Error);
    }
  }

  close(): void {
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.socket.close();
  }
}
