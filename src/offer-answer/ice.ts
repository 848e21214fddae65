/**
 * ICE towards participants (RFC 8445 with the relay as an ICE-lite agent, RFC 8445 §2.5): whether a
 * participant gets ICE attributes, its credentials, and the relay's host candidates. The relay never
 * passes a participant's candidates on: they would let endpoints bypass it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SideIce } from '../dataplane/types.js';
import type { IceMode } from '../api/requests.js';
import type { MediaStep, SignalKind } from './context.js';

/** RFC 8445 §5.1.2.1 type preferences. */
const TYPE_PREFERENCE = { host: 126, relay: 0 } as const;
const LOCAL_PREFERENCE = 65535;

/**
 * rtpengine's rule: `force`/`force-relay` always, `remove` never, `default` in an offer when the SDP
 * being rewritten had ICE (or the recipient did ICE before), in an answer only when the recipient
 * offered ICE: an answer may not bring ICE to an offerer that did not ask for it (RFC 8839 §4.2).
 */
export function wantsIce(mode: IceMode | undefined, kind: SignalKind, senderHasIce: boolean, recipientOfferedIce: boolean): boolean {
  switch (mode ?? 'default') {
    case 'remove':
      return false;
    case 'force':
    case 'force-relay':
    case 'optional':
      return true;
    default:
      return recipientOfferedIce || (kind === 'offer' && senderHasIce);
  }
}

/** ufrag >= 4 and pwd >= 22 ice-chars (RFC 8839 §5.4): base64 of random bytes is made of them, but for '='. */
export function newCredentials(): SideIce {
  const chars = (n: number): string => randomBytes(n).toString('base64').replace(/=/g, '').slice(0, n);
  return { ufrag: chars(8), pwd: chars(24) };
}

export interface CandidateAddress {
  address: string;
  rtpPort: number;
  /** Absent when RTCP is muxed: one component only. */
  rtcpPort?: number;
}

/**
 * a=ice-ufrag, a=ice-pwd and a candidate per component per address (the first preferred, each next one
 * lower), then a=end-of-candidates: a lite agent gathers nothing later.
 */
export function iceLines(credentials: SideIce, addresses: readonly CandidateAddress[], relay: boolean): string[] {
  const type = relay ? 'relay' : 'host';
  const lines = [`a=ice-ufrag:${credentials.ufrag}`, `a=ice-pwd:${credentials.pwd}`];
  addresses.forEach((at, rank) => {
    const foundation = createHash('sha1').update(`${type}/${at.address}`).digest('hex').slice(0, 16);
    const candidate = (component: number, port: number): string => {
      const priority = TYPE_PREFERENCE[type] * 2 ** 24 + (LOCAL_PREFERENCE - rank) * 2 ** 8 + (256 - component);
      const related = relay ? ` raddr ${at.address} rport ${port}` : '';
      return `a=candidate:${foundation} ${component} UDP ${priority} ${at.address} ${port} typ ${type}${related}`;
    };
    lines.push(candidate(1, at.rtpPort));
    if (at.rtcpPort !== undefined) lines.push(candidate(2, at.rtcpPort));
  });
  lines.push('a=end-of-candidates');
  return lines;
}

export const ICE_LITE = 'a=ice-lite';

/**
 * ICE attributes for the recipient, when rtpengine's rules want them: a candidate on every address of
 * its interface (binding the extra ports the first time); the recipient's side answers the checks.
 */
export const settleIce: MediaStep = async ({ call, kind, req, recipient, media, mine, theirs, plan }, { ports }) => {
  if (media.hasIce || mine.offeredIce !== undefined) mine.offeredIce = media.hasIce;
  if (!wantsIce(req.ice, kind, media.hasIce, theirs.offeredIce === true)) {
    if (theirs.side.ice) theirs.side.ice = null;
    return;
  }
  const side = theirs.side;
  if (!side.aliases) {
    side.aliases = [];
    for (const address of recipient.iface!.addresses) {
      if (address === side.address) continue;
      side.aliases.push({ address, rtpPort: await ports.allocate(side.id, call.shard, address.local, address.family, true) });
    }
  }
  theirs.iceCredentials ??= newCredentials();
  side.ice = theirs.iceCredentials;
  const muxed = plan.rtcpMuxOnly === true || (plan.rtcpMux && kind === 'answer');
  const candidates = [{ address: plan.address, rtpPort: plan.rtpPort, rtcpPort: plan.rtcpPort }, ...side.aliases.map((a) => ({ address: a.address.advertised, rtpPort: a.rtpPort, rtcpPort: a.rtpPort + 1 }))];
  plan.ice = iceLines(
    theirs.iceCredentials,
    candidates.map((c) => ({ ...c, rtcpPort: muxed ? undefined : c.rtcpPort })),
    req.ice === 'force-relay',
  );
};
