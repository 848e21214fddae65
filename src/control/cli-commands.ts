/**
 * The operator commands of `rtpbridge-ctl`, defined once and served over the CLI socket
 * (`--listen-cli`) and HTTP (`/cli/<words>`): rtpengine-ctl's words, plain-text answers.
 */
import { RelayError } from '../errors.js';
import type { Relay } from '../relay.js';

type CliCommand = (relay: Relay, args: string[]) => Promise<string> | string;

const COMMANDS: Record<string, Record<string, CliCommand>> = {
  list: {
    numsessions: async (relay) => {
      const s = await relay.statistics();
      return `Current sessions own: ${s.currentSessions}\nCurrent sessions foreign: ${s.foreignSessions}\nCurrent sessions total: ${s.currentSessions + s.foreignSessions}\n`;
    },
    sessions: async (relay) => {
      const ids = relay.list(Number.MAX_SAFE_INTEGER);
      if (ids.length === 0) return 'No sessions on this media relay.\n';
      const lines = await Promise.all(
        ids.map(async (callId) => {
          const info = await relay.query({ callId }).catch(() => undefined);
          return info ? `callid: ${callId} | created: ${info.created} | last signal: ${info.lastSignal} | tags: ${info.tags.map((t) => t.tag).join(',')}` : `callid: ${callId}`;
        }),
      );
      return `${lines.join('\n')}\n`;
    },
    totals: async (relay) => {
      const s = await relay.statistics();
      const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
      return [
        `Uptime of rtpbridge: ${s.uptime} seconds`,
        `Total managed sessions: ${s.managedSessions}`,
        `Total timed-out sessions via TIMEOUT: ${s.timeoutSessions}`,
        `Total regular terminated sessions: ${s.regularTerminatedSessions}`,
        `Total forced terminated sessions: ${s.forcedTerminatedSessions}`,
        `Total relayed packets: ${s.packetsOut}`,
        `Total relayed bytes: ${s.bytesOut}`,
        `Total relayed packet errors: ${dropped}`,
        '',
      ].join('\n');
    },
    interfaces: (relay) =>
      relay
        .interfaceUsage()
        .map((u) => `Interface '${u.name}' address ${u.address}: ${u.used} port pairs used, ${u.free} free\n`)
        .join(''),
  },
  active: {
    '': async (relay) => `${await relay.activate()} foreign call(s) taken over.\n`,
  },
  standby: {
    '': async (relay) => `${await relay.standby()} call(s) handed back, now followed as foreign.\n`,
  },
  drain: {
    '': (relay) => {
      relay.drain();
      return `Draining: new calls are refused (load limit), ${relay.list(Number.MAX_SAFE_INTEGER).length} call(s) still up.\n`;
    },
  },
  resume: {
    '': (relay) => {
      relay.resume();
      return 'Taking new calls again.\n';
    },
  },
  terminate: {
    all: async (relay) => {
      const ids = relay.list(Number.MAX_SAFE_INTEGER);
      for (const id of ids) await relay.terminate(id);
      return `All calls terminated by operator (${ids.length}).\n`;
    },
  },
};

/** Runs one command line (words as given); unknown commands get a usage line, never an exception. */
export async function runCliCommand(relay: Relay, words: string[]): Promise<string> {
  const [verb = '', sub = '', ...rest] = words.filter((w) => w !== '');
  if (verb === 'terminate' && sub !== '' && sub !== 'all') {
    return (await relay.terminate(sub)) ? `Call Id (${sub}) successfully terminated by operator.\n` : `Call Id not found (${sub}).\n`;
  }
  // Own properties only: `list constructor` must not reach Object's prototype.
  const subs = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined;
  const command = subs && Object.hasOwn(subs, sub) ? subs[sub] : undefined;
  if (!command) return `Unknown command '${words.join(' ')}'. Commands: ${usage()}\n`;
  try {
    return await command(relay, rest);
  } catch (err) {
    // A command the relay refuses (standby without Redis) says why; anything else is the server's to log.
    if (err instanceof RelayError) return `${err.message}\n`;
    throw err;
  }
}

function usage(): string {
  return [...Object.entries(COMMANDS).map(([verb, subs]) => `${verb} ${Object.keys(subs).join('|')}`.trim()), 'terminate <call-id>'].join('; ');
}
