/**
 * The ng protocol without its transport: a request's bytes in, the reply's bytes out. UDP, TCP, HTTP
 * and WebSocket are thin carriers around this one adapter over `Relay`, so every transport gets the
 * same commands, errors, statistics, retransmission handling and overload shedding.
 *
 * Overload is shed, never queued to death: requests take turns (./turns.ts), and past `maxInProgress`
 * of them waiting or executing, a new one is answered at once with `load limit` (when it says it
 * understands that) or an error; so is one that waited for its turn longer than `maxWaitMs`. The proxy
 * tries another relay while this one works off what it has.
 */
import type { Logger } from 'pino';
import type { Relay } from '../relay.js';
import { NgCommands } from './commands.js';
import { encodeNgBody, encodeNgReply, parseNgBody, parseNgMessage, salvageCookie } from './message.js';
import { commandName, supportsLoadLimit, type NgDict } from './params.js';
import { errorReply, type NgReply } from './replies.js';
import { ReplyCache } from './reply-cache.js';
import { Turns } from './turns.js';
import { InFlight } from '../util/in-flight.js';

/**
 * Enough requests executing at once to keep the forwarding workers' batched round trips full; the
 * backlog beyond waits its turn (and its wait is measured) instead of all sharing the CPU and all
 * finishing late.
 */
const EXECUTING_AT_ONCE = 32;

export interface NgEndpointOptions {
  /** How long a reply is replayed for a retransmitted request (rtpengine: 30 s). */
  replyCacheMs?: number;
  /** Requests waiting or executing beyond which new ones are refused at once (`--max-ng-queue`). */
  maxInProgress?: number;
  /** How long a request may wait for its turn and still be executed (`--max-ng-wait`). */
  maxWaitMs?: number;
}

export class NgEndpoint {
  readonly commands: NgCommands;
  private readonly cache: ReplyCache;
  private readonly maxInProgress: number;
  private readonly maxWaitMs: number;
  /** Requests taken, waiting or executing; close() waits for them. */
  private readonly inProgress = new InFlight();
  /** Requests executing at once; the rest of those taken wait their turn. */
  private readonly turns = new Turns(EXECUTING_AT_ONCE);
  private closing = false;

  constructor(
    relay: Relay,
    private readonly log: Logger,
    options: NgEndpointOptions = {},
  ) {
    this.commands = new NgCommands(relay, log);
    this.cache = new ReplyCache({ ttlMs: options.replyCacheMs ?? 30_000 });
    this.maxInProgress = options.maxInProgress ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? 1000;
  }

  /**
   * `<cookie> <dict>` in, `<cookie> <reply>` out; a retransmission (same source, cookie and request)
   * gets the first reply without running twice. Undefined when the message has no plausible cookie.
   */
  async framed(msg: Buffer, source: string): Promise<Buffer | undefined> {
    let req;
    try {
      req = parseNgMessage(msg);
    } catch (err) {
      // Undecodable: answer with whatever cookie we can find, so the proxy stops retrying.
      const cookie = salvageCookie(msg);
      this.log.info({ from: source, reason: (err as Error).message }, 'malformed ng message');
      return cookie === undefined ? undefined : encodeNgReply(cookie, errorReply((err as Error).message), 'bencode');
    }
    const { cookie, dict, format } = req;
    const key = ReplyCache.key(source, cookie, msg);
    const known = this.cache.lookup(key);
    if (known) return known;
    const refused = this.refusal(dict, source);
    if (refused) return encodeNgReply(cookie, refused, format);
    return this.track(this.cache.run(key, async () => encodeNgReply(cookie, await this.inTurn(dict, source), format)));
  }

  /** A dictionary without a cookie in, the reply in the same format out (no retransmissions to absorb). */
  async plain(body: Buffer, source: string): Promise<Buffer> {
    let parsed;
    try {
      parsed = parseNgBody(body);
    } catch (err) {
      this.log.info({ from: source, reason: (err as Error).message }, 'malformed ng message');
      return encodeNgBody(errorReply((err as Error).message), body[0] === 0x7b ? 'json' : 'bencode');
    }
    const refused = this.refusal(parsed.dict, source);
    if (refused) return encodeNgBody(refused, parsed.format);
    return this.track((async () => encodeNgBody(await this.inTurn(parsed.dict, source), parsed.format))());
  }

  /**
   * Stops taking requests (each new one is refused with an error) and resolves once every request in
   * progress has been answered: a stop never leaves a proxy waiting for a reply that will not come.
   */
  async close(): Promise<void> {
    this.closing = true;
    // Bounded: nothing new is taken once closing, and what waits for its turn is then refused.
    await this.inProgress.idle();
    this.cache.close();
  }

  /** Why a request just arrived is not taken (shutting down, too many waiting or executing), or undefined. */
  private refusal(dict: NgDict, source: string): NgReply | undefined {
    if (this.closing) return errorReply('Shutting down: try another relay');
    if (this.turns.size < this.maxInProgress) return undefined;
    return this.shed(dict, source, `Too many requests in progress (${this.maxInProgress})`);
  }

  /** The request executed when its turn comes, unless the relay is stopping or it waited too long. */
  private inTurn(dict: NgDict, source: string): Promise<NgReply> {
    return this.turns.take(async (waitedMs) => {
      if (this.closing) return errorReply('Shutting down: try another relay');
      if (waitedMs > this.maxWaitMs) {
        const refused = this.shed(dict, source, `Request waited ${Math.round(waitedMs)} ms for its turn (limit ${this.maxWaitMs} ms)`);
        if (refused) return refused;
      }
      return this.commands.execute(dict, source);
    });
  }

  /** `load limit` (or an error, for a proxy that does not say it understands that), counted; ping is never shed. */
  private shed(dict: NgDict, source: string, why: string): NgReply | undefined {
    if (safeCommand(dict) === 'ping') return undefined;
    this.commands.stats.shed(source);
    return supportsLoadLimit(dict) ? { result: 'load limit', message: why } : errorReply(`${why}: try another relay`);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inProgress.start();
    const done = (): void => this.inProgress.end();
    work.then(done, done);
    return work;
  }
}

function safeCommand(dict: NgDict): string | undefined {
  try {
    return commandName(dict);
  } catch {
    return undefined;
  }
}
