// cli/bench/stats: what one bench run counts: operations and payload bytes inside the measured window,
// latency in µs in an HDR histogram, and errors by kind from the first connect to the end.
import { build, type Histogram } from 'hdr-histogram-js';

/**
 * Error kinds, the keys of `errorsByKind` in the JSON output. `status_NNN` is added for each HTTP
 * status that is not 2xx (a WebSocket handshake answered with anything but 101 counts the same way).
 */
export const ERROR_KINDS = {
  connect_refused: 'connect refused',
  reset: 'reset',
  timeout: 'timeout',
  closed: 'closed by peer',
  protocol: 'protocol',
  tls: 'tls',
  deadline: 'hard deadline',
  other: 'other',
} as const;
export type ErrorKind = keyof typeof ERROR_KINDS | `status_${number}`;

// 1 µs to 10 min at 3 significant digits; longer latencies are recorded as 10 min.
const HIGHEST_US = 600_000_000;

export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

export function errorKindLabel(kind: string): string {
  if (kind.startsWith('status_')) return `bad status ${kind.slice(7)}`;
  return (ERROR_KINDS as Record<string, string>)[kind] ?? kind;
}

/** Maps a socket error to its kind by `code`, never by class or message. */
export function errorKindOf(err: Error): ErrorKind {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNREFUSED') return 'connect_refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code.includes('SELF_SIGNED')) return 'tls';
  return 'other';
}

export class BenchStats {
  histogram: Histogram = newHistogram();
  /** Operations are counted only between startMeasuring() and stop(). */
  measuring = false;
  /** After stop() nothing is counted: sockets torn down by the run are not errors. */
  stopped = false;
  ops = 0;
  /** Successful operations since the start, warm-up included: for progress lines. */
  completed = 0;
  bytes = 0;
  errors = 0;
  readonly errorsByKind = new Map<string, number>();
  firstError: string | null = null;
  /** Some TCP connection to the target was established (exit code 2 when never). */
  reachable = false;

  constructor(private readonly maxOps: number) {}

  // HOT: once per completed request or echoed message. Returns true when --max-ops is reached.
  record(latencyMs: number, bytes: number): boolean {
    this.completed++;
    if (!this.measuring) return false;
    const us = Math.round(latencyMs * 1000);
    this.histogram.recordValue(us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : us);
    this.bytes += bytes;
    return ++this.ops >= this.maxOps;
  }

  error(kind: ErrorKind, message: string): void {
    if (this.stopped) return;
    this.errors++;
    this.errorsByKind.set(kind, (this.errorsByKind.get(kind) ?? 0) + 1);
    this.firstError ??= message;
  }

  startMeasuring(): void {
    this.histogram.reset();
    this.ops = 0;
    this.bytes = 0;
    this.measuring = true;
  }

  stop(): void {
    this.measuring = false;
    this.stopped = true;
  }
}
