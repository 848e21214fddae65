/**
 * Who may talk to the control transports (`--ng-allow=CIDR`, repeatable): ng over UDP, TCP, HTTP and
 * WebSocket, and the CLI. A request from anywhere else is dropped and counted, never answered, so the
 * relay cannot be used to reflect or amplify traffic towards a forged source. Without `--ng-allow`
 * only loopback and private networks may: a relay reachable from the internet stays closed to it
 * until the operator names who may control it.
 */
import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { normaliseAddress } from '../util/address.js';

export type ControlTransport = 'udp' | 'tcp' | 'http' | 'cli';

/** Loopback, RFC 1918, RFC 6598 shared, link-local, and their IPv6 kin (ULA, link-local). */
export const DEFAULT_NG_ALLOW = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', '::1/128', 'fc00::/7', 'fe80::/10'];

/** Sources whose first denial is logged; past this, denials are only counted. */
const MAX_LOGGED_SOURCES = 1000;
/**
 * Verdicts remembered per source address: BlockList.check builds a SocketAddress per call, a tenth of
 * a request's cost on a busy relay. Emptied when full, so sources sprayed by an attacker bound it.
 */
const MAX_REMEMBERED = 4096;

export class ControlAcl {
  private readonly allowed = new BlockList();
  private readonly logged = new Set<string>();
  private readonly verdicts = new Map<string, boolean>();
  /** Denied requests or connections per transport. */
  readonly denied: Record<ControlTransport, number> = { udp: 0, tcp: 0, http: 0, cli: 0 };

  constructor(
    readonly cidrs: readonly string[] = DEFAULT_NG_ALLOW,
    private readonly log?: Logger,
  ) {
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new ConfigError(`--ng-allow: '${cidr}' is not an address or ADDRESS/PREFIX`);
      this.allowed.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  /** Whether `address` may use the control transports; a denial is counted (and logged once per source). */
  admits(address: string | undefined, transport: ControlTransport): boolean {
    const raw = address ?? '';
    let allowed = this.verdicts.get(raw);
    if (allowed === undefined) {
      allowed = this.check(raw);
      if (this.verdicts.size >= MAX_REMEMBERED) this.verdicts.clear();
      this.verdicts.set(raw, allowed);
    }
    if (allowed) return true;
    const source = normaliseAddress(raw);
    this.denied[transport]++;
    if (this.logged.size < MAX_LOGGED_SOURCES && !this.logged.has(source)) {
      this.logged.add(source);
      this.log?.warn({ from: source, transport }, 'control request from a source not in --ng-allow: dropped (further ones from it are only counted)');
    }
    return false;
  }

  private check(address: string): boolean {
    const source = normaliseAddress(address);
    const family = isIP(source);
    return family !== 0 && this.allowed.check(source, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** `ADDRESS` or `ADDRESS/PREFIX`, IPv4 or IPv6. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(cidr.trim());
  if (!m) return undefined;
  const address = m[1]!.replace(/^\[|\]$/g, '');
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}
