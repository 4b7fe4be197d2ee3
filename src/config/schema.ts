// config/schema: the only source of config keys, their types and defaults (SPEC section 2).
// YAML files and `new Gateway({...})` are both checked here; objects are strict, so unknown keys are errors.
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { parseSize } from '../core/size.js';
import { ORIGIN_PATTERN } from '../cors/origins.js';
import { parseRedisUrl } from '../store/redis-url.js';

const duration = z.string().refine((s) => !Number.isNaN(parseDuration(s)), {
  error: 'invalid duration: write a number and a unit with no space, e.g. "500ms", "30s", "5m", "1h"',
});
const size = z.union([z.string(), z.number()]).refine((v) => !Number.isNaN(parseSize(v)), {
  error: 'invalid size: write bytes as a number, or a string like "64kb", "1mb"',
});
const port = z.number().int().min(0).max(65535);

// RFC 9110 §5.1 / §5.5: a header name is a token; a value holds no CR, LF or NUL (it would split
// the head it is written into).
const headerName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'invalid header name: use letters, digits and -' });
const headerValue = z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, { error: 'invalid header value: no line breaks, control characters or characters beyond Latin-1' });
const headerOps = z.strictObject({
  set: z.record(headerName, headerValue).optional(),
  remove: z.array(headerName).optional(),
});

export const listenSchema = z.strictObject({
  port,
  host: z.string().default('0.0.0.0'),
  // PEM files, reread on every reload: `cert` and `key`, or `certs` chosen by SNI (the first is the
  // default). One of the two forms: config/check-tls.ts says which is missing.
  tls: z
    .strictObject({
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      certs: z.array(z.strictObject({ cert: z.string().min(1), key: z.string().min(1) })).min(1, { error: 'certs needs at least one { cert, key }' }).optional(),
    })
    .optional(),
  // SPEC lists it; refused by name rather than as an unknown key, so the message says what to do.
  http2: z
    .boolean()
    .refine((v) => !v, { error: 'HTTP/2 listeners are not available in this version; remove http2 (HTTP/1.1 and WebSocket over HTTP/1.1 are served)' })
    .optional(),
});

export const targetSchema = z.strictObject({
  url: z.string(),
  weight: z.number().int().min(1).max(1000).default(1),
  backup: z.boolean().default(false),
});

// Where `balance: hash` reads its key: the client address, or a header, cookie or query parameter.
const hashOn = z.string().regex(/^(ip|header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|cookie:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|query:[^\s&=#]+)$/, {
  error: 'invalid hashOn: use ip, header:NAME, cookie:NAME or query:NAME',
});
// "2xx", "200", "200-299", or a list of those.
const statusRange = z.union([z.number().int().min(100).max(599), z.string().regex(/^([1-5]xx|[1-5]\d\d(-[1-5]\d\d)?)$/, { error: 'invalid status: use 200, 200-299 or 2xx' })]);

export const healthCheckSchema = z.strictObject({
  path: z.string().regex(/^\/[\x21-\x7e]*$/, { error: 'healthCheck.path must start with / and hold printable ASCII' }).default('/healthz'),
  interval: duration.default('5s'),
  timeout: duration.default('2s'),
  unhealthyAfter: z.number().int().min(1).max(100).default(3),
  healthyAfter: z.number().int().min(1).max(100).default(2),
  expectStatus: z.union([statusRange, z.array(statusRange).min(1)]).default('2xx'),
});

export const passiveSchema = z.strictObject({
  consecutiveFailures: z.number().int().min(1).max(1000).default(5),
  ejectFor: duration.default('30s'),
  maxEjectFor: duration.default('5m'),   // repeat offenders: ejectFor doubles up to this
  ejectLast: z.boolean().default(false), // false: the last healthy target is never ejected
});

export const upstreamSchema = z.strictObject({
  targets: z.array(targetSchema).min(1, { error: 'an upstream needs at least one target' }),
  balance: z.enum(['round_robin', 'least_conn', 'random', 'hash'], { error: 'balance must be round_robin, least_conn, random or hash' }).default('round_robin'),
  hashOn: hashOn.optional(),
  sticky: z.strictObject({ cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'sticky.cookie must be a cookie name (letters, digits, - and _)' }) }).optional(),
  healthCheck: healthCheckSchema.optional(),
  passive: passiveSchema.optional(),
  slowStart: duration.default('0s'),
  onUnhealthy: z.enum(['keep', 'close'], { error: 'onUnhealthy must be keep or close' }).default('keep'),
  closeSpread: duration.default('10s'),
  timeouts: z
    .strictObject({
      connect: duration.default('5s'),
      response: duration.default('30s'),
      idle: duration.default('60s'),
    })
    .prefault({}),
  retries: z.number().int().min(0).max(10).default(1),
  maxConnectionsPerTarget: z.number().int().min(1).default(10_000),
  // For https:// and wss:// targets: PEM files read at compile time (and on reload). `ca` replaces
  // the system CAs; cert + key present a client certificate (mutual TLS).
  tls: z
    .strictObject({
      ca: z.string().min(1).optional(),
      servername: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      insecureSkipVerify: z.boolean().default(false),
    })
    .optional(),
});

// "0s" turns a timer off.
export const websocketSchema = z.strictObject({
  origins: z.array(z.string()).optional(),
  pingInterval: duration.default('30s'),
  pongTimeout: duration.default('10s'),
  idleTimeout: duration.default('0s'),
  maxLifetime: duration.default('0s'),
  maxMessageBytes: size.default('1mb'),
  rateLimit: z
    .strictObject({
      messages: z.number().int().min(1),
      per: duration,
      burst: z.number().int().min(1).optional(),
    })
    .optional(),
  maxPerClient: z.number().int().min(1).optional(),
  // A consumer whose writes stay backed up this long is cut (issue 14); 0s: never.
  sendTimeout: duration.default('30s'),
});

// Route `cors` (docs/security.md#cors). Origins are scheme://host[:port] (compared lower case); "https://*.example.com"
// allows the subdomains of example.com; "*" any origin (then credentials must stay false: config/check-edge.ts).
const corsOrigin = z
  .string()
  .refine((s) => s === '*' || ORIGIN_PATTERN.test(s.toLowerCase()), {
    error: 'an origin is scheme://host[:port] with no path or trailing slash (e.g. https://app.example.com), https://*.example.com for its subdomains, or "*"',
  });
export const corsSchema = z.strictObject({
  origins: z.array(corsOrigin).min(1, { error: 'list at least one origin, e.g. [https://app.example.com], or ["*"]' }),
  credentials: z.boolean().default(false),
  methods: z.array(z.string().regex(/^[A-Z]+$/, { error: 'methods are upper case, e.g. GET' })).min(1).optional(),
  headers: z.array(headerName).optional(),
  exposeHeaders: z.array(headerName).default([]),
  maxAge: duration.default('10m'),
});

// Route `rateLimit` (docs/security.md#rate-limits): a token bucket per client key.
export const rateLimitSchema = z.strictObject({
  requests: z.number().int().min(1),
  per: duration.refine((s) => parseDuration(s) > 0, { error: 'rateLimit.per is a duration above 0, e.g. "1s" or "1m"' }),
  burst: z.number().int().min(1).optional(),
  key: z
    .string()
    .regex(/^(ip|user|apiKey|header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+)$/, { error: 'rateLimit.key is ip, user, apiKey or header:NAME' })
    .default('ip'),
});

// ---- auth (SPEC sections 2 and 5; docs/security.md) ----

const TOKEN_CHARS = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const jwtAlgorithm = z.enum(JWT_ALGORITHMS, {
  error: (iss) =>
    typeof iss.input === 'string' && iss.input.toLowerCase() === 'none'
      ? '"none" is never allowed: an unsigned token proves nothing; list signing algorithms such as HS256 or RS256'
      : `unknown algorithm; use one of ${JWT_ALGORITHMS.join(', ')}`,
});
// Where a bearer token is read: `header` (Authorization: Bearer), `header:NAME`, `query:NAME`, `cookie:NAME`,
// or `protocol` (a Sec-WebSocket-Protocol entry `bearer.<token>`).
const tokenFrom = z.string().regex(new RegExp(`^(header|protocol|header:${TOKEN_CHARS}|cookie:${TOKEN_CHARS}|query:[^\\s&=#]+)$`), {
  error: 'invalid token source: use header, header:NAME, query:NAME, cookie:NAME or protocol',
});
const apiKeyIn = z.string().regex(new RegExp(`^(header:${TOKEN_CHARS}|query:[^\\s&=#]+)$`), { error: 'invalid key source: use header:NAME or query:NAME' });
// claim → request header sent upstream; the client's own copy of that header is always removed.
const forwardClaims = z.record(z.string().min(1), headerName);
const bearerCommon = {
  tokenFrom: z.array(tokenFrom).min(1).default(['header']),
  forwardClaims: forwardClaims.optional(),
  closeOnExpiry: z.boolean().default(false),
  // false: the credential itself (Authorization, the X-API-Key-like header) is removed before the upstream.
  forwardToken: z.boolean().default(false),
  timeout: duration.default('5s'),  // JWKS, discovery and introspection requests
};

export const jwtProviderSchema = z.strictObject({
  type: z.literal('jwt'),
  secret: z.string().min(1, { error: 'secret is empty: set it (or the variable it names) to the HMAC key' }).optional(),
  publicKey: z.string().min(1).optional(),   // a PEM file (SPKI or certificate)
  jwksUrl: z.string().regex(/^https?:\/\/\S+$/, { error: 'jwksUrl must be an http:// or https:// URL' }).optional(),
  issuer: z.string().min(1).optional(),      // checked against `iss`; alone, the JWKS comes from OIDC discovery
  algorithms: z.array(jwtAlgorithm).min(1).optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  clockSkew: duration.default('30s'),
  ...bearerCommon,
});

export const introspectionProviderSchema = z.strictObject({
  type: z.literal('introspection'),
  url: z.string().regex(/^https?:\/\/\S+$/, { error: 'url must be an http:// or https:// URL' }),
  clientId: z.string().optional(),
  clientSecret: z.string().optional(),
  cacheFor: duration.default('60s'),  // an answer is reused at most this long, and never past the token's exp
  ...bearerCommon,
});

export const apiKeyProviderSchema = z.strictObject({
  type: z.literal('apiKey'),
  in: z.array(apiKeyIn).min(1).default(['header:X-API-Key']),
  keys: z.array(
    z.strictObject({
      id: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, { error: 'sha256 is 64 hex digits: run `wsgate hash-key KEY`' }),
      scopes: z.array(z.string()).default([]),
    }),
  ),
  forwardClaims: forwardClaims.optional(),
  forwardToken: z.boolean().default(false),
});

export const authProviderSchema = z.discriminatedUnion('type', [jwtProviderSchema, introspectionProviderSchema, apiKeyProviderSchema], {
  error: 'type must be jwt, introspection or apiKey',
});

export const routeAuthSchema = z.strictObject({
  use: z.string().min(1),
  scopes: z.array(z.string().min(1)).default([]),
});

export const routeSchema = z.strictObject({
  name: z.string().min(1),
  match: z.strictObject({
    host: z.string().optional(),
    path: z.string().startsWith('/', { error: 'a path pattern starts with "/"' }),
    methods: z.array(z.string().regex(/^[A-Z]+$/, { error: 'methods are upper case, e.g. GET' })).optional(),
  }),
  upstream: z.string().optional(),
  respond: z
    .strictObject({
      status: z.number().int().min(100).max(599).default(200),
      json: z.unknown().optional(),
      body: z.string().optional(),
      headers: z.record(headerName, headerValue).optional(),
    })
    .optional(),
  stripPrefix: z.string().startsWith('/').optional(),
  // Written into the upstream request line as is: printable ASCII only (percent-encode the rest).
  rewrite: z.string().startsWith('/').regex(/^[\x21-\x7e]*$/, { error: 'invalid path: printable ASCII without spaces only; percent-encode the rest' }).optional(),
  headers: z.strictObject({ request: headerOps.optional(), response: headerOps.optional() }).optional(),
  websocket: websocketSchema.optional(),
  auth: routeAuthSchema.optional(),
  cors: corsSchema.optional(),
  rateLimit: rateLimitSchema.optional(),
  // A high-traffic route logs this share of its successful http_request lines; errors always log.
  log: z.strictObject({ sample: z.number().gt(0, { error: 'log.sample is above 0 (use 0.001 to keep one line in a thousand)' }).max(1).default(1) }).optional(),
});

export const configSchema = z.strictObject({
  listen: z.array(listenSchema).min(1).default([{ port: 8080, host: '0.0.0.0' }]),
  admin: z
    .strictObject({
      listen: z.string().default('127.0.0.1:9901'),
      token: z.string().default(''),
    })
    .prefault({}),
  // 'auto': one worker per core (os.availableParallelism()); 1 runs in one process, without node:cluster.
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)], { error: 'write a whole number from 1 to 256, or "auto" (one worker per core)' }).default(1),
  trustedProxies: z.array(z.string()).default([]),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      format: z.enum(['json', 'pretty']).default('json'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxHeaderBytes: size.default('16kb'),
      maxBodyBytes: size.default('10mb'),
      maxConnections: z.number().int().min(1).default(100_000),
      headersTimeout: duration.default('15s'),
      requestTimeout: duration.default('5m'),
      keepAliveTimeout: duration.default('75s'),
      drainTimeout: duration.default('30s'),
    })
    .prefault({}),
  // Built-in anomaly detection per route (docs/observability.md): a signal above its baseline's mean
  // + sigma standard deviations for `for` raises an `anomaly` line and wsgate_anomaly_active.
  anomaly: z
    .strictObject({
      enabled: z.boolean().default(true),
      sigma: z.number().min(1).max(100).default(4),
      for: duration.default('30s'),
      warmup: duration.default('5m'),
      window: duration.refine((s) => parseDuration(s) >= 1000, { error: 'anomaly.window is at least 1s' }).default('5s'),
      // Each raise and clear is also POSTed here as JSON, retried with backoff.
      webhook: z.string().regex(/^https?:\/\/[^\s]+$/, { error: 'anomaly.webhook must be an http:// or https:// URL' }).optional(),
    })
    .prefault({}),
  // Metrics collection (docs/observability.md). Off: the request and tunnel paths count nothing,
  // GET /metrics has no samples, the dashboard shows no rates and anomaly detection sees no traffic.
  // Read at start: a reload does not change it.
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
    })
    .prefault({}),
  // What instances share (docs/store.md): 'memory' shares nothing; a Redis store shares rate limits,
  // maxPerClient counts, the connection list and operator kicks. Read at start (a change needs a restart).
  store: z
    .union([
      z.literal('memory'),
      z.strictObject({
        redis: z.string().superRefine((url, ctx) => {
          const target = parseRedisUrl(url);
          if (typeof target === 'string') ctx.addIssue({ code: 'custom', message: target });
        }),
        keyPrefix: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, { error: 'keyPrefix holds letters, digits and : _ . - (1 to 64), e.g. "wsgate:"' }).default('wsgate:'),
        // How long a request may wait on Redis before it is counted locally instead.
        timeout: duration.refine((s) => parseDuration(s) >= 5 && parseDuration(s) <= 5000, { error: 'store.timeout is between 5ms and 5s (default 100ms)' }).default('100ms'),
      }),
    ], { error: 'store is "memory" or { redis: "redis://host:6379" }' })
    .default('memory'),
  upstreams: z.record(z.string(), upstreamSchema).default({}),
  auth: z.record(z.string(), authProviderSchema).optional(),
  routes: z.array(routeSchema).default([]),
});

/** What a user writes (YAML or `new Gateway(...)`): defaults optional. */
export type GatewayConfigInput = z.input<typeof configSchema>;
/** After the schema: every default filled in. */
export type GatewayConfig = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type AuthProviderConfig = z.output<typeof authProviderSchema>;
