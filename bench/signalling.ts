/**
 * `npm run bench:signalling`: how fast the relay takes calls, and what Redis persistence costs. Each
 * variant is a daemon pinned to CPU 1; clients on CPU 0 run offer + answer + delete cycles as fast as
 * the relay answers (closed loop), with 1 and with 20 concurrent clients, for a few seconds each;
 * each client keeps its last 50 calls up, so every call lives long enough to be written to Redis.
 * Reported: cycles per second and request latency p50/p99 per variant, the ratio with Redis to without
 * (measured in the same run, variants interleaved per repetition), rtpengine for reference, and the
 * Redis memory one stored call takes, and the floor: a Node server that answers without doing any
 * work (bench/ng-floor.ts), which shows how much of a cycle is transport and clients.
 * Loopback only; every loop stops by count or time.
 *
 *   npm run bench:signalling -- [--reps=3] [--seconds=4] [--only=native,workers,rtpengine]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { NgClient } from './ng-client.js';
import { median, NG_PORT, rtpbridge, rtpengine, SDP, startDaemon, type Variant } from './ng-daemons.js';
import { REPO } from './paths.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const REPS = Number(args.reps ?? 3);
const SECONDS = Number(args.seconds ?? 4);
const REDIS_PORT = 22390;
const REDIS_SERVER = '/usr/bin/redis-server';

/** `--only=native,rtpengine` keeps the variants whose name contains one of the words. */
const ONLY = args.only ? String(args.only).split(',') : undefined;
const VARIANTS: Variant[] = [
  rtpbridge('rtpbridge native', 'native'),
  rtpbridge('rtpbridge native + Redis', 'native', [`--redis=127.0.0.1:${REDIS_PORT}/1`]),
  rtpbridge('rtpbridge workers', 'workers'),
  ...rtpengine(),
  { name: 'floor: Node ng server doing no work', argv: [process.execPath, join(REPO, 'bench/.build/bench/ng-floor.js'), `127.0.0.1:${NG_PORT}`] },
].filter((v) => !ONLY || ONLY.some((word) => v.name === `rtpbridge ${word}` || v.name.startsWith(word)));

interface Result {
  cycles: number;
  perSecond: number;
  /** Latency of offers and answers (the persistence target is stated for these). */
  p50Ms: number;
  p99Ms: number;
  /** Latency of deletes, apart: a removal's cost is not the setup latency. */
  deleteP99Ms: number;
  failed: number;
  /** CPU used during the trial, percent of one core: the relay process and the clients (this process). */
  relayCpu: number;
  clientCpu: number;
}

/**
 * Calls each client keeps up: a cycle sets up a call and deletes the one it set up this many cycles
 * before, so calls live tens of milliseconds (longer than the write delay of Redis persistence) and
 * every call is written, as real calls, which last far longer, are.
 */
const KEPT_PER_CLIENT = 50;

/** `clients` loops of offer/answer/delete for SECONDS; latency per request. */
async function cycles(clients: number, tag: string, relayPid: number): Promise<Result> {
  const ngs = await Promise.all(Array.from({ length: clients }, () => NgClient.open(NG_PORT)));
  const started = performance.now();
  const relayBefore = cpuSeconds(relayPid);
  const clientBefore = process.cpuUsage();
  const latencies: number[] = [];
  const deleteLatencies: number[] = [];
  let done = 0;
  let failed = 0;
  const until = Date.now() + SECONDS * 1000;
  const timed = async (ng: NgClient, dict: Parameters<NgClient['request']>[0]): Promise<boolean> => {
    const t0 = performance.now();
    const reply = await ng.request(dict).catch(() => undefined);
    (dict.command === 'delete' ? deleteLatencies : latencies).push(performance.now() - t0);
    return reply?.result === 'ok';
  };
  await Promise.all(
    ngs.map(async (ng, c) => {
      let i = 0;
      for (; Date.now() < until && i < 1_000_000; i++) {
        const callId = `${tag}-${c}-${i}`;
        const ok =
          (await timed(ng, { command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: SDP(4000) })) &&
          (await timed(ng, { command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: SDP(5000) })) &&
          (i < KEPT_PER_CLIENT || (await timed(ng, { command: 'delete', 'call-id': `${tag}-${c}-${i - KEPT_PER_CLIENT}` })));
        if (ok) done++;
        else failed++;
      }
      // The calls still kept go, untimed.
      for (let k = Math.max(0, i - KEPT_PER_CLIENT); k < i; k++) await ng.request({ command: 'delete', 'call-id': `${tag}-${c}-${k}` }).catch(() => undefined);
    }),
  );
  ngs.forEach((ng) => ng.close());
  const q = (xs: number[], p: number): number => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
  const wall = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const relayCpu = ((cpuSeconds(relayPid) - relayBefore) / wall) * 100;
  const clientCpu = ((client.user + client.system) / 1e6 / wall) * 100;
  return { cycles: done, perSecond: done / SECONDS, p50Ms: q(latencies, 0.5), p99Ms: q(latencies, 0.99), deleteP99Ms: q(deleteLatencies, 0.99), failed, relayCpu, clientCpu };
}

/** User + system CPU seconds of a process so far (/proc/PID/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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
        const daemon = await startDaemon(v);
        try {
          const run: Record<number, Result> = {};
          for (const clients of [1, 20]) {
            const r = (run[clients] = await cycles(clients, `r${rep}c${clients}`, daemon.child.pid!));
            process.stderr.write(`[rep ${rep + 1}/${REPS}] ${v.name}, ${clients} client(s): ${r.perSecond.toFixed(0)} cycles/s, offer/answer p50/p99 ${r.p50Ms.toFixed(2)}/${r.p99Ms.toFixed(2)} ms, delete p99 ${r.deleteP99Ms.toFixed(2)} ms, ${r.failed} failed, CPU relay ${r.relayCpu.toFixed(0)} % clients ${r.clientCpu.toFixed(0)} %\n`);
          }
          results.set(v.name, [...(results.get(v.name) ?? []), run]);
          if (rep === 0 && v.name.includes('Redis')) bytesPerCall = await redisBytesPerCall(1000);
        } finally {
          await daemon.stop();
        }
      }
    }
  } finally {
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  const cell = (name: string, clients: number, f: (r: Result) => number): number => median((results.get(name) ?? []).map((run) => f(run[clients]!)));
  const lines = [`rtpbridge signalling bench ${new Date().toISOString()}: offer+answer+delete cycles, ${SECONDS} s per trial, ${REPS} repetition(s), medians`, ''];
  lines.push('variant | cycles/s 1 client | offer/answer p50/p99, delete p99 ms | CPU relay/clients % | cycles/s 20 clients | offer/answer p50/p99, delete p99 ms | CPU relay/clients %');
  for (const v of VARIANTS) {
    const fmt = (c: number): string =>
      `${cell(v.name, c, (r) => r.perSecond).toFixed(0)} | ${cell(v.name, c, (r) => r.p50Ms).toFixed(2)}/${cell(v.name, c, (r) => r.p99Ms).toFixed(2)}, ${cell(v.name, c, (r) => r.deleteP99Ms).toFixed(2)} | ${cell(v.name, c, (r) => r.relayCpu).toFixed(0)}/${cell(v.name, c, (r) => r.clientCpu).toFixed(0)}`;
    lines.push(`${v.name} | ${fmt(1)} | ${fmt(20)}`);
  }
  const ratio = (c: number, f: (r: Result) => number): string => (cell('rtpbridge native + Redis', c, f) / cell('rtpbridge native', c, f)).toFixed(2);
  if (results.has('rtpbridge native + Redis')) lines.push('', `with Redis / without: cycles/s ${ratio(1, (r) => r.perSecond)} (1 client), ${ratio(20, (r) => r.perSecond)} (20 clients); offer/answer p99 ${ratio(1, (r) => r.p99Ms)} (1), ${ratio(20, (r) => r.p99Ms)} (20); delete p99 ${ratio(1, (r) => r.deleteP99Ms)} (1), ${ratio(20, (r) => r.deleteP99Ms)} (20)`);
  if (results.has('rtpbridge native + Redis')) lines.push(`Redis memory per stored call: ${(bytesPerCall / 1024).toFixed(2)} KiB (1000 calls, INFO used_memory)`);
  const engine = 'rtpengine 1 thread';
  if (results.has(engine)) {
    for (const name of ['rtpbridge native', 'rtpbridge workers'].filter((n) => results.has(n))) {
      const vs = (c: number): string => (cell(name, c, (r) => r.perSecond) / cell(engine, c, (r) => r.perSecond)).toFixed(2);
      lines.push(`${name} / rtpengine: cycles/s ${vs(1)} (1 client), ${vs(20)} (20 clients)`);
    }
    const floor = 'floor: Node ng server doing no work';
    if (results.has(floor)) {
      const us = (name: string): number => 1e6 / cell(name, 1, (r) => r.perSecond);
      lines.push(`1 client, µs per cycle: rtpengine ${us(engine).toFixed(0)}, the floor ${us(floor).toFixed(0)}: a relay in Node matches rtpengine only if its processing of offer + answer + delete fits in ${(us(engine) - us(floor)).toFixed(0)} µs`);
    }
  }
  lines.push('Clients: Node (bench/ng-client.ts) on CPU 0; a client CPU near 100 % means the clients, not the relay, set the pace.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
