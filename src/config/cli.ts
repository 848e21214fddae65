/**
 * Daemon configuration from rtpengine-compatible sources, in increasing precedence: built-in defaults,
 * an INI config file, `RTPBRIDGE_*` environment variables, command-line flags. Option names follow
 * rtpengine so existing command lines and config files keep working; rtpengine options rtpbridge does
 * not implement are accepted and reported as warnings rather than refused.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseIni } from 'ini';
import { ConfigError } from '../errors.js';
import { parseCidr } from '../control/acl.js';
import { parseRedisTarget } from '../persistence/redis-store.js';
import { familyOf, parseHostPort } from '../util/address.js';
import { ENDPOINT_LEARNING, type EndpointLearning, type LogicalInterface } from '../shared/vocabulary.js';
import { DEFAULT_DAEMON_OPTIONS, type DaemonOptions, type LogLevel } from './options.js';

/** Where an option may be set: config-file and config-section cannot come from the file itself. */
export type OptionScope = 'everywhere' | 'cli-env' | 'cli';

export interface OptionDef {
  /** Long name: `--NAME` on the command line, `NAME` in the INI file, `RTPBRIDGE_NAME` in the environment. */
  name: string;
  short?: string;
  /** `list` options repeat on the command line and take `;`-separated values in the INI file and env. */
  kind: 'string' | 'list' | 'boolean';
  arg?: string;
  /** Shown in `--help` and the README; empty when there is no default. */
  defaultText: string;
  help: string;
  scope: OptionScope;
  apply: Apply;
}

const D = DEFAULT_DAEMON_OPTIONS;
const PINO_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DEFAULT_SECTION = 'rtpengine';
/** Kept out of command lines and config files, where other users could read it. */
const REDIS_PASSWORD_ENV = 'RTPBRIDGE_REDIS_AUTH_PW';
const MAX_SECONDS = 2 ** 31 - 1;
const MAX_THREADS = 256;
const USAGE_WIDTH = 100;
const USAGE_INDENT = 40;

type Value = Setting['value'];
/** Applies a validated value to the options; `at` builds the error that names the value and its source. */
type Apply = (o: DaemonOptions, value: Value, at: (what: string) => ConfigError, source: string) => void;

const seconds = (key: 'timeout' | 'offerTimeout' | 'deleteDelay'): Apply => (o, v, at) => void (o[key] = parseInteger(v as string, 0, MAX_SECONDS, at));
const port = (key: 'portMin' | 'portMax'): Apply => (o, v, at) => void (o[key] = parseInteger(v as string, 1, 65535, at));
const flag = (key: 'sipSource' | 'dtlsPassive' | 'foreground'): Apply => (o, v) => void (o[key] = v as boolean);
/** The Redis settings, created with rtpengine's defaults the first time a redis-* option is seen. */
const redis = (o: DaemonOptions): NonNullable<DaemonOptions['redis']> =>
  (o.redis ??= { read: { host: '', port: 0, db: 0 }, expires: 86400, allowedErrors: -1, disableSeconds: 10, connectTimeout: 1, required: true });
const redisTarget =
  (which: 'read' | 'write'): Apply =>
  (o, v, at) => {
    const target = parseRedisTarget(v as string);
    if (!target) throw at('expected [PASSWORD@]HOST:PORT[/DB]');
    redis(o)[which] = target;
  };
const redisSeconds =
  (key: 'expires' | 'disableSeconds' | 'connectTimeout'): Apply =>
  (o, v, at) =>
    void (redis(o)[key] = parseInteger(v as string, key === 'expires' ? 1 : 0, MAX_SECONDS, at));
const dtlsFile = (key: 'cert' | 'key'): Apply => (o, v, at) => {
  if (v === '') throw at('expected a file name');
  o.dtlsCertificate = { cert: '', key: '', ...o.dtlsCertificate, [key]: v as string };
};
/** config-file and config-section are consumed while the file is read; --help and --version before anything. */
const consumedEarlier: Apply = () => undefined;

/** Every option, defined once: its names, help text, where it may be set and what it does to the options. */
export const OPTIONS: readonly OptionDef[] = [
  {
    name: 'interface',
    short: 'i',
    kind: 'list',
    arg: '[NAME/]ADDR[!ADV]',
    defaultText: D.interfaces.flatMap((i) => i.addresses.map((a) => a.local)).join(';'),
    help: 'local media address, advertised in SDP as ADV if given; repeatable; addresses with the same NAME (default "default") form one logical interface',
    scope: 'everywhere',
    apply: (o, v, _at, source) => void (o.interfaces = parseInterfaces(v as string[], source)),
  },
  {
    name: 'listen-ng',
    short: 'n',
    kind: 'list',
    arg: '[IP46:]PORT',
    defaultText: D.listenNg.join(';'),
    help: 'UDP address for the ng control protocol; repeatable; IPv6 as [::1]:2223; a bare port binds 127.0.0.1',
    scope: 'everywhere',
    apply: (o, v, _at, source) => void (o.listenNg = parseListen(v as string[], source, 'listen-ng')),
  },
  {
    name: 'listen-tcp-ng',
    short: 'N',
    kind: 'list',
    arg: '[IP46:]PORT',
    defaultText: '',
    help: 'TCP address for the ng control protocol (messages back to back on the stream); repeatable; a bare port binds 127.0.0.1',
    scope: 'everywhere',
    apply: (o, v, _at, source) => void (o.listenTcpNg = parseListen(v as string[], source, 'listen-tcp-ng')),
  },
  {
    name: 'listen-http',
    kind: 'list',
    arg: '[IP46:]PORT',
    defaultText: '',
    help: 'HTTP control: GET /metrics and /ping, POST /ng and /ng-plain, /cli/<command>, ng over WebSocket; repeatable; a bare port binds 127.0.0.1',
    scope: 'everywhere',
    apply: (o, v, _at, source) => void (o.listenHttp = parseListen(v as string[], source, 'listen-http')),
  },
  {
    name: 'listen-cli',
    kind: 'list',
    arg: '[IP46:]PORT',
    defaultText: '',
    help: 'TCP address for rtpbridge-ctl (rtpengine\'s CLI protocol); repeatable; a bare port binds 127.0.0.1',
    scope: 'everywhere',
    apply: (o, v, _at, source) => void (o.listenCli = parseListen(v as string[], source, 'listen-cli')),
  },
  {
    name: 'ng-allow',
    kind: 'list',
    arg: 'CIDR',
    defaultText: 'loopback and private networks',
    help: 'who may use ng (UDP, TCP, HTTP, WebSocket) and the CLI; repeatable; others are dropped unanswered and counted',
    scope: 'everywhere',
    apply: (o, v, at) => {
      const cidrs = v as string[];
      for (const cidr of cidrs) if (!parseCidr(cidr)) throw at('not an address or ADDRESS/PREFIX');
      o.ngAllow = cidrs;
    },
  },
  {
    name: 'max-ng-queue',
    kind: 'string',
    arg: 'INT',
    defaultText: String(D.maxNgQueue),
    help: 'ng requests waiting or executing at once; beyond, a new one gets "load limit" (or an error) at once',
    scope: 'everywhere',
    apply: (o, v, at) => void (o.maxNgQueue = parseInteger(v as string, 1, 1_000_000, at)),
  },
  {
    name: 'max-ng-wait',
    kind: 'string',
    arg: 'MS',
    defaultText: String(D.maxNgWait),
    help: 'milliseconds an ng request may wait for its turn in a burst; one that waited longer gets "load limit" (or an error) instead of a late answer',
    scope: 'everywhere',
    apply: (o, v, at) => void (o.maxNgWait = parseInteger(v as string, 1, 600_000, at)),
  },
  {
    name: 'metrics-prefix',
    kind: 'string',
    arg: 'PREFIX',
    defaultText: D.metricsPrefix,
    help: 'prefix of the Prometheus metric names (rtpengine dashboards: set it to rtpengine_)',
    scope: 'everywhere',
    apply: (o, v, at) => {
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(v as string)) throw at('expected a Prometheus name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)');
      o.metricsPrefix = v as string;
    },
  },
  {
    name: 'max-sessions',
    kind: 'string',
    arg: 'INT',
    defaultText: '-1',
    help: 'refuse new calls beyond this many current ones (result "load limit" when the proxy supports it); -1: no limit',
    scope: 'everywhere',
    apply: (o, v, at) => {
      if (!/^-?\d+$/.test(v as string)) throw at('expected an integer');
      o.maxSessions = Number(v) < 0 ? undefined : Number(v);
    },
  },
  {
    name: 'max-load',
    kind: 'string',
    arg: 'FLOAT',
    defaultText: '',
    help: 'refuse new calls while the 1-minute load average exceeds this',
    scope: 'everywhere',
    apply: (o, v, at) => void (o.maxLoad = parsePositive(v as string, at)),
  },
  {
    name: 'max-bandwidth',
    kind: 'string',
    arg: 'INT',
    defaultText: '',
    help: 'refuse new calls while more than this many bytes per second are relayed',
    scope: 'everywhere',
    apply: (o, v, at) => void (o.maxBandwidth = parsePositive(v as string, at)),
  },
  {
    name: 'max-cpu',
    kind: 'string',
    arg: 'FLOAT',
    defaultText: '',
    help: "refuse new calls while the machine's CPU use (percent of all cores, over the last second) exceeds this",
    scope: 'everywhere',
    apply: (o, v, at) => void (o.maxCpu = parsePositive(v as string, at)),
  },
  {
    name: 'exit-when-drained',
    kind: 'boolean',
    defaultText: 'false',
    help: 'after "rtpbridge-ctl drain", exit (0) once the last call has ended',
    scope: 'everywhere',
    apply: (o, v) => void (o.exitWhenDrained = v as boolean),
  },
  { name: 'port-min', short: 'm', kind: 'string', arg: 'INT', defaultText: String(D.portMin), help: 'lowest media port (RTP uses even ports, RTCP the odd one above)', scope: 'everywhere', apply: port('portMin') },
  { name: 'port-max', short: 'M', kind: 'string', arg: 'INT', defaultText: String(D.portMax), help: 'highest media port', scope: 'everywhere', apply: port('portMax') },
  { name: 'timeout', short: 'o', kind: 'string', arg: 'SECS', defaultText: String(D.timeout), help: 'delete a call after this long without media; 0 disables', scope: 'everywhere', apply: seconds('timeout') },
  {
    name: 'offer-timeout',
    kind: 'string',
    arg: 'SECS',
    defaultText: String(D.offerTimeout),
    help: 'delete a call that was offered but never answered after this long; 0 disables',
    scope: 'everywhere',
    apply: seconds('offerTimeout'),
  },
  { name: 'delete-delay', short: 'd', kind: 'string', arg: 'SECS', defaultText: String(D.deleteDelay), help: 'keep a deleted call this long before freeing its ports', scope: 'everywhere', apply: seconds('deleteDelay') },
  {
    name: 'endpoint-learning',
    kind: 'string',
    arg: 'MODE',
    defaultText: D.endpointLearning,
    help: `how the relay learns where to send media: ${ENDPOINT_LEARNING.join('|')}`,
    scope: 'everywhere',
    apply: (o, v, at) => {
      if (!ENDPOINT_LEARNING.includes(v as EndpointLearning)) throw at(`expected one of ${ENDPOINT_LEARNING.join(', ')}`);
      o.endpointLearning = v as EndpointLearning;
    },
  },
  {
    name: 'strict-source',
    kind: 'boolean',
    defaultText: 'false',
    help: 'every call as if flagged strict-source: once learning has settled, media from any other source is dropped',
    scope: 'everywhere',
    apply: (o, v) => void (o.strictSource = v as boolean),
  },
  {
    name: 'num-threads',
    kind: 'string',
    arg: 'INT',
    defaultText: 'cores - 1, at least 1',
    help: 'forwarding threads; each call is placed on one of them',
    scope: 'everywhere',
    apply: (o, v, at) => void (o.threads = parseInteger(v as string, 1, MAX_THREADS, at)),
  },
  {
    name: 'dtmf-log-dest',
    kind: 'string',
    arg: 'IP46:PORT',
    defaultText: '',
    help: 'send every DTMF key press (RFC 4733) to this UDP address as JSON, in rtpengine\'s format',
    scope: 'everywhere',
    apply: (o, v, _at, source) => {
      const ep = parseHostPort(v as string);
      if (!ep || ep.port === 0) throw new ConfigError(`invalid dtmf-log-dest '${String(v)}' (from ${source}): expected IP:PORT, an IPv6 address in brackets`);
      o.dtmfLogDest = { address: ep.address, port: ep.port };
    },
  },
  { name: 'sip-source', kind: 'boolean', defaultText: String(D.sipSource), help: 'use the SIP source address instead of the addresses in the SDP', scope: 'everywhere', apply: flag('sipSource') },
  { name: 'dtls-passive', kind: 'boolean', defaultText: String(D.dtlsPassive), help: 'answer DTLS actpass offers as passive (server) instead of active', scope: 'everywhere', apply: flag('dtlsPassive') },
  {
    name: 'dtls-cert-file',
    kind: 'string',
    arg: 'FILE',
    defaultText: '',
    help: 'PEM certificate for DTLS-SRTP (with --dtls-key-file); default: a new ECDSA P-256 one at start-up',
    scope: 'everywhere',
    apply: dtlsFile('cert'),
  },
  { name: 'dtls-key-file', kind: 'string', arg: 'FILE', defaultText: '', help: 'PEM private key of --dtls-cert-file', scope: 'everywhere', apply: dtlsFile('key') },
  {
    name: 'log-level',
    short: 'L',
    kind: 'string',
    arg: 'LEVEL',
    defaultText: D.logLevel,
    help: `syslog level 0-7 or one of ${PINO_LEVELS.join('|')}; logs are JSON on stderr`,
    scope: 'everywhere',
    apply: (o, v, at) => void (o.logLevel = parseLogLevel(v as string, at)),
  },
  { name: 'foreground', short: 'f', kind: 'boolean', defaultText: String(D.foreground), help: 'stay in the foreground instead of daemonizing', scope: 'everywhere', apply: flag('foreground') },
  {
    name: 'pidfile',
    short: 'p',
    kind: 'string',
    arg: 'FILE',
    defaultText: '',
    help: 'write the daemon PID to FILE, removed on exit',
    scope: 'everywhere',
    apply: (o, v, at) => {
      if (v === '') throw at('expected a file name');
      o.pidfile = v as string;
    },
  },
  {
    name: 'redis',
    kind: 'string',
    arg: '[PW@]HOST:PORT/DB',
    defaultText: '',
    help: 'keep call state in this Redis database: calls stored there are taken over at start-up, every change is written',
    scope: 'everywhere',
    apply: redisTarget('read'),
  },
  { name: 'redis-write', kind: 'string', arg: '[PW@]HOST:PORT/DB', defaultText: '', help: 'write call state here instead of to --redis', scope: 'everywhere', apply: redisTarget('write') },
  { name: 'redis-expires', kind: 'string', arg: 'SECS', defaultText: '86400', help: 'a call key expires this long after its last write', scope: 'everywhere', apply: redisSeconds('expires') },
  {
    name: 'redis-allowed-errors',
    kind: 'string',
    arg: 'INT',
    defaultText: '-1',
    help: 'after this many failed Redis writes in a row, pause writing for --redis-disable-time; -1: never pause',
    scope: 'everywhere',
    apply: (o, v, at) => {
      if (!/^-?\d+$/.test(v as string)) throw at('expected an integer');
      redis(o).allowedErrors = Number(v);
    },
  },
  { name: 'redis-disable-time', kind: 'string', arg: 'SECS', defaultText: '10', help: 'how long Redis writing pauses after too many errors', scope: 'everywhere', apply: redisSeconds('disableSeconds') },
  {
    name: 'redis-srtp-refresh',
    kind: 'string',
    arg: 'SECS',
    defaultText: '30',
    help: 'write calls with SRTP again this often, so a restart resumes their rollover counters',
    scope: 'everywhere',
    apply: (o, v, at) => void (redis(o).srtpRefresh = parseInteger(v as string, 1, MAX_SECONDS, at)),
  },
  {
    name: 'redis-write-delay',
    kind: 'string',
    arg: 'MS',
    defaultText: '20',
    help: 'writes wait this long and coalesce (an offer and its answer: one write; a call torn down at once: none); 0 writes at once',
    scope: 'everywhere',
    apply: (o, v, at) => void (redis(o).writeDelayMs = parseInteger(v as string, 0, 10_000, at)),
  },
  { name: 'redis-connect-timeout', kind: 'string', arg: 'SECS', defaultText: '1', help: 'how long to wait for a Redis connection', scope: 'everywhere', apply: redisSeconds('connectTimeout') },
  {
    name: 'subscribe-keyspace',
    short: 'k',
    kind: 'list',
    arg: 'DB',
    defaultText: '',
    help: 'follow the calls another relay keeps in this database of the --redis server (standby); repeatable',
    scope: 'everywhere',
    apply: (o, v, at) => {
      const dbs = (v as string[]).flatMap((s) => s.split(/\s+/)).filter((s) => s !== '');
      if (!dbs.every((d) => /^\d{1,4}$/.test(d))) throw at('expected database numbers');
      redis(o).subscribe = dbs.map(Number);
    },
  },
  {
    name: 'active-switchover',
    kind: 'boolean',
    defaultText: 'false',
    help: 'take a followed (foreign) call over at the first ng command or packet for it',
    scope: 'everywhere',
    apply: (o, v) => void (o.activeSwitchover = v as boolean),
  },
  {
    name: 'no-redis-required',
    kind: 'boolean',
    defaultText: 'false',
    help: 'start even when Redis cannot be reached, and write to it once it can',
    scope: 'everywhere',
    apply: (o, v) => void (redis(o).required = !(v as boolean)),
  },
  { name: 'config-file', kind: 'string', arg: 'FILE', defaultText: '', help: 'INI config file; "none" reads no file', scope: 'cli-env', apply: consumedEarlier },
  { name: 'config-section', kind: 'string', arg: 'NAME', defaultText: DEFAULT_SECTION, help: 'INI section holding the options', scope: 'cli-env', apply: consumedEarlier },
  { name: 'version', short: 'v', kind: 'boolean', defaultText: '', help: 'print the version and exit', scope: 'cli', apply: consumedEarlier },
  { name: 'help', short: 'h', kind: 'boolean', defaultText: '', help: 'print this help and exit', scope: 'cli', apply: consumedEarlier },
];

const BY_NAME = new Map(OPTIONS.map((o) => [o.name, o]));

export function envName(option: string): string {
  return `RTPBRIDGE_${option.toUpperCase().replace(/-/g, '_')}`;
}

export interface ParsedCommandLine {
  options: DaemonOptions;
  warnings: string[];
  action: 'run' | 'help' | 'version';
}

/** A raw option value and where it came from, so errors can point at the right place. */
interface Setting {
  value: string | boolean | string[];
  source: string;
}
type Settings = Map<string, Setting>;

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): ParsedCommandLine {
  const warnings: string[] = [];
  const cli = readArgv(argv, warnings);
  // Help and version must work even when the config file or environment is broken.
  if (cli.get('help')?.value === true) return { options: defaults(), warnings, action: 'help' };
  if (cli.get('version')?.value === true) return { options: defaults(), warnings, action: 'version' };

  const envSettings = readEnv(env, warnings);
  const pick = (name: string): string | undefined => {
    const v = (cli.get(name) ?? envSettings.get(name))?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const file = pick('config-file');
  const fileSettings = file === undefined || file === 'none' ? new Map() : readIniFile(file, pick('config-section') ?? DEFAULT_SECTION, warnings);

  const merged: Settings = new Map([...fileSettings, ...envSettings, ...cli]);
  return { options: buildOptions(merged, env), warnings, action: 'run' };
}

export function usage(): string {
  const rows = OPTIONS.flatMap((o) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.arg ? `=${o.arg}` : ''}`;
    const text = o.defaultText === '' ? o.help : `${o.help} (default: ${o.defaultText})`;
    return wrap(text, USAGE_WIDTH - USAGE_INDENT).map((line, i) => `${i === 0 ? `  ${flag}`.padEnd(USAGE_INDENT) : ' '.repeat(USAGE_INDENT)}${line}`);
  });
  return [
    'Usage: rtpbridge [OPTION...]',
    '',
    "Media relay for SIP calls, controlled over rtpengine's ng protocol.",
    '',
    ...rows,
    '',
    ...wrap(
      'Every option except --help and --version can also be set in the environment as RTPBRIDGE_<NAME> ' +
        '(e.g. RTPBRIDGE_LISTEN_NG) and, except --config-file and --config-section, as NAME = VALUE in the ' +
        'INI config file; lists are separated by ";" there. Precedence: defaults < config file < environment ' +
        '< command line. Other rtpengine options are accepted and ignored with a warning.',
      USAGE_WIDTH,
    ),
    '',
  ].join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

function defaults(): DaemonOptions {
  return structuredClone(DEFAULT_DAEMON_OPTIONS);
}

function readArgv(argv: string[], warnings: string[]): Settings {
  const parseOptions = Object.fromEntries(
    OPTIONS.map((o) => [o.name, { type: o.kind === 'boolean' ? ('boolean' as const) : ('string' as const), ...(o.short ? { short: o.short } : {}) }]),
  );
  // Not strict: unknown rtpengine options must get through so they can be reported instead of refused.
  const { tokens } = parseArgs({ args: argv, options: parseOptions, strict: false, allowPositionals: true, tokens: true });
  const out: Settings = new Map();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') throw new ConfigError(`unexpected argument '${token.value}'`);
    const def = BY_NAME.get(token.name);
    if (!def) {
      // rtpbridge takes no positional arguments, so one right after an unknown option is that option's value.
      if (token.value === undefined && tokens[i + 1]?.kind === 'positional') i++;
      warnings.push(`ignoring unsupported rtpengine option ${token.rawName}`);
      continue;
    }
    const source = token.rawName.startsWith('--') ? `--${def.name}` : `${token.rawName} (--${def.name})`;
    if (def.kind === 'boolean') {
      out.set(def.name, { value: token.value === undefined ? true : parseBoolean(token.value, def.name, source), source });
    } else if (token.value === undefined) {
      throw new ConfigError(`option ${token.rawName} needs a value`);
    } else if (def.kind === 'list') {
      const prev = out.get(def.name)?.value;
      out.set(def.name, { value: [...(Array.isArray(prev) ? prev : []), token.value], source });
    } else {
      out.set(def.name, { value: token.value, source });
    }
  }
  return out;
}

function readEnv(env: NodeJS.ProcessEnv, warnings: string[]): Settings {
  const out: Settings = new Map();
  const known = new Set<string>();
  for (const def of OPTIONS) {
    if (def.scope === 'cli') continue;
    const name = envName(def.name);
    known.add(name);
    const raw = env[name];
    // An empty variable counts as unset, as `FOO= cmd` is the usual way to clear one.
    if (raw === undefined || raw === '') continue;
    out.set(def.name, { value: fromText(def, raw, name), source: name });
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('RTPBRIDGE_') && !known.has(name) && name !== REDIS_PASSWORD_ENV) warnings.push(`ignoring unknown environment variable ${name}`);
  }
  return out;
}

function readIniFile(file: string, section: string, warnings: string[]): Settings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file '${file}': ${(err as Error).message}`);
  }
  const values = parseIniSection(text, section);
  if (!values) throw new ConfigError(`config file '${file}' has no [${section}] section`);
  const out: Settings = new Map();
  for (const [key, raw] of Object.entries(values)) {
    const def = BY_NAME.get(key);
    const source = `'${key}' in ${file} [${section}]`;
    if (!def) {
      warnings.push(`ignoring unsupported rtpengine option ${source}`);
    } else if (def.scope !== 'everywhere') {
      warnings.push(`ignoring ${source}: only valid on the command line or in the environment`);
    } else if (raw === true && def.kind !== 'boolean') {
      throw new ConfigError(`${source} needs a value`);
    } else {
      out.set(key, { value: fromText(def, String(raw), source), source });
    }
  }
  return out;
}

/**
 * rtpengine's config is a GLib key file, where `;` separates list items and only whole lines are
 * comments; the `ini` package would cut values at `;` or `#`, so those are escaped in value lines first.
 */
function parseIniSection(text: string, section: string): Record<string, unknown> | undefined {
  const escaped = text
    .split(/\r?\n/)
    .map((line) => (/^\s*([;#[]|$)/.test(line) ? line : line.replace(/[;#]/g, '\\$&')))
    .join('\n');
  const parsed = parseIni(escaped) as Record<string, unknown>;
  const values = Object.hasOwn(parsed, section) ? parsed[section] : undefined;
  return typeof values === 'object' && values !== null ? (values as Record<string, unknown>) : undefined;
}

function fromText(def: OptionDef, raw: string, source: string): Setting['value'] {
  if (def.kind === 'boolean') return parseBoolean(raw, def.name, source);
  if (def.kind === 'list') {
    return raw
      .split(';')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return raw.trim();
}

function buildOptions(settings: Settings, env: NodeJS.ProcessEnv): DaemonOptions {
  const o = defaults();
  for (const [name, { value, source }] of settings) {
    const at = (what: string): ConfigError => new ConfigError(`invalid ${name} '${String(value)}' (from ${source}): ${what}`);
    BY_NAME.get(name)!.apply(o, value, at, source);
  }
  checkPortRange(o.portMin, o.portMax);
  checkRedis(o, env[REDIS_PASSWORD_ENV]);
  if (o.dtlsCertificate && (!o.dtlsCertificate.cert || !o.dtlsCertificate.key)) throw new ConfigError('dtls-cert-file and dtls-key-file go together');
  return o;
}

/** Redis options other than --redis only tune it; the password may come from RTPBRIDGE_REDIS_AUTH_PW. */
function checkRedis(o: DaemonOptions, password: string | undefined): void {
  if (!o.redis) return;
  if (o.redis.read.port === 0) throw new ConfigError('redis-* options need --redis');
  if (password) for (const t of [o.redis.read, o.redis.write]) if (t && t.password === undefined) t.password = password;
}

/** RTP takes an even port and RTCP the odd one above it, so the range must hold at least one such pair. */
function checkPortRange(min: number, max: number): void {
  if (min > max) throw new ConfigError(`port-min (${min}) is greater than port-max (${max})`);
  const firstEven = min % 2 === 0 ? min : min + 1;
  if (firstEven + 1 > max) {
    throw new ConfigError(`port range ${min}-${max} holds no RTP/RTCP pair (an even port followed by an odd one)`);
  }
}

function parsePositive(raw: string, at: (what: string) => ConfigError): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw at('expected a non-negative number');
  return n;
}

function parseInteger(raw: string, min: number, max: number, at: (what: string) => ConfigError): number {
  if (!/^\d+$/.test(raw)) throw at('expected an integer');
  const n = Number(raw);
  if (n < min || n > max) throw at(`expected ${min}..${max}`);
  return n;
}

/** rtpengine takes syslog priorities; pino level names are accepted too. */
function parseLogLevel(raw: string, at: (what: string) => ConfigError): LogLevel {
  const name = raw.toLowerCase();
  if (PINO_LEVELS.includes(name as LogLevel)) return name as LogLevel;
  if (!/^[0-7]$/.test(raw)) throw at(`expected a syslog level 0-7 or one of ${PINO_LEVELS.join(', ')}`);
  const n = Number(raw);
  return n <= 2 ? 'fatal' : n === 3 ? 'error' : n === 4 ? 'warn' : n <= 6 ? 'info' : 'debug';
}

function parseBoolean(raw: string, name: string, source: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  throw new ConfigError(`invalid ${name} '${raw}' (from ${source}): expected true/false, yes/no or 1/0`);
}

/** `[NAME/]ADDR[!ADVERTISED]`, grouped into logical interfaces by NAME in order of first appearance. */
function parseInterfaces(specs: string[], source: string): LogicalInterface[] {
  if (specs.length === 0) throw new ConfigError(`no interface given (from ${source})`);
  const byName = new Map<string, LogicalInterface>();
  for (const spec of specs) {
    const bad = (what: string): ConfigError => new ConfigError(`invalid interface '${spec}' (from ${source}): ${what}`);
    const slash = spec.indexOf('/');
    const name = slash < 0 ? 'default' : spec.slice(0, slash);
    if (name === '' || /\s|!/.test(name)) throw bad('expected [NAME/]ADDR[!ADVERTISED] with a non-empty NAME');
    const [localRaw = '', advertisedRaw, extra] = spec.slice(slash + 1).split('!');
    if (extra !== undefined) throw bad('more than one "!"');
    const local = stripBrackets(localRaw);
    const family = familyOf(local);
    // rtpengine also resolves system interface names and host names; rtpbridge binds literal addresses only.
    if (!family) throw bad(`'${localRaw}' is not an IPv4/IPv6 address (interface and host names are not supported)`);
    const advertised = advertisedRaw === undefined ? local : stripBrackets(advertisedRaw);
    const advertisedFamily = familyOf(advertised);
    if (!advertisedFamily) throw bad(`advertised address '${advertisedRaw ?? ''}' is not an IPv4/IPv6 address`);
    if (advertisedFamily !== family) throw bad('local and advertised addresses must be of the same family');
    let iface = byName.get(name);
    if (!iface) byName.set(name, (iface = { name, addresses: [] }));
    iface.addresses.push({ local, advertised, family });
  }
  return [...byName.values()];
}

/** Validates and normalises listen addresses to `host:port` / `[v6]:port`. */
function parseListen(specs: string[], source: string, name: string): string[] {
  if (specs.length === 0 && name === 'listen-ng') throw new ConfigError(`no listen-ng address given (from ${source})`);
  return specs.map((spec) => {
    const ep = parseHostPort(spec);
    if (!ep) {
      throw new ConfigError(`invalid ${name} '${spec}' (from ${source}): expected [IP:]PORT with an IPv4 address or an IPv6 one in brackets, port 0-65535`);
    }
    return familyOf(ep.address) === 'IP6' ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
  });
}

function stripBrackets(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}
