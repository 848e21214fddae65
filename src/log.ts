/** Structured JSON logs on stderr, so stdout stays free for `--help`/`--version` and the daemon's PID. */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/options.js';

export interface LoggerOptions {
  /** Where the JSON lines go; stderr by default. */
  destination?: DestinationStream;
}

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  // Synchronous writes: a line logged right before process.exit() must not be lost.
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  return pino({ name: 'rtpbridge', level }, destination);
}
