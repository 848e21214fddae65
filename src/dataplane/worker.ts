/** Entry point of a forwarding worker thread: a Forwarder driven by messages from the main thread. */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { RelayError } from '../errors.js';
import { Forwarder } from './forwarder.js';
import { Outbox } from './outbox.js';
import type { FromWorker, ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('dataplane/worker.ts must run in a worker thread');

const outbox = new Outbox<FromWorker>((batch, transfers) => port.postMessage(batch, transfers), 'turn');
const post = (msg: FromWorker): void => outbox.push(msg);
const forwarder = new Forwarder(
  (event) => post({ event: 'learned', ...event }),
  (event) => post({ event: 'secured', ...event }),
  (event) => post({ event: 'tapped', ...event }),
);

port.on('message', (batch: ToWorker[]) => {
  for (const msg of batch) handle(msg);
});

function handle(msg: ToWorker): void {
  switch (msg.op) {
    case 'bind':
      forwarder.bind(msg.side, msg.local, msg.family, msg.rtpPort, msg.alias).then(
        (bound) => post({ req: msg.req, bound }),
        (err: unknown) => post({ req: msg.req, error: { code: err instanceof RelayError ? err.code : 'NO_INTERFACE', message: String((err as Error).message) } }),
      );
      break;
    case 'configure':
      forwarder.configure(msg.side, msg.config);
      break;
    case 'restore':
      // A state from elsewhere (Redis) that does not read is ignored, never a reason to die and loop.
      try {
        forwarder.restore(msg.side, msg.state);
      } catch {
        // Learning and SRTP simply start afresh for this side.
      }
      break;
    case 'release':
      forwarder.release(msg.side);
      break;
    case 'identity':
      forwarder.identity = msg.identity;
      break;
    case 'play':
      post({ req: msg.req, played: forwarder.play(msg.side, msg.tone) });
      break;
    case 'read':
      post({ req: msg.req, states: forwarder.read(msg.sides) });
      break;
    case 'lastPackets': {
      const lastPackets = forwarder.lastPackets(msg.sides);
      outbox.push({ req: msg.req, lastPackets }, [lastPackets.buffer as ArrayBuffer]);
      break;
    }
    case 'counters':
      post({ req: msg.req, counters: forwarder.counters() });
      break;
    case 'heap':
      // Under --expose-gc (the memory benchmark) measure live objects, not garbage awaiting collection.
      (globalThis as { gc?: () => void }).gc?.();
      post({ req: msg.req, heapUsed: getHeapStatistics().used_heap_size });
      break;
    case 'close':
      forwarder.close();
      post({ req: msg.req, closed: true });
      break;
  }
}
