// cli/bench/run-bench: one bench run from the first connect to the last socket closed: opens the connections
// (256 at a time), drives the load (closed loop, or paced by --rate), or holds them (--connect-only), and
// ends it by duration, --max-ops, an interrupt, or a hard deadline. Every timer is cleared and every socket
// closed before the result is returned.
import { HttpConnection, serializeRequest } from './http-connection.js';
import type { LoadConnection } from './load-connection.js';
import type { BenchOptions } from './options.js';
import type { BenchResult } from './report.js';
import { BenchStats } from './stats.js';
import { handshakePrefix, maskedFrame, WsConnection } from './ws-connection.js';

export interface BenchProgress {
  phase: 'connecting' | 'warmup' | 'measuring' | 'holding';
  /** Since the run began. */
  elapsedMs: number;
  /** Successful operations since the start, warm-up included (handshakes with --connect-only). */
  ops: number;
  errors: number;
  opened: number;
  dropped: number;
}

export interface BenchHooks {
  /** Once, when the warm-up ends and the measured window begins. */
  onMeasuring?: () => void;
  /** About once a second while the run lasts. */
  onProgress?: (progress: BenchProgress) => void;
  /** Ends the run early; the result covers what was measured so far. */
  signal?: AbortSignal;
}

// Connections being opened at once: enough to open thousands quickly, few enough not to overflow the
// target's listen backlog (often 511) with SYNs.
export const OPEN_CONCURRENCY = 256;
const PROGRESS_MS = 1000;
// Sockets still open this long after the end are destroyed.
const CLOSE_GRACE_MS = 1000;
// Beyond warm-up + duration, the time the hard deadline leaves for opening and closing.
const DEADLINE_SLACK_MS = 30_000;

type Phase = BenchProgress['phase'];

export class BenchRun {
  readonly stats: BenchStats;
  /** Operations may be sent. */
  running = false;
  /** The end was reached: nothing is counted or sent any more. */
  finished = false;
  /** --rate: the time between two operations of one connection; 0 in a closed loop. */
  intervalMs = 0;
  private phase: Phase = 'connecting';
  private readonly conns: LoadConnection[] = [];
  private readonly createConnection: () => LoadConnection;
  private opening = 0;
  private opened = 0;
  private failed = 0;
  private dropped = 0;
  private liveSockets = 0;
  private startMs = 0;
  private connectDoneMs = 0;
  private measureStartMs = 0;
  private endMs = 0;
  private cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  private cpuUs = 0;
  private stoppedBy: BenchResult['stoppedBy'] = 'duration';
  private phaseTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private progressTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private result: BenchResult | null = null;
  private resolve: (result: BenchResult) => void = () => undefined;

  constructor(
    readonly options: BenchOptions,
    private readonly hooks: BenchHooks,
  ) {
    this.stats = new BenchStats(options.maxOps);
    if (options.mode === 'http') {
      const request = serializeRequest(options);
      this.createConnection = () => new HttpConnection(this, request);
    } else {
      const frame = maskedFrame(options.sizeBytes);
      const prefix = handshakePrefix(options);
      this.createConnection = () => new WsConnection(this, frame, prefix);
    }
  }

  start(): Promise<BenchResult> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.startMs = performance.now();
      this.cpuStart = process.cpuUsage();
      // --connect-only measures the handshakes themselves, from the first one.
      if (this.options.connectOnly) this.stats.startMeasuring();
      const o = this.options;
      this.deadlineTimer = setTimeout(runOnDeadline, o.warmupMs + o.durationMs + 3 * o.timeoutMs + DEADLINE_SLACK_MS, this);
      this.sweepTimer = setInterval(runOnSweep, Math.max(5, Math.min(100, o.timeoutMs / 4)), this);
      if (this.hooks.onProgress !== undefined) this.progressTimer = setInterval(runOnProgress, PROGRESS_MS, this);
      const signal = this.hooks.signal;
      if (signal !== undefined) {
        if (signal.aborted) return this.interrupt();
        signal.addEventListener('abort', () => this.interrupt(), { once: true });
      }
      this.openMore();
    });
  }

  private openMore(): void {
    while (this.opening < OPEN_CONCURRENCY && this.conns.length < this.options.connections && !this.finished) {
      const conn = this.createConnection();
      this.conns.push(conn);
      this.opening++;
      conn.open();
    }
  }

  socketOpened(): void {
    this.liveSockets++;
  }

  socketClosed(): void {
    this.liveSockets--;
    if (this.finished && this.liveSockets === 0) this.done();
  }

  connOpened(conn: LoadConnection): void {
    this.opening--;
    this.opened++;
    if (this.options.connectOnly) this.stats.record(performance.now() - conn.firstAttemptMs, 0);
    this.openMore();
    this.checkAllAttempted();
  }

  connOpenFailed(_conn: LoadConnection): void {
    this.opening--;
    this.failed++;
    this.openMore();
    this.checkAllAttempted();
  }

  connDropped(_conn: LoadConnection): void {
    this.dropped++;
  }

  limitReached(): void {
    this.stoppedBy = 'max-ops';
    this.finish();
  }

  private checkAllAttempted(): void {
    if (this.phase !== 'connecting' || this.opening > 0 || this.conns.length < this.options.connections) return;
    this.connectDoneMs = performance.now();
    if (this.options.connectOnly) this.cpuUs = cpuSince(this.cpuStart);
    if (this.opened === 0) {
      this.stoppedBy = this.stats.reachable ? 'no-connection' : 'unreachable';
      this.finish();
      return;
    }
    if (this.options.connectOnly) {
      this.phase = 'holding';
      this.phaseTimer = setTimeout(runOnEnd, this.options.durationMs, this);
      return;
    }
    this.running = true;
    const rate = this.options.rate;
    if (rate !== null) {
      // R per second in total: each open connection sends every opened/R seconds, the connections
      // staggered by 1/R so that the sends are spread evenly.
      this.intervalMs = (this.opened * 1000) / rate;
      let k = 0;
      for (const conn of this.conns) conn.nextDueMs = this.connectDoneMs + (k++ * 1000) / rate;
    }
    if (this.options.warmupMs === 0) this.startMeasuring();
    else {
      this.phase = 'warmup';
      this.phaseTimer = setTimeout(runOnWarmupEnd, this.options.warmupMs, this);
    }
    for (const conn of this.conns) conn.pump();
  }

  startMeasuring(): void {
    this.phase = 'measuring';
    this.stats.startMeasuring();
    this.measureStartMs = performance.now();
    this.cpuStart = process.cpuUsage();
    this.hooks.onMeasuring?.();
    this.phaseTimer = setTimeout(runOnEnd, this.options.durationMs, this);
  }

  sweep(): void {
    const now = performance.now();
    for (const conn of this.conns) conn.checkTimeout(now);
  }

  progress(): void {
    this.hooks.onProgress?.({
      phase: this.phase,
      elapsedMs: performance.now() - this.startMs,
      ops: this.stats.completed,
      errors: this.stats.errors,
      opened: this.opened,
      dropped: this.dropped,
    });
  }

  deadline(): void {
    this.stats.error('deadline', 'hard deadline reached: the run was cut short');
    this.stoppedBy = 'deadline';
    this.finish();
  }

  interrupt(): void {
    if (this.finished) return;
    this.stoppedBy = 'interrupt';
    this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.endMs = performance.now();
    if (!this.options.connectOnly || this.connectDoneMs === 0) this.cpuUs = cpuSince(this.cpuStart);
    this.stats.stop();
    this.finished = true;
    this.running = false;
    for (const timer of [this.phaseTimer, this.deadlineTimer]) if (timer !== null) clearTimeout(timer);
    for (const timer of [this.sweepTimer, this.progressTimer]) if (timer !== null) clearInterval(timer);
    this.phaseTimer = this.deadlineTimer = this.sweepTimer = this.progressTimer = null;
    this.result = this.buildResult();
    for (const conn of this.conns) conn.shutdown();
    if (this.liveSockets === 0) this.done();
    else this.graceTimer = setTimeout(runOnGraceEnd, CLOSE_GRACE_MS, this);
  }

  graceEnd(): void {
    this.graceTimer = null;
    for (const conn of this.conns) conn.destroy();
    this.done();
  }

  private done(): void {
    if (this.result === null) return;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    const result = this.result;
    this.result = null;
    this.resolve(result);
  }

  private buildResult(): BenchResult {
    const o = this.options;
    const s = this.stats;
    const h = s.histogram;
    const connectEndMs = this.connectDoneMs === 0 ? this.endMs : this.connectDoneMs;
    const openMs = connectEndMs - this.startMs;
    const elapsedMs = o.connectOnly ? openMs : this.measureStartMs === 0 ? 0 : this.endMs - this.measureStartMs;
    const perSec = (n: number): number => (elapsedMs > 0 ? (n * 1000) / elapsedMs : 0);
    const errorsByKind: Record<string, number> = {};
    for (const [kind, n] of s.errorsByKind) errorsByKind[kind] = n;
    const empty = h.totalCount === 0;
    // A percentile is reported as the top of its bucket, which can lie a little above the exact max.
    const at = (percentile: number): number => (empty ? 0 : Math.min(h.getValueAtPercentile(percentile), h.maxValue));
    return {
      mode: o.mode,
      connectOnly: o.connectOnly,
      url: o.url,
      connections: o.connections,
      openConnections: this.opened,
      rate: o.rate,
      coordinatedOmissionCorrected: o.rate !== null,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      elapsedMs: Math.round(elapsedMs),
      stoppedBy: this.stoppedBy,
      ops: s.ops,
      opsPerSec: perSec(s.ops),
      bytes: s.bytes,
      bytesPerSec: perSec(s.bytes),
      latencyUs: {
        p50: at(50),
        p90: at(90),
        p99: at(99),
        p999: at(99.9),
        max: empty ? 0 : h.maxValue,
        mean: empty ? 0 : Math.round(h.mean),
      },
      errors: s.errors,
      errorsByKind,
      firstError: s.firstError,
      generatorCpuUs: Math.round(this.cpuUs),
      generatorCpuUsPerOp: s.ops > 0 ? this.cpuUs / s.ops : null,
      connect: o.connectOnly
        ? {
            opened: this.opened,
            failed: this.failed,
            openMs: Math.round(openMs),
            handshakesPerSec: openMs > 0 ? (this.opened * 1000) / openMs : 0,
            heldMs: this.connectDoneMs === 0 ? 0 : Math.round(this.endMs - this.connectDoneMs),
            dropped: this.dropped,
          }
        : null,
    };
  }
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function runOnDeadline(run: BenchRun): void {
  run.deadline();
}
function runOnSweep(run: BenchRun): void {
  run.sweep();
}
function runOnProgress(run: BenchRun): void {
  run.progress();
}
function runOnWarmupEnd(run: BenchRun): void {
  run.startMeasuring();
}
function runOnEnd(run: BenchRun): void {
  run.finish();
}
function runOnGraceEnd(run: BenchRun): void {
  run.graceEnd();
}

/** Runs one bench and resolves with its result once every socket is closed; never rejects for network errors. */
export function runBench(options: BenchOptions, hooks: BenchHooks = {}): Promise<BenchResult> {
  return new BenchRun(options, hooks).start();
}
