/**
 * Media port ranges for tests, never shared between test processes.
 *
 * tap runs test files in parallel processes (and other checkouts on the same machine may run their
 * suites at the same time), so a range must be safe against every other process, not just against the
 * other tests of this file. How:
 *
 * - Ports 10000-29999 are cut into blocks of 1000. That span is below Linux's ephemeral range
 *   (32768-60999), so the ports the kernel hands to test phones and ng clients bound to port 0 never
 *   land in a relay's range.
 * - A process owns a block by creating `<os.tmpdir()>/rtpbridge-test-ports/<block>.lock` with O_EXCL
 *   (`wx`): atomic, so two processes can never both create it. The file holds the owner's PID; a lock
 *   whose process is gone (a test killed by tap's timeout) is stale and taken over. The lock is removed
 *   when the process exits. The search starts at a block derived from the PID, so parallel processes
 *   rarely even contend for the same file.
 * - Each call hands out the next unused slice of the process's block(s), so tests within a file never
 *   share ports either, even when a previous test's relay is still letting go of its sockets.
 * - A slice is only handed out after every port in it was bound and released on 127.0.0.1 once: this
 *   proves nothing else (a relay or daemon started by a checkout that does not use this helper) holds
 *   it. A busy slice is skipped.
 */
import { createSocket } from 'node:dgram';
import { mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOW = 10_000;
const BLOCK = 1000;
const BLOCKS = 20; // 10000-29999
const LOCK_DIR = join(tmpdir(), 'rtpbridge-test-ports');

export interface PortRange {
  portMin: number;
  portMax: number;
}

const owned: string[] = [];
let cursor = 0;
let end = 0;

process.once('exit', () => {
  for (const file of owned) rmSync(file, { force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates the block's lock file, taking over a stale one; false if a live process owns it. */
function tryLock(block: number): boolean {
  const file = join(LOCK_DIR, `${block}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      owned.push(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // removed meanwhile: try again
    }
    // An empty file is a lock being written right now; only a dead owner makes it stale.
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) return false;
    try {
      unlinkSync(file);
    } catch {
      /* another process took it over first */
    }
  }
  return false;
}

function claimBlock(): void {
  mkdirSync(LOCK_DIR, { recursive: true });
  const first = process.pid % BLOCKS;
  for (let i = 0; i < BLOCKS; i++) {
    const block = (first + i) % BLOCKS;
    if (tryLock(block)) {
      cursor = LOW + block * BLOCK;
      end = cursor + BLOCK;
      return;
    }
  }
  throw new Error(`no free test port block: all ${BLOCKS} locks in ${LOCK_DIR} are held by running processes`);
}

function canBind(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A range of `count` media ports (rounded up to even; RTP even, RTCP odd) that no other test process
 * uses and nothing held a moment ago, as `{ portMin, portMax }` for `new Relay(...)` or the fixture.
 */
export async function mediaPorts(count = 100): Promise<PortRange> {
  const size = count + (count % 2);
  if (size > BLOCK) throw new Error(`mediaPorts(${count}): at most ${BLOCK} ports`);
  // Bounded: every round either hands out a slice or uses up at least one slice of a block; after
  // BLOCKS blocks' worth claimBlock() throws.
  for (let round = 0; round < BLOCKS * (BLOCK / 2); round++) {
    if (cursor + size > end) claimBlock();
    const portMin = cursor;
    cursor += size;
    let free = true;
    for (let port = portMin; free && port < portMin + size; port++) free = await canBind(port);
    if (free) return { portMin, portMax: portMin + size - 1 };
  }
  throw new Error(`mediaPorts(${count}): no free range found`);
}
