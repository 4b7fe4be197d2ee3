// upstream/pool: the targets of one upstream, their connection pools and counters; not target
// choice (balancers/) and not health probing (a later issue plugs in through `healthy`).
// Plain-TCP targets get our HTTP/1.1 client (h1/client.ts, the cheaper one per request); https://
// targets get undici's Pool, which brings TLS.
import { Pool, type Dispatcher } from 'undici';
import type { TargetSpec, UpstreamSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import type { Affinity, DispatchOptions, ExchangeHandler, ExchangeTarget, TargetChooser } from '../core/exchange.js';
import { createBalancer } from './balancers/create.js';
import { H1Pool } from './h1/client.js';

// An unused pooled connection closes after 3-4 s (the pool checks once a second): before the 5 s
// after which Node's own servers close theirs, so a request rarely meets a connection being closed.
const KEEP_ALIVE_TIMEOUT_MS = 3_000;
const MAX_HEAD_BYTES = 64 * 1024;

export class Target implements ExchangeTarget {
  readonly h1: H1Pool | null;
  readonly tls: Pool | null;
  healthy = true;
  activeTunnels = 0;   // open WebSocket tunnels to this target
  inFlight = 0;        // HTTP exchanges waiting for or streaming a response
  constructor(readonly spec: TargetSpec, upstream: UpstreamSpec, clock: Clock | null) {
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
      connect: { timeout: upstream.connectTimeoutMs, noDelay: true, keepAlive: true },
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

// A balancer chooses among the usable targets (it skips unhealthy ones). `exclude` lets a retry
// avoid the target that just failed; `hashKey` is the request's key under `balance: hash`.
export interface Balancer {
  pick(targets: readonly Target[], exclude: ExchangeTarget | null, hashKey: string | null): Target | null;
}

export class UpstreamPool implements TargetChooser {
  readonly targets: readonly Target[];
  private readonly primary: readonly Target[];
  private readonly backup: readonly Target[];
  private readonly balancer: Balancer;
  // `clock`: the gateway's, so the h1 clients' deadlines follow an injected clock in tests.
  constructor(readonly spec: UpstreamSpec, clock: Clock | null = null) {
    this.targets = spec.targets.map((t) => new Target(t, spec, clock));
    this.primary = this.targets.filter((t) => !t.spec.backup);
    this.backup = this.targets.filter((t) => t.spec.backup);
    this.balancer = createBalancer(spec, this.primary);
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
      if (pinned !== undefined && pinned.healthy && pinned !== exclude) return pinned;
    }
    const t = this.balancer.pick(this.primary, exclude, affinity === null ? null : affinity.hashKey);
    if (t !== null) return t;
    for (const b of this.backup) if (b.healthy && b !== exclude) return b;
    return null;
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => (t.h1 !== null ? t.h1.close() : t.tls!.close().catch(() => t.tls!.destroy()))));
  }
}
