/**
 * `npm run bench -- --churn`: memory over calls created and deleted. 20 clients run offer + answer +
 * delete cycles until 50,000 calls have come and gone, then the relay idles past the reply cache's
 * lifetime (45 s). Reported per relay: resident memory after the first 1,000 calls, after 10,000,
 * 25,000 and 50,000, and after the idle time, as a ratio to the first. Loopback only.
 *
 *   npm run bench -- --churn [--calls=50000] [--idle=45]
 */
import { NgClient } from './ng-client.js';
import { NG_PORT, rtpbridge, rtpengine, SDP, startDaemon, type Daemon, type Variant } from './ng-daemons.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const CALLS = Number(args.calls ?? 50_000);
const IDLE_S = Number(args.idle ?? 45);
const CHECKPOINTS = [1000, 10_000, 25_000, 50_000].filter((n) => n <= CALLS);

const VARIANTS: Variant[] = [rtpbridge('rtpbridge native', 'native'), rtpbridge('rtpbridge workers', 'workers'), ...rtpengine()];

async function churn(daemon: Daemon, name: string): Promise<Array<[string, number]>> {
  const ngs = await Promise.all(Array.from({ length: 20 }, () => NgClient.open(NG_PORT)));
  const out: Array<[string, number]> = [];
  let made = 0;
  try {
    for (const checkpoint of CHECKPOINTS) {
      await Promise.all(
        ngs.map(async (ng, c) => {
          while (made < checkpoint) {
            const id = `churn-${made++}-${c}`;
            await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'a', sdp: SDP(4000) });
            await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'a', 'to-tag': 'b', sdp: SDP(5000) });
            await ng.request({ command: 'delete', 'call-id': id });
          }
        }),
      );
      out.push([`after ${checkpoint}`, daemon.rss()]);
      process.stderr.write(`${name}: ${made} calls, RSS ${(daemon.rss() / 1048576).toFixed(1)} MiB\n`);
    }
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    out.push([`idle ${IDLE_S} s`, daemon.rss()]);
    return out;
  } finally {
    ngs.forEach((n) => n.close());
  }
}

async function main(): Promise<void> {
  const lines = [`rtpbridge churn bench ${new Date().toISOString()}: ${CALLS} calls created and deleted by 20 clients, then ${IDLE_S} s idle; resident memory (MiB), and as a ratio to after the first 1,000`, ''];
  for (const v of VARIANTS) {
    const daemon = await startDaemon(v);
    try {
      const points = await churn(daemon, v.name);
      const first = points[0]![1];
      lines.push(`${v.name}: ${points.map(([label, rss]) => `${label} ${(rss / 1048576).toFixed(1)} (${(rss / first).toFixed(2)})`).join(', ')}`);
    } finally {
      await daemon.stop();
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
