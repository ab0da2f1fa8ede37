/** JSON-lines logging (pino) to stderr, so stdout stays free for the terminal view and data. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level: string = process.env.BOOKWIRE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything (tests, in-process embedding). */
export const silentLogger: Logger = pino({ level: 'silent' });
