/**
 * `npm run bench -- --burst`: a proxy restart's worth of offers at once. 5,000 offers leave 50 client
 * sockets within about a tenth of a second; each relay (fresh, `--max-sessions=2000`) must answer each
 * within 2 s or drop it (the kernel counts those). Reported per relay: answered in time, late,
 * unanswered, the answers by result, and the latency of an offer right after. Loopback only.
 *
 *   npm run bench -- --burst [--reps=3] [--offers=5000]
 */
import { createSocket, type Socket } from 'node:dgram';
import { decode, encode } from '../src/ng/bencode.js';
import { median, NG_PORT, rtpbridge, rtpengine, SDP, startDaemon, type Variant } from './ng-daemons.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const REPS = Number(args.reps ?? 3);
const OFFERS = Number(args.offers ?? 5000);
const SOCKETS = 50;
const DEADLINE_MS = 2000;

const VARIANTS: Variant[] = [rtpbridge('rtpbridge native', 'native', ['--max-sessions=2000']), rtpbridge('rtpbridge workers', 'workers', ['--max-sessions=2000']), ...rtpengine(['--max-sessions=2000'])];

interface Outcome {
  inTime: number;
  late: number;
  unanswered: number;
  results: Record<string, number>;
  afterMs: number;
}

async function burst(v: Variant, rep: number): Promise<Outcome> {
  const daemon = await startDaemon(v);
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < SOCKETS; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
      sockets.push(s);
    }
    const sentAt = new Map<string, number>();
    const answered = new Map<string, { at: number; result: string }>();
    for (const s of sockets) {
      s.on('message', (msg) => {
        const space = msg.indexOf(0x20);
        const dict = decode(msg.subarray(space + 1)) as Record<string, unknown>;
        answered.set(msg.subarray(0, space).toString(), { at: performance.now(), result: String(dict.result) });
      });
    }
    for (let i = 0; i < OFFERS; i++) {
      const cookie = `r${rep}b${i}`;
      const body = encode({ command: 'offer', 'call-id': `burst-${rep}-${i}`, 'from-tag': 'a', sdp: SDP(4000), supports: ['load limit'] } as never);
      sentAt.set(cookie, performance.now());
      sockets[i % SOCKETS]!.send(Buffer.concat([Buffer.from(`${cookie} `), body]), NG_PORT, '127.0.0.1');
    }
    const last = performance.now();
    while (answered.size < OFFERS && performance.now() - last < DEADLINE_MS + 1000) await new Promise((r) => setTimeout(r, 50));
    const results: Record<string, number> = {};
    let inTime = 0;
    for (const [cookie, a] of answered) {
      results[a.result] = (results[a.result] ?? 0) + 1;
      if (a.at - sentAt.get(cookie)! <= DEADLINE_MS) inTime++;
    }
    const t0 = performance.now();
    await daemon.ng.request({ command: 'offer', 'call-id': `after-${rep}`, 'from-tag': 'a', sdp: SDP(4000), supports: ['load limit'] });
    return { inTime, late: answered.size - inTime, unanswered: OFFERS - answered.size, results, afterMs: performance.now() - t0 };
  } finally {
    sockets.forEach((s) => s.close());
    await daemon.stop();
  }
}

async function main(): Promise<void> {
  const runs = new Map<string, Outcome[]>();
  for (let rep = 0; rep < REPS; rep++) {
    for (const v of VARIANTS) {
      const o = await burst(v, rep);
      runs.set(v.name, [...(runs.get(v.name) ?? []), o]);
      process.stderr.write(`[rep ${rep + 1}/${REPS}] ${v.name}: ${o.inTime} answered within 2 s, ${o.late} late, ${o.unanswered} unanswered (${Object.entries(o.results).map(([r, n]) => `${r} ${n}`).join(', ')}); next offer ${o.afterMs.toFixed(1)} ms\n`);
    }
  }
  const lines = [`rtpbridge burst bench ${new Date().toISOString()}: ${OFFERS} offers at once, --max-sessions=2000, ${REPS} repetition(s), medians`, '', 'relay | answered within 2 s | late | unanswered (kernel drops) | next offer ms'];
  for (const [name, os] of runs) lines.push(`${name} | ${median(os.map((o) => o.inTime))} | ${median(os.map((o) => o.late))} | ${median(os.map((o) => o.unanswered))} | ${median(os.map((o) => o.afterMs)).toFixed(1)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
