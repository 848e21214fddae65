/** The relay's configuration as the library sees it; the CLI, INI file and env vars all produce this. */
import type { Endpoint, EndpointLearning, LogicalInterface } from '../shared/vocabulary.js';
import type { RedisStoreOptions } from '../persistence/redis-store.js';

export type { AddressFamily, EndpointLearning, InterfaceAddress, LogicalInterface } from '../shared/vocabulary.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface RelayOptions {
  /** Logical interfaces in command-line order; the first is used when `direction` is absent. */
  interfaces: LogicalInterface[];
  /** Inclusive media port range; RTP takes the even port, RTCP the next odd one. */
  portMin: number;
  portMax: number;
  /** Seconds without media before a call is deleted (rtpengine `--timeout`). */
  timeout: number;
  /** Seconds a call that was offered but never answered may live (rtpengine `--offer-timeout`): ringing is not silence. */
  offerTimeout: number;
  /** Seconds a deleted call lingers before its ports are freed (rtpengine `--delete-delay`). */
  deleteDelay: number;
  endpointLearning: EndpointLearning;
  /** Forwarding threads (rtpengine `--num-threads`); default: one per core but one, at least one. */
  threads?: number;
  /** Ignore SDP addresses and use the SIP source address (rtpengine `--sip-source`). */
  sipSource: boolean;
  /** PEM files of the DTLS certificate and key; absent: an ECDSA P-256 certificate is made at start-up. */
  dtlsCertificate?: { cert: string; key: string };
  /** Answer DTLS actpass offers as passive (server) instead of active (rtpengine `--dtls-passive`). */
  dtlsPassive: boolean;
  /** Refuse new calls beyond this many current ones (rtpengine `--max-sessions`); undefined: no limit. */
  maxSessions?: number;
  /** Refuse new calls while the 1-minute load average is above this (rtpengine `--max-load`). */
  maxLoad?: number;
  /** Refuse new calls while more than this many bytes per second are relayed (rtpengine `--max-bandwidth`). */
  maxBandwidth?: number;
  /** Refuse new calls while the machine's CPU use (percent of all cores) is above this (rtpengine `--max-cpu`). */
  maxCpu?: number;
  /** Call state in Redis (rtpengine `--redis` and friends): restored by `Relay.create`, written at every change. */
  redis?: RedisStoreOptions & {
    /** Refuse to start when Redis cannot be reached (rtpengine's default; `--no-redis-required` turns it off). */
    required: boolean;
    /** Databases of other relays to follow as a standby (`--subscribe-keyspace`), on the `read` server. */
    subscribe?: number[];
  };
  /** strict-source for every call, as if each offer and answer carried the flag (`--strict-source`). */
  strictSource?: boolean;
  /** A foreign call is taken over by the first ng command or packet for it (`--active-switchover`). */
  activeSwitchover?: boolean;
  /** Every DTMF key press goes here as UDP JSON in rtpengine's format (`--dtmf-log-dest`). */
  dtmfLogDest?: Endpoint;
}

export interface DaemonOptions extends RelayOptions {
  /** ng listeners as `host:port` / `[v6]:port` / `port`. */
  listenNg: string[];
  /** ng over TCP (`--listen-tcp-ng`). */
  listenTcpNg: string[];
  /** HTTP control: /metrics, /ping, /ng, /ng-plain, /cli/ and ng over WebSocket (`--listen-http`). */
  listenHttp: string[];
  /** rtpengine's CLI text protocol, for rtpbridge-ctl (`--listen-cli`). */
  listenCli: string[];
  /** Who may use the control transports (`--ng-allow`, CIDRs); loopback and private networks when absent. */
  ngAllow?: string[];
  /** ng requests waiting or executing beyond which new ones are refused at once (`--max-ng-queue`). */
  maxNgQueue: number;
  /** Milliseconds an ng request may wait for its turn and still be executed (`--max-ng-wait`). */
  maxNgWait: number;
  /** Prefix of every Prometheus metric name. */
  metricsPrefix: string;
  /** Exit (0) once `drain` has let the last call end. */
  exitWhenDrained: boolean;
  logLevel: LogLevel;
  foreground: boolean;
  pidfile?: string;
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = {
  interfaces: [{ name: 'default', addresses: [{ local: '127.0.0.1', advertised: '127.0.0.1', family: 'IP4' }] }],
  portMin: 30000,
  portMax: 40000,
  timeout: 60,
  offerTimeout: 3600,
  deleteDelay: 30,
  endpointLearning: 'delayed',
  sipSource: false,
  dtlsPassive: false,
};

export const DEFAULT_DAEMON_OPTIONS: DaemonOptions = {
  ...DEFAULT_RELAY_OPTIONS,
  listenNg: ['127.0.0.1:2223'],
  listenTcpNg: [],
  listenHttp: [],
  listenCli: [],
  maxNgQueue: 1000,
  // Kamailio's rtpengine module retransmits after 1 s (rtpengine_tout_ms): past that, the proxy
  // is better served by a quick "load limit" than by a late answer.
  maxNgWait: 1000,
  metricsPrefix: 'rtpbridge_',
  exitWhenDrained: false,
  logLevel: 'info',
  // rtpengine daemonizes unless told otherwise; keep that so init scripts written for it work.
  foreground: false,
  pidfile: undefined,
};
