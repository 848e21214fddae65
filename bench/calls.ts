/** Sets calls up and tears them down over ng the way a SIP proxy does: offer, answer, delete. */
import type { NgClient } from './ng-client.js';

/** Requests in flight at once: enough to hide the round trip, few enough not to flood the ng socket. */
const CONCURRENCY = 64;

/** Per call, the relay ports the caller (A) and the callee (B) must send to. */
export interface RelayPorts {
  forA: number;
  forB: number;
  /** SRTP calls: the key and salt (hex) the relay encrypts towards the caller with. */
  keyForA?: string;
}

/** The SDES suite of SRTP trials: the one every SRTP phone and relay speaks. */
const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80';

/** `srtpKey`: the caller offers RTP/SAVP with this key (30 bytes). `pcma`: a phone that speaks only A-law. */
/** The codecs a bench callee may take: the caller always offers PCMU. */
export type BenchCodec = 'PCMU' | 'PCMA' | 'opus';
const CODEC_LINES: Record<BenchCodec, string[]> = {
  PCMU: ['0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000'],
  PCMA: ['8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000'],
  opus: ['96', 'a=rtpmap:96 opus/48000/2'],
};

function phoneSdp(port: number, srtpKey?: Buffer, codec: BenchCodec = 'PCMU'): string {
  const [formats, ...rtpmaps] = CODEC_LINES[codec];
  return [
    'v=0',
    'o=bench 1 1 IN IP4 127.0.0.1',
    's=bench',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} ${srtpKey ? 'RTP/SAVP' : 'RTP/AVP'} ${formats}`,
    ...rtpmaps,
    'a=ptime:20',
    'a=sendrecv',
    ...(srtpKey ? [`a=crypto:1 ${SRTP_SUITE} inline:${srtpKey.toString('base64')}`] : []),
    '',
  ].join('\r\n');
}

function relayKey(reply: Record<string, unknown>, what: string): string {
  const m = new RegExp(`^a=crypto:\\d+ ${SRTP_SUITE} inline:([A-Za-z0-9+/=]+)`, 'm').exec(String(reply.sdp));
  if (!m) throw new Error(`${what}: the relay answered the SRTP caller without an ${SRTP_SUITE} key`);
  return Buffer.from(m[1]!, 'base64').toString('hex');
}

function audioPort(reply: Record<string, unknown>, what: string): number {
  if (reply.result !== 'ok' || typeof reply.sdp !== 'string') {
    throw new Error(`${what} failed: ${String(reply['error-reason'] ?? reply.result)}`);
  }
  const m = /^m=audio (\d+) /m.exec(reply.sdp);
  if (!m) throw new Error(`${what}: no m=audio line in the reply SDP`);
  return Number(m[1]);
}

/** Runs `fn` over `items` with at most CONCURRENCY calls pending; rejects on the first failure. */
async function forEachLimited<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, lane));
  return out;
}

export const callId = (trial: number, call: number): string => `bench-${process.pid}-${trial}-${call}`;

/**
 * The offer carries the caller's SDP and returns the port the callee sends to; the answer carries the
 * callee's SDP and returns the port the caller sends to. `portsA/B[i]` are the generator's ports.
 * With `srtpKey` the caller is an SDES-SRTP phone bridged to a plain callee (`transport-protocol`);
 * with `callee` PCMA or opus a PCMU caller reaches a callee that takes only that, through the relay's `transcode`.
 */
export function setUpCalls(ng: NgClient, trial: number, calls: number, portsA: number[], portsB: number[], srtpKey?: Buffer, callee: BenchCodec = 'PCMU'): Promise<RelayPorts[]> {
  const indices = Array.from({ length: calls }, (_, c) => c);
  const bridge: Record<string, unknown> = srtpKey ? { 'transport-protocol': 'RTP/AVP' } : callee !== 'PCMU' ? { codec: { transcode: [callee] } } : {};
  return forEachLimited(indices, async (c) => {
    const id = callId(trial, c);
    const k = c % portsA.length;
    const offer = await ng.request({ command: 'offer', 'call-id': id, 'from-tag': 'caller', sdp: phoneSdp(portsA[k]!, srtpKey), ...bridge });
    const forB = audioPort(offer, `offer ${id}`);
    const answer = await ng.request({ command: 'answer', 'call-id': id, 'from-tag': 'caller', 'to-tag': 'callee', sdp: phoneSdp(portsB[k]!, undefined, callee) });
    const forA = audioPort(answer, `answer ${id}`);
    return srtpKey ? { forA, forB, keyForA: relayKey(answer, `answer ${id}`) } : { forA, forB };
  });
}

/** Deletes every call of a trial; a call the relay already dropped is not an error here. */
export async function deleteCalls(ng: NgClient, trial: number, calls: number): Promise<void> {
  const indices = Array.from({ length: calls }, (_, c) => c);
  await forEachLimited(indices, (c) => ng.request({ command: 'delete', 'call-id': callId(trial, c), 'from-tag': 'caller' }).catch(() => undefined));
}
