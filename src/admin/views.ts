// admin/views: what the admin API shows of a running gateway (SPEC section 6): routes, upstreams
// with their targets, live connections, the config with secrets redacted; and how a cluster
// primary merges its workers' views into one. Typed here once: the tests read these shapes too.
import type { CompiledConfig, WebSocketSpec } from '../config/compile.js';
import type { ConnectionFilter } from './server.js';
import type { InstanceSummaries } from '../store/connection-directory.js';
import { redactRedisUrl } from '../store/redis-url.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { WsTunnel } from '../ws/tunnel.js';

export interface RouteView {
  name: string;
  match: { host: string | null; path: string; methods: readonly string[] | null };
  upstream: string | null;
  respond: { status: number } | null;
  stripPrefix: string | null;
  rewrite: string | null;
  websocket: WebSocketSpec;
  middleware: number; // how many middleware functions run on it (global and its own)
}

export interface TargetView {
  url: string;
  weight: number;
  backup: boolean;
  healthy: boolean;
  healthReason: string;      // 'ok', or why not: 'status 500', 'timeout', 'refused', 'ejected: …'
  lastCheck: { at: string; result: string } | null; // the last active check (ISO 8601); null: none yet or no healthCheck
  ejectedUntil: string | null; // ISO 8601, while passive health keeps it out
  effectiveWeight: number;   // the weight under slow start (the configured one once ramped up)
  activeConnections: number; // open WebSocket tunnels
  inFlightRequests: number;
}

export interface UpstreamView {
  name: string;
  balance: string;
  targets: TargetView[];
}

export interface ConnectionView {
  id: string;
  route: string;
  path: string;          // the client's path, query removed
  host: string;
  client: string;        // the client's address (X-Forwarded-For from a trusted proxy)
  clientPort: number | null; // the peer's port; null when the address was forwarded
  userAgent: string;
  user: string | null;
  target: string;
  protocol: string;
  openedAt: string;      // ISO 8601
  lastActivity: string;  // ISO 8601
  messagesIn: number;    // client → upstream
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  worker?: number;       // with workers: which one holds it
  instance?: string;     // with scope=cluster: the instance that holds it (docs/store.md)
}

export interface ConnectionList {
  connections: ConnectionView[];
  total: number;         // live connections before filter and limit
}

// GET /api/connections?scope=cluster: every instance's connections through the shared store.
export interface ClusterConnectionList extends ConnectionList {
  scope: 'cluster';
  // Each instance listed, with how many connections it holds and when it last published them.
  instances: { instance: string; total: number; publishedAt: string | null }[];
  complete: boolean;     // false: the store did not answer, only this instance's connections are listed
}

export function routeViews(config: CompiledConfig, middlewareCount: (route: string) => number): RouteView[] {
  return config.routes.map((r) => ({
    name: r.name,
    match: { host: r.host ?? null, path: r.path, methods: r.methods ?? null },
    upstream: r.upstream,
    respond: r.respond === null ? null : { status: r.respond.status },
    stripPrefix: r.stripPrefix,
    rewrite: r.rewrite,
    websocket: r.websocket,
    middleware: middlewareCount(r.name),
  }));
}

export function upstreamViews(pools: Iterable<UpstreamPool>): UpstreamView[] {
  return [...pools].map((p) => ({
    name: p.name,
    balance: p.spec.balance,
    targets: p.targets.map((t) => ({
      url: t.spec.origin,
      weight: t.spec.weight,
      backup: t.spec.backup,
      healthy: t.healthy,
      healthReason: t.healthReason,
      lastCheck: t.lastCheckResult === null ? null : { at: new Date(t.lastCheckAtMs).toISOString(), result: t.lastCheckResult },
      ejectedUntil: t.ejectedUntilMs === 0 ? null : new Date(t.ejectedUntilMs).toISOString(),
      effectiveWeight: Math.round(t.effectiveWeight(p.clock.nowMs) * 100) / 100,
      activeConnections: t.activeTunnels,
      inFlightRequests: t.inFlight,
    })),
  }));
}

export function connectionView(t: WsTunnel): ConnectionView {
  return {
    id: t.options.id,
    route: t.options.route,
    path: t.options.path,
    host: t.options.host,
    client: t.options.clientAddress,
    clientPort: t.options.clientPort,
    userAgent: t.options.userAgent,
    user: t.options.user,
    target: t.options.target,
    protocol: t.options.protocol,
    openedAt: new Date(t.openedAtMs).toISOString(),
    lastActivity: new Date(t.lastActivityMs).toISOString(),
    messagesIn: t.messagesIn,
    messagesOut: t.messagesOut,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
  };
}

export function connectionList(tunnels: readonly WsTunnel[], total: number): ConnectionList {
  return { connections: tunnels.map(connectionView), total };
}

// Values of these keys are secrets wherever they appear in the config (SPEC section 6: redacted).
const SECRET_KEYS = new Set(['token', 'secret', 'clientsecret', 'password', 'sha256', 'privatekey', 'apikey', 'webhook']);

export function redactConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactConfig);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // store.redis: the URL stays readable, its password does not.
    if (k === 'redis' && typeof v === 'string') out[k] = redactRedisUrl(v);
    else out[k] = SECRET_KEYS.has(k.toLowerCase()) && typeof v === 'string' && v !== '' ? '[redacted]' : redactConfig(v);
  }
  return out;
}

// ---- a cluster primary merges its workers' views ------------------------------------------------

/**
 * Upstreams by name, targets by URL: counters summed; healthy only if every worker sees it healthy,
 * with the reason of a worker that does not; the latest check and ejection; the lowest slow-start weight.
 */
export function mergeUpstreams(lists: readonly (readonly UpstreamView[])[]): UpstreamView[] {
  const merged = new Map<string, { view: UpstreamView; byKey: Map<string, TargetView> }>();
  for (const list of lists) {
    for (const u of list) {
      let into = merged.get(u.name);
      if (into === undefined) {
        into = { view: { ...u, targets: [] }, byKey: new Map() };
        merged.set(u.name, into);
      }
      // The same URL may be listed twice in one upstream: the nth copy merges with the nth.
      const seen = new Map<string, number>();
      for (const t of u.targets) {
        const n = seen.get(t.url) ?? 0;
        seen.set(t.url, n + 1);
        const key = `${t.url}#${n}`;
        const have = into.byKey.get(key);
        if (have === undefined) {
          const copy = { ...t };
          into.byKey.set(key, copy);
          into.view.targets.push(copy);
        } else {
          have.activeConnections += t.activeConnections;
          have.inFlightRequests += t.inFlightRequests;
          if (have.healthy && !t.healthy) have.healthReason = t.healthReason;
          have.healthy &&= t.healthy;
          if (t.lastCheck !== null && (have.lastCheck === null || t.lastCheck.at > have.lastCheck.at)) have.lastCheck = t.lastCheck;
          if (t.ejectedUntil !== null && (have.ejectedUntil === null || t.ejectedUntil > have.ejectedUntil)) have.ejectedUntil = t.ejectedUntil;
          have.effectiveWeight = Math.min(have.effectiveWeight, t.effectiveWeight);
        }
      }
    }
  }
  return [...merged.values()].map((m) => m.view);
}

/** Every worker's list, each connection with its `worker`, oldest first; `limit` applies after the merge. */
export function mergeConnections(answers: readonly { worker: number; list: ConnectionList }[], limit: number): ConnectionList {
  const all = answers.flatMap(({ worker, list }) => list.connections.map((c) => ({ ...c, worker })));
  all.sort((a, b) => (a.openedAt < b.openedAt ? -1 : a.openedAt > b.openedAt ? 1 : 0));
  return { connections: all.slice(0, limit), total: answers.reduce((sum, a) => sum + a.list.total, 0) };
}

// ---- the cluster view (`store: { redis }`) -------------------------------------------------------

// The filters of GET /api/connections, applied to another instance's published views.
function matches(c: ConnectionView, filter: ConnectionFilter): boolean {
  if (filter.route !== null && c.route !== filter.route) return false;
  if (filter.user !== null && c.user !== filter.user) return false;
  if (filter.path != null && !c.path.startsWith(filter.path)) return false;
  if (filter.client != null && !c.client.startsWith(filter.client)) return false;
  return true;
}

/**
 * This instance's live list (already filtered) with every other instance's published one, each
 * connection with its `instance`, oldest first; `limit` applies after the merge. `others` null:
 * the store did not answer (`complete: false`).
 */
export function clusterConnectionList(local: { instance: string; list: ConnectionList }, others: readonly InstanceSummaries[] | null, filter: ConnectionFilter): ClusterConnectionList {
  const all: ConnectionView[] = local.list.connections.map((c) => ({ ...c, instance: local.instance }));
  const instances: ClusterConnectionList['instances'] = [{ instance: local.instance, total: local.list.total, publishedAt: null }];
  let total = local.list.total;
  for (const o of others ?? []) {
    if (o.instance === local.instance) continue; // our own entry is older than the live list
    instances.push({ instance: o.instance, total: o.total, publishedAt: o.publishedAt });
    total += o.total;
    for (const c of o.connections as ConnectionView[]) if (matches(c, filter)) all.push({ ...c, instance: o.instance });
  }
  all.sort((a, b) => (a.openedAt < b.openedAt ? -1 : a.openedAt > b.openedAt ? 1 : 0));
  return { scope: 'cluster', connections: all.slice(0, filter.limit), total, instances, complete: others !== null };
}
