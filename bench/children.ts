/**
 * Every process the bench starts goes through here, so none outlives it: on normal exit, on an
 * exception and on SIGINT/SIGTERM the survivors are killed by PID.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<ChildProcess>();

/**
 * Spawns `argv` through bash so the child gets the highest open-file limit allowed (a relay with
 * 4000 calls holds 16000 sockets), optionally pinned to `cpu`. `exec` keeps the PID the relay's own.
 */
export function spawnTracked(argv: string[], cpu: number | undefined, options: SpawnOptions): ChildProcess {
  const pinned = cpu === undefined ? argv : ['taskset', '-c', String(cpu), ...argv];
  // A relay that crashes dumps core into its working directory: a scratch one, never the repository.
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', ...pinned], { cwd: scratchDir(), ...options });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

let scratch: string | undefined;
function scratchDir(): string {
  return (scratch ??= mkdtempSync(join(tmpdir(), 'rtpbridge-bench-')));
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

function killAll(): void {
  for (const child of live) if (!exited(child)) child.kill('SIGKILL');
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping ${live.size} child process(es)\n`);
    killAll();
    process.exit(130);
  });
}
