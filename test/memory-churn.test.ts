/**
 * Leak regression, with a bounded budget: calls created and deleted over ng, then a pause past the
 * reply cache's lifetime: the heap of the main thread and of the forwarding threads comes back to
 * where it was after the first calls. (The 50,000-call figures come from `npm run bench -- --churn`.)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { createDataPlane } from '../src/dataplane/index.js';
import { NgServer } from '../src/ng/server.js';
import { Relay } from '../src/relay.js';
import { sleep } from './helpers/media.js';
import { NgClient } from './helpers/ng-client.js';
import { phoneSdp } from './helpers/sdp.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('5,000 calls created and deleted: the heap comes back within budget once idle', async (t) => {
  const dataPlane = createDataPlane(1);
  // Media on an address of its own, with room for the calls in flight and the pairs resting after use.
  const relay = new Relay({ portMin: 40000, portMax: 59999, deleteDelay: 0, interfaces: [{ name: 'default', addresses: [{ local: '127.0.0.34', advertised: '127.0.0.34', family: 'IP4' }] }] }, { dataPlane });
  const server = new NgServer(relay, { listen: ['127.0.0.1:0'], replyCacheMs: 300 });
  const [bound] = await server.start();
  const clients = await Promise.all(Array.from({ length: 10 }, () => NgClient.open(bound!.port)));
  t.teardown(async () => {
    clients.forEach((c) => c.close());
    await server.close();
    await relay.close();
  });
  let made = 0;
  const cycles = async (n: number): Promise<void> => {
    const until = made + n;
    await Promise.all(
      clients.map(async (ng) => {
        while (made < until) {
          const callId = `churn-${made++}`;
          await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) });
          await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: phoneSdp({ address: '127.0.0.1', port: 5000 }) });
          await ng.request({ command: 'delete', 'call-id': callId });
        }
      }),
    );
  };
  /** Heap after the reply cache has let go and a few collections. */
  const settled = async (): Promise<{ main: number; workers: number }> => {
    await sleep(1500);
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(100);
    }
    return { main: process.memoryUsage().heapUsed, workers: (await dataPlane.heapUsed?.()) ?? 0 };
  };
  await cycles(1000);
  const base = await settled();
  await cycles(4000);
  const after = await settled();
  const kib = (n: number): string => (n / 1024).toFixed(0);
  t.comment(`main heap ${kib(base.main)} -> ${kib(after.main)} KiB, forwarding threads ${kib(base.workers)} -> ${kib(after.workers)} KiB, after ${made} calls`);
  t.equal(relay.list().length, 0, 'no call left');
  // 4,000 more calls may cost at most 2 MiB (V8's own caches, noise): a leak of 0.5 KiB a call fails.
  t.ok(after.main - base.main < 2 * 1024 * 1024, `main heap within budget (+${kib(after.main - base.main)} KiB for 4,000 calls)`);
  t.ok(after.workers - base.workers < 2 * 1024 * 1024, `forwarding threads within budget (+${kib(after.workers - base.workers)} KiB)`);
});
