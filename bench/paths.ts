/** Where things are; this file runs compiled as bench/.build/bench/paths.js, three levels below the repo. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BENCH = join(REPO, 'bench');
export const BUILD = join(BENCH, '.build');
export const LOGS = join(BUILD, 'logs');
