/**
 * The ng protocol without its transport: a request's bytes in, the reply's bytes out. UDP, TCP, HTTP
 * and WebSocket are thin carriers around this one adapter over `Relay`, so every transport gets the
 * same commands, errors, statistics and retransmission handling.
 */
import type { Logger } from 'pino';
import type { Relay } from '../relay.js';
import { NgCommands } from './commands.js';
import { encodeNgBody, encodeNgReply, parseNgBody, parseNgMessage, salvageCookie } from './message.js';
import { errorReply } from './replies.js';
import { ReplyCache } from './reply-cache.js';

export class NgEndpoint {
  readonly commands: NgCommands;
  private readonly cache: ReplyCache;

  constructor(
    relay: Relay,
    private readonly log: Logger,
    replyCacheMs = 30_000,
  ) {
    this.commands = new NgCommands(relay, log);
    this.cache = new ReplyCache({ ttlMs: replyCacheMs });
  }

  /**
   * `<cookie> <dict>` in, `<cookie> <reply>` out; a retransmitted cookie gets the first reply without
   * running twice. Undefined when the message has no plausible cookie to answer under.
   */
  async framed(msg: Buffer, source: string): Promise<Buffer | undefined> {
    try {
      const req = parseNgMessage(msg);
      return await this.cache.run(req.cookie, async () => encodeNgReply(req.cookie, await this.commands.execute(req.dict, source), req.format));
    } catch (err) {
      // Undecodable: answer with whatever cookie we can find, so the proxy stops retrying.
      const cookie = salvageCookie(msg);
      this.log.info({ from: source, reason: (err as Error).message }, 'malformed ng message');
      return cookie === undefined ? undefined : encodeNgReply(cookie, errorReply((err as Error).message), 'bencode');
    }
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
    return encodeNgBody(await this.commands.execute(parsed.dict, source), parsed.format);
  }

  close(): void {
    this.cache.close();
  }
}
