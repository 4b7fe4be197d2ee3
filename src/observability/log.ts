// observability/log: the pino logger and what it must never print (SPEC section 8: no secrets).
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export interface LogOptions {
  level: string;
  format: 'json' | 'pretty';
}

// Headers and fields that carry credentials. Redaction happens in pino (fast-redact, compiled once),
// so a careless `log.info({ headers })` still cannot leak a token.
const REDACT = [
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["proxy-authorization"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'secret',
  'password',
  'apiKey',
];

// One of our log lines: `event` comes from events.ts and `msg` is pino's, both strings when present.
type PinoLine = Record<string, unknown> & { event?: string; msg?: string };

// A small line formatter for `format: pretty` (a human at a terminal); pino-pretty would be a
// dependency for three lines of formatting.
function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string): void {
      try {
        const { level, time, event, msg, ...rest } = JSON.parse(line) as PinoLine;
        delete rest.pid;
        delete rest.hostname;
        const when = new Date(Number(time)).toISOString().slice(11, 23);
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        out.write(`${when} ${String(pino.levels.labels[Number(level)] ?? level)} ${event ?? ''} ${msg ?? ''} ${fields}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

export function createLogger(options: LogOptions, destination?: DestinationStream): Logger {
  const dest = destination ?? (options.format === 'pretty' ? prettyStream(process.stdout) : pino.destination({ fd: 1, sync: false }));
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}
