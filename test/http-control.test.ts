/**
 * The daemon's HTTP control (`--listen-http`: /ping, /metrics, /ng, /ng-plain, /cli/) and its CLI socket
 * (`--listen-cli`) driven by rtpbridge-ctl, as an operator and Prometheus would; bad requests get clear
 * statuses and the relay goes on.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { WebSocket } from 'ws';
import { createMetrics } from '../src/metrics/prometheus.js';
import { ControlStats } from '../src/ng/replies.js';
import { Relay } from '../src/relay.js';
import { sleep } from './helpers/media.js';
import { NgClient } from './helpers/ng-client.js';
import { mediaPorts } from './helpers/ports.js';
import { phoneSdp } from './helpers/sdp.js';

const BIN = fileURLToPath(new URL('../dist/bin/rtpbridge.js', import.meta.url));
const CTL = fileURLToPath(new URL('../dist/bin/rtpbridge-ctl.js', import.meta.url));

/** The daemon in the foreground with `args`, killed with the test process's teardown. */
function daemon(args: string[]): ChildProcess {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTPBRIDGE_') || k === 'RTPBRIDGE_NATIVE'));
  const child = spawn(process.execPath, [BIN, '--foreground', '--log-level=warn', ...args], { env, cwd: tmpdir(), stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  return child;
}

t.test('HTTP control, metrics and rtpbridge-ctl on a running daemon', async (t) => {
  const { portMin, portMax } = await mediaPorts(20);
  const control = (await mediaPorts(4)).portMin;
  const [ngPort, httpPort, cliPort] = [control, control + 1, control + 2];
  daemon([`--listen-ng=127.0.0.1:${ngPort}`, `--listen-http=${httpPort}`, `--listen-cli=${cliPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`]);
  const http = (path: string, init?: RequestInit): Promise<Response> => fetch(`http://127.0.0.1:${httpPort}${path}`, init);
  let up = false;
  for (let i = 0; i < 100 && !up; i++) up = await http('/ping').then((r) => r.ok, () => sleep(100).then(() => false));
  t.ok(up, 'GET /ping answers');
  t.equal(await (await http('/ping')).text(), 'pong');

  const framed = await http('/ng', { method: 'POST', body: 'c1 d7:command4:pinge' });
  t.equal(await framed.text(), 'c1 d6:result4:ponge', 'POST /ng: cookie-framed bencode');
  const json = await http('/ng-plain', { method: 'POST', body: JSON.stringify({ command: 'offer', 'call-id': 'h1', 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }) }) });
  const offer = (await json.json()) as { result: string; sdp: string };
  t.equal(offer.result, 'ok', 'POST /ng-plain: a JSON offer without a cookie');
  t.match(offer.sdp, /m=audio \d+ RTP\/AVP/);
  t.equal(await (await http('/ng-plain', { method: 'POST', body: 'd7:command4:pinge' })).text(), 'd6:result4:ponge', 'and bencode');

  const metrics = await (await http('/metrics')).text();
  t.match(metrics, /^rtpbridge_sessions\{type="own"\} 1$/m, 'sessions by type');
  t.match(metrics, /^rtpbridge_sessions_total 1$/m);
  t.match(metrics, /^rtpbridge_requests_total\{proxy="127\.0\.0\.1",request="offer"\} 1$/m, 'requests by proxy and command');
  t.match(metrics, /^rtpbridge_request_seconds_total\{proxy="127\.0\.0\.1",request="offer"\} \d/m);
  t.match(metrics, /^rtpbridge_ports_used\{interface="default",address="127\.0\.0\.1"\} 2$/m, 'two port pairs for the offer');
  t.match(metrics, /^rtpbridge_dropped_packets_total\{reason="unknownSource"\} 0$/m);
  t.match(metrics, /^rtpbridge_process_cpu_seconds_total /m, 'Node process metrics, same prefix');

  t.equal(await (await http('/cli/list+numsessions')).text(), 'Current sessions own: 1\nCurrent sessions foreign: 0\nCurrent sessions total: 1\n', 'GET /cli/list+numsessions');
  const ctl = async (...words: string[]): Promise<string> => (await promisify(execFile)(process.execPath, [CTL, '-port', String(cliPort), ...words])).stdout;
  t.match(await ctl('list', 'sessions'), /^callid: h1 \| created: \d+ \| last signal: \d+ \| tags: a,/);
  t.equal(await ctl('terminate', 'h1'), 'Call Id (h1) successfully terminated by operator.\n');
  t.equal(await ctl('terminate', 'h1'), 'Call Id not found (h1).\n');
  t.match(await ctl('list', 'totals'), /Total forced terminated sessions: 1\n/);
  t.match(await (await http('/metrics')).text(), /^rtpbridge_closed_sessions_total\{reason="force_terminated"\} 1$/m);
  t.match(await ctl('list', 'interfaces'), /^Interface 'default' address 127\.0\.0\.1: 0 port pairs used, \d+ free\n$/);
  t.match(await ctl('bogus'), /^Unknown command 'bogus'/);
  t.match(await ctl('list', 'constructor'), /^Unknown command 'list constructor'/, "a word from Object's prototype is no command");

  t.equal((await http('/nope')).status, 404, 'an unknown path: 404');
  t.equal((await http('/ng', { method: 'DELETE' })).status, 405, 'a wrong method: 405');
  t.equal((await http('/ng', { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 0x61) })).status, 413, 'a huge body: 413');
  t.equal((await http('/ng', { method: 'POST', body: 'nocookie' })).status, 400, 'not an ng message: 400');
  t.match(await (await http('/ng-plain', { method: 'POST', body: '{"command":' })).text(), /"result":"error"/, 'broken JSON: an ng error');
  t.equal(await (await http('/ping')).text(), 'pong', 'and the relay goes on');
  const noCtl = await promisify(execFile)(process.execPath, [CTL, '-port', String(cliPort + 1), 'list', 'totals']).catch((e: { code: number; stderr: string }) => e);
  t.match(noCtl, { code: 1, stderr: /cannot talk to 127\.0\.0\.1:\d+/ }, 'rtpbridge-ctl without a relay: exit 1 and why');
});

t.test('--metrics-prefix renames every metric, for rtpengine dashboards', async (t) => {
  const relay = new Relay(await mediaPorts(4));
  t.teardown(() => relay.close());
  const text = await createMetrics(relay, new ControlStats(), 'rtpengine_').metrics();
  t.match(text, /^rtpengine_sessions\{type="own"\} 0$/m);
  t.notMatch(text, /^rtpbridge_/m);
});

t.test('load limit over ng, and drain with --exit-when-drained', async (t) => {
  const { portMin, portMax } = await mediaPorts(20);
  const control = (await mediaPorts(4)).portMin;
  const [ngPort, cliPort] = [control, control + 1];
  const child = daemon([`--listen-ng=127.0.0.1:${ngPort}`, `--listen-cli=${cliPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`, '--max-sessions=1', '--exit-when-drained']);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ng = await NgClient.open(ngPort);
  t.teardown(() => ng.close());
  let pong: unknown;
  for (let i = 0; i < 100 && !pong; i++) pong = await ng.request({ command: 'ping' }, undefined).catch(() => sleep(50).then(() => undefined));
  const offer = (id: string, extra: Record<string, unknown> = {}) => ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: phoneSdp({ address: '127.0.0.1', port: 4000 }), ...extra });
  t.equal((await offer('d1')).result, 'ok');
  t.same(await offer('d2', { supports: ['load limit'] }), { result: 'load limit', message: 'Parallel session limit reached' }, 'a proxy that supports it gets "load limit"');
  t.same(await offer('d2'), { result: 'error', 'error-reason': 'Parallel session limit reached' }, 'others an error');
  const ctl = async (...words: string[]): Promise<string> => (await promisify(execFile)(process.execPath, [CTL, '-port', String(cliPort), ...words])).stdout;
  t.equal(await ctl('drain'), 'Draining: new calls are refused (load limit), 1 call(s) still up.\n');
  t.equal((await offer('d1', { 'to-tag': 'b' })).result, 'ok', 'the call already up is still served');
  await ng.request({ command: 'delete', 'call-id': 'd1', 'delete-delay': 0 });
  t.equal(await exited, 0, 'the daemon exits 0 once the last call is gone');
});

t.test('the Grafana dashboard queries only metrics the relay exports', async (t) => {
  const relay = new Relay(await mediaPorts(4));
  t.teardown(() => relay.close());
  const exported = new Set([...(await createMetrics(relay, new ControlStats()).getMetricsAsJSON())].map((m) => m.name));
  const dashboard = JSON.parse(readFileSync(new URL('../packaging/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((q) => [...q.expr.matchAll(/\$\{prefix\}(\w+)/g)].map((m) => `rtpbridge_${m[1]}`))));
  t.ok(used.size >= 10, `${used.size} metrics used`);
  t.same([...used].filter((name) => !exported.has(name)), [], 'every one is exported');
});

t.test('ng over WebSocket (both subprotocols) and over TCP, with cut and garbage streams', async (t) => {
  const { portMin, portMax } = await mediaPorts(20);
  const control = (await mediaPorts(4)).portMin;
  const [ngPort, httpPort, tcpPort] = [control, control + 1, control + 2];
  daemon([`--listen-ng=127.0.0.1:${ngPort}`, `--listen-http=${httpPort}`, `--listen-tcp-ng=${tcpPort}`, `--port-min=${portMin}`, `--port-max=${portMax}`]);
  for (let i = 0; i < 100; i++) if (await fetch(`http://127.0.0.1:${httpPort}/ping`).then((r) => r.ok, () => sleep(100).then(() => false))) break;

  const ws = async (protocol: string, message: string): Promise<string> => {
    const socket = new WebSocket(`ws://127.0.0.1:${httpPort}/`, protocol);
    t.teardown(() => socket.close());
    await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
    socket.send(message);
    return new Promise((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString())));
  };
  t.equal(await ws('ng.rtpengine.com', 'w1 d7:command4:pinge'), 'w1 d6:result4:ponge', 'WebSocket ng.rtpengine.com: cookie-framed');
  t.equal(await ws('ng-plain.rtpengine.com', '{"command":"ping"}'), '{"result":"pong"}', 'WebSocket ng-plain.rtpengine.com: bare JSON');
  t.match(await ws('ng-plain.rtpengine.com', 'garbage'), /^d12:error-reason\d+:invalid bencode at byte 0.*6:result5:errore$/, 'garbage gets an ng error');
  const refused = new WebSocket(`ws://127.0.0.1:${httpPort}/`, 'chat');
  const refusal = await new Promise<string>((resolve) => refused.once('error', (err: Error) => resolve(err.message)).once('open', () => resolve('opened')));
  t.equal(refusal, 'Server sent no subprotocol', 'another subprotocol is refused (and the server closes it)');

  const tcp = async (...chunks: string[]): Promise<{ data: string; closed: boolean }> => {
    const socket = connect(tcpPort, '127.0.0.1');
    t.teardown(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let data = '';
    let closed = false;
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => (closed = true));
    for (const chunk of chunks) {
      socket.write(chunk);
      await sleep(30);
    }
    await sleep(200);
    return { data, closed };
  };
  const split = await tcp('t1 d7:comm', 'and4:pinge', 't2 d7:command4:pinget3 d7:command4:pinge');
  t.equal(split.data, 't1 d6:result4:ponget2 d6:result4:ponget3 d6:result4:ponge', 'messages split across packets, or several in one, are framed by their bencode');
  t.notOk(split.closed, 'the connection stays open for more');
  const bad = await tcp('t3 x');
  t.match(bad.data, /^t3 d12:error-reason\d+:invalid bencode at byte 0.*6:result5:errore$/, 'garbage: an error under its cookie');
  t.ok(bad.closed, 'and the connection is closed');
  const cut = await tcp('t4 d7:command4:pi');
  t.equal(cut.data, '', 'a message cut off is not answered');
  t.equal(await (await fetch(`http://127.0.0.1:${httpPort}/ping`)).text(), 'pong', 'the relay goes on');
});
