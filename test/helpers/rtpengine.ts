/** Sipwise rtpengine (Debian's rtpengine-daemon) on loopback, as the reference implementation in interop tests. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { NgClient } from './ng-client.js';
import { sleep } from './media.js';

export const RTPENGINE = '/usr/bin/rtpengine';

/** Whether rtpengine is installed and runs. */
export function rtpengineInstalled(): boolean {
  return spawnSync(RTPENGINE, ['--version']).status === 0;
}

/** Starts rtpengine userspace-only (`--table=-1`) with its ng port at `ngPort`, media ports just above it, and `extra` options. */
export async function startRtpengine(t: Test, ngPort: number, extra: string[] = []): Promise<NgClient> {
  if (!rtpengineInstalled()) throw new Error(`${RTPENGINE} is not installed (apt-get install rtpengine-daemon)`);
  const cwd = mkdtempSync(join(tmpdir(), 'rtpengine-'));
  const child = spawn(
    RTPENGINE,
    [
      '--config-file=none', // or it also loads /etc/rtpengine/rtpengine.conf
      '--table=-1',
      '--interface=127.0.0.1',
      `--listen-ng=127.0.0.1:${ngPort}`,
      `--port-min=${ngPort + 1}`,
      `--port-max=${ngPort + 99}`,
      '--foreground',
      '--log-stderr',
      '--log-level=4',
      '--delete-delay=0',
      ...extra,
    ],
    // A crash dumps core into the working directory: never the repository's.
    { stdio: ['ignore', 'ignore', 'pipe'], cwd },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const ng = await NgClient.open(ngPort);
  t.teardown(() => {
    ng.close();
    child.kill('SIGTERM');
    rmSync(cwd, { recursive: true, force: true });
  });
  for (let i = 0; i < 50; i++) {
    const pong = await ng.request({ command: 'ping' }).catch(() => undefined);
    if (pong?.result === 'pong') return ng;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`rtpengine did not answer ping: ${stderr}`);
}
