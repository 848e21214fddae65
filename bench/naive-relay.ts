/**
 * The baseline: the relay anyone would write in an afternoon with Node's dgram module. One thread, one
 * socket per stream, `on('message')` -> `send` to the peer (from the SDP, then learned from the source
 * of what arrives), no batching, no RTCP, no timeouts. It speaks just enough ng for the bench: ping,
 * offer, answer, delete, with rtpengine's port semantics (the offer reply holds the port the callee
 * sends to, the answer reply the port the caller sends to).
 *
 *   node bench/.build/bench/naive-relay.js --listen-ng=127.0.0.1:22303 --port-min=40000 --port-max=59999
 */
import { createSocket, type Socket } from 'node:dgram';
import { decode, encode, type BencodeDict, type Encodable } from '../src/ng/bencode.js';

const RELAY_IP = '127.0.0.1';
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const [ngHost, ngPort] = (args.get('listen-ng') ?? '127.0.0.1:22303').split(':');
const portMin = Number(args.get('port-min') ?? 40000);
const portMax = Number(args.get('port-max') ?? 59999);

interface Peer {
  address: string;
  port: number;
}

/** One side of a call: the relay socket that side talks to, and where that side is. */
interface Leg {
  socket: Socket;
  port: number;
  peer: Peer | undefined;
  other: Leg | undefined;
}

const calls = new Map<string, { caller: Leg; callee: Leg }>();
let cursor = portMin;

function bindSocket(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.bind(port, RELAY_IP, () => resolve(socket));
  });
}

/** Next free port from a cursor walking the range; ports held by other processes are skipped. */
async function openLeg(): Promise<Leg> {
  for (let tried = 0; tried <= portMax - portMin; tried++) {
    const port = cursor;
    cursor = cursor >= portMax ? portMin : cursor + 1;
    const socket = await bindSocket(port);
    if (!socket) continue;
    const leg: Leg = { socket, port, peer: undefined, other: undefined };
    socket.on('message', (msg, from) => {
      leg.peer = { address: from.address, port: from.port };
      const out = leg.other;
      if (out?.peer) out.socket.send(msg, out.peer.port, out.peer.address);
    });
    return leg;
  }
  throw new Error('no free media ports');
}

function sdpEndpoint(sdp: string): Peer {
  const c = /^c=IN IP4 (\S+)/m.exec(sdp);
  const m = /^m=audio (\d+)/m.exec(sdp);
  if (!c || !m) throw new Error('SDP without c= or m=audio');
  return { address: c[1]!, port: Number(m[1]) };
}

function rewrite(sdp: string, port: number): string {
  return sdp.replace(/^c=IN IP4 \S+/gm, `c=IN IP4 ${RELAY_IP}`).replace(/^m=audio \d+/m, `m=audio ${port}`);
}

async function handle(req: BencodeDict): Promise<{ [key: string]: Encodable }> {
  const id = String(req['call-id']);
  switch (req.command) {
    case 'ping':
      return { result: 'pong' };
    case 'offer': {
      let call = calls.get(id);
      if (!call) {
        const caller = await openLeg();
        const callee = await openLeg();
        caller.other = callee;
        callee.other = caller;
        calls.set(id, (call = { caller, callee }));
      }
      call.caller.peer = sdpEndpoint(String(req.sdp));
      return { result: 'ok', sdp: rewrite(String(req.sdp), call.callee.port) };
    }
    case 'answer': {
      const call = calls.get(id);
      if (!call) return { result: 'error', 'error-reason': 'Unknown call-id' };
      call.callee.peer = sdpEndpoint(String(req.sdp));
      return { result: 'ok', sdp: rewrite(String(req.sdp), call.caller.port) };
    }
    case 'delete': {
      const call = calls.get(id);
      if (!call) return { result: 'error', 'error-reason': 'Call-ID not found' };
      call.caller.socket.close();
      call.callee.socket.close();
      calls.delete(id);
      return { result: 'ok' };
    }
    default:
      return { result: 'error', 'error-reason': 'Unrecognized command' };
  }
}

const ng = createSocket('udp4');
ng.on('message', (msg, from) => {
  const space = msg.indexOf(0x20);
  const cookie = msg.subarray(0, space + 1);
  Promise.resolve()
    .then(() => handle(decode(msg.subarray(space + 1)) as BencodeDict))
    .catch((err: unknown) => ({ result: 'error', 'error-reason': (err as Error).message }))
    .then((reply) => ng.send(Buffer.concat([cookie, encode(reply)]), from.port, from.address));
});
ng.bind(Number(ngPort), ngHost);
