/**
 * Datagrams the kernel dropped because a socket's receive buffer was full (a burst beyond what the
 * relay could take in), per local UDP port: the `drops` column of /proc/net/udp and udp6. Read on
 * demand (statistics, a metrics scrape), never per request.
 */
import { readFile } from 'node:fs/promises';

export async function udpDrops(ports: readonly number[]): Promise<number> {
  const wanted = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is ADDRESS:PORT in hex; drops is the last column.
      const port = fields[1]?.split(':')[1];
      if (port !== undefined && wanted.has(port)) drops += Number(fields[fields.length - 1]) || 0;
    }
  }
  return drops;
}
