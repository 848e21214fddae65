import t from 'tap';
import { ReplyCache } from '../src/ng/reply-cache.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

t.test('replays the identical reply without re-executing', async (t) => {
  const cache = new ReplyCache();
  t.teardown(() => cache.close());
  let runs = 0;
  const fn = async (): Promise<Buffer> => Buffer.from(`reply ${++runs}`);
  const first = await cache.run('c1', fn);
  const second = await cache.run('c1', fn);
  t.equal(runs, 1);
  t.equal(first.toString(), 'reply 1');
  t.ok(second.equals(first), 'byte-identical');
  t.equal((await cache.run('c2', fn)).toString(), 'reply 2', 'another cookie executes');
  t.equal(cache.size, 2);
});

t.test('entries expire after the TTL', async (t) => {
  const c = clock();
  const cache = new ReplyCache({ ttlMs: 30_000, now: c.now });
  t.teardown(() => cache.close());
  let runs = 0;
  const fn = async (): Promise<Buffer> => Buffer.from(String(++runs));
  await cache.run('k', fn);
  c.advance(29_999);
  t.equal((await cache.run('k', fn)).toString(), '1', 'still cached just before expiry');
  c.advance(1);
  t.equal((await cache.run('k', fn)).toString(), '2', 're-executed once expired');
  t.equal(runs, 2);
  c.advance(10_000);
  t.equal((await cache.run('k', fn)).toString(), '2', 'the new reply has a fresh TTL');
});

t.test('sweep drops expired entries only', async (t) => {
  const c = clock();
  const cache = new ReplyCache({ ttlMs: 1000, now: c.now });
  t.teardown(() => cache.close());
  await cache.run('old', async () => Buffer.from('a'));
  c.advance(600);
  await cache.run('new', async () => Buffer.from('b'));
  c.advance(400);
  cache.sweep();
  t.equal(cache.size, 1);
  let ran = false;
  await cache.run('new', async () => ((ran = true), Buffer.from('x')));
  t.notOk(ran, 'the younger entry survived the sweep');
  c.advance(600);
  cache.sweep();
  t.equal(cache.size, 0);
});

t.test('concurrent requests with one cookie share one execution', async (t) => {
  const cache = new ReplyCache();
  t.teardown(() => cache.close());
  const gate = deferred<Buffer>();
  let runs = 0;
  const fn = (): Promise<Buffer> => {
    runs++;
    return gate.promise;
  };
  const a = cache.run('x', fn);
  const b = cache.run('x', fn);
  const c = cache.run('x', fn);
  t.equal(runs, 1, 'in-flight retransmissions do not execute');
  t.equal(cache.size, 0, 'nothing stored until the reply exists');
  gate.resolve(Buffer.from('done'));
  const replies = await Promise.all([a, b, c]);
  t.same(replies.map(String), ['done', 'done', 'done']);
  t.equal(runs, 1);
  t.equal(cache.size, 1);
});

t.test('a failed run is shared by waiters but not cached', async (t) => {
  const cache = new ReplyCache();
  t.teardown(() => cache.close());
  const gate = deferred<Buffer>();
  const a = cache.run('f', () => gate.promise);
  const b = cache.run('f', () => Promise.resolve(Buffer.from('never')));
  gate.reject(new Error('boom'));
  await t.rejects(a, { message: 'boom' });
  await t.rejects(b, { message: 'boom' });
  t.equal(cache.size, 0);
  t.equal((await cache.run('f', async () => Buffer.from('retry'))).toString(), 'retry', 'a later retransmission retries');
});

t.test('a synchronous throw becomes a rejection', async (t) => {
  const cache = new ReplyCache();
  t.teardown(() => cache.close());
  const p = cache.run('s', () => {
    throw new Error('sync');
  });
  t.type(p, Promise);
  await t.rejects(p, { message: 'sync' });
  t.equal((await cache.run('s', async () => Buffer.from('ok'))).toString(), 'ok');
});

t.test('bounded in bytes: the oldest replies go first, and one larger than the bound is not kept', async (t) => {
  const perEntry = 100 + 2 + 256;
  const cache = new ReplyCache({ maxBytes: 3 * perEntry });
  t.teardown(() => cache.close());
  for (const k of ['a', 'b', 'c', 'd']) await cache.run(k, async () => Buffer.alloc(100, k));
  t.equal(cache.size, 3);
  t.equal(cache.bytes, 3 * perEntry);
  let reran = '';
  await cache.run('a', async () => ((reran += 'a'), Buffer.alloc(100, 'a')));
  await cache.run('d', async () => ((reran += 'd'), Buffer.alloc(100, 'd')));
  t.equal(reran, 'a', 'a was evicted, d was kept');
  await cache.run('huge', async () => Buffer.alloc(1000));
  t.ok(cache.bytes <= 3 * perEntry, 'a reply past the bound is returned but not stored');
});

t.test('the key: source, cookie and request; another source or another request under the cookie is no retransmission', async (t) => {
  const cache = new ReplyCache();
  t.teardown(() => cache.close());
  const request = Buffer.from('c1 d7:command4:pinge');
  const key = ReplyCache.key('10.0.0.1', 'c1', request);
  await cache.run(key, async () => Buffer.from('c1 d6:result4:ponge'));
  t.ok(cache.lookup(ReplyCache.key('10.0.0.1', 'c1', Buffer.from(request))), 'the same request from the same source is a retransmission');
  t.equal(cache.lookup(ReplyCache.key('192.0.2.66', 'c1', request)), undefined, 'a forged source gets nothing stored');
  t.equal(cache.lookup(ReplyCache.key('10.0.0.1', 'c1', Buffer.from('c1 d7:command4:liste'))), undefined, 'nor does a different request under the same cookie');
});

t.test('the sweep timer does not keep the process alive and close() stops it', async (t) => {
  const cache = new ReplyCache({ ttlMs: 5 });
  const timer = (cache as unknown as { timer: NodeJS.Timeout }).timer;
  t.equal(timer.hasRef(), false, 'unref()ed');
  await cache.run('z', async () => Buffer.from('z'));
  cache.close();
  t.equal(cache.size, 0);
});

t.test('replies of every size through a small ring: what is kept reads back exactly, the newest always, the oldest go first', async (t) => {
  const maxBytes = 30_000;
  const cache = new ReplyCache({ maxBytes });
  t.teardown(() => cache.close());
  // Deterministic sizes from 1 byte to over a third of the ring, so it wraps at every offset and what
  // is kept plus the gap left at its end often exceeds it: both the ring and the byte bound evict.
  const reply = (i: number): Buffer => Buffer.alloc(1 + ((i * 7919) % 11_000), String.fromCharCode(33 + (i % 90)));
  const stored: number[] = [];
  let wrong = 0;
  let missingNewest = 0;
  for (let i = 0; i < 3000; i++) {
    await cache.run(`k${i}`, async () => reply(i));
    stored.push(i);
    if (!cache.lookup(`k${i}`)) missingNewest++;
    // Every key still held reads back its own bytes; once one is gone, all older ones are gone too.
    let gone = false;
    for (let j = stored.length - 1; j >= Math.max(0, stored.length - 40); j--) {
      const hit = cache.lookup(`k${stored[j]}`);
      if (!hit) gone = true;
      else if (gone || !(await hit).equals(reply(stored[j]!))) wrong++;
    }
    if (cache.bytes > maxBytes) wrong++;
  }
  t.equal(missingNewest, 0, 'the reply just stored is always there');
  t.equal(wrong, 0, 'no reply read back wrong, none outlived a newer one, never over the bound');
  t.ok(cache.size > 1, `several kept at once (${cache.size})`);
});
