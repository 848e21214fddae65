import type { AddressFamily, Endpoint, EndpointInfo } from '../shared/vocabulary.js';
import { isIP } from 'node:net';

export function familyOf(address: string): AddressFamily | undefined {
  const v = isIP(address);
  return v === 4 ? 'IP4' : v === 6 ? 'IP6' : undefined;
}

/** rtpengine reports families as IPv4/IPv6 in query replies but IP4/IP6 in SDP and requests. */
export function endpointInfo(ep: Endpoint): EndpointInfo {
  return { family: familyOf(ep.address) === 'IP6' ? 'IPv6' : 'IPv4', address: ep.address, port: ep.port };
}

export function sameEndpoint(a: Endpoint | undefined, b: Endpoint | undefined): boolean {
  return a !== undefined && b !== undefined && a.port === b.port && a.address === b.address;
}

/** 0.0.0.0 / :: in SDP is the legacy way to say "hold": nothing to send to. */
export function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** dgram reports IPv4-mapped sources on dual-stack sockets; compare on the plain form. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** `host:port`, `[v6]:port` or a bare `port` (loopback) as used by `--listen-ng`; port 0 picks a free one. */
export function parseHostPort(spec: string, defaultHost = '127.0.0.1'): Endpoint | undefined {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(spec.trim());
  if (!m) return undefined;
  const address = m[1] ?? m[2] ?? defaultHost;
  const port = Number(m[3]);
  if (!familyOf(address) || port > 65535) return undefined;
  return { address, port };
}

/**
 * A dgram socket's `lookup` for addresses that are always literal (a request's source, an interface
 * address): answering at once skips dns.lookup's argument checks and the tick it defers its callback by.
 */
export function literalLookup(address: string, options: unknown, callback?: (err: Error | null, address: string, family: number) => void): void {
  const done = (typeof options === 'function' ? options : callback) as (err: Error | null, address: string, family: number) => void;
  done(null, address, address.includes(':') ? 6 : 4);
}
