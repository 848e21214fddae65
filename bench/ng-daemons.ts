/**
 * The relay daemons the ng benches drive (signalling, burst, churn): rtpbridge on each engine and
 * Debian's rtpengine when installed, each on the same loopback ng port and media range, started fresh
 * per measurement and pinned to CPU 1 (the clients run on CPU 0).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited, spawnTracked, stopChild } from './children.js';
import { NgClient } from './ng-client.js';
import { REPO } from './paths.js';

export const NG_PORT = 22391;
export const RTPENGINE = '/usr/bin/rtpengine';
export const SDP = (port: number): string => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n`;

export interface Variant {
  name: string;
  argv: string[];
  env?: Record<string, string>;
}

const media = ['--port-min=30000', '--port-max=39999', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${NG_PORT}`];

/** rtpbridge on one engine (`native` or `workers`), with `extra` options. */
export function rtpbridge(name: string, engine: 'native' | 'workers', extra: string[] = []): Variant {
  return {
    name,
    argv: [process.execPath, join(REPO, 'dist/bin/rtpbridge.js'), '--foreground', '--log-level=error', '--delete-delay=0', '--num-threads=1', ...media, ...extra],
    env: { RTPBRIDGE_NATIVE: engine === 'native' ? '1' : '0' },
  };
}

/** Debian's rtpengine with one forwarding thread, when installed. */
export function rtpengine(extra: string[] = []): Variant[] {
  if (!existsSync(RTPENGINE)) return [];
  return [{ name: 'rtpengine 1 thread', argv: [RTPENGINE, '--config-file=none', '--table=-1', '--foreground', '--log-stderr', '--log-level=3', '--num-threads=1', '--delete-delay=0', ...media, ...extra] }];
}

export interface Daemon {
  child: ChildProcess;
  ng: NgClient;
  /** Resident memory of the daemon process, bytes (VmRSS). */
  rss(): number;
  stop(): Promise<void>;
}

/** Starts the variant and waits until it answers ping. */
export async function startDaemon(v: Variant): Promise<Daemon> {
  const child = spawnTracked(v.argv, 1, { stdio: 'ignore', env: { ...process.env, ...v.env } });
  const ng = await NgClient.open(NG_PORT);
  const stop = async (): Promise<void> => {
    ng.close();
    await stopChild(child);
  };
  try {
    for (let i = 0; i < 100; i++) {
      if (exited(child)) throw new Error(`${v.name} exited`);
      if ((await ng.request({ command: 'ping' }).catch(() => undefined))?.result === 'pong') {
        return { child, ng, stop, rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024 };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${v.name} did not answer ping`);
  } catch (err) {
    await stop();
    throw err;
  }
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
