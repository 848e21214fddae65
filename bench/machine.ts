/** What the figures were measured on, and the generator binary built for it. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { BENCH, BUILD, LOGS } from './paths.js';
import { LOADGEN } from './trial.js';

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  node: string;
}

export function machine(): Machine {
  return { date: new Date().toISOString(), cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, node: process.version };
}

/**
 * Compiles bench/loadgen.c when the binary is missing or older than its source: with libsrtp2 (Debian
 * libsrtp2-dev) when it links, for the SRTP rows; without it otherwise. Returns whether it can do SRTP.
 */
export function buildLoadgen(): { srtp: boolean } {
  mkdirSync(LOGS, { recursive: true });
  const source = join(BENCH, 'loadgen.c');
  if (!existsSync(LOADGEN) || statSync(LOADGEN).mtimeMs < statSync(source).mtimeMs) {
    try {
      execFileSync('cc', ['-O2', '-Wall', '-DWITH_SRTP', '-o', LOADGEN, source, '-lsrtp2', '-lm'], { stdio: 'pipe', cwd: BUILD });
    } catch {
      execFileSync('cc', ['-O2', '-Wall', '-o', LOADGEN, source, '-lm'], { stdio: 'inherit', cwd: BUILD });
    }
  }
  return { srtp: execFileSync(LOADGEN, ['--features']).toString().includes('srtp') };
}
