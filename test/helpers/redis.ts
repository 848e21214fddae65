/** A real redis-server on a free loopback port, in a temporary directory, stopped with the test. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { sleep } from './media.js';
import { mediaPorts } from './ports.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export const redisInstalled = (): boolean => existsSync(REDIS_SERVER) && spawnSync(REDIS_SERVER, ['--version']).status === 0;

export interface RedisServer {
  port: number;
  /** A client on database `db`, closed with the test. */
  client(db: number): Redis;
  stop(): Promise<void>;
  /** Kills the server (SIGKILL), keeping its directory. */
  crash(): Promise<void>;
  /** Starts it again on the same port and directory: it loads what SAVE wrote. */
  revive(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that stalls with its connections open. */
  pause(): void;
  resume(): void;
}

/** Starts redis-server on `port` (or a free one), persistence off (SAVE still writes), loopback only. */
export async function startRedis(t: Test, port?: number): Promise<RedisServer> {
  const at = port ?? (await mediaPorts(2)).portMin;
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-redis-'));
  const clients: Redis[] = [];
  const launch = (): ChildProcess =>
    spawn(REDIS_SERVER, ['--port', String(at), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { cwd: dir, stdio: 'ignore' });
  let child = launch();
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await gone;
  };
  const stop = async (): Promise<void> => {
    clients.splice(0).forEach((c) => c.disconnect());
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  await answering(at);
  return {
    port: at,
    client: (db: number) => {
      const c = new Redis({ port: at, host: '127.0.0.1', db });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    stop,
    crash: kill,
    revive: async () => {
      child = launch();
      await answering(at);
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}

/** Waits (at most 5 s) until a server on `port` answers PING. */
async function answering(port: number): Promise<void> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  for (let i = 0; i < 50; i++) {
    if ((await probe.connect().then(() => probe.ping(), () => undefined)) === 'PONG') break;
    probe.disconnect();
    await sleep(100);
  }
  probe.disconnect();
}
