// upstream/pool: the targets of one upstream, their connection pools, counters and health state
// (`healthy` and why, ejections, slow start, failover to backups); not target choice (balancers/),
// and not how health is learned: active checks (health.ts) and passive outlier detection
// (passive.ts) report here, and every flip of `healthy` is logged as `upstream_health`.
// Plain-TCP targets get our HTTP/1.1 client (h1/client.ts, the cheaper one per request); https://
// targets get undici's Pool, which brings TLS.
import { Pool, type Dispatcher } from 'undici';
import type { TargetSpec, UpstreamSpec } from '../config/compile.js';
import { Clock, type Sweepable } from '../core/clock.js';
import type { Affinity, DispatchOptions, ErrorKind, ExchangeHandler, ExchangeTarget, TargetChooser } from '../core/exchange.js';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/log.js';
import type { TargetMetrics } from '../observability/metrics.js';
import { createBalancer } from './balancers/create.js';
import { H1Pool } from './h1/client.js';
import { HealthChecker } from './health.js';
import { PassiveDetector } from './passive.js';

// An unused pooled connection closes after 3-4 s (the pool checks once a second): before the 5 s
// after which Node's own servers close theirs, so a request rarely meets a connection being closed.
const KEEP_ALIVE_TIMEOUT_MS = 3_000;
const MAX_HEAD_BYTES = 64 * 1024;
// Slow start begins at a tenth of the weight: enough traffic to warm caches and connections,
// not enough to knock over a target that has just come back.
const SLOW_START_FLOOR = 0.1;

export class Target implements ExchangeTarget {
  readonly h1: H1Pool | null;
  readonly tls: Pool | null;
  // What balancers read: neither failing its active checks nor ejected. Targets start healthy, so
  // a start or a reload serves at once; the first checks run on the pool clock's first tick.
  healthy = true;
  healthReason = 'ok';                   // why `healthy` is what it is: 'ok', 'status 500', 'timeout', 'ejected: …'
  checkFailing = false;                  // down by active checks (health.ts)
  checkReason = 'ok';                    // the check result that last turned it down or up
  lastCheckAtMs = 0;                     // pool clock time the last finished check started; 0: none yet
  lastCheckResult: string | null = null; // 'ok' or why that check failed
  ejectedUntilMs = 0;                    // > 0: ejected by passive.ts until this pool clock time
  ejectReason = '';
  healthySinceMs = -1;                   // when it last turned healthy again; -1: healthy from the start
  activeTunnels = 0;   // open WebSocket tunnels to this target
  inFlight = 0;        // HTTP exchanges waiting for or streaming a response
  // Its wsgate_upstream_* children, taken on its first answer or failure (null: none yet, or no gateway).
  metrics: TargetMetrics | null = null;
  // What balancers weigh it by: the configured weight, or less while it slow-starts (the pool's
  // sweep raises it; see effectiveWeight).
  weight: number;
  // maxConnectionsPerTarget: at this many exchanges plus tunnels it takes nothing more.
  readonly maxConnections: number;
  private readonly slowStartMs: number;
  constructor(readonly spec: TargetSpec, upstream: UpstreamSpec, clock: Clock | null, private readonly owner: UpstreamPool | null = null) {
    this.slowStartMs = upstream.slowStartMs;
    this.weight = spec.weight;
    this.maxConnections = upstream.maxConnectionsPerTarget;
    if (!spec.secure) {
      this.tls = null;
      this.h1 = new H1Pool(spec.hostname, spec.port, {
        connections: upstream.maxConnectionsPerTarget,
        connectTimeoutMs: upstream.connectTimeoutMs,
        responseTimeoutMs: upstream.responseTimeoutMs,
        idleTimeoutMs: upstream.idleTimeoutMs,
        keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
        maxHeadBytes: MAX_HEAD_BYTES,
        clock: clock ?? undefined,
      });
      return;
    }
    this.h1 = null;
    this.tls = new Pool(spec.origin, {
      connections: upstream.maxConnectionsPerTarget,
      pipelining: 1,
      connect: { timeout: upstream.connectTimeoutMs, noDelay: true, keepAlive: true, ...spec.tls },
      headersTimeout: upstream.responseTimeoutMs,
      bodyTimeout: upstream.idleTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      keepAliveMaxTimeout: 60_000,
      strictContentLength: true,
    });
  }

  get origin(): string {
    return this.spec.origin;
  }

  get id(): string {
    return this.spec.id;
  }

  // The weight balancers should use under slow start: from a tenth of the configured weight right
  // after the target turned healthy again, rising linearly to all of it over slowStartMs.
  effectiveWeight(nowMs: number): number {
    const weight = this.spec.weight;
    if (this.slowStartMs === 0 || this.healthySinceMs < 0 || !this.healthy) return weight;
    const ramp = (nowMs - this.healthySinceMs) / this.slowStartMs;
    if (ramp >= 1) return weight;
    return weight * (SLOW_START_FLOOR + (1 - SLOW_START_FLOOR) * Math.max(0, ramp));
  }

  // HOT: per exchange and per WebSocket handshake: the outcome, for passive outlier detection.
  report(failure: string | null): void {
    this.owner?.passive?.record(this, failure);
  }

  // HOT: per response head and WebSocket handshake answer (seconds < 0: not timed).
  answered(status: number, seconds: number): void {
    (this.metrics ?? this.takeMetrics())?.answered(status, seconds);
  }

  failed(kind: ErrorKind): void {
    (this.metrics ?? this.takeMetrics())?.failed(kind);
  }

  private takeMetrics(): TargetMetrics | null {
    return (this.metrics = this.owner?.targetMetrics(this) ?? null);
  }

  // HOT: per request. Both clients call the same handler methods (core/exchange.ts).
  dispatch(options: DispatchOptions, handler: ExchangeHandler): void {
    if (this.h1 !== null) {
      this.h1.dispatch(options, handler);
      return;
    }
    const undiciOptions: Dispatcher.DispatchOptions = {
      path: options.path,
      method: options.method,
      headers: options.headers as string[],
      body: options.body,
      blocking: false,
    };
    this.tls!.dispatch(undiciOptions, handler);
  }
}

// HOT: per target per pick. A target takes new work when it is healthy, not the one a retry avoids,
// and under maxConnectionsPerTarget (over it: the next target, or 503 when all are full).
export function usable(t: Target, exclude: ExchangeTarget | null): boolean {
  return t.healthy && t !== exclude && t.inFlight + t.activeTunnels < t.maxConnections;
}

// A balancer chooses among the usable targets (it skips the others, see `usable`). `exclude` lets a retry
// avoid the target that just failed; `hashKey` is the request's key under `balance: hash`.
export interface Balancer {
  pick(targets: readonly Target[], exclude: ExchangeTarget | null, hashKey: string | null): Target | null;
}

// What a pool tells the gateway: health flips go to `log`; `targetDown` runs when a target turns
// unhealthy under `onUnhealthy: close` (server/tunnel-events.ts closes its tunnels).
export interface PoolEvents {
  readonly log: Logger | null;
  targetDown(pool: UpstreamPool, target: Target): void;
  // The per-target metrics (observability/metrics.ts) of one target URL of an upstream.
  targetMetrics?(upstream: string, origin: string): TargetMetrics;
}

export class UpstreamPool implements TargetChooser, Sweepable {
  readonly targets: readonly Target[];
  readonly passive: PassiveDetector | null;
  // Health checks and ejection ends tick on this: the gateway's injected clock in tests, else the
  // pool's own, as each h1 client runs its own (the gateway's ticks for WebSocket timers).
  readonly clock: Clock;
  private readonly primary: readonly Target[];
  private readonly backup: readonly Target[];
  private readonly balancer: Balancer;
  private readonly checker: HealthChecker | null;
  private onBackup = false; // no primary target is healthy: traffic goes to the backups
  private closed = false;
  // `clock`: the gateway's, so the h1 clients' deadlines follow an injected clock in tests.
  constructor(readonly spec: UpstreamSpec, clock: Clock | null = null, private readonly events: PoolEvents | null = null) {
    this.targets = spec.targets.map((t) => new Target(t, spec, clock, this));
    this.primary = this.targets.filter((t) => !t.spec.backup);
    this.backup = this.targets.filter((t) => t.spec.backup);
    this.balancer = createBalancer(spec, this.primary);
    this.clock = clock ?? new Clock(ownTickMs(spec));
    this.passive = spec.passive === null ? null : new PassiveDetector(this, spec.passive);
    this.checker = spec.healthCheck === null ? null : new HealthChecker(this.targets, spec.healthCheck, this.clock, this);
    if (this.checker !== null || this.passive !== null) this.clock.add(this);
  }

  get name(): string {
    return this.spec.name;
  }

  get retries(): number {
    return this.spec.retries;
  }

  get connectTimeoutMs(): number {
    return this.spec.connectTimeoutMs;
  }

  get responseTimeoutMs(): number {
    return this.spec.responseTimeoutMs;
  }

  get idleTimeoutMs(): number {
    return this.spec.idleTimeoutMs;
  }

  get stickyCookie(): string | null {
    return this.spec.stickyCookie;
  }

  // HOT: per request. Backup targets only serve when no primary target is healthy (nginx `backup`).
  pick(exclude: ExchangeTarget | null = null, affinity: Affinity | null = null): Target | null {
    if (affinity !== null && affinity.stickyId !== null) {
      // A sticky client stays on its target while that target is healthy, else it is re-picked.
      const pinned = this.targets.find((x) => x.spec.id === affinity.stickyId);
      // A client pinned to a backup during a failover goes back to the primaries once one recovers.
      if (pinned !== undefined && usable(pinned, exclude) && (!pinned.spec.backup || !this.primary.some(isHealthy))) return pinned;
    }
    const t = this.balancer.pick(this.primary, exclude, affinity === null ? null : affinity.hashKey);
    if (t !== null) return t;
    for (const b of this.backup) if (usable(b, exclude)) return b;
    return null;
  }

  targetMetrics(target: Target): TargetMetrics | null {
    return this.events?.targetMetrics?.(this.spec.name, target.spec.origin) ?? null;
  }

  // What a 503 NO_HEALTHY_TARGET tells the client to wait before trying again: the next health
  // check's worth, or a second.
  get retryAfterS(): number {
    return this.spec.healthCheck === null ? 1 : Math.max(1, Math.ceil(this.spec.healthCheck.intervalMs / 1000));
  }

  // Sweepable: starts the health checks that are due, ends ejections that are over, and raises
  // the weights of targets that slow-start.
  sweep(nowMs: number): void {
    this.checker?.sweep(nowMs);
    this.passive?.sweep(nowMs);
    if (this.spec.slowStartMs > 0) for (const t of this.targets) if (t.weight !== t.spec.weight) t.weight = t.effectiveWeight(nowMs);
  }

  // health.ts: one check's result, and whether the target is now failing (after the consecutive counts).
  checked(target: Target, result: string, failing: boolean, startedMs: number): void {
    target.lastCheckAtMs = startedMs;
    target.lastCheckResult = result;
    if (failing === target.checkFailing) return;
    target.checkFailing = failing;
    target.checkReason = result;
    this.update(target, 'active');
  }

  // passive.ts: takes a target out of rotation until `untilMs`, or puts it back (untilMs 0).
  eject(target: Target, untilMs: number, reason: string): void {
    target.ejectedUntilMs = untilMs;
    target.ejectReason = reason;
    this.update(target, 'passive');
  }

  // True when no other target of its tier (primary or backup) is healthy: passive.ts spares it.
  isLastHealthy(target: Target): boolean {
    const tier = target.spec.backup ? this.backup : this.primary;
    return !tier.some((t) => t !== target && t.healthy);
  }

  // `healthy` follows both sources; a flip is logged, moves traffic to or from the backups, and
  // under `onUnhealthy: close` closes the target's tunnels.
  private update(target: Target, source: 'active' | 'passive'): void {
    const wasHealthy = target.healthy;
    const previousReason = target.healthReason;
    target.healthy = !target.checkFailing && target.ejectedUntilMs === 0;
    target.healthReason = target.checkFailing ? target.checkReason : target.ejectedUntilMs !== 0 ? target.ejectReason : 'ok';
    if (target.healthy === wasHealthy || this.closed) return;
    if (target.healthy) {
      target.healthySinceMs = this.clock.nowMs;
      target.weight = target.effectiveWeight(this.clock.nowMs);
    }
    const log = this.events?.log ?? null;
    const line = {
      event: EVENTS.UPSTREAM_HEALTH,
      upstream: this.spec.name,
      target: target.spec.origin,
      healthy: target.healthy,
      reason: target.healthReason,
      source,
      previous: { healthy: wasHealthy, reason: previousReason },
    };
    if (target.healthy) log?.info(line, 'upstream target healthy');
    else log?.warn(line, 'upstream target unhealthy');
    this.followFailover(log);
    if (!target.healthy && this.spec.onUnhealthy === 'close') this.events?.targetDown(this, target);
  }

  // Backups serve only while no primary is healthy (pick): logged when traffic moves over and back.
  private followFailover(log: Logger | null): void {
    if (this.backup.length === 0 || this.primary.length === 0) return;
    const onBackup = !this.primary.some((t) => t.healthy);
    if (onBackup === this.onBackup) return;
    this.onBackup = onBackup;
    const line = { event: EVENTS.UPSTREAM_HEALTH, upstream: this.spec.name, failover: onBackup ? 'backup' : 'primary', healthyBackups: this.backup.filter((t) => t.healthy).length };
    if (onBackup) log?.warn(line, 'no healthy primary target: traffic goes to the backup targets');
    else log?.info(line, 'a primary target is healthy again: traffic leaves the backup targets');
  }

  // Stops health checks and ejection timers, then closes every target's connections.
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.clock.delete(this);
      this.checker?.close();
    }
    await Promise.all(this.targets.map((t) => (t.h1 !== null ? t.h1.close() : t.tls!.close().catch(() => t.tls!.destroy()))));
  }
}

function isHealthy(t: Target): boolean {
  return t.healthy;
}

// The pool's own clock ticks often enough for ±10% check jitter and short ejections, at most once a second.
function ownTickMs(spec: UpstreamSpec): number {
  let ms = 1000;
  if (spec.healthCheck !== null) ms = Math.min(ms, spec.healthCheck.intervalMs / 10);
  if (spec.passive !== null) ms = Math.min(ms, spec.passive.ejectForMs / 10);
  return Math.max(10, Math.floor(ms));
}
