// upstream/pool: the targets of one upstream, their undici dispatchers and counters;
// not target choice (balancers/) and not health probing (a later issue plugs in through `healthy`).
import { Pool } from 'undici';
import type { TargetSpec, UpstreamSpec } from '../config/compile.js';
import { createRoundRobin } from './balancers/round-robin.js';

export class Target {
  readonly dispatcher: Pool;
  healthy = true;
  activeTunnels = 0;   // open WebSocket tunnels to this target
  inFlight = 0;        // HTTP exchanges waiting for or streaming a response
  constructor(readonly spec: TargetSpec, upstream: UpstreamSpec) {
    this.dispatcher = new Pool(spec.origin, {
      connections: upstream.maxConnectionsPerTarget,
      pipelining: 1,
      connect: { timeout: upstream.connectTimeoutMs, noDelay: true, keepAlive: true },
      headersTimeout: upstream.responseTimeoutMs,
      bodyTimeout: upstream.idleTimeoutMs,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      strictContentLength: true,
    });
  }
}

// A balancer chooses among the usable targets; it never sees unhealthy ones. `exclude` lets a
// retry avoid the target that just failed.
export interface Balancer {
  pick(targets: readonly Target[], exclude: Target | null): Target | null;
}

export class UpstreamPool {
  readonly targets: readonly Target[];
  private readonly primary: readonly Target[];
  private readonly backup: readonly Target[];
  private readonly balancer: Balancer;
  constructor(readonly spec: UpstreamSpec) {
    this.targets = spec.targets.map((t) => new Target(t, spec));
    this.primary = this.targets.filter((t) => !t.spec.backup);
    this.backup = this.targets.filter((t) => t.spec.backup);
    this.balancer = createRoundRobin(this.primary);
  }

  get name(): string {
    return this.spec.name;
  }

  // HOT: per request. Backup targets only serve when no primary target is healthy (nginx `backup`).
  pick(exclude: Target | null = null): Target | null {
    const t = this.balancer.pick(this.primary, exclude);
    if (t !== null) return t;
    for (const b of this.backup) if (b.healthy && b !== exclude) return b;
    return null;
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.dispatcher.close().catch(() => t.dispatcher.destroy())));
  }
}
