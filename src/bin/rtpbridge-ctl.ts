#!/usr/bin/env node
/**
 * rtpbridge-ctl: operator commands to a running relay over its CLI socket (`--listen-cli`), as
 * rtpengine-ctl does: `rtpbridge-ctl [-ip ADDR] [-port PORT] list numsessions`.
 */
import { connect } from 'node:net';

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 9900;
const TIMEOUT_MS = 10_000;

const USAGE = `Usage: rtpbridge-ctl [-ip ADDR] [-port PORT] COMMAND...
Talks to a relay's --listen-cli socket (default ${DEFAULT_HOST}:${DEFAULT_PORT}).
Commands: list numsessions | list sessions | list totals | list interfaces
          terminate <call-id> | terminate all
          drain (refuse new calls; the daemon exits when empty with --exit-when-drained) | resume
          active (a standby takes over the calls it follows) | standby (hand own calls back)
`;

function main(argv: string[]): void {
  let host = DEFAULT_HOST;
  let port = DEFAULT_PORT;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-ip' || arg === '--ip') host = argv[++i] ?? '';
    else if (arg === '-port' || arg === '--port') port = Number(argv[++i]);
    else if (arg === '-h' || arg === '--help') return void process.stdout.write(USAGE);
    else words.push(arg);
  }
  if (words.length === 0 || host === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const socket = connect({ host, port });
  socket.setTimeout(TIMEOUT_MS, () => {
    process.stderr.write(`rtpbridge-ctl: no answer from ${host}:${port} within ${TIMEOUT_MS / 1000} s\n`);
    socket.destroy();
    process.exitCode = 1;
  });
  socket.on('connect', () => socket.write(`${words.join(' ')}\n`));
  socket.on('data', (chunk) => process.stdout.write(chunk));
  socket.on('error', (err) => {
    process.stderr.write(`rtpbridge-ctl: cannot talk to ${host}:${port}: ${err.message}\n`);
    process.exitCode = 1;
  });
}

main(process.argv.slice(2));
