// upstream/health: active health checks of one upstream: a GET of healthCheck.path to each target
// every interval (±10% jitter, so a fleet of gateways does not probe in step), at most one in flight
// per target. A target is failing after `unhealthyAfter` consecutive failed checks and passing again
// after `healthyAfter` consecutive good ones; the pool (pool.ts) turns that into `healthy`.
// Driven by the pool's clock: sweep() starts the checks that are due and times out slow ones, so
// tests move a ManualClock instead of waiting.
//
// How long a failing target keeps receiving traffic: each check starts at most interval × 1.1 plus
// one clock tick after the one before, and the target is marked down when the `unhealthyAfter`-th
// failed answer (or timeout) arrives: within unhealthyAfter × (interval × 1.1 + tick) + timeout of
// its failure (the pool's own clock ticks every interval / 10). Requests sent to it meanwhile fail,
// unless a retry (connect failures only) or passive ejection (passive.ts) catches them first.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HealthCheckSpec } from '../config/compile.js';
import type { Clock, Sweepable } from '../core/clock.js';
import type { Target } from './pool.js';

const JITTER = 0.1;

// Why a check failed, from the error's code; anything else is reported by its code.
const FAILURE_REASONS: Record<string, string> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ENOTFOUND: 'unresolved',
  EAI_AGAIN: 'unresolved',
};

// Who hears each check's result (the pool): 'ok' or why it failed, whether the target is now
// failing by the consecutive counts, and the clock time the check started.
export interface CheckSink {
  checked(target: Target, result: string, failing: boolean, startedMs: number): void;
}

// One target's checking state; `req` is the check in flight, if any.
interface Probe {
  readonly target: Target;
  readonly checker: HealthChecker;
  dueMs: number;
  startedMs: number;
  req: ClientRequest | null;
  failures: number;   // consecutive
  successes: number;  // consecutive
  failing: boolean;
}

type ProbeRequest = ClientRequest & { probe: Probe };

export class HealthChecker implements Sweepable {
  private readonly probes: Probe[];
  private closed = false;

  constructor(targets: readonly Target[], private readonly spec: HealthCheckSpec, clock: Clock, private readonly sink: CheckSink) {
    // The first checks run on the first tick: a target that is down at start is found out soon.
    const now = clock.nowMs;
    this.probes = targets.map((target) => ({ target, checker: this, dueMs: now, startedMs: 0, req: null, failures: 0, successes: 0, failing: false }));
  }

  // Sweepable (through the pool): times out checks past healthCheck.timeout, starts those due.
  sweep(nowMs: number): void {
    if (this.closed) return;
    for (const p of this.probes) {
      if (p.req !== null) {
        if (nowMs - p.startedMs >= this.spec.timeoutMs) this.settle(p, p.req, 'timeout');
        continue;
      }
      if (nowMs >= p.dueMs) this.start(p, nowMs);
    }
  }

  // A check in flight is cut short; no more results reach the pool.
  close(): void {
    this.closed = true;
    for (const p of this.probes) {
      const req = p.req;
      p.req = null;
      req?.destroy();
    }
  }

  private start(p: Probe, nowMs: number): void {
    const interval = this.spec.intervalMs;
    // Scheduled from the previous due time, not from now: a coarse tick then shortens one gap as
    // much as it stretched the one before, instead of adding up. A clock that stalled does not
    // make up for the missed checks (at most a tenth of an interval is caught up).
    p.dueMs = Math.max(p.dueMs, nowMs - interval * JITTER) + interval * (1 - JITTER + 2 * JITTER * Math.random());
    p.startedMs = nowMs;
    const spec = p.target.spec;
    const host = spec.hostname.includes(':') ? `[${spec.hostname}]` : spec.hostname;
    // agent: false: a check opens its own connection, so it tests what a new exchange would meet,
    // and never waits behind the traffic in the target's pool.
    const req = (spec.secure ? httpsRequest : httpRequest)({
      host: spec.hostname,
      port: spec.port,
      path: this.spec.path,
      method: 'GET',
      agent: false,
      headers: { host: `${host}:${spec.port}`, 'user-agent': 'wsgate-health-check', accept: '*/*', connection: 'close' },
      ...spec.tls, // the same CA, servername and client certificate as the traffic
    }) as ProbeRequest;
    req.probe = p;
    p.req = req;
    req.on('error', reqOnError).on('response', reqOnResponse);
    req.end();
  }

  // One result per check: later events of the same request (the error its destroy() raises) are dropped.
  settle(p: Probe, req: ClientRequest, result: string): void {
    if (p.req !== req) return;
    p.req = null;
    req.destroy();
    if (this.closed) return;
    if (result === 'ok') {
      p.successes++;
      p.failures = 0;
      if (p.failing && p.successes >= this.spec.healthyAfter) p.failing = false;
    } else {
      p.failures++;
      p.successes = 0;
      if (!p.failing && p.failures >= this.spec.unhealthyAfter) p.failing = true;
    }
    this.sink.checked(p.target, result, p.failing, p.startedMs);
  }

  isExpected(status: number): boolean {
    return this.spec.expectStatus.some(([min, max]) => status >= min && status <= max);
  }
}

function reqOnResponse(this: ProbeRequest, res: IncomingMessage): void {
  // The body is not read; the connection is destroyed with the request (Connection: close).
  res.on('error', ignore);
  res.resume();
  const status = res.statusCode ?? 0;
  const checker = this.probe.checker;
  checker.settle(this.probe, this, checker.isExpected(status) ? 'ok' : `status ${status}`);
}

function reqOnError(this: ProbeRequest, err: Error): void {
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? FAILURE_REASONS[code] ?? `error ${code}` : `error ${err.message}`;
  this.probe.checker.settle(this.probe, this, reason);
}

function ignore(): void {}
