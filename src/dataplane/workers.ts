/**
 * The TypeScript data plane: forwarding in worker threads, one Forwarder each. The main thread keeps
 * what every side needs (bind parameters, config, state as last read: at a query or every 10 s) so a
 * worker that dies is replaced and its sides re-created on the same ports without the calls noticing
 * more than a hiccup.
 */
import type { AddressFamily } from '../shared/vocabulary.js';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { RelayError, type RelayErrorCode } from '../errors.js';
import { addCounters, zeroCounters } from './counters.js';
import { Outbox } from './outbox.js';
import type { FromWorker, Reply, ToWorker } from './protocol.js';
import type { DtlsIdentity } from '../dtls/identity.js';
import type { BindResult, DataPlane, DataPlaneCounters, LearnedEvent, TappedPacket, SecuredEvent, SideConfig, SideId, SideState } from './types.js';
import type { DtmfTone } from '../dtmf/injector.js';

interface SideRecord {
  shard: number;
  local: string;
  family: AddressFamily;
  rtpPort: number;
  /** Extra pairs on the interface's other addresses (ICE candidates). */
  aliases?: Array<{ local: string; family: AddressFamily; rtpPort: number }>;
  config?: SideConfig;
  state?: SideState;
}

type Pending = { resolve: (reply: Reply) => void; reject: (err: Error) => void };

/** How often the state a restarted worker would get back is refreshed (counters, learned endpoints). */
const SNAPSHOT_INTERVAL_MS = 10_000;

/** Workers always run compiled JavaScript, also when tests load this module from src/ (`npm test` builds dist/ first). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? '../../dist/dataplane/worker.js' : './worker.js', import.meta.url);

class Shard {
  worker!: Worker;
  /** Messages for the current worker, sent together when the current operation's step ends. */
  readonly outbox = new Outbox<ToWorker>((batch, transfers) => this.worker.postMessage(batch, transfers), 'microtask');
  readonly pending = new Map<number, Pending>();
  /** Counters of workers that died (as last read), so process totals never go backwards. */
  readonly retired: DataPlaneCounters = zeroCounters();
  lastRead: DataPlaneCounters = zeroCounters();
  stopping = false;
}

export class WorkerDataPlane implements DataPlane {
  readonly engine = 'workers';
  private readonly shardList: Shard[] = [];
  private readonly sides = new Map<SideId, SideRecord>();
  private readonly learnedListeners: Array<(event: LearnedEvent) => void> = [];
  private readonly securedListeners: Array<(event: SecuredEvent) => void> = [];
  private readonly tapListeners: Array<(event: TappedPacket) => void> = [];
  private identity: DtlsIdentity | undefined;
  private readonly snapshots: NodeJS.Timeout;
  private nextReq = 1;
  readonly handshakeShards: readonly number[];

  constructor(
    readonly shards: number,
    private readonly log?: Logger,
  ) {
    this.handshakeShards = Array.from({ length: shards }, (_, i) => i);
    for (let i = 0; i < shards; i++) {
      const shard = new Shard();
      this.shardList.push(shard);
      this.spawn(i, shard);
    }
    // What a replacement worker gets back; rare enough that reading every side costs nothing noticeable.
    this.snapshots = setInterval(() => void this.read([...this.sides.keys()]).catch(() => undefined), SNAPSHOT_INTERVAL_MS).unref();
  }

  engineOf(): string {
    return this.engine;
  }

  async bind(side: SideId, shard: number, local: string, family: AddressFamily, rtpPort: number, alias = false): Promise<BindResult> {
    const reply = await this.request(shard, { op: 'bind', req: 0, side, local, family, rtpPort, alias });
    if (!('bound' in reply)) throw new Error('unexpected reply to bind');
    if (reply.bound !== 'bound') return reply.bound;
    const record = this.sides.get(side);
    if (alias && record) (record.aliases ??= []).push({ local, family, rtpPort });
    else if (!alias) this.sides.set(side, { shard, local, family, rtpPort });
    return reply.bound;
  }

  configure(side: SideId, config: SideConfig): void {
    const record = this.sides.get(side);
    if (!record) return;
    record.config = config;
    this.post(record.shard, { op: 'configure', side, config });
  }

  restore(side: SideId, state: SideState): void {
    const record = this.sides.get(side);
    if (!record) return;
    record.state = state;
    this.post(record.shard, { op: 'restore', side, state });
  }

  async release(side: SideId, rebindNow = false): Promise<void> {
    const record = this.sides.get(side);
    if (!record) return;
    this.sides.delete(side);
    this.post(record.shard, { op: 'release', side });
    // A worker handles its messages in order: any reply after the release means the sockets are closed.
    if (rebindNow) await this.request(record.shard, { op: 'lastPackets', req: 0, sides: [] });
  }

  async read(sides: readonly SideId[]): Promise<Map<SideId, SideState>> {
    const byShard = this.groupByShard(sides);
    const out = new Map<SideId, SideState>();
    await Promise.all(
      [...byShard].map(async ([shard, positions]) => {
        const reply = await this.request(shard, { op: 'read', req: 0, sides: positions.map((i) => sides[i]!) });
        if (!('states' in reply)) return;
        for (const [id, state] of reply.states) {
          out.set(id, state);
          const record = this.sides.get(id);
          if (record) record.state = state;
        }
      }),
    );
    return out;
  }

  async lastPackets(sides: readonly SideId[]): Promise<Float64Array> {
    const out = new Float64Array(sides.length);
    const byShard = this.groupByShard(sides);
    await Promise.all(
      [...byShard].map(async ([shard, positions]) => {
        const reply = await this.request(shard, { op: 'lastPackets', req: 0, sides: positions.map((i) => sides[i]!) });
        if ('lastPackets' in reply) positions.forEach((pos, k) => (out[pos] = reply.lastPackets[k]!));
      }),
    );
    return out;
  }

  async counters(): Promise<DataPlaneCounters> {
    const total = zeroCounters();
    await Promise.all(
      this.shardList.map(async (shard, i) => {
        addCounters(total, shard.retired);
        const reply = await this.request(i, { op: 'counters', req: 0 });
        if (!('counters' in reply)) return;
        shard.lastRead = reply.counters;
        addCounters(total, reply.counters);
      }),
    );
    return total;
  }

  /** V8 heap in use across the workers, for the memory benchmark (sockets live outside it). */
  async heapUsed(): Promise<number> {
    const replies = await Promise.all(this.shardList.map((_, i) => this.request(i, { op: 'heap', req: 0 })));
    return replies.reduce((sum, r) => sum + ('heapUsed' in r ? r.heapUsed : 0), 0);
  }

  onLearned(listener: (event: LearnedEvent) => void): void {
    this.learnedListeners.push(listener);
  }

  onSecured(listener: (event: SecuredEvent) => void): void {
    this.securedListeners.push(listener);
  }

  onTapped(listener: (event: TappedPacket) => void): void {
    this.tapListeners.push(listener);
  }

  async playDtmf(side: SideId, tone: DtmfTone): Promise<boolean> {
    const record = this.sides.get(side);
    if (!record) return false;
    const reply = await this.request(record.shard, { op: 'play', req: 0, side, tone });
    return 'played' in reply && reply.played;
  }

  setDtlsIdentity(identity: DtlsIdentity): void {
    this.identity = identity;
    this.shardList.forEach((_, i) => this.post(i, { op: 'identity', identity }));
  }

  /** Ends a worker as a crash would (for tests and chaos drills); it is replaced like any dead worker. */
  async terminateWorker(shard: number): Promise<void> {
    await this.shardList[shard]?.worker.terminate();
  }

  async close(): Promise<void> {
    clearInterval(this.snapshots);
    await Promise.all(
      this.shardList.map(async (shard, i) => {
        shard.stopping = true;
        await this.request(i, { op: 'close', req: 0 }).catch(() => undefined);
        await shard.worker.terminate();
      }),
    );
    this.sides.clear();
  }

  /** Positions in `sides` of the known sides, per shard. */
  private groupByShard(sides: readonly SideId[]): Map<number, number[]> {
    const byShard = new Map<number, number[]>();
    sides.forEach((id, i) => {
      const record = this.sides.get(id);
      if (!record) return;
      const positions = byShard.get(record.shard);
      if (positions) positions.push(i);
      else byShard.set(record.shard, [i]);
    });
    return byShard;
  }

  private spawn(index: number, shard: Shard): void {
    // No inherited execArgv: a parent's loaders (--import hooks of a test runner) would cost every start.
    const worker = new Worker(WORKER_URL, { name: `rtpbridge-forwarder-${index}`, execArgv: [] });
    shard.worker = worker;
    if (this.identity) shard.outbox.push({ op: 'identity', identity: this.identity });
    worker.on('message', (batch: FromWorker[]) => {
      for (const msg of batch) this.receive(shard, msg);
    });
    worker.on('error', (err) => this.log?.error({ err, shard: index }, 'forwarding worker failed'));
    worker.on('exit', (code) => {
      if (shard.stopping) return;
      this.log?.error({ shard: index, code }, 'forwarding worker died; restarting it');
      this.replace(index, shard);
    });
  }

  private receive(shard: Shard, msg: FromWorker): void {
    if ('event' in msg) {
      if (msg.event === 'secured') {
        const { side, srtp, association } = msg;
        // A replacement worker gets the keys back with the config, since the handshake is not repeated.
        const record = this.sides.get(side);
        if (record?.config) record.config = { ...record.config, srtp };
        for (const listener of this.securedListeners) listener({ side, srtp, association });
      } else if (msg.event === 'tapped') {
        // Structured clone turns the Buffer into a plain Uint8Array.
        const event = { side: msg.side, kind: msg.kind, packet: Buffer.from(msg.packet.buffer, msg.packet.byteOffset, msg.packet.byteLength), atMs: msg.atMs };
        for (const listener of this.tapListeners) listener(event);
      } else {
        const { side, kind, endpoint } = msg;
        for (const listener of this.learnedListeners) listener({ side, kind, endpoint });
      }
      return;
    }
    const pending = shard.pending.get(msg.req);
    if (!pending) return;
    shard.pending.delete(msg.req);
    if ('error' in msg) pending.reject(new RelayError(msg.error.code as RelayErrorCode, msg.error.message));
    else pending.resolve(msg);
  }

  /** New worker, same ports, same config, counters and learned endpoints as last read. */
  private replace(index: number, shard: Shard): void {
    for (const pending of shard.pending.values()) pending.reject(new RelayError('DATAPLANE_FAILED', 'forwarding worker died'));
    shard.pending.clear();
    // What waits was meant for the dead worker: its requests were just failed, and the sides it names
    // are re-created below from what this thread kept (latest config and state included).
    shard.outbox.clear();
    addCounters(shard.retired, shard.lastRead);
    shard.lastRead = zeroCounters();
    this.spawn(index, shard);
    for (const [side, record] of this.sides) {
      if (record.shard !== index) continue;
      const pairs = [{ local: record.local, family: record.family, rtpPort: record.rtpPort, alias: false }, ...(record.aliases ?? []).map((a) => ({ ...a, alias: true }))];
      void pairs
        .reduce(
          (done, pair) =>
            done
              .then(() => this.request(index, { op: 'bind', req: 0, side, ...pair }))
              .then((reply) => {
                if (!('bound' in reply) || reply.bound !== 'bound') throw new Error(`ports ${pair.rtpPort}/${pair.rtpPort + 1} on ${pair.local} were taken meanwhile`);
              }),
          Promise.resolve(),
        )
        .then(() => {
          if (record.config) this.post(index, { op: 'configure', side, config: record.config });
          if (record.state) this.post(index, { op: 'restore', side, state: record.state });
        })
        .catch((err: unknown) => this.log?.error({ err, side }, 'could not re-create side after worker restart'));
    }
  }

  private request(shard: number, msg: ToWorker & { req: number }): Promise<Reply> {
    const target = this.shardList[shard];
    if (!target) return Promise.reject(new RelayError('DATAPLANE_FAILED', `no forwarding shard ${shard}`));
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      target.pending.set(req, { resolve, reject });
      // Callers pass a fresh literal: numbering it in place saves a copy.
      msg.req = req;
      target.outbox.push(msg);
    });
  }

  private post(shard: number, msg: ToWorker): void {
    this.shardList[shard]?.outbox.push(msg);
  }
}

