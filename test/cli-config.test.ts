import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { envName, OPTIONS, parseCommandLine, usage } from '../src/config/cli.js';
import { DEFAULT_DAEMON_OPTIONS } from '../src/config/options.js';
import { ConfigError } from '../src/errors.js';
import { createLogger } from '../src/log.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(argv, env);

t.test('no options give the loopback defaults', async (t) => {
  const { options, warnings, action } = parse([]);
  t.equal(action, 'run');
  t.same(warnings, []);
  t.same(options, DEFAULT_DAEMON_OPTIONS);
  t.same(options.listenNg, ['127.0.0.1:2223']);
  t.same(options.interfaces, [{ name: 'default', addresses: [{ local: '127.0.0.1', advertised: '127.0.0.1', family: 'IP4' }] }]);
});

t.test('help and version win over anything broken', async (t) => {
  const broken = { RTPBRIDGE_CONFIG_FILE: '/nonexistent/rtpbridge.conf', RTPBRIDGE_PORT_MIN: 'x' };
  t.equal(parse(['--help'], broken).action, 'help');
  t.equal(parse(['-h'], broken).action, 'help');
  t.equal(parse(['--version'], broken).action, 'version');
  t.equal(parse(['-v'], broken).action, 'version');
  t.equal(parse(['--help=no']).action, 'run');
});

t.test('interfaces: names, advertised addresses, IPv6, grouping by first appearance', async (t) => {
  const { options } = parse([
    '-i',
    '10.0.0.1',
    '--interface=ext/192.0.2.1!203.0.113.5',
    '--interface=ext/2001:db8::1',
    '--interface=priv/10.1.1.1',
    '--interface=10.0.0.2',
    '--interface=v6/::1',
    '--interface=v6/[fd00::1]![2001:db8::9]',
    '--interface=pub:1/198.51.100.1',
  ]);
  t.same(options.interfaces, [
    {
      name: 'default',
      addresses: [
        { local: '10.0.0.1', advertised: '10.0.0.1', family: 'IP4' },
        { local: '10.0.0.2', advertised: '10.0.0.2', family: 'IP4' },
      ],
    },
    {
      name: 'ext',
      addresses: [
        { local: '192.0.2.1', advertised: '203.0.113.5', family: 'IP4' },
        { local: '2001:db8::1', advertised: '2001:db8::1', family: 'IP6' },
      ],
    },
    { name: 'priv', addresses: [{ local: '10.1.1.1', advertised: '10.1.1.1', family: 'IP4' }] },
    {
      name: 'v6',
      addresses: [
        { local: '::1', advertised: '::1', family: 'IP6' },
        { local: 'fd00::1', advertised: '2001:db8::9', family: 'IP6' },
      ],
    },
    { name: 'pub:1', addresses: [{ local: '198.51.100.1', advertised: '198.51.100.1', family: 'IP4' }] },
  ]);
});

t.test('listen-ng is repeatable and normalised', async (t) => {
  const { options } = parse(['-n', '2223', '--listen-ng=[::1]:2224', '--listen-ng', '0.0.0.0:2225', '-n2226']);
  t.same(options.listenNg, ['127.0.0.1:2223', '[::1]:2224', '0.0.0.0:2225', '127.0.0.1:2226']);
});

t.test('scalar options, short forms and log levels', async (t) => {
  const { options } = parse(['-m', '20000', '-M20100', '-o', '0', '-d', '5', '--endpoint-learning=heuristic', '--sip-source', '-f', '-p', '/run/x.pid', '-L', '7']);
  t.match(options, { portMin: 20000, portMax: 20100, timeout: 0, deleteDelay: 5, endpointLearning: 'heuristic', sipSource: true, foreground: true, pidfile: '/run/x.pid', logLevel: 'debug' });
  const levels: Array<[string, string]> = [
    ['0', 'fatal'],
    ['2', 'fatal'],
    ['3', 'error'],
    ['4', 'warn'],
    ['5', 'info'],
    ['6', 'info'],
    ['7', 'debug'],
    ['trace', 'trace'],
    ['WARN', 'warn'],
    ['silent', 'silent'],
  ];
  for (const [given, level] of levels) t.equal(parse([`--log-level=${given}`]).options.logLevel, level, `log-level ${given}`);
  t.match(parse(['--max-ng-queue=200', '--max-ng-wait=400']).options, { maxNgQueue: 200, maxNgWait: 400 }, 'the ng overload limits');
  t.equal(parse([], { RTPBRIDGE_MAX_NG_WAIT: '2500' }).options.maxNgWait, 2500);
  t.equal(parse(['--foreground=no']).options.foreground, false);
  t.equal(parse(['--foreground=yes']).options.foreground, true);
});

t.test('unknown rtpengine options on the command line are accepted with a warning', async (t) => {
  const { options, warnings } = parse(['--table=0', '-t', '0', '--tos', '184', '--num-threads=4', '-F', '-E', '--log-facility', 'local0', '--port-min', '30010', '--no-fallback']);
  t.equal(options.portMin, 30010, 'known options after unknown ones still apply');
  t.equal(options.threads, 4, 'num-threads sets the forwarding threads');
  t.same(warnings, [
    'ignoring unsupported rtpengine option --table',
    'ignoring unsupported rtpengine option -t',
    'ignoring unsupported rtpengine option --tos',
    'ignoring unsupported rtpengine option -F',
    'ignoring unsupported rtpengine option -E',
    'ignoring unsupported rtpengine option --log-facility',
    'ignoring unsupported rtpengine option --no-fallback',
  ]);
});

t.test('INI config file: sections, ";" lists, booleans, comments, unknown options', async (t) => {
  const dir = t.testdir({
    'rtpengine.conf': [
      '# rtpengine config as shipped',
      '[rtpengine]',
      '; a comment',
      'table = 0',
      'interface = internal/10.0.0.5;external/10.0.0.6!192.0.2.4 ; external/2001:db8::6',
      'listen-ng = 127.0.0.1:2223;[::1]:2223',
      'port-min = 40000',
      'port-max = 40100',
      'tos = 184',
      'log-stderr = true',
      'foreground = yes',
      'sip-source = 1',
      'log-level = 5',
      'endpoint-learning = immediate',
      'pidfile = /run/rtpengine #1.pid',
      '',
      '[other]',
      'port-min = 50000',
      'port-max = 50100',
      'foreground = false',
    ].join('\n'),
  });
  const file = join(dir, 'rtpengine.conf');
  const { options, warnings } = parse([`--config-file=${file}`]);
  t.same(options.interfaces, [
    { name: 'internal', addresses: [{ local: '10.0.0.5', advertised: '10.0.0.5', family: 'IP4' }] },
    {
      name: 'external',
      addresses: [
        { local: '10.0.0.6', advertised: '192.0.2.4', family: 'IP4' },
        { local: '2001:db8::6', advertised: '2001:db8::6', family: 'IP6' },
      ],
    },
  ]);
  t.same(options.listenNg, ['127.0.0.1:2223', '[::1]:2223']);
  t.match(options, { portMin: 40000, portMax: 40100, foreground: true, sipSource: true, logLevel: 'info', endpointLearning: 'immediate', pidfile: '/run/rtpengine #1.pid' });
  t.equal(warnings.length, 3);
  for (const key of ['table', 'tos', 'log-stderr']) t.ok(warnings.some((w) => w.includes(`'${key}'`) && w.includes('unsupported')), `warns about ${key}`);

  const other = parse(['--config-file', file, '--config-section=other']).options;
  t.match(other, { portMin: 50000, portMax: 50100, foreground: false });
  t.same(other.listenNg, DEFAULT_DAEMON_OPTIONS.listenNg, 'options of other sections are not read');

  t.throws(() => parse([`--config-file=${file}`, '--config-section=missing']), new ConfigError(`config file '${file}' has no [missing] section`));
  t.throws(() => parse([`--config-file=${join(dir, 'nope.conf')}`]), { name: 'ConfigError', message: /cannot read config file/ });
  t.same(parse(['--config-file=none']).options, DEFAULT_DAEMON_OPTIONS, '"none" reads no file');
});

t.test('INI keys that only make sense outside the file are ignored with a warning', async (t) => {
  const dir = t.testdir({ 'a.conf': '[rtpengine]\nconfig-section = other\nport-min = 39000\n' });
  const { options, warnings } = parse(['--config-file', join(dir, 'a.conf')]);
  t.equal(options.portMin, 39000);
  t.match(warnings, [/config-section.*only valid on the command line or in the environment/]);
});

t.test('precedence: defaults < config file < environment < flags', async (t) => {
  const dir = t.testdir({
    'rtpbridge.conf': ['[rtpengine]', 'port-min = 20000', 'port-max = 20100', 'timeout = 10', 'delete-delay = 7', 'interface = 10.0.0.1', 'listen-ng = 2300'].join('\n'),
  });
  const file = join(dir, 'rtpbridge.conf');
  const env = { RTPBRIDGE_CONFIG_FILE: file, RTPBRIDGE_PORT_MAX: '20200', RTPBRIDGE_TIMEOUT: '20', RTPBRIDGE_LISTEN_NG: '127.0.0.1:2301;[::1]:2302' };
  const { options } = parse(['--timeout=30', '--listen-ng=2303'], env);
  t.match(options, { portMin: 20000, portMax: 20200, timeout: 30, deleteDelay: 7, endpointLearning: DEFAULT_DAEMON_OPTIONS.endpointLearning });
  t.same(options.interfaces[0]?.addresses.map((a) => a.local), ['10.0.0.1'], 'file value kept where nothing overrides it');
  t.same(options.listenNg, ['127.0.0.1:2303'], 'a list given on the command line replaces the lower layers');
  t.same(parse([], env).options.listenNg, ['127.0.0.1:2301', '[::1]:2302'], 'env list replaces the file list');
  t.equal(parse(['--config-file=none'], { RTPBRIDGE_CONFIG_FILE: file }).options.portMin, DEFAULT_DAEMON_OPTIONS.portMin, 'flag --config-file overrides the env one');
});

t.test('DTLS options: passive preference and certificate files', async (t) => {
  const o = parse(['--dtls-passive', '--dtls-cert-file=/etc/rtpbridge/cert.pem'], { RTPBRIDGE_DTLS_KEY_FILE: '/etc/rtpbridge/key.pem' }).options;
  t.equal(o.dtlsPassive, true);
  t.same(o.dtlsCertificate, { cert: '/etc/rtpbridge/cert.pem', key: '/etc/rtpbridge/key.pem' });
  t.equal(parse([]).options.dtlsCertificate, undefined, 'default: a certificate made at start-up');
});

t.test('environment variables follow the option names', async (t) => {
  const env = {
    RTPBRIDGE_INTERFACE: 'a/10.0.0.1;b/10.0.0.2',
    RTPBRIDGE_PORT_MIN: '31000',
    RTPBRIDGE_PORT_MAX: '31010',
    RTPBRIDGE_DELETE_DELAY: '0',
    RTPBRIDGE_LOG_LEVEL: '4',
    RTPBRIDGE_PIDFILE: '/tmp/x.pid',
    RTPBRIDGE_FOREGROUND: 'true',
    RTPBRIDGE_ENDPOINT_LEARNING: 'off',
    RTPBRIDGE_SIP_SOURCE: 'no',
    RTPBRIDGE_TIMEOUT: '',
    RTPBRIDGE_TABEL: '1',
  };
  const { options, warnings } = parse([], env);
  t.same(
    options.interfaces.map((i) => i.name),
    ['a', 'b'],
  );
  t.match(options, { portMin: 31000, portMax: 31010, deleteDelay: 0, logLevel: 'warn', pidfile: '/tmp/x.pid', foreground: true, endpointLearning: 'off', sipSource: false });
  t.equal(options.timeout, DEFAULT_DAEMON_OPTIONS.timeout, 'an empty variable counts as unset');
  t.same(warnings, ['ignoring unknown environment variable RTPBRIDGE_TABEL']);
  t.equal(envName('listen-ng'), 'RTPBRIDGE_LISTEN_NG');
});

t.test('validation errors name the option, the value and its source', async (t) => {
  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['port-min above port-max', ['--port-min=40000', '--port-max=30000'], {}, /port-min \(40000\) is greater than port-max \(30000\)/],
    ['range without an even/odd pair', ['--port-min=30001', '--port-max=30001'], {}, /port range 30001-30001 holds no RTP\/RTCP pair/],
    ['odd min, even max, no pair', ['--port-min=30001', '--port-max=30002'], {}, /holds no RTP\/RTCP pair/],
    ['port 0', ['--port-min=0'], {}, /invalid port-min '0' \(from --port-min\): expected 1\.\.65535/],
    ['port too high', ['-M', '70000'], {}, /invalid port-max '70000' \(from -M \(--port-max\)\): expected 1\.\.65535/],
    ['not a number', ['--timeout=abc'], {}, /invalid timeout 'abc' \(from --timeout\): expected an integer/],
    ['negative', ['--delete-delay=-1'], {}, /invalid delete-delay '-1'.*expected an integer/],
    ['no wait at all', ['--max-ng-wait=0'], {}, /invalid max-ng-wait '0' \(from --max-ng-wait\)/],
    ['fraction', [], { RTPBRIDGE_PORT_MIN: '1.5' }, /invalid port-min '1\.5' \(from RTPBRIDGE_PORT_MIN\): expected an integer/],
    ['bad address', ['--interface=ext/10.0.0.300'], {}, /invalid interface 'ext\/10\.0\.0\.300' \(from --interface\): '10\.0\.0\.300' is not an IPv4\/IPv6 address/],
    ['interface name', ['--interface=eth0'], {}, /interface and host names are not supported/],
    ['empty name', ['--interface=/10.0.0.1'], {}, /non-empty NAME/],
    ['bad advertised', ['--interface=10.0.0.1!host.example'], {}, /advertised address 'host\.example'/],
    ['mixed families', ['--interface=10.0.0.1!2001:db8::1'], {}, /same family/],
    ['two bangs', ['--interface=10.0.0.1!192.0.2.1!192.0.2.2'], {}, /more than one "!"/],
    ['unbracketed IPv6 listener', ['--listen-ng=::1:2223'], {}, /invalid listen-ng '::1:2223'.*IPv6 one in brackets/],
    ['listener port too high', ['--listen-ng=127.0.0.1:65536'], {}, /invalid listen-ng/],
    ['listener host name', ['--listen-ng=localhost:2223'], {}, /invalid listen-ng/],
    ['empty list', [], { RTPBRIDGE_INTERFACE: ';' }, /no interface given \(from RTPBRIDGE_INTERFACE\)/],
    ['endpoint learning', ['--endpoint-learning=sometimes'], {}, /expected one of off, immediate, delayed, heuristic/],
    ['log level', ['--log-level=8'], {}, /invalid log-level '8'.*syslog level 0-7/],
    ['boolean', [], { RTPBRIDGE_FOREGROUND: 'maybe' }, /invalid foreground 'maybe' \(from RTPBRIDGE_FOREGROUND\): expected true\/false/],
    ['missing value', ['--port-min'], {}, /option --port-min needs a value/],
    ['positional argument', ['start'], {}, /unexpected argument 'start'/],
    ['DTLS certificate without its key', ['--dtls-cert-file=/etc/cert.pem'], {}, /dtls-cert-file and dtls-key-file go together/],
  ];
  for (const [name, argv, env, message] of cases) {
    t.throws(() => parse(argv, env), { name: 'ConfigError', code: 'CONFIG_INVALID', message }, name);
  }
});

t.test('usage and README document every option', async (t) => {
  const help = usage();
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const o of OPTIONS) {
    t.match(help, `--${o.name}`, `usage lists --${o.name}`);
    t.match(readme, `--${o.name}`, `README lists --${o.name}`);
    if (o.scope !== 'cli') t.match(readme, envName(o.name), `README lists ${envName(o.name)}`);
  }
});

t.test('logger writes structured JSON lines', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger('warn', { destination: sink });
  log.info('hidden');
  log.warn({ port: 2223 }, 'shown');
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]!), { level: 40, name: 'rtpbridge', port: 2223, msg: 'shown' });
});

t.test('Redis options: rtpengine spellings, defaults, the password from the environment', async (t) => {
  const parsed = parseCommandLine(['--redis=127.0.0.1:6380/2', '--redis-write=secret@[::1]:6381/4', '--redis-expires=600', '--no-redis-required'], { RTPBRIDGE_REDIS_AUTH_PW: 'pw' });
  t.same(parsed.options.redis, {
    read: { host: '127.0.0.1', port: 6380, db: 2, password: 'pw' },
    write: { host: '::1', port: 6381, db: 4, password: 'secret' },
    expires: 600,
    allowedErrors: -1,
    disableSeconds: 10,
    connectTimeout: 1,
    required: false,
  });
  t.same(parsed.warnings, [], 'the password variable is no unknown option');
  t.equal(parseCommandLine([], {}).options.redis, undefined, 'no Redis unless asked');
  t.throws(() => parseCommandLine(['--redis=localhost'], {}), /invalid redis 'localhost'.*\[PASSWORD@\]HOST:PORT\[\/DB\]/);
  t.throws(() => parseCommandLine(['--redis-expires=60'], {}), /redis-\* options need --redis/);
  t.throws(() => parseCommandLine(['--redis=127.0.0.1:6379', '--redis-allowed-errors=x'], {}), /expected an integer/);
});
