#!/usr/bin/env node
/** The rtpbridge daemon: rtpengine's command line and config file, the ng control protocol over UDP. */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { parseCommandLine, usage, type ParsedCommandLine } from '../config/cli.js';
import type { DaemonOptions } from '../config/options.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { CliServer } from '../control/cli-server.js';
import { ControlAcl } from '../control/acl.js';
import { HttpControl } from '../control/http.js';
import { TcpNgServer } from '../control/tcp-ng.js';
import { createMetrics } from '../metrics/prometheus.js';
import { NgServer } from '../ng/server.js';
import { Relay } from '../relay.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/** How long the launching process waits for the detached daemon to bind its ng sockets. */
const DAEMON_STARTUP_MS = 10_000;

/** What the detached daemon tells its launcher over IPC once startup has succeeded or failed. */
type StartupReport = { ready: true } | { error: string };

async function main(argv: string[]): Promise<void> {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(argv, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`rtpbridge: ${err.message}\nTry 'rtpbridge --help'.\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (parsed.action === 'help') {
    process.stdout.write(usage());
  } else if (parsed.action === 'version') {
    process.stdout.write(`rtpbridge ${packageVersion()}\n`);
  } else if (!parsed.options.foreground) {
    // Printed here because the daemon's own stderr goes nowhere.
    for (const warning of parsed.warnings) process.stderr.write(`rtpbridge: warning: ${warning}\n`);
    process.exitCode = await daemonize(argv);
  } else {
    await run(parsed.options, parsed.warnings);
  }
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * rtpengine daemonizes unless `--foreground` is given. Node cannot fork, so the daemon is this script
 * again, detached with `--foreground` appended; it reports over IPC once its ng sockets are bound, so a
 * daemon that cannot start makes this launcher fail instead of exiting 0 behind the operator's back.
 */
async function daemonize(argv: string[]): Promise<number> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv, '--foreground'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const failure = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(`not ready after ${DAEMON_STARTUP_MS / 1000} s`), DAEMON_STARTUP_MS);
    const done = (reason: string | undefined): void => {
      clearTimeout(timer);
      resolve(reason);
    };
    child.once('message', (report: StartupReport) => done('error' in report ? report.error : undefined));
    child.once('exit', (code, signal) => done(`exited during startup (${signal ?? `code ${code}`})`));
    child.once('error', (err) => done(err.message));
  });
  child.removeAllListeners();
  if (child.connected) child.disconnect();
  child.unref();
  if (failure !== undefined) {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    process.stderr.write(`rtpbridge: daemon failed to start: ${failure}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`${child.pid}\n`);
  return 0;
}

async function run(options: DaemonOptions, warnings: string[]): Promise<void> {
  const log = createLogger(options.logLevel);
  // A relay in an unknown state must not keep running silently; the supervisor restarts it.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(EXIT_FAILURE);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(EXIT_FAILURE);
  });
  for (const warning of warnings) log.warn(warning);

  let stop: () => Promise<void>;
  try {
    if (options.pidfile !== undefined) writePidfile(options.pidfile);
    stop = await start(options, log);
  } catch (err) {
    log.fatal({ err }, 'startup failed');
    reportToLauncher({ error: (err as Error).message }, () => process.exit(EXIT_FAILURE));
    return;
  }
  reportToLauncher({ ready: true }, () => process.disconnect?.());
  stopOnSignals(stop, log);
}

async function start(options: DaemonOptions, log: Logger): Promise<() => Promise<void>> {
  // Redis (when configured) is connected and its calls restored before the control sockets open.
  const relay = await Relay.create(options, { logger: log });
  const acl = new ControlAcl(options.ngAllow, log);
  const ng = new NgServer(relay, { listen: options.listenNg, logger: log, acl, maxInProgress: options.maxNgQueue, maxWaitMs: options.maxNgWait });
  const http = new HttpControl({ listen: options.listenHttp, relay, ng: ng.endpoint, metrics: createMetrics(relay, ng.commands.stats, options.metricsPrefix, { acl, kernelDrops: () => ng.kernelDrops() }), log, acl });
  const cli = new CliServer(relay, options.listenCli, log, acl);
  const tcpNg = new TcpNgServer(ng.endpoint, options.listenTcpNg, log, acl);
  const stop = async (): Promise<void> => {
    await Promise.all([ng.close(), http.close(), cli.close(), tcpNg.close()]);
    await relay.close();
  };
  if (options.exitWhenDrained) {
    relay.once('drained', () => {
      log.info('drained: the last call has ended, exiting');
      stop().then(
        () => process.exit(0),
        () => process.exit(EXIT_FAILURE),
      );
    });
  }
  try {
    // A certificate that cannot be read is a start-up failure, not a surprise at the first WebRTC call.
    await relay.dtlsIdentity;
    const bound = await ng.start();
    const httpBound = await http.start();
    const cliBound = await cli.start();
    const tcpBound = await tcpNg.start();
    log.info(
      {
        version: packageVersion(),
        ng: bound.map((b) => (b.family === 'IPv6' ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`)),
        interfaces: options.interfaces.map((i) => `${i.name}: ${i.addresses.map((a) => (a.advertised === a.local ? a.local : `${a.local}!${a.advertised}`)).join(', ')}`),
        ports: `${options.portMin}-${options.portMax}`,
        forwarding: `${relay.forwarding.engine} x${relay.forwarding.threads}`,
        ...(httpBound.length > 0 ? { http: httpBound.map((b) => `${b.address}:${b.port}`) } : {}),
        ...(cliBound.length > 0 ? { cli: cliBound.map((b) => `${b.address}:${b.port}`) } : {}),
        ...(tcpBound.length > 0 ? { tcpNg: tcpBound.map((b) => `${b.address}:${b.port}`) } : {}),
      },
      'rtpbridge listening',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

/** Runs `then` once the launcher has the report; without a launcher (plain `--foreground`) at once. */
function reportToLauncher(report: StartupReport, then: () => void): void {
  if (process.send) process.send(report, () => then());
  else then();
}

function writePidfile(path: string): void {
  writeFileSync(path, `${process.pid}\n`);
  process.on('exit', () => {
    // Another instance may have taken the file over since; only remove our own.
    try {
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path);
    } catch {
      // Already gone.
    }
  });
}

function stopOnSignals(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting without cleanup');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`rtpbridge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT_FAILURE);
});
