import type { Logger } from 'pino';
import { NgProtocolError, RelayError } from '../errors.js';
import type { Relay } from '../relay.js';
import type { NgDict } from './params.js';
import { commandName, parseAnswer, parseDelete, parseDtmfBlock, parseList, parseOffer, parsePlayDtmf, parseQuery, supportsLoadLimit } from './params.js';
import { callInfoReply, ControlStats, errorReply, okReply, statisticsReply, type NgReply } from './replies.js';

type Handler = (relay: Relay, dict: NgDict, controller: string) => Promise<NgReply> | NgReply;

const handlers = new Map<string, Handler>(Object.entries({
  ping: () => ({ result: 'pong' }),
  offer: async (relay, dict, controller) => okReply({ ...(await relay.offer({ ...parseOffer(dict), controller })) }),
  answer: async (relay, dict, controller) => okReply({ ...(await relay.answer({ ...parseAnswer(dict), controller })) }),
  delete: async (relay, dict) => {
    const req = parseDelete(dict);
    // Like rtpengine: statistics only when a dialogue (from-tag) was torn down at once; otherwise the
    // relay need not read them from the forwarding threads.
    const withStats = req.fromTag !== undefined && (req.deleteDelay ?? relay.options.deleteDelay) === 0;
    const res = await relay.delete({ ...req, fast: req.fast || !withStats });
    return okReply({ warning: res.warning, ...(res.call && callInfoReply(res.call)) });
  },
  query: async (relay, dict) => okReply(callInfoReply(await relay.query(parseQuery(dict)))),
  list: (relay, dict) => okReply({ calls: relay.list(parseList(dict).limit) }),
  'block DTMF': async (relay, dict) => (await relay.blockDtmf(parseDtmfBlock(dict), true), okReply({})),
  'unblock DTMF': async (relay, dict) => (await relay.blockDtmf(parseDtmfBlock(dict), false), okReply({})),
  'play DTMF': async (relay, dict) => (await relay.playDtmf(parsePlayDtmf(dict)), okReply({})),
} satisfies Record<string, Handler>));

/** Executes one decoded ng request; never throws: every failure becomes an rtpengine-style error reply. */
export class NgCommands {
  readonly stats = new ControlStats();

  constructor(
    private readonly relay: Relay,
    private readonly log: Logger,
  ) {}

  async execute(dict: NgDict, controller: string): Promise<NgReply> {
    let command = '';
    const started = performance.now();
    try {
      command = commandName(dict);
      const handler = command === 'statistics' ? async () => okReply(statisticsReply(await this.relay.statistics(), this.stats)) : handlers.get(command);
      if (!handler) throw new NgProtocolError('NG_UNKNOWN_COMMAND', `Unrecognized command '${command}'`);
      this.stats.count(controller, command);
      const reply = await handler(this.relay, dict, controller);
      this.stats.time(controller, command, (performance.now() - started) / 1000);
      return reply;
    } catch (err) {
      this.stats.count(controller, 'error');
      // Kamailio's and OpenSIPS's modules move a call to another relay on this result, if they said they understand it.
      if (err instanceof RelayError && err.code === 'LOAD_LIMIT' && supportsLoadLimit(dict)) return { result: 'load limit', message: err.message };
      if (err instanceof RelayError) {
        this.log.info({ command, controller, code: err.code, reason: err.message }, 'ng command failed');
        return errorReply(err.message);
      }
      this.log.error({ err, command, controller }, 'ng command crashed');
      return errorReply(`internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
