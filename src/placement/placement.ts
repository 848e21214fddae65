/**
 * Which forwarding shard carries a call. Both sides of a call live on one shard (a packet leaves by its
 * sink's socket). The native addon is the accelerator: it forwards plain RTP and SDES-SRTP, converts
 * between the G.711 laws by table, and runs no other packet processor, no ICE and no DTLS; the TypeScript workers are the general path that runs
 * everything. Calls that need nothing more go on the addon's shards; a call that needs more goes on a
 * worker shard, and a call already on the addon whose re-offer needs more is moved there: same ports,
 * same learned endpoints, counters and SRTP progress, a gap of a few milliseconds in its media.
 */
import type { Logger } from 'pino';
import type { Call } from '../call/call.js';
import type { DataPlane, SideState } from '../dataplane/types.js';
import type { MediaSide } from '../media/media-side.js';
import { RelayError } from '../errors.js';

/** What a call needs of the data plane beyond forwarding and SDES-SRTP. */
export interface CallNeeds {
  /** ICE checks or a DTLS handshake on the call's ports. */
  handshakes: boolean;
  /** Packets changed on their way beyond a G.711 byte map: decoded and encoded (`transcode`), repacketized, DTMF written in. */
  transcoding: boolean;
}

export class Placement {
  private next = 0;
  /** Shards that run everything, and the rest (all shards, if every one runs everything). */
  private readonly general: readonly number[];
  private readonly fast: readonly number[];

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly log: Logger,
  ) {
    const all = Array.from({ length: dataPlane.shards }, (_, i) => i);
    this.general = dataPlane.handshakeShards;
    const fast = all.filter((s) => !this.general.includes(s));
    this.fast = fast.length > 0 ? fast : all;
  }

  /** Round robin over the shards that fit: the general ones for calls that need them, the fast ones for the rest. */
  place(needs: CallNeeds): number {
    const fitting = this.fits(needs);
    if (fitting.length === 0) throw new RelayError('SRTP_INVALID', 'no forwarding thread here can run ICE or DTLS');
    return fitting[this.next++ % fitting.length]!;
  }

  /** Whether the call's shard can give it what it now needs; the caller moves it when not. */
  suits(call: Call, needs: CallNeeds): boolean {
    return !(needs.handshakes || needs.transcoding) || this.general.includes(call.shard);
  }

  /**
   * Moves the call's sides to a shard that runs what it needs, on the same ports: each side's state is
   * read, its sockets closed and bound again on the new shard, configured as before and given its
   * learned endpoints and counters back. The caller commits the move.
   */
  async move(call: Call, needs: CallNeeds): Promise<number> {
    const from = call.shard;
    const to = this.place(needs);
    const sides = [...call.sides()];
    const states = await this.dataPlane.read(sides.map((s) => s.id));
    await Promise.all(sides.map((side) => this.dataPlane.release(side.id, true)));
    try {
      await this.rebind(sides, to, states);
    } catch (err) {
      // Someone took a port in the gap: back to where the call was, as it was.
      await Promise.all(sides.map((side) => this.dataPlane.release(side.id, true)));
      await this.rebind(sides, from, states).catch((again: unknown) => this.log.error({ err: again, callId: call.callId }, 'call lost its ports while moving'));
      throw err;
    }
    call.shard = to;
    this.log.info({ callId: call.callId, from, to }, 'call moved to a forwarding thread that runs ICE, DTLS and transcoding');
    return from;
  }

  /** Binds the sides' ports on `shard` and gives them their config and state back. */
  private async rebind(sides: readonly MediaSide[], shard: number, states: ReadonlyMap<number, SideState>): Promise<void> {
    for (const side of sides) {
      const bound = await this.dataPlane.bind(side.id, shard, side.address.local, side.address.family, side.rtpPort);
      if (bound !== 'bound') throw new RelayError('NO_PORTS', `port ${side.rtpPort} on ${side.address.local} was taken while the call moved`);
      this.dataPlane.configure(side.id, side.config());
      const state = states.get(side.id);
      if (state) this.dataPlane.restore(side.id, state);
    }
  }

  private fits(needs: CallNeeds): readonly number[] {
    return needs.handshakes || needs.transcoding ? this.general : this.fast;
  }
}
