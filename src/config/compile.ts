// config/compile: turns a checked GatewayConfig into the frozen runtime view the server uses:
// durations and sizes become numbers once, here, and nothing downstream parses strings again.
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { parseDuration } from '../core/duration.js';
import { GatewayError } from '../core/errors.js';
import { parseSize } from '../core/size.js';
import { listenerCertFiles, readCertPair, type ServerCert } from './check-tls.js';
import { compileUpstream, throwTlsProblems, type UpstreamSpec } from './compile-upstream.js';
import type { Problem } from './load.js';
import { OriginList } from '../cors/origins.js';
import { parseRedisUrl, type RedisTarget } from '../store/redis-url.js';
import { compileAuth, compileRouteAuth, type AuthProviderSpec, type RouteAuthSpec } from '../auth/spec.js';
import { websocketSchema, type GatewayConfig, type RouteConfig } from './schema.js';

export type { ServerCert };
export type { BalancePolicy, HashOn, HealthCheckSpec, PassiveSpec, TargetSpec, TlsClientOptions, UpstreamSpec } from './compile-upstream.js';

export interface ListenerSpec {
  readonly host: string;
  readonly port: number;
  // certs[0] is the default: for clients without SNI, or whose name no certificate covers.
  readonly tls: { readonly certs: readonly ServerCert[] } | null;
}

export interface HeaderOps {
  readonly set: readonly (readonly [name: string, value: string])[]; // names lower-cased
  readonly remove: readonly string[];                                  // lower-cased
  readonly drop: ReadonlySet<string>;  // remove and set names: what the header copy skips
}

export interface WebSocketSpec {
  readonly origins: OriginList | null;          // null: any Origin
  readonly pingIntervalMs: number;               // 0 = off
  readonly pongTimeoutMs: number;
  readonly idleTimeoutMs: number;                // 0 = off
  readonly maxLifetimeMs: number;                // 0 = off
  readonly maxMessageBytes: number;
  readonly rateLimit: { readonly messages: number; readonly perMs: number; readonly burst: number } | null;
  readonly maxPerClient: number;                 // 0 = unlimited
  readonly sendTimeoutMs: number;                // 0 = off
}

// Route `cors`, with its answer headers worked out once (cors/cors.ts only copies them).
export interface CorsSpec {
  readonly origins: OriginList | null;   // null: any origin ("*"), answered with `*`
  readonly credentials: boolean;         // never with origins null (config/check-edge.ts)
  readonly allowMethods: string;         // Access-Control-Allow-Methods
  readonly allowHeaders: string | null;  // null: the preflight's Access-Control-Request-Headers, reflected
  readonly exposeHeaders: string | null; // null: none
  readonly maxAge: string | null;        // Access-Control-Max-Age in seconds; null for "0s"
}

// Whose bucket a request takes from (docs/security.md#rate-limits).
export type RateKey = { readonly from: 'ip' | 'user' | 'apiKey' } | { readonly from: 'header'; readonly name: string }; // name lower-cased

export interface RateLimitSpec {
  readonly requests: number;
  readonly perMs: number;
  readonly burst: number;     // the bucket's capacity; defaults to requests
  readonly key: RateKey;
  readonly keyText: string;   // as written (`header:X-Tenant`), part of the bucket names
}

export interface RespondSpec {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: readonly (readonly [string, string])[];
}

export interface RouteSpec {
  readonly name: string;
  readonly host: string | undefined;
  readonly path: string;
  readonly methods: readonly string[] | undefined;
  readonly upstream: string | null;
  readonly respond: RespondSpec | null;
  readonly stripPrefix: string | null;
  readonly rewrite: string | null;
  readonly requestHeaders: HeaderOps | null;
  readonly responseHeaders: HeaderOps | null;
  readonly websocket: WebSocketSpec;
  readonly cors: CorsSpec | null;
  readonly rateLimit: RateLimitSpec | null;
  readonly auth: RouteAuthSpec | null;
  readonly logSample: number; // 0 < logSample ≤ 1: the share of successful http_request lines logged
}

// Where instances share state (docs/store.md); null target: `store: memory`, nothing shared.
export type StoreSpec =
  | { readonly kind: 'memory' }
  | { readonly kind: 'redis'; readonly target: RedisTarget; readonly keyPrefix: string; readonly timeoutMs: number };

export interface CompiledConfig {
  readonly listeners: readonly ListenerSpec[];
  readonly admin: { readonly host: string; readonly port: number; readonly token: string };
  readonly trustedProxies: BlockList;
  readonly trustedProxyCount: number;
  readonly log: GatewayConfig['log'];
  readonly limits: {
    readonly maxHeaderBytes: number;
    readonly maxBodyBytes: number;
    readonly maxConnections: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    readonly drainTimeoutMs: number;
  };
  readonly upstreams: ReadonlyMap<string, UpstreamSpec>;
  readonly routes: readonly RouteSpec[];
  readonly store: StoreSpec;
  readonly auth: ReadonlyMap<string, AuthProviderSpec>;
  readonly anomaly: { readonly enabled: boolean; readonly sigma: number; readonly forMs: number; readonly warmupMs: number; readonly windowMs: number; readonly webhook: string | null };
  readonly metrics: { readonly enabled: boolean };
  readonly source: GatewayConfig;
}

// websocket.origins defaults to cors.origins (a browser page allowed to call the route may open its
// WebSockets); without either, any Origin is let through, and "*" says so explicitly.
function compileWebSocket(w: RouteConfig['websocket'], cors: RouteConfig['cors']): WebSocketSpec {
  const ws = websocketSchema.parse(w ?? {});
  const origins = ws.origins ?? cors?.origins;
  return {
    origins: origins === undefined || origins.includes('*') ? null : new OriginList(origins.map((o) => o.toLowerCase())),
    pingIntervalMs: parseDuration(ws.pingInterval),
    pongTimeoutMs: parseDuration(ws.pongTimeout),
    idleTimeoutMs: parseDuration(ws.idleTimeout),
    maxLifetimeMs: parseDuration(ws.maxLifetime),
    maxMessageBytes: parseSize(ws.maxMessageBytes),
    rateLimit:
      ws.rateLimit === undefined
        ? null
        : { messages: ws.rateLimit.messages, perMs: parseDuration(ws.rateLimit.per), burst: ws.rateLimit.burst ?? ws.rateLimit.messages },
    maxPerClient: ws.maxPerClient ?? 0,
    sendTimeoutMs: parseDuration(ws.sendTimeout),
  };
}

function compileStore(store: GatewayConfig['store']): StoreSpec {
  if (store === 'memory') return { kind: 'memory' };
  const target = parseRedisUrl(store.redis);
  // The schema checked the URL already; a GatewayConfig built around it still gets a named error.
  if (typeof target === 'string') throw new GatewayError('CONFIG_INVALID', `store.redis: ${target}`);
  return { kind: 'redis', target, keyPrefix: store.keyPrefix, timeoutMs: parseDuration(store.timeout) };
}

function compileHeaderOps(ops: { set?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined): HeaderOps | null {
  if (ops === undefined) return null;
  const set = Object.entries(ops.set ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  const remove = (ops.remove ?? []).map((h) => h.toLowerCase());
  return { set, remove, drop: new Set([...remove, ...set.map(([k]) => k)]) };
}

function compileRespond(r: NonNullable<RouteConfig['respond']>): RespondSpec {
  const headers: [string, string][] = Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]);
  let body: Buffer;
  if (r.json !== undefined) {
    body = Buffer.from(JSON.stringify(r.json));
    if (!headers.some(([k]) => k === 'content-type')) headers.push(['content-type', 'application/json']);
  } else {
    body = Buffer.from(r.body ?? '');
    if (!headers.some(([k]) => k === 'content-type') && body.length > 0) headers.push(['content-type', 'text/plain; charset=utf-8']);
  }
  return { status: r.status, body, headers };
}

// The methods a preflight advertises: cors.methods, else the route's own, else what express's cors()
// allows by default (the CORS-safelisted GET, HEAD and POST need no preflight, but are listed too).
const CORS_DEFAULT_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'];

function compileCors(c: NonNullable<RouteConfig['cors']>, routeMethods: readonly string[] | undefined): CorsSpec {
  const any = c.origins.includes('*');
  const methods = c.methods ?? routeMethods?.filter((m) => m !== 'OPTIONS') ?? CORS_DEFAULT_METHODS;
  const maxAgeS = Math.floor(parseDuration(c.maxAge) / 1000);
  return {
    origins: any ? null : new OriginList(c.origins.map((o) => o.toLowerCase())),
    credentials: c.credentials,
    allowMethods: methods.join(', '),
    allowHeaders: c.headers === undefined ? null : c.headers.join(', '),
    exposeHeaders: c.exposeHeaders.length === 0 ? null : c.exposeHeaders.join(', '),
    maxAge: maxAgeS > 0 ? String(maxAgeS) : null,
  };
}

function compileRateLimit(r: NonNullable<RouteConfig['rateLimit']>): RateLimitSpec {
  const key: RateKey = r.key.startsWith('header:') ? { from: 'header', name: r.key.slice(7).toLowerCase() } : { from: r.key as 'ip' | 'user' | 'apiKey' };
  return { requests: r.requests, perMs: parseDuration(r.per), burst: r.burst ?? r.requests, key, keyText: r.key };
}

function compileRoute(r: RouteConfig): RouteSpec {
  return {
    name: r.name,
    host: r.match.host,
    path: r.match.path,
    methods: r.match.methods,
    upstream: r.upstream ?? null,
    respond: r.respond === undefined ? null : compileRespond(r.respond),
    stripPrefix: r.stripPrefix ?? null,
    rewrite: r.rewrite ?? null,
    requestHeaders: compileHeaderOps(r.headers?.request),
    responseHeaders: compileHeaderOps(r.headers?.response),
    websocket: compileWebSocket(r.websocket, r.cors),
    cors: r.cors === undefined ? null : compileCors(r.cors, r.match.methods),
    rateLimit: r.rateLimit === undefined ? null : compileRateLimit(r.rateLimit),
    auth: compileRouteAuth(r.auth),
    logSample: r.log?.sample ?? 1,
  };
}

// config_loaded's `hash`: the first 12 hex digits of the sha256 of the config's canonical JSON
// (keys sorted), so two processes or two reloads can be compared; secrets go in hashed, never logged.
export function configHash(source: GatewayConfig): string {
  return createHash('sha256').update(canonicalJson(source)).digest('hex').slice(0, 12);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}

export function splitHostPort(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (m === null) return { host: '', port: NaN };
  return { host: m[1]!, port: Number(m[2]) };
}

function compileTrusted(list: readonly string[]): BlockList {
  const bl = new BlockList();
  for (const entry of list) {
    const [addr = '', bits] = entry.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(addr, family);
    else bl.addSubnet(addr, Number(bits), family);
  }
  return bl;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof BlockList) && !Buffer.isBuffer(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function readTls(tls: NonNullable<GatewayConfig['listen'][number]['tls']>, index: number): { certs: ServerCert[] } {
  const problems: Problem[] = [];
  const files = listenerCertFiles(tls);
  if (files.length === 0) problems.push({ path: `listen[${index}].tls`, message: 'needs cert and key (PEM files), or certs: [{ cert, key }, ...]' });
  const certs: ServerCert[] = [];
  for (const f of files) {
    const pair = readCertPair(f.cert, f.key, `listen[${index}].tls${f.path === '' ? '' : `.${f.path}`}`, problems);
    if (pair !== null) certs.push(pair);
  }
  throwTlsProblems(problems);
  return { certs };
}

export function compileConfig(config: GatewayConfig): CompiledConfig {
  const admin = splitHostPort(config.admin.listen);
  const upstreams = new Map<string, UpstreamSpec>();
  for (const [name, u] of Object.entries(config.upstreams)) upstreams.set(name, compileUpstream(name, u));
  const compiled: CompiledConfig = {
    listeners: config.listen.map((l, i) => ({ host: l.host, port: l.port, tls: l.tls === undefined ? null : readTls(l.tls, i) })),
    admin: { host: admin.host, port: admin.port, token: config.admin.token },
    trustedProxies: compileTrusted(config.trustedProxies),
    trustedProxyCount: config.trustedProxies.length,
    log: config.log,
    limits: {
      maxHeaderBytes: parseSize(config.limits.maxHeaderBytes),
      maxBodyBytes: parseSize(config.limits.maxBodyBytes),
      maxConnections: config.limits.maxConnections,
      headersTimeoutMs: parseDuration(config.limits.headersTimeout),
      requestTimeoutMs: parseDuration(config.limits.requestTimeout),
      keepAliveTimeoutMs: parseDuration(config.limits.keepAliveTimeout),
      drainTimeoutMs: parseDuration(config.limits.drainTimeout),
    },
    upstreams,
    routes: config.routes.map(compileRoute),
    store: compileStore(config.store),
    auth: compileAuth(config),
    anomaly: {
      enabled: config.anomaly.enabled,
      sigma: config.anomaly.sigma,
      forMs: parseDuration(config.anomaly.for),
      warmupMs: parseDuration(config.anomaly.warmup),
      windowMs: parseDuration(config.anomaly.window),
      webhook: config.anomaly.webhook ?? null,
    },
    metrics: { enabled: config.metrics.enabled },
    source: config,
  };
  for (const r of compiled.routes) deepFreeze(r);
  return compiled;
}
