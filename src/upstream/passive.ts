// upstream/passive: passive outlier detection for one upstream: the outcomes of real traffic (HTTP
// exchanges, WebSocket handshakes) reported per target. `consecutiveFailures` failures in a row
// (connect errors, resets, timeouts, 5xx answers; anything else resets the count) eject the target
// for ejectFor, doubled for each ejection that follows within maxEjectFor of the last one ended, up
// to maxEjectFor (Envoy's outlier detection grows its ejection the same way). The last healthy
// target of its tier is spared unless `ejectLast`: a struggling target beats none.
import type { PassiveSpec } from '../config/compile.js';
import type { Target, UpstreamPool } from './pool.js';

interface Outcomes {
  failures: number;      // consecutive
  ejections: number;     // ejections in a row (each ending within maxEjectFor of the next)
  lastEndedMs: number;   // when the last ejection ended
}

export class PassiveDetector {
  private readonly byTarget = new Map<Target, Outcomes>();

  constructor(private readonly pool: UpstreamPool, private readonly spec: PassiveSpec) {
    for (const t of pool.targets) this.byTarget.set(t, { failures: 0, ejections: 0, lastEndedMs: 0 });
  }

  // HOT: per exchange. `failure`: null when the target answered (below 500), else what went wrong.
  record(target: Target, failure: string | null): void {
    const o = this.byTarget.get(target);
    if (o === undefined) return;
    if (failure === null) {
      o.failures = 0;
      return;
    }
    // Exchanges that were in flight when it was ejected change nothing.
    if (target.ejectedUntilMs !== 0) return;
    if (++o.failures < this.spec.consecutiveFailures) return;
    const failures = o.failures;
    o.failures = 0;
    if (!this.spec.ejectLast && this.pool.isLastHealthy(target)) return;
    const nowMs = this.pool.clock.nowMs;
    if (o.ejections > 0 && nowMs - o.lastEndedMs > this.spec.maxEjectForMs) o.ejections = 0; // reformed
    const forMs = Math.min(this.spec.ejectForMs * 2 ** o.ejections, this.spec.maxEjectForMs);
    o.ejections++;
    this.pool.eject(target, nowMs + forMs, `ejected: ${failures} consecutive failures (last: ${failure})`);
  }

  // On the pool clock's tick: ejections that are over end.
  sweep(nowMs: number): void {
    for (const [t, o] of this.byTarget) {
      if (t.ejectedUntilMs === 0 || nowMs < t.ejectedUntilMs) continue;
      o.lastEndedMs = nowMs;
      this.pool.eject(t, 0, '');
    }
  }
}
