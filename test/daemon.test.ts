/** End to end: the built daemon (`dist/bin/rtpbridge.js`) as an init script or Kamailio would use it. */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mediaPorts } from './helpers/ports.js';

const BIN = fileURLToPath(new URL('../dist/bin/rtpbridge.js', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** 100 media ports per daemon, a range no other test process uses (test/helpers/ports.ts). */
async function nextRange(): Promise<{ min: number; max: number }> {
  const { portMin, portMax } = await mediaPorts(100);
  return { min: portMin, max: portMax };
}

async function portRange(): Promise<string[]> {
  const { min, max } = await nextRange();
  return [`--port-min=${min}`, `--port-max=${max}`];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function udpSocket(host: string): Socket {
  return createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: host.includes(':') });
}

/** A port that was free a moment ago; the daemon binds it right after. */
async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = udpSocket(host);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function hasIpv6Loopback(): Promise<boolean> {
  try {
    await freePort('::1');
    return true;
  } catch {
    return false;
  }
}

/** One bencoded ng `ping`; resolves with the raw reply, or undefined if none came within `ms`. */
async function ping(host: string, port: number, cookie: string, ms = 500): Promise<string | undefined> {
  const s = udpSocket(host);
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      s.on('message', (msg) => {
        clearTimeout(timer);
        resolve(msg.toString());
      });
      s.on('error', () => undefined); // ICMP port unreachable while the daemon is starting
      s.send(`${cookie} d7:command4:pinge`, port, host);
    });
  } finally {
    s.close();
  }
}

/** Pings until the daemon answers; fails if it does not within `ms`. */
async function expectPong(t: Test, host: string, port: number, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const cookie = randomBytes(4).toString('hex');
    const reply = await ping(host, port, cookie, 300);
    if (reply !== undefined) {
      t.equal(reply, `${cookie} d6:result4:ponge`, `pong from ${host}:${port} with the same cookie`);
      return;
    }
  }
  t.fail(`no pong from ${host}:${port} within ${ms} ms`);
}

interface Daemon {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** Environment without the caller's RTPBRIDGE_* settings, so only what a test passes applies. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTPBRIDGE_')));
  return { ...env, ...extra };
}

function startDaemon(t: Test, args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, exited, stdout: () => out, stderr: () => err };
}

async function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a process we did not spawn still runs; a zombie nobody reaped counts as gone. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

const base = async (): Promise<string[]> => ['--foreground', '--interface=127.0.0.1', '--log-level=warn', ...(await portRange())];

t.test('answers ping on the ng port given on the command line', async (t) => {
  const port = await freePort();
  startDaemon(t, [...(await base()), `--listen-ng=127.0.0.1:${port}`]);
  await expectPong(t, '127.0.0.1', port);
});

t.test('reads listeners from --config-file and accepts unknown rtpengine options', async (t) => {
  const [p1, p2] = [await freePort(), await freePort()];
  const { min, max } = await nextRange();
  const dir = t.testdir({
    'rtpengine.conf': ['[rtpengine]', 'table = 0', 'interface = 127.0.0.1', `listen-ng = 127.0.0.1:${p1};127.0.0.1:${p2}`, `port-min = ${min}`, `port-max = ${max}`, 'tos = 184', ''].join('\n'),
  });
  const d = startDaemon(t, ['--foreground', `--config-file=${join(dir, 'rtpengine.conf')}`]);
  await expectPong(t, '127.0.0.1', p1);
  await expectPong(t, '127.0.0.1', p2);
  t.match(d.stderr(), /"level":40.*unsupported rtpengine option 'table'/, 'warning logged for table');
});

t.test('takes its ng listener from RTPBRIDGE_LISTEN_NG', async (t) => {
  const port = await freePort();
  const { min, max } = await nextRange();
  startDaemon(t, ['--foreground'], { RTPBRIDGE_LISTEN_NG: `127.0.0.1:${port}`, RTPBRIDGE_PORT_MIN: String(min), RTPBRIDGE_PORT_MAX: String(max), RTPBRIDGE_LOG_LEVEL: '4' });
  await expectPong(t, '127.0.0.1', port);
});

t.test('answers on an IPv6 listener', { skip: (await hasIpv6Loopback()) ? false : 'no IPv6 loopback' }, async (t) => {
  const port = await freePort('::1');
  startDaemon(t, [...(await base()), `--listen-ng=[::1]:${port}`]);
  await expectPong(t, '::1', port);
});

t.test('writes the pidfile, exits 0 on SIGTERM and removes it', async (t) => {
  const port = await freePort();
  const pidfile = join(t.testdir(), 'rtpbridge.pid');
  const d = startDaemon(t, [...(await base()), `--listen-ng=127.0.0.1:${port}`, `--pidfile=${pidfile}`]);
  await expectPong(t, '127.0.0.1', port);
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(d.child.pid));
  d.child.kill('SIGTERM');
  const { code, signal } = await withinMs(d.exited, 5000, 'shutdown after SIGTERM');
  t.same({ code, signal }, { code: 0, signal: null }, 'clean exit');
  t.notOk(existsSync(pidfile), 'pidfile removed');
  t.equal(await ping('127.0.0.1', port, 'gone', 300), undefined, 'ng port closed');
});

t.test('daemonizes without --foreground: launcher exits 0, the daemon answers', async (t) => {
  const port = await freePort();
  const pidfile = join(t.testdir(), 'rtpbridge.pid');
  let daemonPid: number | undefined;
  t.teardown(() => {
    if (daemonPid !== undefined && isRunning(daemonPid)) process.kill(daemonPid, 'SIGKILL');
  });
  const args = (await base()).filter((a) => a !== '--foreground');
  const launcher = startDaemon(t, [...args, `--listen-ng=127.0.0.1:${port}`, `--pidfile=${pidfile}`]);
  const { code } = await withinMs(launcher.exited, 15_000, 'launcher exit');
  t.equal(code, 0, 'launcher exits 0');
  daemonPid = Number(launcher.stdout().trim());
  t.ok(Number.isInteger(daemonPid) && daemonPid !== launcher.child.pid, `launcher printed the daemon's pid (${launcher.stdout().trim()})`);
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(daemonPid), 'pidfile names the daemon');
  await expectPong(t, '127.0.0.1', port);

  process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGTERM');
  t.ok(await waitFor(() => !existsSync(pidfile) && !isRunning(daemonPid!), 5000), 'daemon gone and pidfile removed within 5 s');
});

t.test('launcher fails when the daemon cannot start', async (t) => {
  const port = await freePort();
  const squatter = udpSocket('127.0.0.1');
  await new Promise<void>((resolve) => squatter.bind(port, '127.0.0.1', () => resolve()));
  t.teardown(() => squatter.close());
  const args = (await base()).filter((a) => a !== '--foreground');
  const launcher = startDaemon(t, [...args, `--listen-ng=127.0.0.1:${port}`]);
  const { code } = await withinMs(launcher.exited, 15_000, 'launcher exit');
  t.equal(code, 1);
  t.match(launcher.stderr(), /daemon failed to start: .*EADDRINUSE/);
  t.equal(launcher.stdout(), '', 'no pid printed');
});

t.test('invalid configuration exits 2 with a message', async (t) => {
  const d = startDaemon(t, ['--foreground', '--port-min=40000', '--port-max=30000']);
  const { code } = await withinMs(d.exited, 5000, 'exit');
  t.equal(code, 2);
  t.match(d.stderr(), /^rtpbridge: port-min \(40000\) is greater than port-max \(30000\)\n/);
});

t.test('--version and --help print to stdout and exit 0', async (t) => {
  const v = startDaemon(t, ['--version']);
  t.equal((await withinMs(v.exited, 5000, 'exit')).code, 0);
  t.equal(v.stdout(), `rtpbridge ${VERSION}\n`);
  const h = startDaemon(t, ['-h']);
  t.equal((await withinMs(h.exited, 5000, 'exit')).code, 0);
  t.match(h.stdout(), /^Usage: rtpbridge .*--listen-ng=/s);
});

t.test('an existing rtpengine config file written for a shell works unchanged', async (t) => {
  // rtpengine configs often carry options rtpbridge ignores on the command line too.
  const port = await freePort();
  const file = join(t.testdir(), 'x.conf');
  writeFileSync(file, `[rtpengine]\nlisten-ng = ${port}\ninterface = 127.0.0.1\nnum-threads = 4\nlog-facility = local1\n`);
  startDaemon(t, ['-f', '--table', '0', '-F', `--config-file=${file}`, '--log-level=3', ...(await portRange())]);
  await expectPong(t, '127.0.0.1', port);
});
