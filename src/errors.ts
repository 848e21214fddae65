/**
 * Every error rtpbridge raises on purpose is a RelayError with a stable code, so the ng adapter can
 * turn it into an `error-reason` and library users can branch on `err.code` instead of on text.
 */
export type RelayErrorCode =
  | 'NG_MALFORMED' // not `<cookie> <dict>`, bad bencode/JSON, not a dictionary
  | 'NG_TOO_LARGE' // datagram or nesting beyond limits
  | 'NG_BAD_PARAM' // a key has the wrong type or an unknown value
  | 'NG_MISSING_PARAM' // a required key is absent
  | 'NG_UNKNOWN_COMMAND'
  | 'SDP_INVALID' // SDP that cannot be understood well enough to rewrite
  | 'SRTP_INVALID' // crypto parameters the relay cannot use (suite, key length, negotiation)
  | 'CODEC_NEGOTIATION' // codec flags that leave an m= line without a codec
  | 'CALL_NOT_FOUND'
  | 'TAG_NOT_FOUND'
  | 'NOT_INJECTABLE' // `play DTMF` on a call not marked `inject DTMF`, or with its presses' queue full
  | 'NO_PORTS' // port range exhausted
  | 'NO_INTERFACE' // unknown logical interface or no address of the wanted family
  | 'CONFIG_INVALID'
  | 'DATAPLANE_FAILED' // a forwarding thread died mid-request
  | 'PERSISTENCE_FAILED' // Redis was required but could not be reached
  | 'LOAD_LIMIT' // a new call beyond --max-sessions/--max-load/--max-bandwidth, or while draining
  | 'SHUTTING_DOWN';

export class RelayError extends Error {
  readonly code: RelayErrorCode;

  constructor(code: RelayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RelayError';
    this.code = code;
  }
}

export class NgProtocolError extends RelayError {
  constructor(code: 'NG_MALFORMED' | 'NG_TOO_LARGE' | 'NG_BAD_PARAM' | 'NG_MISSING_PARAM' | 'NG_UNKNOWN_COMMAND', message: string) {
    super(code, message);
    this.name = 'NgProtocolError';
  }
}

export class SdpError extends RelayError {
  constructor(detail: string) {
    // rtpengine says just "Failed to parse SDP"; the detail tells the operator which line is wrong.
    super('SDP_INVALID', `Failed to parse SDP: ${detail}`);
    this.name = 'SdpError';
  }
}

export class ConfigError extends RelayError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
    this.name = 'ConfigError';
  }
}

export class SrtpError extends RelayError {
  constructor(message: string) {
    super('SRTP_INVALID', message);
    this.name = 'SrtpError';
  }
}
