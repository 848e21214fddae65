#!/usr/bin/env node
/**
 * Memory benchmark: heap per idle call, and heap/RSS growth while calls carry media for a while.
 *
 *   node --expose-gc bench/memory.mjs [--calls=1000] [--soak-seconds=600] [--pps=10] [--engine=workers|native]
 *
 * Heap per call is split into the control plane (main thread: calls, participants, SDP state) and the
 * forwarding threads (sockets plus forwarding state). The baseline, measured in the same run, is a
 * worker holding the same number of bare dgram sockets, so "beyond the sockets" is a difference of two
 * numbers taken minutes apart on the same machine. Traffic goes to loopback only and stops by itself.
 */
import { createSocket } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { Relay } from '../dist/relay.js';
import { WorkerDataPlane } from '../dist/dataplane/workers.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const CALLS = Number(args.calls ?? 1000);
const SOAK_SECONDS = Number(args['soak-seconds'] ?? 600);
const PPS = Number(args.pps ?? 10);
// Below the ephemeral range (32768+) the phones bind in, and below the tests' ranges (21000-28999).
const PORT_MIN = 10000;
const SAMPLE_EVERY_MS = 30_000;

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const kib = (bytes) => (bytes / 1024).toFixed(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function settledHeap(dataPlane) {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(100);
  }
  return { main: process.memoryUsage().heapUsed, workers: await dataPlane.heapUsed(), rss: process.memoryUsage().rss };
}

/** Heap of a worker that holds `count` bound dgram sockets and nothing else: the socket baseline. */
function bareSocketHeap(count) {
  const source = `
    const { parentPort } = require('node:worker_threads');
    const { createSocket } = require('node:dgram');
    const { getHeapStatistics } = require('node:v8');
    const sockets = [];
    parentPort.on('message', async (n) => {
      const settle = async () => { for (let i = 0; i < 3; i++) { global.gc(); await new Promise((r) => setTimeout(r, 100)); } return getHeapStatistics().used_heap_size; };
      const before = await settle();
      for (let i = 0; i < n; i++) {
        const s = createSocket('udp4');
        s.on('message', () => {});
        await new Promise((r) => s.bind(0, '127.0.0.1', r));
        sockets.push(s);
      }
      const after = await settle();
      parentPort.postMessage(after - before);
      sockets.forEach((s) => s.close());
    });`;
  return new Promise((resolve, reject) => {
    // --expose-gc is process-wide, so this worker has gc() too.
    const worker = new Worker(source, { eval: true });
    worker.once('message', (delta) => worker.terminate().then(() => resolve(delta)));
    worker.once('error', reject);
    worker.postMessage(count);
  });
}

function sdp(port) {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 8 101`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
}

async function openPhone() {
  const s = createSocket('udp4');
  s.on('message', () => {});
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

async function main() {
  const dataPlane = new WorkerDataPlane(1);
  const relay = new Relay({ portMin: PORT_MIN, portMax: PORT_MIN + CALLS * 4 + 100, timeout: 3600, deleteDelay: 0 }, { dataPlane });
  const empty = await settledHeap(dataPlane);

  // Phones exist before the "before" sample so only the relay's share is counted.
  const phones = [];
  for (let i = 0; i < CALLS; i++) phones.push([await openPhone(), await openPhone()]);
  const before = await settledHeap(dataPlane);
  const legs = [];
  for (let i = 0; i < CALLS; i++) {
    const [a, b] = phones[i];
    const offer = await relay.offer({ callId: `m${i}`, fromTag: 'A', sdp: sdp(a.address().port) });
    const answer = await relay.answer({ callId: `m${i}`, fromTag: 'A', toTag: 'B', sdp: sdp(b.address().port) });
    legs.push({ a, b, toA: Number(/m=audio (\d+)/.exec(answer.sdp)[1]), toB: Number(/m=audio (\d+)/.exec(offer.sdp)[1]) });
  }
  const idle = await settledHeap(dataPlane);
  const sockets = await bareSocketHeap(CALLS * 4);
  const mainPerCall = (idle.main - before.main) / CALLS;
  const workerPerCall = (idle.workers - before.workers) / CALLS;
  const socketsPerCall = sockets / CALLS;
  console.log(`# rtpbridge memory, ${new Date().toISOString()}, node ${process.version}, ${CALLS} calls, engine ${relay.forwarding.engine}`);
  console.log(`empty relay heap: main ${kib(empty.main)} KiB, workers ${kib(empty.workers)} KiB`);
  console.log(`idle call, control plane (main heap):        ${kib(mainPerCall)} KiB/call`);
  console.log(`idle call, forwarding thread (worker heap):  ${kib(workerPerCall)} KiB/call`);
  console.log(`baseline, 4 bare dgram sockets (same run):   ${kib(socketsPerCall)} KiB/call`);
  console.log(`beyond the sockets (main + worker - baseline): ${kib(mainPerCall + workerPerCall - socketsPerCall)} KiB/call`);

  if (SOAK_SECONDS <= 0) return finish(relay, phones);
  const packet = Buffer.alloc(172);
  packet[0] = 0x80;
  const interval = 1000 / PPS;
  const started = Date.now();
  const samples = [];
  let seq = 0;
  // Every call sends PPS packets per second in each direction, spread over the tick.
  const sender = setInterval(() => {
    packet.writeUInt16BE(seq++ & 0xffff, 2);
    for (const leg of legs) {
      leg.a.send(packet, leg.toA, '127.0.0.1');
      leg.b.send(packet, leg.toB, '127.0.0.1');
    }
  }, interval);
  while (Date.now() - started < SOAK_SECONDS * 1000) {
    await sleep(Math.min(SAMPLE_EVERY_MS, SOAK_SECONDS * 1000 - (Date.now() - started)));
    const h = await settledHeap(dataPlane);
    const stats = await relay.statistics();
    samples.push(h);
    console.log(`t=${Math.round((Date.now() - started) / 1000)}s heap main ${kib(h.main)} KiB, workers ${kib(h.workers)} KiB, rss ${kib(h.rss)} KiB, forwarded ${stats.packetsOut}`);
  }
  clearInterval(sender);
  // The first sample is taken after 30 s of traffic: growth is measured from there, past warm-up.
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first && last && samples.length > 1) {
    console.log(`growth over the soak: main ${kib(last.main - first.main)} KiB, workers ${kib(last.workers - first.workers)} KiB, rss ${kib(last.rss - first.rss)} KiB`);
  }
  return finish(relay, phones);
}

async function finish(relay, phones) {
  for (const pair of phones) pair.forEach((s) => s.close());
  await relay.close();
}

await main();
