/**
 * `npm run bench:signalling`: how fast the relay takes calls, and what Redis persistence costs. Each
 * variant is a daemon pinned to CPU 1; clients on CPU 0 run offer + answer + delete cycles as fast as
 * the relay answers (closed loop), with 1 and with 20 concurrent clients, for a few seconds each.
 * Reported: cycles per second and request latency p50/p99 per variant, the ratio with Redis to without
 * (measured in the same run, variants interleaved per repetition), rtpengine for reference, and the
 * Redis memory one stored call takes. Loopback only; every loop stops by count or time.
 *
 *   npm run bench:signalling -- [--reps=3] [--seconds=4]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { exited, spawnTracked, stopChild } from './children.js';
import { NgClient } from './ng-client.js';
import { REPO } from './paths.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const REPS = Number(args.reps ?? 3);
const SECONDS = Number(args.seconds ?? 4);
const REDIS_PORT = 22390;
const NG_PORT = 22391;
const RTPENGINE = '/usr/bin/rtpengine';
const REDIS_SERVER = '/usr/bin/redis-server';
const SDP = (port: number): string => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n`;

interface Variant {
  name: string;
  argv: string[];
  env?: Record<string, string>;
}

const media = ['--port-min=30000', '--port-max=39999', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_PORT}`];
const rtpbridge = (extra: string[]): string[] => [process.execPath, join(REPO, 'dist/bin/rtpbridge.js'), '--foreground', '--log-level=error', '--delete-delay=0', '--num-threads=1', ...media, ...extra];
const VARIANTS: Variant[] = [
  { name: 'rtpbridge native', argv: rtpbridge([]), env: { RTPBRIDGE_NATIVE: '1' } },
  { name: 'rtpbridge native + Redis', argv: rtpbridge([`--redis=127.0.0.1:${REDIS_PORT}/1`]), env: { RTPBRIDGE_NATIVE: '1' } },
  ...(existsSync(RTPENGINE)
    ? [{ name: 'rtpengine 1 thread', argv: [RTPENGINE, '--config-file=none', '--table=-1', '--foreground', '--log-stderr', '--log-level=3', '--num-threads=1', '--delete-delay=0', ...media] }]
    : []),
];

interface Result {
  cycles: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

async function waitReady(ng: NgClient, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (exited(child)) throw new Error('relay exited');
    if ((await ng.request({ command: 'ping' }).catch(() => undefined))?.result === 'pong') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('relay did not answer ping');
}

/** `clients` loops of offer/answer/delete for SECONDS; latency per request. */
async function cycles(clients: number, tag: string): Promise<Result> {
  const ngs = await Promise.all(Array.from({ length: clients }, () => NgClient.open(NG_PORT)));
  const latencies: number[] = [];
  let done = 0;
  let failed = 0;
  const until = Date.now() + SECONDS * 1000;
  const timed = async (ng: NgClient, dict: Parameters<NgClient['request']>[0]): Promise<boolean> => {
    const t0 = performance.now();
    const reply = await ng.request(dict).catch(() => undefined);
    latencies.push(performance.now() - t0);
    return reply?.result === 'ok';
  };
  await Promise.all(
    ngs.map(async (ng, c) => {
      for (let i = 0; Date.now() < until && i < 1_000_000; i++) {
        const callId = `${tag}-${c}-${i}`;
        const ok =
          (await timed(ng, { command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: SDP(4000) })) &&
          (await timed(ng, { command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: SDP(5000) })) &&
          (await timed(ng, { command: 'delete', 'call-id': callId }));
        if (ok) done++;
        else failed++;
      }
    }),
  );
  ngs.forEach((ng) => ng.close());
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { cycles: done, perSecond: done / SECONDS, p50Ms: q(0.5), p99Ms: q(0.99), failed };
}

/** Bytes Redis uses per stored call: `calls` offers and answers kept up, INFO memory before and after. */
async function redisBytesPerCall(calls: number): Promise<number> {
  const before = await usedMemory();
  const ng = await NgClient.open(NG_PORT);
  for (let i = 0; i < calls; i++) {
    await ng.request({ command: 'offer', 'call-id': `mem-${i}`, 'from-tag': 'a', sdp: SDP(4000) });
    await ng.request({ command: 'answer', 'call-id': `mem-${i}`, 'from-tag': 'a', 'to-tag': 'b', sdp: SDP(5000) });
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = await usedMemory();
  for (let i = 0; i < calls; i++) await ng.request({ command: 'delete', 'call-id': `mem-${i}` });
  ng.close();
  return (after - before) / calls;
}

/** used_memory from INFO memory, over a raw RESP connection. */
function usedMemory(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(REDIS_PORT, '127.0.0.1', () => socket.write('INFO memory\r\n'));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      const m = /used_memory:(\d+)/.exec(text);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error('no INFO from Redis')), 3000).unref();
  });
}

async function main(): Promise<void> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing (apt-get install redis-server)`);
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-bench-redis-'));
  const redis = spawn(REDIS_SERVER, ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { cwd: dir, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const results = new Map<string, Array<Record<number, Result>>>();
  let bytesPerCall = NaN;
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const v of VARIANTS) {
        const child = spawnTracked(v.argv, 1, { stdio: 'ignore', env: { ...process.env, ...v.env } });
        const ng = await NgClient.open(NG_PORT);
        try {
          await waitReady(ng, child);
          const run: Record<number, Result> = {};
          for (const clients of [1, 20]) {
            run[clients] = await cycles(clients, `r${rep}c${clients}`);
            process.stderr.write(`[rep ${rep + 1}/${REPS}] ${v.name}, ${clients} client(s): ${run[clients]!.perSecond.toFixed(0)} cycles/s, p50/p99 ${run[clients]!.p50Ms.toFixed(2)}/${run[clients]!.p99Ms.toFixed(2)} ms, ${run[clients]!.failed} failed\n`);
          }
          results.set(v.name, [...(results.get(v.name) ?? []), run]);
          if (rep === 0 && v.name.includes('Redis')) bytesPerCall = await redisBytesPerCall(1000);
        } finally {
          ng.close();
          await stopChild(child);
        }
      }
    }
  } finally {
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cell = (name: string, clients: number, f: (r: Result) => number): number => median((results.get(name) ?? []).map((run) => f(run[clients]!)));
  const lines = [`rtpbridge signalling bench ${new Date().toISOString()}: offer+answer+delete cycles, ${SECONDS} s per trial, ${REPS} repetition(s), medians`, ''];
  lines.push('variant | cycles/s 1 client | p50/p99 ms | cycles/s 20 clients | p50/p99 ms');
  for (const v of VARIANTS) {
    const fmt = (c: number): string => `${cell(v.name, c, (r) => r.perSecond).toFixed(0)} | ${cell(v.name, c, (r) => r.p50Ms).toFixed(2)}/${cell(v.name, c, (r) => r.p99Ms).toFixed(2)}`;
    lines.push(`${v.name} | ${fmt(1)} | ${fmt(20)}`);
  }
  const ratio = (c: number, f: (r: Result) => number): string => (cell('rtpbridge native + Redis', c, f) / cell('rtpbridge native', c, f)).toFixed(2);
  lines.push('', `with Redis / without: cycles/s ${ratio(1, (r) => r.perSecond)} (1 client), ${ratio(20, (r) => r.perSecond)} (20 clients); p99 ${ratio(1, (r) => r.p99Ms)} (1), ${ratio(20, (r) => r.p99Ms)} (20)`);
  lines.push(`Redis memory per stored call: ${(bytesPerCall / 1024).toFixed(2)} KiB (1000 calls, INFO used_memory)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
