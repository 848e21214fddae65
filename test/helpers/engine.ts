/** Which forwarding engine must carry a call's packets, asserted from the relay's own query. */
import type { Test } from 'tap';
import type { Relay } from '../../src/relay.js';
import { nativeAddonBuilt, requireAll } from './tools.js';

/**
 * True when relays in this process forward plain and SDES calls on the native addon: it is not turned
 * off (`RTPBRIDGE_NATIVE=0`, the suite's second pass) and it was built. Under RTPBRIDGE_TEST_REQUIRE_ALL=1
 * (.ci/run) a missing addon does not lower the expectation: the tests fail instead of quietly testing
 * the workers twice.
 */
export function nativeInUse(): boolean {
  return process.env.RTPBRIDGE_NATIVE !== '0' && (nativeAddonBuilt() || requireAll());
}

export interface EngineExpectation {
  /**
   * The call may run ICE or DTLS: ICE in an SDP or forced by a flag, an a=fingerprint, or a secure
   * target profile (RTP/SAVP and the like), on which the relay offers DTLS itself. Only the TypeScript
   * workers run those handshakes, so such a call is placed on them even if SDES ends up keying it.
   */
  handshakes: boolean;
  /** The relay was given a `WorkerDataPlane` (deps.dataPlane), so nothing can run on the addon. */
  workersOnly?: boolean;
  /** The call converts between codecs beyond the G.711 byte maps (or repacketizes, or writes DTMF), which only the workers do. */
  transcoding?: boolean;
}

/** The engine a call must be on: `native` for plain and SDES calls while the addon is in use, else `workers`. */
export function expectedEngine(e: EngineExpectation): 'native' | 'workers' {
  return nativeInUse() && !e.handshakes && !e.transcoding && !e.workersOnly ? 'native' : 'workers';
}

/** Asserts `(await relay.query({ callId })).engine`: which engine carried (carries) the call's packets. */
export async function expectEngine(t: Test, relay: Relay, callId: string, e: EngineExpectation): Promise<void> {
  const want = expectedEngine(e);
  const { engine } = await relay.query({ callId });
  t.equal(engine, want, `call ${callId} is carried by the ${want} engine`);
}
