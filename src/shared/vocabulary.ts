/**
 * Words every layer shares: the control plane, both data-plane engines, the ng adapter and the config.
 * A leaf module: it imports nothing, so any folder may depend on it without depending on another's.
 */

export type AddressFamily = 'IP4' | 'IP6';

/** One local address of a logical interface (`--interface=NAME/ADDR[!ADVERTISED]`). */
export interface InterfaceAddress {
  /** Address the media sockets bind to. */
  local: string;
  /** Address written into SDP; defaults to `local`. */
  advertised: string;
  family: AddressFamily;
}

/** A named logical interface (`default`, `ext`, `priv`...) with one or more addresses. */
export interface LogicalInterface {
  name: string;
  addresses: InterfaceAddress[];
}

/** A transport address of a remote peer. */
export interface Endpoint {
  address: string;
  port: number;
}

/** An endpoint as rtpengine reports it in query replies (families as IPv4/IPv6, not IP4/IP6). */
export interface EndpointInfo {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

export type StreamKind = 'RTP' | 'RTCP';

/** How the relay learns where to send a participant's media (rtpengine `--endpoint-learning`). */
export const ENDPOINT_LEARNING = ['off', 'immediate', 'delayed', 'heuristic'] as const;
export type EndpointLearning = (typeof ENDPOINT_LEARNING)[number];

/**
 * Why a received packet was not forwarded. The order is the wire order of the native addon's
 * counters (native/drops.h lists the same names; test/drop-reasons.test.ts holds them together), and
 * `statistics` renders each as `dropped<name in lower case>`.
 */
export const DROP_REASONS = [
  'malformed',
  'unknownSource',
  'noDestination',
  'sendError',
  /** SRTP/SRTCP that failed authentication or replay checks, or media of a DTLS leg without keys. */
  'srtp',
  /** STUN that failed its credentials or checks, or beyond the per-port rate. */
  'stun',
  /** DTLS that could not be read, came from an unverified address, or beyond the per-port rate. */
  'dtls',
  /** From another source than the stream's endpoint, beyond the per-stream rate for such packets. */
  'rateLimited',
  /** RFC 4733 telephone events of a participant whose DTMF is blocked (`block DTMF`); still detected. */
  'dtmfBlocked',
  /** Transcoded media the decoder could not read, that came after a later packet, or whose frame the encoder refused. */
  'undecodable',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type DropCounts = Record<DropReason, number>;

export function zeroDrops(): DropCounts {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounts;
}
