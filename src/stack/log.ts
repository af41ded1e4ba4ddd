import { pino, type Logger } from 'pino';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * pino logger for the stack, quiet by default. Each layer takes a child with
 * `{ layer: 'ipv4' }` etc. Pretty output on a TTY (pino-pretty), JSON lines otherwise.
 * Logs go to stderr so stdout stays free for program output (nc, get -o -).
 */
export function createLogger(level: LogLevel = 'warn', pretty = process.stderr.isTTY): Logger {
  if (level === 'silent') return pino({ level: 'silent' });
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino({ level }, pino.destination(2));
}

/** A logger that discards everything (the default in tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
