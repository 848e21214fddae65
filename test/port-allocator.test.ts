/**
 * The port allocator on a data plane that only counts binds: O(1) random choice, one bind per pair
 * (no storm when many calls are set up at once), freed pairs rest before reuse, pairs another process
 * holds are left alone for a minute.
 */
import t from 'tap';
import type { DataPlane } from '../src/dataplane/types.js';
import { PortAllocator } from '../src/media/port-allocator.js';

/** Binds succeed unless the port is in `taken` (another process); each bind yields to the event loop first. */
function countingPlane(taken = new Set<number>()) {
  const binds: number[] = [];
  const plane = {
    bind: async (_side: number, _shard: number, _local: string, _family: string, rtpPort: number) => {
      await new Promise((r) => setImmediate(r));
      binds.push(rtpPort);
      return taken.has(rtpPort) ? 'in-use' : 'bound';
    },
    release: async () => undefined,
  } as unknown as DataPlane;
  return { plane, binds, taken };
}

t.test('a burst of allocations costs one bind per pair, none twice', async (t) => {
  const { plane, binds } = countingPlane();
  const ports = new PortAllocator(20000, 29999, plane);
  const got = await Promise.all(Array.from({ length: 2000 }, (_, i) => ports.allocate(i, 0, '127.0.0.1', 'IP4')));
  t.equal(binds.length, 2000, 'exactly one bind per pair');
  t.equal(new Set(got).size, 2000, 'no pair handed out twice');
  t.ok(got.every((p) => p % 2 === 0 && p >= 20000 && p <= 29998), 'even RTP ports in range');
  t.same(ports.usage('127.0.0.1'), { used: 2000, free: 3000 });
});

t.test('ports are chosen at random, not in sequence', async (t) => {
  const { plane } = countingPlane();
  const ports = new PortAllocator(20000, 29999, plane);
  const got: number[] = [];
  for (let i = 0; i < 50; i++) got.push(await ports.allocate(i, 0, '127.0.0.1', 'IP4'));
  const steps = got.slice(1).map((p, i) => p - got[i]!);
  t.ok(steps.filter((s) => s === 2).length < 5, `consecutive pairs are rare (${steps.filter((s) => s === 2).length} of 49)`);
  t.ok(new Set(steps).size > 40, 'and the distance to the next one is unpredictable');
});

t.test('a freed pair rests before it is handed out again, unless nothing else is free', async (t) => {
  let now = 1_000_000;
  const { plane } = countingPlane();
  const ports = new PortAllocator(20000, 20007, plane, () => now); // 4 pairs
  const a = await ports.allocate(1, 0, '127.0.0.1', 'IP4');
  ports.release(1, '127.0.0.1', a);
  const next = await Promise.all([2, 3, 4].map((id) => ports.allocate(id, 0, '127.0.0.1', 'IP4')));
  t.notOk(next.includes(a), 'the three others go first');
  t.equal(await ports.allocate(5, 0, '127.0.0.1', 'IP4'), a, 'then the resting one rather than none');
  ports.release(5, '127.0.0.1', a);
  ports.release(2, '127.0.0.1', next[0]!);
  now += 5000;
  const after = await ports.allocate(6, 0, '127.0.0.1', 'IP4');
  t.ok([a, next[0]].includes(after), 'after the rest both are free again');
  await t.rejects(Promise.all([7, 8].map((id) => ports.allocate(id, 0, '127.0.0.1', 'IP4'))), { code: 'NO_PORTS' }, 'and the range runs out with a clear error');
});

t.test('hundreds of pairs resting at staggered times come back exactly when their rest is over, each once', async (t) => {
  let now = 1_000_000;
  const { plane } = countingPlane();
  const ports = new PortAllocator(20000, 20999, plane, () => now); // 500 pairs
  const all = await Promise.all(Array.from({ length: 500 }, (_, i) => ports.allocate(i, 0, '127.0.0.1', 'IP4')));
  // Freed one per millisecond: the queue grows past its first size and wraps as pairs come back.
  for (let i = 0; i < 300; i++, now++) ports.release(i, '127.0.0.1', all[i]!);
  now = 1_000_000 + 5000 + 149; // the first 150 have rested 5 s
  t.equal(ports.usage('127.0.0.1').used, 200);
  const back = await Promise.all(Array.from({ length: 150 }, (_, i) => ports.allocate(1000 + i, 0, '127.0.0.1', 'IP4')));
  t.same([...back].sort(), all.slice(0, 150).sort(), 'exactly the 150 whose rest is over');
  for (let i = 0; i < 100; i++, now++) ports.release(1000 + i, '127.0.0.1', back[i]!);
  now += 5000 + 150;
  const again = await Promise.all(Array.from({ length: 250 }, (_, i) => ports.allocate(2000 + i, 0, '127.0.0.1', 'IP4')));
  t.equal(new Set(again).size, 250, 'then the other 150 and the 100 freed later, none twice');
  await t.rejects(ports.allocate(3000, 0, '127.0.0.1', 'IP4'), { code: 'NO_PORTS' }, 'and nothing else');
});

t.test('a pair another process holds is tried once, then left alone for a minute', async (t) => {
  let now = 1_000_000;
  const { plane, binds, taken } = countingPlane(new Set([20000, 20002]));
  const ports = new PortAllocator(20000, 20007, plane, () => now); // 4 pairs, 2 held elsewhere
  const got = [await ports.allocate(1, 0, '127.0.0.1', 'IP4'), await ports.allocate(2, 0, '127.0.0.1', 'IP4')].sort();
  t.same(got, [20004, 20006], 'the relay gets the two free pairs');
  t.equal(binds.filter((p) => taken.has(p)).length <= 2, true, 'each held pair was tried at most once');
  const before = binds.length;
  await t.rejects(ports.allocate(3, 0, '127.0.0.1', 'IP4'), { code: 'NO_PORTS' });
  t.ok(binds.length - before <= 2, 'no bind storm when the range is exhausted');
  taken.clear();
  now += 60_000;
  t.ok([20000, 20002].includes(await ports.allocate(4, 0, '127.0.0.1', 'IP4')), 'a minute later they are tried again');
});

t.test('claim takes exactly the port asked, once', async (t) => {
  const { plane } = countingPlane();
  const ports = new PortAllocator(20000, 20099, plane);
  t.equal(await ports.claim(1, 0, '127.0.0.1', 'IP4', 20050), true);
  t.equal(await ports.claim(2, 0, '127.0.0.1', 'IP4', 20050), false, 'held already');
  t.equal(await ports.claim(3, 0, '127.0.0.1', 'IP4', 20051), false, 'not an RTP port of a pair');
  t.equal(await ports.claim(4, 0, '127.0.0.1', 'IP4', 30000), false, 'out of range');
  const all = await Promise.all(Array.from({ length: 49 }, (_, i) => ports.allocate(10 + i, 0, '127.0.0.1', 'IP4')));
  t.notOk(all.includes(20050), 'a claimed pair is never handed out');
});
