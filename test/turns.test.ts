/**
 * Turns: requests start in arrival order with a bounded number executing, and a turn of the event loop
 * starts fewer of them as they get costlier, so the loop gets back to reading.
 */
import t from 'tap';
import { Turns } from '../src/ng/turns.js';

/** Counts turns of the event loop, as a stand-in for the reads between them. */
function loopTurns(): { readonly now: number; stop: () => void } {
  let now = 0;
  let running = true;
  const tick = (): void => {
    now++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get now() {
      return now;
    },
    stop: () => void (running = false),
  };
}

const spin = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

t.test('arrival order, at most `window` executing, and each told how long it waited', async (t) => {
  const turns = new Turns(3);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const started: number[] = [];
  const waits: number[] = [];
  const done = Array.from({ length: 8 }, (_, i) =>
    turns.take(async (waitedMs) => {
      started.push(i);
      waits.push(waitedMs);
      await gate;
      return i * 10;
    }),
  );
  t.equal(turns.size, 8, 'all eight are taken');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(started, [0, 1, 2], 'three execute; the rest wait');
  release();
  t.same(await Promise.all(done), [0, 10, 20, 30, 40, 50, 60, 70], 'each gets its own result');
  t.same(started, [0, 1, 2, 3, 4, 5, 6, 7], 'in the order they came');
  t.ok(waits.slice(3).every((w) => w >= 45), `those behind waited for the gate (${waits.map((w) => w.toFixed(0)).join(', ')} ms)`);
  t.equal(turns.size, 0);
});

t.test('a rejected job rejects its own promise only, and frees its place', async (t) => {
  const turns = new Turns(1);
  const failing = turns.take(async () => {
    throw new Error('boom');
  });
  const next = turns.take(async () => 'ok');
  await t.rejects(failing, { message: 'boom' });
  t.equal(await next, 'ok');
});

t.test('cheap requests start many to a turn; costly ones a few, so the loop turns between them', async (t) => {
  const cheap = new Turns(32);
  const loop = loopTurns();
  const cheapTurns: number[] = [];
  await Promise.all(Array.from({ length: 64 }, () => cheap.take(async () => void cheapTurns.push(loop.now))));
  const perTurn = (at: number[]): number[] => [...at.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<number, number>()).values()];
  const cheapSizes = perTurn(cheapTurns);
  // Four turns of 16, unless the machine took the CPU away mid-turn.
  t.ok(cheapSizes[0] === 16 && cheapSizes.length <= 6, `64 cheap requests: 16 a turn (${cheapSizes.join(', ')})`);

  const costly = new Turns(32);
  const costlyTurns: number[] = [];
  // 3 ms of work each, all of it before the first await: a turn of 16 takes 48 ms.
  await Promise.all(
    Array.from({ length: 40 }, () =>
      costly.take(async () => {
        spin(3);
        costlyTurns.push(loop.now);
      }),
    ),
  );
  loop.stop();
  const sizes = perTurn(costlyTurns);
  t.equal(sizes[0], 16, 'the first turn starts as many as a cheap one');
  t.ok(sizes.length > 10 && sizes.slice(4).every((n) => n <= 2), `after a few turns, at most two a turn (${sizes.join(', ')})`);
});
