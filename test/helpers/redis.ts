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
}

/** Starts redis-server on `port` (or a free one), persistence off, loopback only. */
export async function startRedis(t: Test, port?: number): Promise<RedisServer> {
  const at = port ?? (await mediaPorts(2)).portMin;
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-redis-'));
  const child: ChildProcess = spawn(REDIS_SERVER, ['--port', String(at), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    cwd: dir,
    stdio: 'ignore',
  });
  const clients: Redis[] = [];
  const stop = async (): Promise<void> => {
    clients.splice(0).forEach((c) => c.disconnect());
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);
  const probe = new Redis({ port: at, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  for (let i = 0; i < 50; i++) {
    if ((await probe.connect().then(() => probe.ping(), () => undefined)) === 'PONG') break;
    probe.disconnect();
    await sleep(100);
  }
  probe.disconnect();
  return {
    port: at,
    client: (db: number) => {
      const c = new Redis({ port: at, host: '127.0.0.1', db });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    stop,
  };
}
