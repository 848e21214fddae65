/**
 * The ng protocol without its transport: a request's bytes in, the reply's bytes out. UDP, TCP, HTTP
 * and WebSocket are thin carriers around this one adapter over `Relay`, so every transport gets the
 * same commands, errors, statistics, retransmission handling and overload shedding.
 *
 * Overload is shed, never queued: past `maxInProgress` requests executing at once, a new one is
 * answered at once with `load limit` (when it says it understands that) or an error, so the proxy
 * tries another relay while this one works off what it has.
 */
import type { Logger } from 'pino';
import type { Relay } from '../relay.js';
import { NgCommands } from './commands.js';
import { encodeNgBody, encodeNgReply, parseNgBody, parseNgMessage, salvageCookie } from './message.js';
import { commandName, supportsLoadLimit, type NgDict } from './params.js';
import { errorReply, type NgReply } from './replies.js';
import { ReplyCache } from './reply-cache.js';
import { InFlight } from '../util/in-flight.js';

export interface NgEndpointOptions {
  /** How long a reply is replayed for a retransmitted request (rtpengine: 30 s). */
  replyCacheMs?: number;
  /** Requests executing at once beyond which new ones are refused at once (`--max-ng-queue`). */
  maxInProgress?: number;
}

export class NgEndpoint {
  readonly commands: NgCommands;
  private readonly cache: ReplyCache;
  private readonly maxInProgress: number;
  /** Requests executing; close() waits for them. */
  private readonly inProgress = new InFlight();
  private closing = false;

  constructor(
    relay: Relay,
    private readonly log: Logger,
    options: NgEndpointOptions = {},
  ) {
    this.commands = new NgCommands(relay, log);
    this.cache = new ReplyCache({ ttlMs: options.replyCacheMs ?? 30_000 });
    this.maxInProgress = options.maxInProgress ?? 1000;
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
    return this.track(this.cache.run(key, async () => encodeNgReply(cookie, await this.commands.execute(dict, source), format)));
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
    return this.track((async () => encodeNgBody(await this.commands.execute(parsed.dict, source), parsed.format))());
  }

  /**
   * Stops taking requests (each new one is refused with an error) and resolves once every request in
   * progress has been answered: a stop never leaves a proxy waiting for a reply that will not come.
   */
  async close(): Promise<void> {
    this.closing = true;
    // Bounded: nothing new starts once closing, so the count only falls.
    await this.inProgress.idle();
    this.cache.close();
  }

  /** Why a new request is not executed (shutting down, too much in progress), or undefined to run it. */
  private refusal(dict: NgDict, source: string): NgReply | undefined {
    if (this.closing) return errorReply('Shutting down: try another relay');
    if (this.inProgress.size < this.maxInProgress || safeCommand(dict) === 'ping') return undefined;
    this.commands.stats.shed(source);
    const message = `Too many requests in progress (${this.maxInProgress})`;
    return supportsLoadLimit(dict) ? { result: 'load limit', message } : errorReply(`${message}: try another relay`);
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
