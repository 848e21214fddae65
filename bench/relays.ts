/** The relays under test: how each is started, where its ng socket listens, and whether it can run here. */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited, spawnTracked, stopChild } from './children.js';
import { NgClient } from './ng-client.js';
import { BUILD, LOGS, REPO } from './paths.js';

export const RELAY_NAMES = ['native', 'workers', 'baseline', 'naive', 'rtpengine'] as const;
export type RelayName = (typeof RELAY_NAMES)[number];

/**
 * Media ports. Relays run strictly one at a time and each is reaped before the next starts, so they
 * share one range: 4000 calls at 4 ports each (RTP+RTCP per side) need 16000 ports, which a range
 * split four ways could not hold. The generator binds outside it (see loadgen.c).
 */
export const MEDIA_PORTS = { min: 40000, max: 59999 };
const RTPENGINE = '/usr/bin/rtpengine';
const READY_MS = 15_000;

interface RelaySpec {
  label: string;
  ngPort: number;
  /** Why it cannot run on this machine, or undefined. */
  unavailable(): string | undefined;
  argv(): string[];
  env?: Record<string, string>;
}

const media = [`--port-min=${MEDIA_PORTS.min}`, `--port-max=${MEDIA_PORTS.max}`];

/** Another built rtpbridge tree (`--baseline=DIR`, e.g. a git worktree of an earlier commit), run with its addon. */
let baselineTree: string | undefined;
export function setBaselineTree(dir: string): void {
  baselineTree = dir;
}

function rtpbridge(ngPort: number, tree = REPO): string[] {
  return [process.execPath, join(tree, 'dist/bin/rtpbridge.js'), '--foreground', '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`, ...media, '--delete-delay=0', '--timeout=600', '--num-threads=1'];
}

/** Where node-gyp puts the addon at install time (src/dataplane/native.ts loads it from there). */
const NATIVE_ADDON = join(REPO, 'build/Release/rtpbridge_native.node');

const SPECS: Record<RelayName, RelaySpec> = {
  native: {
    label: 'rtpbridge native',
    ngPort: 22301,
    unavailable: () => (existsSync(NATIVE_ADDON) ? undefined : 'native addon not built (no build/Release/rtpbridge_native.node)'),
    argv: () => rtpbridge(22301),
    env: { RTPBRIDGE_NATIVE: '1' },
  },
  workers: {
    label: 'rtpbridge workers',
    ngPort: 22302,
    unavailable: () => undefined,
    argv: () => rtpbridge(22302),
    env: { RTPBRIDGE_NATIVE: '0' },
  },
  baseline: {
    label: 'baseline native',
    ngPort: 22305,
    unavailable: () => {
      if (baselineTree === undefined) return 'no --baseline=DIR given';
      return existsSync(join(baselineTree, 'build/Release/rtpbridge_native.node')) && existsSync(join(baselineTree, 'dist/bin/rtpbridge.js'))
        ? undefined
        : `${baselineTree} has no built dist/ and addon (npm ci there)`;
    },
    argv: () => rtpbridge(22305, baselineTree),
    env: { RTPBRIDGE_NATIVE: '1' },
  },
  naive: {
    label: 'naive Node',
    ngPort: 22303,
    unavailable: () => undefined,
    argv: () => [process.execPath, join(BUILD, 'bench/naive-relay.js'), '--listen-ng=127.0.0.1:22303', ...media],
  },
  rtpengine: {
    label: 'rtpengine 1 thread',
    ngPort: 22304,
    unavailable: () => (existsSync(RTPENGINE) ? undefined : `${RTPENGINE} not installed (Debian: rtpengine-daemon)`),
    argv: () => [RTPENGINE, '--table=-1', '--config-file=none', '--interface=127.0.0.1', '--listen-ng=127.0.0.1:22304',
      ...media, '--foreground', '--log-stderr', '--log-level=3', '--num-threads=1', '--delete-delay=0'],
  },
};

export const relayLabel = (name: RelayName): string => SPECS[name].label;
export const relayUnavailable = (name: RelayName): string | undefined => SPECS[name].unavailable();

export interface RunningRelay {
  pid: number;
  ng: NgClient;
  stop(): Promise<void>;
}

/** Starts a relay (pinned to `cpu` if given) and resolves once it answers an ng ping. */
export async function startRelay(name: RelayName, cpu: number | undefined): Promise<RunningRelay> {
  const spec = SPECS[name];
  const logPath = join(LOGS, `${name}.log`);
  const log = openSync(logPath, 'w');
  const child = spawnTracked(spec.argv(), cpu, { stdio: ['ignore', log, log], env: { ...process.env, ...spec.env } });
  closeSync(log);
  const ng = await NgClient.open(spec.ngPort);
  const stop = async (): Promise<void> => {
    ng.close();
    await stopChild(child);
  };
  try {
    await waitReady(child, ng);
  } catch (err) {
    await stop();
    const tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${spec.label} did not start: ${(err as Error).message}${tail ? ` (log: ${tail})` : ''}`);
  }
  return { pid: child.pid!, ng, stop };
}

async function waitReady(child: ChildProcess, ng: NgClient): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    const pong = await Promise.race([
      ng.request({ command: 'ping' }).then((r) => r.result === 'pong', () => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
    ]);
    if (pong) return;
  }
  throw new Error(`no ng pong within ${READY_MS / 1000} s`);
}
