// test/helpers/log-capture: a stream a pino logger writes to, whose JSON lines a test reads as they
// come (`logs`) or waits for (`waitForLog`).
import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown>;

export interface LogCapture {
  readonly sink: Writable;
  readonly logs: LogLine[];
  readonly waitForLog: (predicate: (line: LogLine) => boolean) => Promise<LogLine>;
}

export function captureLogs(): LogCapture {
  const logs: LogLine[] = [];
  const waiters: { predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const parsed = JSON.parse(line) as LogLine;
        logs.push(parsed);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.predicate(parsed)) waiters.splice(i, 1)[0]!.resolve(parsed);
        }
      }
      cb();
    },
  });
  return {
    sink,
    logs,
    waitForLog: (predicate) => {
      const found = logs.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}
