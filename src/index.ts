/** rtpbridge as a library: the Relay API, the ng server adapter, and their types. */
export { Relay, type RelayEvents, type CallEndReason } from './relay.js';
export { NgServer, type NgServerOptions, type ListeningAddress } from './ng/server.js';
export { RelayError, NgProtocolError, SdpError, ConfigError, type RelayErrorCode } from './errors.js';
export {
  DEFAULT_RELAY_OPTIONS,
  type RelayOptions,
  type LogicalInterface,
  type InterfaceAddress,
  type AddressFamily,
  type EndpointLearning,
} from './config/options.js';
export type * from './api/requests.js';
