/**
 * Logs on stderr, so stdout stays free for `--help`/`--version` and the daemon's PID: JSON lines for
 * log collectors, or readable lines (`12:00:01.234 INFO  call deleted callId=abc reason=delete`) when
 * stderr is a terminal.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/options.js';

export interface LoggerOptions {
  /** Where the lines go; stderr by default. */
  destination?: DestinationStream;
}

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  // Synchronous writes: a line logged right before process.exit() must not be lost.
  const destination = options.destination ?? (process.stderr.isTTY ? readableStderr() : pino.destination({ fd: 2, sync: true }));
  return pino({ name: 'rtpbridge', level }, destination);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

/** pino's JSON line as one readable line: time, level, message, then the fields as key=value. */
export function readableLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString().slice(11, 23);
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${field(v)}`);
  return `${time} ${level} ${String(entry.msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}\n`;
}

function field(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  if (v && typeof v === 'object' && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

function readableStderr(): DestinationStream {
  // Writes to a terminal are synchronous in Node, like the JSON destination above.
  return { write: (line: string) => void process.stderr.write(readableLine(line)) };
}
