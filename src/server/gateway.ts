// server/gateway: the library's Gateway, a facade over the server's parts: construct (config,
// logger, metrics, runtime), use() middleware, listen(), close() (server/drain.ts), reload and
// applyConfig (server/reload.ts), and the admin views (admin/views.ts). The request paths live in
// http-ingress.ts and ws-ingress.ts, wired to the listeners by ServerState.
import type { AddressInfo } from 'node:net';
import { clusterConnectionList, connectionList, connectionView, redactConfig, routeViews, upstreamViews, type ClusterConnectionList, type ConnectionList, type ConnectionView, type RouteView, type UpstreamView } from '../admin/views.js';
import { createAdminServer, validOperatorCode, type ConnectionFilter, type ReloadResult } from '../admin/server.js';
import { parseConfig } from '../config/check.js';
import { compileConfig, configHash, type CompiledConfig } from '../config/compile.js';
import type { GatewayConfigInput } from '../config/schema.js';
import { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Middleware } from '../middleware/chain.js';
import { AnomalyMonitor, type AnomalySignal } from '../observability/anomaly.js';
import { EVENTS } from '../observability/events.js';
import { createLogger, type Logger } from '../observability/log.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { MAX_PUBLISHED } from '../store/connection-directory.js';
import { SharedStore } from '../store/shared-store.js';
import { TunnelRegistry } from '../ws/registry.js';
import { closeServers, drainAndStop } from './drain.js';
import { createListener, listen } from './listener.js';
import { applyConfig, reloadFromSource } from './reload.js';
import { createEdge } from './edge.js';
import { buildRuntime, clockTickFor, createPools, wsRouteNames } from './runtime.js';
import { ServerState } from './state.js';
import { poolEvents } from './tunnel-events.js';
import { runWarmup, warmupLimits, type WarmupLimits, type WarmupOption } from './warmup.js';

// What an instance publishes to the cluster list: every connection, up to the directory's cap.
const ALL_CONNECTIONS = { route: null, user: null, limit: MAX_PUBLISHED } as const;

export interface GatewayOptions {
  /** A pino logger to use instead of the one built from `config.log`. */
  logger?: Logger;
  /**
   * `false`: no admin listener and no `listening` line. For a cluster worker (`workers: N`): the
   * primary serves the admin API for all workers and logs `listening` once every one listens.
   */
  standalone?: boolean;
  /** Also export prom-client's process and Node.js metrics; once per process (the CLI sets it). */
  defaultMetrics?: boolean;
  /** The clock behind WebSocket and upstream deadlines (heartbeat, idle, lifetime); tests pass a manual one. */
  clock?: Clock;
  /**
   * Before the listeners accept, relay a short burst of loopback traffic through a private gateway,
   * so the request paths have run before the first clients arrive (what it buys is measured in
   * docs/performance.md, "Cold start"). Off by default for
   * library users; `wsgate start` turns it on (`--warmup D` sets its budget, `--no-warmup` turns it off). Never counted, listed or
   * logged as traffic; a failure logs a `warmup` warning and the gateway starts anyway.
   */
  warmup?: WarmupOption;
  /**
   * Bind the traffic listeners in this process even in a node:cluster worker, instead of sharing
   * the primary's handle for the same address (node's `exclusive`). The warm-up's private gateway
   * sets it, so its port-0 listener is never the one a worker's real `port: 0` listener shares.
   */
  exclusive?: boolean;
}

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

export class Gateway {
  readonly log: Logger;
  private readonly state: ServerState;
  private readonly standalone: boolean;
  private readonly anomaly: AnomalyMonitor;
  // `store: { redis }`: what this instance shares with the others (null: `store: memory`).
  private readonly store: SharedStore | null;
  private readonly warmup: WarmupLimits | null;
  private readonly exclusive: boolean;
  private closing: Promise<void> | null = null;

  constructor(config: GatewayConfigInput, options: GatewayOptions = {}) {
    const compiled = compileConfig(parseConfig(config));
    this.log = options.logger ?? createLogger(compiled.log);
    this.standalone = options.standalone ?? true;
    this.warmup = warmupLimits(options.warmup);
    this.exclusive = options.exclusive ?? false;
    const clock = options.clock ?? new Clock(1000);
    clock.setTick(clockTickFor(compiled));
    const poolClock = options.clock ?? null;
    const middleware = { global: [], byRoute: new Map<string, Middleware[]>() };
    const prom = new GatewayMetrics({
      enabled: compiled.metrics.enabled,
      defaultMetrics: options.defaultMetrics ?? false,
      upstreams: () => this.state.runtime.pools.values(),
      tunnels: () => this.state.registry.values(),
      wsRoutes: () => wsRouteNames(this.state.runtime),
    });
    this.store =
      compiled.store.kind === 'redis'
        ? new SharedStore(compiled.store, { log: this.log, prom, now: () => clock.nowMs }, {
            snapshot: () => connectionList(this.state.registry.list(ALL_CONNECTIONS), this.state.registry.size),
            // Another instance asks: the same bounds as DELETE /api/connections/:id here (RFC 6455 §5.5: 123 bytes).
            close: (id, code, reason) => validOperatorCode(code) && Buffer.byteLength(reason) <= 123 && this.closeLocal(id, code, reason),
          })
        : null;
    const edge = createEdge(compiled, { log: this.log, prom, clock, rateStore: this.store?.rates ?? null }, null);
    const runtime = buildRuntime(compiled, middleware, createPools(compiled, poolClock, poolEvents(this.log, () => this.state)), edge);
    const registry = new TunnelRegistry(prom);
    registry.shareCounts(this.store?.slots ?? null);
    this.state = new ServerState(this.log, prom, registry, clock, poolClock, middleware, runtime);
    // Reads the config on every window: a reload's anomaly settings apply from the next one.
    this.anomaly = new AnomalyMonitor(prom, this.log, () => this.state.runtime.config.anomaly);
  }

  /** Global middleware (`use(fn)`) or middleware for one route by name (`use('chat', fn)`). */
  use(routeOrMiddleware: string | Middleware, middleware?: Middleware): this {
    const lists = this.state.middleware;
    if (typeof routeOrMiddleware === 'function') lists.global.push(routeOrMiddleware);
    else {
      if (middleware === undefined) throw new TypeError('use(route, middleware): middleware is missing');
      if (!this.config.routes.some((r) => r.name === routeOrMiddleware)) throw new TypeError(`use(): unknown route "${routeOrMiddleware}"`);
      const list = lists.byRoute.get(routeOrMiddleware) ?? [];
      list.push(middleware);
      lists.byRoute.set(routeOrMiddleware, list);
    }
    // Middleware changes which routes take the fast path: rebuild the route table (pools are kept).
    const rt = this.state.runtime;
    this.state.runtime = buildRuntime(rt.config, lists, rt.pools, rt.edge);
    return this;
  }

  get config(): CompiledConfig {
    return this.state.runtime.config;
  }

  /** The traffic listeners' bound addresses (useful with `port: 0`). */
  addresses(): BoundAddress[] {
    return this.state.servers.map((s) => {
      const a = s.address() as AddressInfo;
      return { host: a.address, port: a.port };
    });
  }

  adminAddress(): BoundAddress | null {
    const a = this.state.adminServer?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : null;
  }

  async listen(): Promise<void> {
    const state = this.state;
    const config = this.config;
    if (this.warmup !== null) {
      const real = { logLevel: config.log.level, metricsEnabled: config.metrics.enabled };
      await runWarmup(this.warmup, (c, logger) => new Gateway(c, { logger, standalone: false, exclusive: true }), this.log, real);
    }
    try {
      if (this.store !== null) {
        // Never waits for Redis: a store down at start reports degraded and recovers by itself.
        await this.store.open();
        state.clock.add(this.store);
      }
      for (const spec of config.listeners) {
        const server = createListener(spec, config.limits, state.handlers);
        state.servers.push(server);
        state.listenerSpecs.push(spec);
        await listen(server, spec.host, spec.port, this.exclusive);
      }
      if (this.standalone) {
        const admin = createAdminServer(this, config.admin.token);
        state.adminServer = admin;
        await listen(admin, config.admin.host, config.admin.port);
      }
    } catch (err) {
      await closeServers(state);
      await this.closeStore();
      throw err;
    }
    state.clock.add(this.anomaly); // the drain stops the clock, and with it the monitor
    if (!this.standalone) return;
    this.log.info({ event: EVENTS.CONFIG_LOADED, trigger: 'start', routes: config.routes.length, upstreams: config.upstreams.size, hash: configHash(config.source) }, 'config loaded');
    this.log.info(
      { event: EVENTS.LISTENING, listeners: this.addresses(), admin: this.adminAddress(), routes: config.routes.length },
      'wsgate listening',
    );
  }

  /** Graceful stop (SPEC section 10): stop accepting, finish in-flight HTTP within the drain period, close WebSockets with 1001. */
  close(): Promise<void> {
    this.closing ??= drainAndStop(this.state).then(() => this.closeStore());
    return this.closing;
  }

  private async closeStore(): Promise<void> {
    if (this.store === null) return;
    this.state.clock.delete(this.store);
    await this.store.close();
  }

  get ready(): boolean {
    return !this.state.draining && this.state.servers.length > 0;
  }

  /** Where POST /api/reload and SIGHUP read the new config from (the CLI sets the file loader). */
  setReloadSource(source: (() => unknown) | null): void {
    this.state.reloadSource = source;
  }

  /** Rereads the config from the reload source (POST /api/reload, SIGHUP). */
  reload(): Promise<ReloadResult> {
    return reloadFromSource(this.state);
  }

  /**
   * Swaps in a new config atomically (SPEC section 10): new requests use it, established WebSockets
   * continue unless their route or target is gone (then 1012 after the drain period). An invalid
   * config changes nothing and is reported.
   */
  applyConfig(input: unknown): Promise<ReloadResult> {
    return applyConfig(this.state, input);
  }

  // ---- admin views (AdminSource) ----------------------------------------------------------

  routes(): RouteView[] {
    const lists = this.state.middleware;
    return routeViews(this.config, (name) => lists.global.length + (lists.byRoute.get(name)?.length ?? 0));
  }

  upstreams(): UpstreamView[] {
    return upstreamViews(this.state.runtime.pools.values());
  }

  /** This instance's connections; with `scope: 'cluster'`, every instance's (through the store). */
  connections(filter: ConnectionFilter): ConnectionList | Promise<ClusterConnectionList> {
    const registry = this.state.registry;
    if (filter.scope === 'cluster') return this.clusterConnections(filter);
    return connectionList(registry.list(filter), registry.size);
  }

  private async clusterConnections(filter: ConnectionFilter): Promise<ClusterConnectionList> {
    const registry = this.state.registry;
    const local = { instance: this.store?.instanceId ?? 'local', list: connectionList(registry.list({ ...filter, limit: Math.min(filter.limit, ALL_CONNECTIONS.limit) }), registry.size) };
    const others = this.store === null ? [] : await this.store.connections();
    return clusterConnectionList(local, others, filter);
  }

  /** A live connection here, else (with a store) wherever it lives. */
  connection(id: string): ConnectionView | null | Promise<ConnectionView | null> {
    const t = this.state.registry.get(id);
    if (t !== undefined) return connectionView(t);
    if (this.store === null) return null;
    return this.clusterConnections({ route: null, user: null, limit: ALL_CONNECTIONS.limit, scope: 'cluster' }).then((list) => list.connections.find((c) => c.id === id) ?? null);
  }

  /** Closes a connection here, else (with a store) asks the instance that holds it. */
  closeConnection(id: string, code: number, reason: string): boolean | Promise<boolean> {
    if (this.closeLocal(id, code, reason)) return true;
    return this.store === null ? false : this.store.kick(id, code, reason);
  }

  private closeLocal(id: string, code: number, reason: string): boolean {
    const t = this.state.registry.get(id);
    if (t === undefined) return false;
    t.close(code, reason, new GatewayError('WS_OPERATOR_CLOSE', reason));
    return true;
  }

  redactedConfig(): unknown {
    return redactConfig(this.config.source);
  }

  /** The anomalies active now (route and signal), as wsgate_anomaly_active reads 1. */
  anomalies(): { route: string; signal: AnomalySignal }[] {
    return this.anomaly.active();
  }

  /** GET /metrics, in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.state.prom.text();
  }

  /** This gateway's metrics as prom-client JSON, for a cluster primary to merge. */
  metricsJson(): Promise<unknown> {
    return this.state.prom.json();
  }
}
