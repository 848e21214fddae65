/**
 * The drop-in claim against the real thing: Debian's Kamailio with its `rtpengine` module drives the
 * relay over ng while two SIPp instances place a call through it, and RTP flows both ways through
 * the ports the relay wrote into the SDP.
 *
 *   SIPp UAC ──SIP──> Kamailio ──SIP──> SIPp UAS
 *                        │ ng (rtpengine_offer / _answer / _delete)
 *                        v
 *   caller Phone <──RTP──> Relay <──RTP──> callee Phone
 *
 * A second test puts two relays in one Kamailio set and drains one: Kamailio moves every call to the
 * other on its "load limit" answers.
 *
 * Needs `kamailio` (with rtpengine.so) and `sipp` (Debian: `sip-tester`). Skipped without them, except
 * under RTPBRIDGE_TEST_REQUIRE_ALL=1 (.ci/run), where their absence is a failure.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectEngine } from './helpers/engine.js';
import { startRelay } from './helpers/fixture.js';
import { requireTool } from './helpers/tools.js';
import { freed, Phone, rtpPacket, sleep, udpPortHeld } from './helpers/media.js';
import { ntpMiddle, receiverReport, senderReport } from './helpers/rtcp.js';
import { rtp, tone } from './helpers/tone.js';
import { encodeG711, g711Table } from '../src/codecs/g711.js';
import type { NgDict } from '../src/ng/message.js';
import type { NgServer } from '../src/ng/server.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/kamailio/', import.meta.url));
/** How long the UAC holds the call between ACK and BYE; the RTP exchange happens in this window. */
const HOLD_MS = 3000;
/** Keep this much of each child's output for failure messages. */
const OUTPUT_TAIL = 8000;

/** Resolves a program on PATH, or in the sbin directories a non-root PATH may lack. */
function findProgram(name: string): string | undefined {
  for (const candidate of [name, `/usr/sbin/${name}`, `/usr/local/sbin/${name}`, `/usr/bin/${name}`]) {
    const r = spawnSync(candidate, ['-v'], { stdio: 'ignore', timeout: 5000 });
    if (!r.error) return candidate;
  }
  return undefined;
}

/** A child process whose stdout/stderr are kept (tail only) for diagnostics. */
class Child {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      proc.once('error', (err) => {
        keep(Buffer.from(`\n[spawn error: ${err.message}]\n`));
        resolve({ code: null, signal: null });
      });
      proc.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits for the exit; rejects after `ms` with the output so far. */
  async waitExit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} still running after ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM the child's process group (Kamailio forks workers), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (!this.running || this.proc.pid === undefined) return;
    const pgid = -this.proc.pid;
    try {
      process.kill(pgid, 'SIGTERM');
    } catch {
      return;
    }
    const done = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!done) {
      try {
        process.kill(pgid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await Promise.race([this.exited, sleep(2000)]);
    }
  }

  report(): string {
    return `----- ${this.name} output (tail) -----\n${this.output}\n----- end ${this.name} -----`;
  }
}

function launch(t: Test, name: string, cmd: string, args: string[], cwd: string): Child {
  // Own process group, so teardown can end the program and every worker it forked.
  const child = new Child(name, spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => child.stop());
  return child;
}

/** A UDP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Polls `check` every 50 ms until it returns a value, or throws `describe()` after `ms`. */
async function waitUntil<T>(ms: number, check: () => T | undefined | Promise<T | undefined>, describe: () => string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(describe());
    await sleep(50);
  }
}

/** Sends SIP OPTIONS to Kamailio until it answers 200 (its workers are up and routing). */
async function kamailioReady(port: number, kamailio: Child, ms: number): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const local = s.address().port;
  let answered = false;
  s.on('message', (msg) => {
    if (/^SIP\/2\.0 200 /.test(msg.toString('latin1'))) answered = true;
  });
  try {
    await waitUntil(
      ms,
      async () => {
        if (answered) return true;
        if (!kamailio.running) throw new Error('kamailio exited before it was ready');
        const branch = `z9hG4bK${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
        const options = [
          `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=${branch}`,
          'Max-Forwards: 70',
          `From: <sip:probe@127.0.0.1:${local}>;tag=probe`,
          `To: <sip:127.0.0.1:${port}>`,
          `Call-ID: probe-${branch}@127.0.0.1`,
          'CSeq: 1 OPTIONS',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        s.send(options, port, '127.0.0.1');
        await sleep(150);
        return answered || undefined;
      },
      () => `kamailio did not answer OPTIONS on 127.0.0.1:${port} within ${ms} ms`,
    );
  } finally {
    s.close();
  }
}

/** The `<log>` lines a SIPp scenario wrote with -trace_logs. */
function sippLog(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Bencode strings may decode as Buffers; make a request/reply readable in a failure message. */
function readable(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(readable);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, readable(x)]));
  return v;
}

const kamailioBin = findProgram('kamailio');
const sippBin = findProgram('sipp');
const missing = [!kamailioBin && 'kamailio', !sippBin && 'sipp (Debian package sip-tester)'].filter(Boolean).join(' and ');

type Ng = { request: NgDict; reply: NgDict };
const command = (e: Ng): unknown => e.request.command;

/** Records every ng exchange a relay's server handles: what Kamailio really sends is the point of these tests. */
function recordNg(server: NgServer): Ng[] {
  const log: Ng[] = [];
  const execute = server.commands.execute.bind(server.commands);
  server.commands.execute = async (dict: NgDict, controller: string) => {
    const reply = await execute(dict, controller);
    log.push({ request: readable(dict) as NgDict, reply: readable(reply) as NgDict });
    return reply;
  };
  return log;
}

/**
 * Kamailio in the foreground from the fixture config, on loopback, with runtime files in `dir`: its
 * rtpengine set is the relays on `ngPorts`, it routes INVITEs to a UAS on `uasPort`, and `offerFlags`
 * go on after rtpengine_offer's own. Ready once kamailioReady() has an answer.
 */
async function launchKamailio(t: Test, dir: string, o: { ngPorts: number[]; uasPort: number; offerFlags?: string }): Promise<{ kamailio: Child; port: number }> {
  const port = await freePort();
  const cfg = readFileSync(join(FIXTURES, 'kamailio.cfg'), 'utf8')
    .replaceAll('@KAMAILIO_PORT@', String(port))
    .replaceAll('@NG_SOCKETS@', o.ngPorts.map((p) => `udp:127.0.0.1:${p}`).join(' '))
    .replaceAll('@UAS_PORT@', String(o.uasPort))
    .replaceAll('@OFFER_FLAGS@', o.offerFlags ? ` ${o.offerFlags}` : '');
  const cfgFile = join(dir, 'kamailio.cfg');
  writeFileSync(cfgFile, cfg);
  // -DD: no daemon; -E: log to stderr; -Y/-P/-w: nothing outside the temp dir; -T/-S: UDP only.
  const args = ['-DD', '-E', '-f', cfgFile, '-Y', dir, '-P', join(dir, 'kamailio.pid'), '-w', dir, '-m', '64', '-M', '8', '-n', '2', '-T', '-S'];
  return { kamailio: launch(t, 'kamailio', kamailioBin!, args, dir), port };
}

/** A SIPp instance playing the fixture scenario `role`. */
function sipp(t: Test, role: 'uac' | 'uas', dir: string, args: string[]): Child {
  return launch(t, `sipp ${role}`, sippBin!, ['-sf', join(FIXTURES, `${role}.xml`), ...args], dir);
}

/** The SIPp callee on `port`, once it holds the port; one that exits first, or is slow, fails with its output. */
async function sippUas(t: Test, dir: string, port: number, args: string[]): Promise<Child> {
  const uas = sipp(t, 'uas', dir, ['-p', String(port), ...args]);
  await waitUntil(
    10_000,
    async () => {
      if (!uas.running) throw new Error(`sipp uas exited before it bound 127.0.0.1:${port}\n${uas.report()}`);
      return udpPortHeld(port) || undefined;
    },
    () => `sipp uas did not bind 127.0.0.1:${port} within 10 s\n${uas.report()}`,
  );
  return uas;
}

t.test('Kamailio rtpengine module drives the relay for a SIPp call; RTP flows both ways', async (t) => {
  // .ci/run installs both; a silent skip there would hide a broken drop-in.
  if (!requireTool(t, missing || 'kamailio and sipp', !missing, 'apt-get install kamailio sip-tester to run the Kamailio drop-in test')) return;
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-kamailio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // 1. The relay, with delete-delay 0 so Kamailio's rtpengine_delete frees the call at once. Every
  // ng exchange is recorded: what Kamailio really sends is the point of this test.
  const { relay, server, ngPort, ports } = await startRelay(t, { deleteDelay: 0 });
  const ngLog = recordNg(server);
  const ngTrace = (): string => ngLog.map((e) => JSON.stringify(e)).join('\n');
  const created: string[] = [];
  const deleted: Array<{ callId: string; reason: string }> = [];
  relay.on('call:created', ({ callId }) => created.push(callId));
  relay.on('call:deleted', (e) => deleted.push(e));

  // The two phones the SIPp scenarios advertise in their SDP; the test plays their media.
  const caller = await Phone.open();
  const callee = await Phone.open();
  t.teardown(() => [caller, callee].forEach((p) => p.close()));

  // 2. Kamailio in the foreground, on loopback only, runtime files in the temp dir.
  const uasPort = await freePort();
  const uacPort = await freePort();
  const { kamailio, port: kamailioPort } = await launchKamailio(t, dir, { ngPorts: [ngPort], uasPort });
  const children: Child[] = [kamailio];
  const uasLog = join(dir, 'uas_logs.log');
  const uacLog = join(dir, 'uac_logs.log');
  /** Everything a CI log needs to tell what went wrong, attached to failures. */
  const diagnostics = (): string =>
    [
      `----- ng exchanges -----\n${ngTrace()}`,
      ...children.map((c) => c.report()),
      `----- sipp <log> lines -----\nUAS: ${sippLog(uasLog)}\nUAC: ${sippLog(uacLog)}`,
      `----- sipp unexpected messages -----\nUAS: ${sippLog(join(dir, 'uas_errors.log'))}\nUAC: ${sippLog(join(dir, 'uac_errors.log'))}`,
    ].join('\n');
  const failure = (message: string): Error => Object.assign(new Error(message), { diagnostics: diagnostics() });
  const waitFor = <T>(ms: number, what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> =>
    waitUntil(ms, check, () => `${what} within ${ms} ms`).catch((err: Error) => Promise.reject(failure(err.message)));

  await kamailioReady(kamailioPort, kamailio, 10_000).catch((err: Error) => Promise.reject(failure(err.message)));
  t.ok(ngLog.some((e) => command(e) === 'ping'), 'the module pinged the relay at startup', { ng: ngTrace() });

  // 3. SIPp callee, then the caller through Kamailio. Each gives up on its own after 20 s.
  const common = ['-i', '127.0.0.1', '-m', '1', '-nostdin', '-trace_logs', '-trace_err', '-timeout', '20s', '-timeout_error', '-max_retrans', '3', '-key', 'pts', '0 8 101'];
  const uas = await sippUas(t, dir, uasPort, ['-key', 'rtp_port', String(callee.port), '-log_file', uasLog, '-error_file', join(dir, 'uas_errors.log'), ...common]).catch((err: Error) => Promise.reject(failure(err.message)));
  children.push(uas);

  const uac = sipp(t, 'uac', dir, [
    `127.0.0.1:${kamailioPort}`, '-p', String(uacPort), '-key', 'rtp_port', String(caller.port),
    '-d', String(HOLD_MS), '-log_file', uacLog, '-error_file', join(dir, 'uac_errors.log'), ...common,
  ]);
  children.push(uac);

  // Offer (INVITE) and answer (200 OK) have both gone through the relay once Kamailio's answer is in.
  const answer = await waitFor(5000, 'no ng answer from Kamailio', () => {
    if (!uac.running) throw new Error('sipp uac ended before the call was answered');
    return ngLog.find((e) => command(e) === 'answer');
  });
  const offer = ngLog.find((e) => command(e) === 'offer');
  t.equal(offer?.reply.result, 'ok', 'relay accepted the offer Kamailio sent', { ng: ngTrace() });
  t.equal(answer.reply.result, 'ok', 'relay accepted the answer Kamailio sent', { ng: ngTrace() });
  t.equal(created.length, 1, 'one call created');
  const callId = created[0]!;

  // The relay's own view: which of its ports faces whom.
  const info = await relay.query({ callId });
  const fromTag = String(offer!.request['from-tag']);
  const toTag = String(answer.request['to-tag']);
  t.same(info.tags.map((x) => x.tag).sort(), [fromTag, toTag].sort(), 'the call has the caller and callee tags Kamailio passed');
  const rtpPort = (tag: string): number => info.tags.find((x) => x.tag === tag)?.medias[0]?.streams.find((s) => s.kind === 'RTP')?.localPort ?? -1;
  const callerFacing = rtpPort(fromTag);
  const calleeFacing = rtpPort(toTag);
  for (const [who, port] of [['caller', callerFacing], ['callee', calleeFacing]] as const) {
    t.ok(port >= ports.portMin && port <= ports.portMax, `${who}-facing relay port ${port} is in the relay's range`);
  }

  // What each SIP endpoint actually received after Kamailio rewrote the SDP.
  const uasSaw = await waitFor(2000, 'UAS never logged the offer it received', () => /UAS offer c=IN IP4 (\S+) m=audio (\d+)/.exec(sippLog(uasLog)) ?? undefined);
  t.equal(uasSaw[1], '127.0.0.1', 'the callee got c= of the relay');
  t.equal(Number(uasSaw[2]), calleeFacing, 'the callee got the relay port that faces it');
  t.not(Number(uasSaw[2]), caller.port, 'not the caller phone port');
  const uacSaw = await waitFor(2000, 'UAC never logged the answer it received', () => /UAC answer c=IN IP4 (\S+) m=audio (\d+)/.exec(sippLog(uacLog)) ?? undefined);
  t.equal(uacSaw[1], '127.0.0.1', 'the caller got c= of the relay');
  t.equal(Number(uacSaw[2]), callerFacing, 'the caller got the relay port that faces it');
  t.not(Number(uacSaw[2]), callee.port, 'not the callee phone port');

  // 4. Media while SIPp holds the call: each Phone sends to the port its SIP peer was given.
  const PACKETS = 10;
  for (let i = 0; i < PACKETS; i++) {
    await caller.send(rtpPacket(i, { ssrc: 0xca11e4 }), callerFacing, '127.0.0.1');
    await callee.send(rtpPacket(1000 + i, { ssrc: 0xca11ee }), calleeFacing, '127.0.0.1');
    await sleep(20);
  }
  // RTCP as phones send it: the caller reports what it sends, the callee how it receives it.
  await caller.send(senderReport(0xca11e4, 3_900_000_000, 0), callerFacing + 1, '127.0.0.1');
  await sleep(100);
  await callee.send(receiverReport(0xca11ee, [{ ssrc: 0xca11e4, fractionLost: 3, cumulativeLost: 1, jitter: 80, lsr: ntpMiddle(3_900_000_000, 0), dlsr: 3277 }]), calleeFacing + 1, '127.0.0.1');
  const atCallee = await callee.waitFor(PACKETS, 2000).catch((err: Error) => Promise.reject(failure(err.message)));
  const atCaller = await caller.waitFor(PACKETS, 2000).catch((err: Error) => Promise.reject(failure(err.message)));
  t.ok(uac.running && !ngLog.some((e) => command(e) === 'delete'), 'the call was still up (no BYE yet) while media flowed');
  t.same(atCallee.map((r) => r.data.readUInt32BE(8)), Array(PACKETS).fill(0xca11e4), 'callee hears the caller');
  t.same(atCallee.map((r) => r.data.readUInt16BE(2)), [...Array(PACKETS).keys()], 'in order, unchanged');
  t.equal(atCallee[0]!.from.port, calleeFacing, 'from the relay port in its SDP');
  t.same(atCaller.map((r) => r.data.readUInt32BE(8)), Array(PACKETS).fill(0xca11ee), 'caller hears the callee');
  t.equal(atCaller[0]!.from.port, callerFacing, 'from the relay port in its SDP');
  await expectEngine(t, relay, callId, { handshakes: false });

  // 5. BYE: both SIPp instances finish cleanly and Kamailio's rtpengine_delete ends the call.
  const [uacExit, uasExit] = await Promise.all([uac.waitExit(HOLD_MS + 10_000), uas.waitExit(HOLD_MS + 10_000)]).catch((err: Error) =>
    Promise.reject(failure(err.message)),
  );
  t.same(uacExit, { code: 0, signal: null }, 'sipp uac exited 0', uacExit.code === 0 ? {} : { diagnostics: diagnostics() });
  t.same(uasExit, { code: 0, signal: null }, 'sipp uas exited 0', uasExit.code === 0 ? {} : { diagnostics: diagnostics() });
  const del = await waitFor(3000, 'Kamailio sent no ng delete', () => ngLog.find((e) => command(e) === 'delete'));
  t.equal(del.reply.result, 'ok', 'relay accepted the delete Kamailio sent', { ng: ngTrace() });
  t.equal(del.request['call-id'], callId, 'delete names the call');
  await waitFor(3000, 'relay did not delete the call', () => deleted.length > 0 || undefined);
  t.same(deleted, [{ callId, reason: 'delete' }], 'call:deleted after BYE');
  t.same(relay.list(), [], 'no calls left in the relay');
  t.ok(await freed(callerFacing), 'caller-facing port freed');
  t.ok(await freed(calleeFacing), 'callee-facing port freed');
  const refused = ngLog.filter((e) => e.reply.result !== 'ok' && e.reply.result !== 'pong');
  t.same(refused, [], 'no ng request from Kamailio was refused', { ng: ngTrace() });
  // Kamailio's mos_*_pv parameters, read from the delete reply and logged by the config at BYE.
  const mosLine = await waitFor(2000, 'Kamailio logged no MOS line', () => /MOS of \S+: (.*)/.exec(kamailio.output)?.[1]);
  t.match(mosLine, /average=\d\.\d min=\d\.\d max=\d\.\d loss=1 jitter=10 rtt=\d+ samples=1/, `Kamailio read the call's MOS: ${mosLine}`);
  // Per side by label: A (the caller) is the stream the callee reported on; the callee's own stream has no reports.
  const sideLine = await waitFor(2000, 'Kamailio logged no per-side MOS line', () => /MOS per side of \S+: (.*)/.exec(kamailio.output)?.[1]);
  const average = /average=(\d\.\d)/.exec(mosLine)?.[1];
  t.equal(sideLine, `A=${average} A-loss=1 B=<null>`, `Kamailio found the caller's MOS by its label: ${sideLine}`);
  t.ok(kamailio.running, 'kamailio still running', kamailio.running ? {} : { diagnostics: diagnostics() });
  t.comment(`ng commands from Kamailio: ${ngLog.map(command).join(', ')}; took ${Date.now() - started} ms`);
});

t.test('two relays in one Kamailio set: the drained one answers "load limit" and every call goes to the other', async (t) => {
  if (!requireTool(t, missing || 'kamailio and sipp', !missing, 'apt-get install kamailio sip-tester to run the Kamailio drop-in test')) return;
  const CALLS = 12;
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-kamailio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const relays = await Promise.all([startRelay(t, { deleteDelay: 0 }), startRelay(t, { deleteDelay: 0 })]);
  const logs = relays.map(({ server }) => recordNg(server));
  const created = relays.map(({ relay }) => {
    const ids: string[] = [];
    relay.on('call:created', ({ callId }) => ids.push(callId));
    return ids;
  });
  const [drained, open] = relays as [(typeof relays)[0], (typeof relays)[0]];
  drained.relay.drain();

  const uasPort = await freePort();
  const { kamailio, port: kamailioPort } = await launchKamailio(t, dir, { ngPorts: [drained.ngPort, open.ngPort], uasPort });
  await kamailioReady(kamailioPort, kamailio, 10_000);
  const trace = (): string => logs.map((log, i) => `relay ${i}: ${log.map((e) => JSON.stringify(e)).join('\n')}`).join('\n') + `\n${kamailio.report()}`;

  const common = ['-i', '127.0.0.1', '-m', String(CALLS), '-r', '20', '-nostdin', '-timeout', '30s', '-timeout_error', '-max_retrans', '3', '-key', 'rtp_port', '4000', '-key', 'pts', '0 8 101'];
  const uas = await sippUas(t, dir, uasPort, common);
  const uac = sipp(t, 'uac', dir, [`127.0.0.1:${kamailioPort}`, '-p', String(await freePort()), '-d', '200', ...common]);
  const [uacExit] = await Promise.all([uac.waitExit(30_000), uas.waitExit(30_000)]);
  t.same(uacExit, { code: 0, signal: null }, `all ${CALLS} calls completed`, uacExit.code === 0 ? {} : { diagnostics: `${trace()}\n${uac.report()}` });
  const offers = (log: Ng[]): Ng[] => log.filter((e) => command(e) === 'offer');
  t.equal(created[1]!.length, CALLS, 'every call was set up on the relay that takes calls', { ng: trace() });
  t.equal(created[0]!.length, 0, 'none on the drained one');
  t.ok(offers(logs[0]!).length > 0, `Kamailio tried the drained relay too (${offers(logs[0]!).length} offers)`, { ng: trace() });
  t.same(new Set(offers(logs[0]!).map((e) => e.reply.result)), new Set(['load limit']), 'and got "load limit" for each');
});

t.test('codec flags from a Kamailio config: a PCMU-only caller reaches an A-law-only trunk, the relay converting both ways', async (t) => {
  if (!requireTool(t, missing || 'kamailio and sipp', !missing, 'apt-get install kamailio sip-tester to run the Kamailio drop-in test')) return;
  const dir = mkdtempSync(join(tmpdir(), 'rtpbridge-kamailio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { relay, server, ngPort } = await startRelay(t, { deleteDelay: 0 });
  const ngLog = recordNg(server);
  const caller = await Phone.open();
  const callee = await Phone.open();
  t.teardown(() => [caller, callee].forEach((p) => p.close()));
  // The usual rtpengine recipe for a trunk that takes A-law only: PCMU is kept for the caller but not
  // offered on, PCMA is added and converted.
  const uasPort = await freePort();
  const { kamailio, port: kamailioPort } = await launchKamailio(t, dir, { ngPorts: [ngPort], uasPort, offerFlags: 'codec-mask-PCMU codec-transcode-PCMA' });
  const trace = (): string => `${ngLog.map((e) => JSON.stringify(e)).join('\n')}\n${kamailio.report()}`;
  await kamailioReady(kamailioPort, kamailio, 10_000);
  const common = ['-i', '127.0.0.1', '-m', '1', '-nostdin', '-trace_logs', '-timeout', '20s', '-timeout_error', '-max_retrans', '3'];
  const uasLog = join(dir, 'uas_logs.log');
  const uacLog = join(dir, 'uac_logs.log');
  const uas = await sippUas(t, dir, uasPort, ['-key', 'rtp_port', String(callee.port), '-key', 'pts', '8 101', '-log_file', uasLog, ...common]);
  const uac = sipp(t, 'uac', dir, [`127.0.0.1:${kamailioPort}`, '-p', String(await freePort()), '-key', 'rtp_port', String(caller.port), '-key', 'pts', '0 101', '-d', String(HOLD_MS), '-log_file', uacLog, ...common]);
  const answer = await waitUntil(5000, () => ngLog.find((e) => command(e) === 'answer'), () => `no ng answer from Kamailio:\n${trace()}`);
  const offer = ngLog.find((e) => command(e) === 'offer')!;
  t.same([offer.reply.result, answer.reply.result], ['ok', 'ok'], 'offer and answer accepted', { ng: trace() });
  t.comment(`Kamailio sent the flags as: ${JSON.stringify({ codec: offer.request.codec, flags: offer.request.flags })}`);
  const uasSaw = await waitUntil(2000, () => /UAS offer \S+ \S+ \S+ (m=audio (\d+) RTP\/AVP[\d ]*)/.exec(sippLog(uasLog)) ?? undefined, () => 'UAS logged no offer');
  const uacSaw = await waitUntil(2000, () => /UAC answer \S+ \S+ \S+ (m=audio (\d+) RTP\/AVP[\d ]*)/.exec(sippLog(uacLog)) ?? undefined, () => 'UAC logged no answer');
  t.equal(uasSaw[1]!.replace(/^m=audio \d+ /, '').trim(), 'RTP/AVP 8 101', `the trunk is offered PCMA (and telephone-event) only: ${uasSaw[1]}`);
  t.equal(uacSaw[1]!.replace(/^m=audio \d+ /, '').trim(), 'RTP/AVP 0 101', 'the caller is answered in its own PCMU');
  const callerFacing = Number(uacSaw[2]);
  const calleeFacing = Number(uasSaw[2]);

  const samples = tone(1000, 8000, 8000, 0, 160);
  const pcmu = Buffer.from(encodeG711('PCMU', samples));
  const pcma = Buffer.from(encodeG711('PCMA', samples));
  for (let i = 0; i < 5; i++) {
    await caller.send(rtp(0, i, i * 160, pcmu, 0xca11e4), callerFacing, '127.0.0.1');
    await callee.send(rtp(8, 100 + i, i * 160, pcma, 0xca11ee), calleeFacing, '127.0.0.1');
    await sleep(20);
  }
  const atCallee = await callee.waitFor(5, 2000);
  const atCaller = await caller.waitFor(5, 2000);
  const toUlaw = g711Table('PCMA', 'PCMU');
  const toAlaw = g711Table('PCMU', 'PCMA');
  t.same(atCallee.map((r) => [r.data[1], r.data.readUInt16BE(2)]), [0, 1, 2, 3, 4].map((i) => [8, i]), 'the trunk gets PCMA, numbered as sent');
  t.ok(atCallee.every((r) => r.data.subarray(12).equals(Buffer.from(pcmu.map((b) => toAlaw[b]!)))), 'each byte the A-law code of the caller\'s μ-law sample');
  t.ok(atCaller.every((r) => r.data[1] === 0 && r.data.subarray(12).equals(Buffer.from(pcma.map((b) => toUlaw[b]!)))), 'the caller gets PCMU, each byte the μ-law code of the trunk\'s A-law sample');
  // One G.711 law from the other is a byte map: the native addon converts it, as the workers do.
  await expectEngine(t, relay, String(offer.request['call-id']), { handshakes: false });
  const [uacExit] = await Promise.all([uac.waitExit(HOLD_MS + 10_000), uas.waitExit(HOLD_MS + 10_000)]);
  t.same(uacExit, { code: 0, signal: null }, 'the call ended normally', uacExit.code === 0 ? {} : { diagnostics: `${trace()}\n${uac.report()}` });
  const del = await waitUntil(3000, () => ngLog.find((e) => command(e) === 'delete'), () => 'Kamailio sent no ng delete');
  t.equal(del.reply.result, 'ok', 'and Kamailio deleted it');
});
