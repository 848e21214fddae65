/** One measurement: fresh calls through the relay, one bounded loadgen run over them, calls deleted. */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { deleteCalls, setUpCalls } from './calls.js';
import { spawnTracked, stopChild } from './children.js';
import { MEDIA_PORTS, type RunningRelay } from './relays.js';
import { BUILD, REPO } from './paths.js';

export const LOADGEN = join(BUILD, 'loadgen');

/** The pass rule of the method: loss < 0.1 % and one-way p99 < 10 ms, at the rate asked for. */
const MAX_LOSS = 0.001;
const MAX_P99_US = 10_000;
/** A codec may hold one 20 ms frame before it sends (rtpengine's Opus path does): allowed on top of the bound for Opus calls. */
const CODEC_FRAME_US = 20_000;
/** Below this share of the target rate the generator, not the relay, set the pace. */
const MIN_ACHIEVED = 0.98;
/** Above this share of its core the generator may be what limits the result. */
const GEN_BUSY_PCT = 90;
/** Sockets per side in the generator; calls share them (c % K) so 4000 calls do not need 8000 fds. */
const GEN_SOCKETS = 16;

export interface Timing {
  warmup: number;
  window: number;
  drain: number;
  /**
   * Quiet time after deleting a trial's calls: a relay may free them lazily (rtpengine stalled media for
   * ~140 ms in the trial after a 500-call delete with a 0.5 s pause), and that must not land in a window.
   */
  pause: number;
}

export interface TrialResult {
  calls: number;
  targetPps: number;
  achievedPps: number;
  sent: number;
  received: number;
  loss: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  genCpuPct: number;
  relayCpuPct: number;
  relayNsPerPkt: number;
  /** CPU (% of one core) that neither the relay nor the generator used: other load on the machine. */
  foreignCpuPct: number;
  generatorBound: boolean;
  passed: boolean;
  error?: string;
}

interface LoadgenReport {
  achieved_pps: number;
  sent: number;
  received: number;
  loss: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  gen_cpu_pct: number;
  relay_cpu_s: number;
  host_busy_pct: number;
  window_s: number;
}

let trialCounter = 0;

/**
 * What each call makes the relay do to its packets: forward them (`plain`), bridge SDES-SRTP callers to
 * plain callees (`srtp`), or convert PCMU callers to PCMA-only callees (`transcode`) or to Opus-only
 * callees (`opus`: packets matched to their send times by RTP timestamp; see bench/loadgen.c).
 */
export type Flavour = 'plain' | 'srtp' | 'transcode' | 'opus';

/** 20 ms of a 440 Hz tone as libopus encodes it for a WebRTC callee (32 kbit/s), hex, for the generator to send; made once. */
let opusFrame: string | undefined;
async function opusPayload(): Promise<string> {
  if (opusFrame) return opusFrame;
  const { opusAddon, opusEncoder } = (await import(join(REPO, 'dist/codecs/opus.js'))) as typeof import('../src/codecs/opus.js');
  if (!opusAddon()) throw new Error('the Opus addon is not built (apt-get install libopus-dev, then npm ci)');
  const encoder = opusEncoder(48000);
  let frame: Uint8Array = new Uint8Array(0);
  // A few frames in, past the encoder's start-up.
  for (let k = 0; k < 5; k++) frame = encoder.encode(Int16Array.from({ length: 960 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * (k * 960 + i)) / 48000))));
  opusFrame = Buffer.from(frame).toString('hex');
  return opusFrame;
}

export async function runTrial(relay: RunningRelay, calls: number, pps: number, timing: Timing, genCpu: number | undefined, flavour: Flavour = 'plain'): Promise<TrialResult> {
  const trial = ++trialCounter;
  const srtpKey = flavour === 'srtp' ? randomBytes(30) : undefined;
  // Opus carries no stamp: the generator tells the streams apart by socket, one per call (bench/loadgen.c).
  const args = ['--calls', calls, '--sockets', flavour === 'opus' ? calls : GEN_SOCKETS, '--rate', pps, '--warmup', timing.warmup, '--window', timing.window,
    '--drain', timing.drain, '--relay-pid', relay.pid, '--trial', trial, '--avoid', `${MEDIA_PORTS.min}-${MEDIA_PORTS.max}`,
    ...(srtpKey ? ['--srtp-key', srtpKey.toString('hex')] : []), ...(flavour === 'transcode' ? ['--g711', 1] : []),
    ...(flavour === 'opus' ? ['--opus-payload', await opusPayload()] : [])].map(String);
  const gen = spawnTracked([LOADGEN, ...args], genCpu, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: gen.stdout! })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('loadgen exited early');
    return value as string;
  };
  const failed = (error: string): TrialResult => ({
    calls, targetPps: pps, achievedPps: 0, sent: 0, received: 0, loss: 1, p50Us: 0, p99Us: 0, maxUs: 0,
    genCpuPct: 0, relayCpuPct: 0, relayNsPerPkt: 0, foreignCpuPct: 0, generatorBound: false, passed: false, error,
  });
  try {
    const portsA = (await nextLine()).split(' ').slice(1).map(Number);
    const portsB = (await nextLine()).split(' ').slice(1).map(Number);
    const relayPorts = await setUpCalls(relay.ng, trial, calls, portsA, portsB, srtpKey, flavour === 'transcode' ? 'PCMA' : flavour === 'opus' ? 'opus' : 'PCMU');
    gen.stdin!.end(relayPorts.map((p) => `${p.forA} ${p.forB}${p.keyForA ? ` ${p.keyForA}` : ''}\n`).join(''));
    return judge(JSON.parse(await nextLine()) as LoadgenReport, calls, pps, flavour === 'opus' ? MAX_P99_US + CODEC_FRAME_US : MAX_P99_US);
  } catch (err) {
    return failed((err as Error).message);
  } finally {
    await stopChild(gen, 1000);
    await deleteCalls(relay.ng, trial, calls);
    await new Promise((resolve) => setTimeout(resolve, timing.pause * 1000));
  }
}

function judge(r: LoadgenReport, calls: number, pps: number, maxP99Us: number): TrialResult {
  const relayCpuS = r.relay_cpu_s >= 0 ? r.relay_cpu_s : NaN;
  const generatorBound = r.achieved_pps < MIN_ACHIEVED * pps || r.gen_cpu_pct > GEN_BUSY_PCT;
  return {
    calls,
    targetPps: pps,
    achievedPps: r.achieved_pps,
    sent: r.sent,
    received: r.received,
    loss: r.loss,
    p50Us: r.p50_us,
    p99Us: r.p99_us,
    maxUs: r.max_us,
    genCpuPct: r.gen_cpu_pct,
    relayCpuPct: (relayCpuS / r.window_s) * 100,
    relayNsPerPkt: r.received > 0 ? (relayCpuS * 1e9) / r.received : NaN,
    foreignCpuPct: Math.max(0, r.host_busy_pct - r.gen_cpu_pct - (relayCpuS / r.window_s) * 100),
    generatorBound,
    // A trial the generator could not drive at the full rate proves nothing about the relay.
    passed: r.loss < MAX_LOSS && r.p99_us < maxP99Us && r.achieved_pps >= MIN_ACHIEVED * pps,
  };
}
