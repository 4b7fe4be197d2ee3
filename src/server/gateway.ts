// server/gateway: wires config, routing, middleware, upstreams, the HTTP relay and the WebSocket
// tunnel together. The only module that imports all of them (STYLE section 1).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../core/errors.js';
import { parseConfig } from '../config/check.js';
import { compileConfig, type CompiledConfig, type ListenerSpec, type RouteSpec } from '../config/compile.js';
import type { Problem } from '../config/load.js';
import type { GatewayConfigInput } from '../config/schema.js';
import { createMatcher, METHOD_MISMATCH, type Matcher } from '../routing/matcher.js';
import { normalizePath, stripPrefix } from '../routing/normalize.js';
import { runChain, type Middleware, type WsCloseInfo, type WsOpenInfo } from '../middleware/chain.js';
import { UpstreamPool } from '../upstream/pool.js';
import { HttpRelay } from '../http/relay.js';
import { HOP_BY_HOP, connectionTokens, nameLengths } from '../http/hop-by-hop.js';
import { sendError, writeRawError } from '../http/error-response.js';
import { parseErrorToGatewayError } from '../http/framing.js';
import {
  clientAddress,
  createRequestId,
  createTraceparent,
  isSafeRequestId,
  isTrustedPeer,
  isTraceId,
  isValidTraceparent,
  traceparentFor,
  plainAddress,
} from '../http/forwarded.js';
import { randomHex } from '../core/random.js';
import { acceptKey, checkClientHandshake, rawHandshakeError, switchingProtocols, upstreamHandshake } from '../ws/handshake.js';
import { WsTunnel, type TunnelObserver } from '../ws/tunnel.js';
import { rawUpstreamHandshake } from '../ws/upstream-socket.js';
import { CLOSE_CODES } from '../ws/close-codes.js';
import { createLogger, type Logger } from '../observability/log.js';
import { EVENTS } from '../observability/events.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { createAdminServer, type ConnectionFilter, type ReloadResult } from '../admin/server.js';
import { applyLimits, createListener, listen } from './listener.js';
import { TunnelRegistry } from '../ws/registry.js';
import { Clock } from '../core/clock.js';
import { Exchange } from './exchange.js';

// Names the gateway sets itself; a client's copies are dropped (or kept, from trusted peers).
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'traceparent', 'expect']);
// The lengths of every request header name the gateway drops or replaces itself.
const DROP_LENGTHS = nameLengths([...HOP_BY_HOP, ...FORWARDED]);
const WS_CLOSE_TIMEOUT_MS = 5_000;

// One route of the running config, with what it needs at request time resolved once.
interface RouteRuntime {
  readonly spec: RouteSpec;
  readonly pool: UpstreamPool | null;
  readonly chain: readonly Middleware[] | null;   // null: no middleware, the fast path
  readonly info: { readonly name: string; readonly upstream: string | null };
}

// Everything a request needs from the config, swapped as one reference.
interface Runtime {
  readonly config: CompiledConfig;
  readonly matcher: Matcher<RouteRuntime>;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
}

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
  /** The clock behind WebSocket deadlines (heartbeat, idle, lifetime); tests pass a manual one. */
  clock?: Clock;
}

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

type OwnedRes = ServerResponse & { gateway: Gateway; exchangeStart: number; routeName: string; requestId: string; relay?: HttpRelay };
type HandshakeSocket = Socket & { handshaking: boolean };
type CountedSocket = Socket & { gateway: Gateway; overLimit?: boolean };

function connectionOnClose(this: CountedSocket): void {
  this.gateway.connectionClosed();
}
// Marked when onRequest refused a request's framing itself: llhttp may then fail on the same body.
type FramingSocket = Socket & { framingRefused?: true };

export class Gateway implements TunnelObserver {
  readonly log: Logger;
  private runtime: Runtime;
  private readonly globalMiddleware: Middleware[] = [];
  private readonly routeMiddleware = new Map<string, Middleware[]>();
  private servers: Server[] = [];
  private listenerSpecs: ListenerSpec[] = [];
  private reloadSource: (() => unknown) | null = null;
  private reloading: Promise<void> = Promise.resolve();
  // Listeners a reload removed: they accept nothing new, but their open connections still drain.
  private retiredServers: Server[] = [];
  // Upstream WebSocket handshakes in flight: a shutdown cancels them rather than waiting them out.
  private readonly pendingHandshakes = new Set<{ destroy(): void }>();
  private adminServer: Server | null = null;
  // Prometheus metrics (GET /metrics); the admin method is metrics(), hence the field's name.
  private readonly prom: GatewayMetrics;
  private readonly registry: TunnelRegistry;
  private readonly clock: Clock;
  private inFlight = 0;
  private openConnections = 0;
  private draining = false;
  private closing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private tunnelWaiters: (() => void)[] = [];
  private readonly standalone: boolean;

  constructor(config: GatewayConfigInput, options: GatewayOptions = {}) {
    const compiled = compileConfig(parseConfig(config));
    this.log = options.logger ?? createLogger(compiled.log);
    this.standalone = options.standalone ?? true;
    this.clock = options.clock ?? new Clock(1000);
    this.prom = new GatewayMetrics({ defaultMetrics: options.defaultMetrics ?? false, upstreams: () => this.runtime.pools.values() });
    this.registry = new TunnelRegistry(this.prom);
    this.runtime = this.buildRuntime(compiled);
    this.onRequest = this.onRequest.bind(this);
    this.onUpgrade = this.onUpgrade.bind(this);
    this.onClientError = this.onClientError.bind(this);
    this.onConnection = this.onConnection.bind(this);
  }

  /** Global middleware (`use(fn)`) or middleware for one route by name (`use('chat', fn)`). */
  use(routeOrMiddleware: string | Middleware, middleware?: Middleware): this {
    if (typeof routeOrMiddleware === 'function') this.globalMiddleware.push(routeOrMiddleware);
    else {
      if (middleware === undefined) throw new TypeError('use(route, middleware): middleware is missing');
      if (!this.runtime.config.routes.some((r) => r.name === routeOrMiddleware)) throw new TypeError(`use(): unknown route "${routeOrMiddleware}"`);
      const list = this.routeMiddleware.get(routeOrMiddleware) ?? [];
      list.push(middleware);
      this.routeMiddleware.set(routeOrMiddleware, list);
    }
    // Middleware changes which routes take the fast path: rebuild the route table (pools are kept).
    this.runtime = this.buildRuntime(this.runtime.config, this.runtime.pools);
    return this;
  }

  get config(): CompiledConfig {
    return this.runtime.config;
  }

  /** The traffic listeners' bound addresses (useful with `port: 0`). */
  addresses(): BoundAddress[] {
    return this.servers.map((s) => {
      const a = s.address() as AddressInfo;
      return { host: a.address, port: a.port };
    });
  }

  adminAddress(): BoundAddress | null {
    const a = this.adminServer?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : null;
  }

  async listen(): Promise<void> {
    const config = this.runtime.config;
    const handlers = { request: this.onRequest, upgrade: this.onUpgrade, clientError: this.onClientError, connection: this.onConnection };
    try {
      for (const spec of config.listeners) {
        const server = createListener(spec, config.limits, handlers);
        this.servers.push(server);
        this.listenerSpecs.push(spec);
        await listen(server, spec.host, spec.port);
      }
      if (this.standalone) {
        const admin = createAdminServer(this, config.admin.token);
        this.adminServer = admin;
        await listen(admin, config.admin.host, config.admin.port);
      }
    } catch (err) {
      await this.closeServers();
      throw err;
    }
    if (!this.standalone) return;
    this.log.info(
      { event: EVENTS.LISTENING, listeners: this.addresses(), admin: this.adminAddress(), routes: config.routes.length },
      'wsgate listening',
    );
  }

  /** Graceful stop (SPEC section 10): stop accepting, finish in-flight HTTP within the drain period, close WebSockets with 1001. */
  close(): Promise<void> {
    this.closing ??= this.drainAndStop();
    return this.closing;
  }

  get ready(): boolean {
    return !this.draining && this.servers.length > 0;
  }

  private async drainAndStop(): Promise<void> {
    this.draining = true;
    const drainMs = this.runtime.config.limits.drainTimeoutMs;
    this.log.info({ event: EVENTS.DRAINING, inFlight: this.inFlight, websockets: this.registry.size, drainTimeoutMs: drainMs }, 'draining');
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of this.servers) s.closeIdleConnections();
    this.closeAllTunnels(drainMs);
    for (const r of this.pendingHandshakes) r.destroy();
    await Promise.race([this.whenIdle(), delay(drainMs)]);
    for (const s of [...this.servers, ...this.retiredServers]) s.closeAllConnections();
    await Promise.race([this.whenNoTunnels(), delay(WS_CLOSE_TIMEOUT_MS + 100)]);
    for (const t of [...this.registry.values()]) t.destroyBoth();
    this.clock.stop();
    await closed;
    await this.closeServers();
    await Promise.all([...this.runtime.pools.values()].map((p) => p.close()));
    this.log.info({ event: EVENTS.STOPPED }, 'stopped');
    await new Promise<void>((resolve) => this.log.flush(() => resolve()));
  }

  private async closeServers(): Promise<void> {
    const all = [...this.servers, ...this.retiredServers, ...(this.adminServer ? [this.adminServer] : [])];
    await Promise.all(all.map((s) => new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); })));
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private whenNoTunnels(): Promise<void> {
    if (this.registry.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.tunnelWaiters.push(resolve));
  }

  // SPEC section 10 wants 1001 for every tunnel; closing 10,000 at once makes 10,000 clients
  // reconnect in the same millisecond. They are closed in batches spread over up to a quarter of the
  // drain period (about 1 ms per tunnel, at most 10 s).
  private closeAllTunnels(drainMs: number): void {
    const tunnels = [...this.registry.values()];
    const spreadMs = Math.min(tunnels.length, Math.floor(drainMs / 4), 10_000);
    const batches = Math.max(1, Math.min(tunnels.length, Math.ceil(spreadMs / 10)));
    const perBatch = Math.ceil(tunnels.length / batches);
    for (let b = 0; b < batches; b++) {
      const slice = tunnels.slice(b * perBatch, (b + 1) * perBatch);
      const close = (): void => {
        for (const t of slice) t.close(CLOSE_CODES.GOING_AWAY, 'gateway shutting down', new GatewayError('SHUTTING_DOWN'));
      };
      if (b === 0) close();
      else setTimeout(close, Math.round((b * spreadMs) / batches)).unref();
    }
  }

  private buildRuntime(config: CompiledConfig, previousPools?: ReadonlyMap<string, UpstreamPool>): Runtime {
    this.clock.setTick(clockTickFor(config));
    const pools = previousPools ?? new Map([...config.upstreams].map(([name, spec]) => [name, new UpstreamPool(spec)]));
    const entries = config.routes.map((spec) => {
      const own = this.routeMiddleware.get(spec.name) ?? [];
      const chain = this.globalMiddleware.length + own.length === 0 ? null : [...this.globalMiddleware, ...own];
      const route: RouteRuntime = {
        spec,
        pool: spec.upstream === null ? null : pools.get(spec.upstream) ?? null,
        chain,
        info: Object.freeze({ name: spec.name, upstream: spec.upstream }),
      };
      return { host: spec.host, path: spec.path, methods: spec.methods, value: route };
    });
    return { config, matcher: createMatcher(entries), pools };
  }

  // ---- HTTP -------------------------------------------------------------------------------

  // HOT: per request.
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if ((req.socket as CountedSocket).overLimit === true) {
      req.socket.destroy(); // already answered 503 by onConnection
      return;
    }
    const started = performance.now();
    const rt = this.runtime;
    const owned = res as OwnedRes;
    owned.exchangeStart = started;
    owned.gateway = this;
    owned.routeName = '';
    this.inFlight++;
    res.on('close', exchangeOnClose); // in-flight count and the access log
    const peer = plainAddress(req.socket.remoteAddress);
    const trusted = isTrustedPeer(peer, rt.config.trustedProxies, rt.config.trustedProxyCount);
    const requestId = requestIdOf(req, trusted);
    owned.requestId = requestId;
    if (this.draining) res.shouldKeepAlive = false;

    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    const path = normalizePath(rawPath);
    if (path === null) return sendError(res, new GatewayError('PATH_OUTSIDE_ROOT', 'path is malformed or climbs above the root'), requestId);
    const te = req.headers['transfer-encoding'];
    if (te !== undefined && (te.toLowerCase() !== 'chunked' || req.httpVersionMinor === 0)) {
      // llhttp decoded only the chunking: another coding (`gzip, chunked`) would reach the upstream
      // undeclared, and RFC 9112 §6.1 makes Transfer-Encoding on HTTP/1.0 faulty framing.
      (req.socket as FramingSocket).framingRefused = true;
      res.setHeader('connection', 'close');
      return sendError(res, new GatewayError('AMBIGUOUS_FRAMING', 'Transfer-Encoding must be "chunked" alone, on HTTP/1.1'), requestId);
    }
    const upgrade = req.headers.upgrade;
    if (upgrade !== undefined && upgrade.toLowerCase() === 'websocket') {
      // Node sends valid upgrades to onUpgrade; this one lacks `Connection: upgrade`.
      return sendError(res, new GatewayError('WS_BAD_HANDSHAKE', 'Connection must contain "upgrade"'), requestId);
    }
    const host = req.headers.host ?? '';
    const method = req.method ?? 'GET';
    const m = rt.matcher.match(host, path, method);
    if (m === null) return sendError(res, new GatewayError('ROUTE_NOT_FOUND', `no route for ${method} ${path}`), requestId);
    if (m === METHOD_MISMATCH) {
      const allow = rt.matcher.allowedMethods(host, path).join(', ');
      return sendError(res, new GatewayError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`), requestId, [['allow', allow]]);
    }
    const route = m.value;
    owned.routeName = route.spec.name;
    const client = clientAddress(peer, trusted, headerString(req.headers['x-forwarded-for']), rt.config.trustedProxies, rt.config.trustedProxyCount);
    if (route.chain === null) {
      this.terminalHttp(req, res, route, rt, path, q === -1 ? '' : target.slice(q), peer, trusted, requestId, null, null);
      return;
    }
    const ex = new Exchange(req, res, false, route.info, m.params, requestId, client, answerHttp);
    runChain(route.chain, ex, (ctx) =>
      new Promise<void>((resolve) => {
        this.terminalHttp(req, res, route, rt, path, q === -1 ? '' : target.slice(q), peer, trusted, requestId, ctx as Exchange, () => {
          (ctx as Exchange).status = res.statusCode;
          resolve();
        });
      }),
    ).then(
      () => {
        if (!ex.responded && !res.headersSent && !res.writableEnded && (res as OwnedRes).relay === undefined) {
          sendError(res, new GatewayError('INTERNAL', 'middleware neither answered nor called next()'), requestId);
        }
      },
      (err: unknown) => {
        this.log.error({ event: EVENTS.ERROR, code: 'INTERNAL', route: route.spec.name, requestId, err }, 'middleware failed');
        sendError(res, new GatewayError('INTERNAL', undefined, { cause: err }), requestId);
      },
    );
  }

  private terminalHttp(
    req: IncomingMessage,
    res: ServerResponse,
    route: RouteRuntime,
    rt: Runtime,
    path: string,
    query: string,
    peer: string,
    trusted: boolean,
    requestId: string,
    ex: Exchange | null,
    done: (() => void) | null,
  ): Promise<void> {
    const spec = route.spec;
    if (spec.respond !== null) {
      const r = spec.respond;
      res.writeHead(r.status, flatten(r.headers, requestId));
      res.end(req.method === 'HEAD' ? undefined : r.body);
      done?.();
      return Promise.resolve();
    }
    const pool = route.pool!;
    const lengthHeader = req.headers['content-length'];
    const hasBody = (lengthHeader !== undefined && lengthHeader !== '0') || req.headers['transfer-encoding'] !== undefined;
    const maxBody = rt.config.limits.maxBodyBytes;
    if (lengthHeader !== undefined && Number(lengthHeader) > maxBody) {
      res.setHeader('connection', 'close');
      sendError(res, new GatewayError('BODY_TOO_LARGE', `request body of ${lengthHeader} bytes exceeds limits.maxBodyBytes (${maxBody})`), requestId);
      done?.();
      return Promise.resolve();
    }
    const headers = upstreamRequestHeaders(req, rt.config, spec, peer, trusted, requestId, ex);
    // The relay hangs itself on res (exchangeOnClose and the access log find it there).
    new HttpRelay(req, res, pool, upstreamPath(spec, path) + query, headers, spec.responseHeaders, requestId, hasBody, maxBody, done === null ? null : done).start();
    return Promise.resolve();
  }

  // ---- WebSocket -------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, duplex: Duplex, head: Buffer): void {
    const socket = duplex as HandshakeSocket;
    socket.on('error', handshakeSocketOnError);
    if ((socket as Socket as CountedSocket).overLimit === true) {
      socket.destroy();
      return;
    }
    socket.handshaking = true;
    const rt = this.runtime;
    const peer = plainAddress(socket.remoteAddress);
    const trusted = isTrustedPeer(peer, rt.config.trustedProxies, rt.config.trustedProxyCount);
    const requestId = requestIdOf(req, trusted);
    const started = performance.now();
    const reject = (err: GatewayError, routeName: string): void => {
      writeRawError(socket, err, requestId, rawHandshakeError(err));
      this.accessLog(req, routeName, err.status, started, requestId, err.code);
    };
    if (this.draining) return reject(new GatewayError('SHUTTING_DOWN'), '');
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = normalizePath(q === -1 ? target : target.slice(0, q));
    if (path === null) return reject(new GatewayError('PATH_OUTSIDE_ROOT', 'path is malformed or climbs above the root'), '');
    const host = req.headers.host ?? '';
    const m = rt.matcher.match(host, path, 'GET');
    if (m === null || m === METHOD_MISMATCH) return reject(new GatewayError('ROUTE_NOT_FOUND', `no route for ${path}`), '');
    const route = m.value;
    const bad = checkClientHandshake(req);
    if (bad !== null) return reject(bad, route.spec.name);
    if (route.pool === null) return reject(new GatewayError('WS_BAD_HANDSHAKE', `route ${route.spec.name} does not proxy WebSockets`), route.spec.name);
    const origins = route.spec.websocket.origins;
    if (origins !== null) {
      // Browsers always send Origin; a missing one is a non-browser client, which origins cannot police.
      const origin = req.headers.origin;
      if (origin !== undefined && !origins.includes(origin.toLowerCase())) {
        return reject(new GatewayError('WS_ORIGIN_FORBIDDEN', `Origin ${origin} is not allowed on route ${route.spec.name}`), route.spec.name);
      }
    }
    const client = clientAddress(peer, trusted, headerString(req.headers['x-forwarded-for']), rt.config.trustedProxies, rt.config.trustedProxyCount);
    const query = q === -1 ? '' : target.slice(q);
    const ex = route.chain === null ? null : new Exchange(req, null, true, route.info, m.params, requestId, client, answerRaw(socket));
    const terminal = (): Promise<void> =>
      new Promise<void>((resolve) => {
        this.openTunnel(req, socket, head, route, rt, path, query, peer, trusted, client, requestId, ex, started, (status) => {
          if (ex !== null) ex.status = status;
          resolve();
        });
      });
    if (ex === null) {
      void terminal();
      return;
    }
    runChain(route.chain!, ex, terminal).then(
      () => {
        if (!ex.responded && socket.handshaking && ex.status === 0) reject(new GatewayError('INTERNAL', 'middleware neither answered nor called next()'), route.spec.name);
      },
      (err: unknown) => {
        this.log.error({ event: EVENTS.ERROR, code: 'INTERNAL', route: route.spec.name, requestId, err }, 'middleware failed');
        if (socket.handshaking) reject(new GatewayError('INTERNAL', undefined, { cause: err }), route.spec.name);
      },
    );
  }

  private openTunnel(
    req: IncomingMessage,
    socket: HandshakeSocket,
    head: Buffer,
    route: RouteRuntime,
    rt: Runtime,
    path: string,
    query: string,
    peer: string,
    trusted: boolean,
    client: string,
    requestId: string,
    ex: Exchange | null,
    started: number,
    done: (status: number) => void,
  ): void {
    const pool = route.pool!;
    const wsSpec = route.spec.websocket;
    const user = ex?.identity?.id ?? null;
    // maxPerClient is set per route, so it counts this route's tunnels only.
    const clientKey = `${route.spec.name}\0${user !== null ? `user:${user}` : `ip:${client}`}`;
    const fail = (err: GatewayError, extra = ''): void => {
      writeRawError(socket, err, requestId, extra);
      this.accessLog(req, route.spec.name, err.status, started, requestId, err.code);
      done(err.status);
    };
    if (!this.registry.reserve(clientKey, wsSpec.maxPerClient)) {
      this.prom.wsConnectionsLimited(route.spec.name);
      return fail(new GatewayError('WS_TOO_MANY_CONNECTIONS', `over maxPerClient (${wsSpec.maxPerClient}) on route ${route.spec.name}`), 'retry-after: 1\r\n');
    }
    const target = pool.pick();
    if (target === null) {
      this.registry.release(clientKey);
      return fail(new GatewayError('NO_HEALTHY_TARGET', `upstream ${pool.name} has no healthy target`));
    }
    const key = req.headers['sec-websocket-key']!;
    const accept = acceptKey(key);
    const headers = upstreamRequestHeaders(req, rt.config, route.spec, peer, trusted, requestId, ex);
    let clientLeft = false;
    const handshake = target.spec.secure ? upstreamHandshake : rawUpstreamHandshake;
    const upstreamReq = handshake(
      target.spec,
      upstreamPath(route.spec, path) + query,
      headers,
      accept,
      headerString(req.headers['sec-websocket-protocol']),
      pool.spec.connectTimeoutMs + pool.spec.responseTimeoutMs,
      socket,
      (result) => {
        this.pendingHandshakes.delete(upstreamReq);
        socket.off('close', onClientGone);
        socket.off('end', onClientGone);
        socket.handshaking = false;
        if (result.socket === null || clientLeft || socket.destroyed || socket.readableEnded || this.draining) this.registry.release(clientKey);
        // The client left (FIN or reset) while we waited: no answer, no tunnel, status 499.
        if (clientLeft || socket.destroyed || (result.socket !== null && socket.readableEnded)) {
          result.socket?.destroy();
          socket.destroy();
          this.accessLog(req, route.spec.name, 499, started, requestId, null);
          return done(499);
        }
        if (result.socket === null) {
          if (result.error !== null && result.status === result.error.status) {
            // Failed before the upstream said anything we could relay (or cancelled by a shutdown).
            const err = this.draining ? new GatewayError('SHUTTING_DOWN') : result.error;
            if (!socket.writableEnded) writeRawError(socket, err, requestId);
            this.accessLog(req, route.spec.name, err.status, started, requestId, err.code);
            return done(err.status);
          }
          this.accessLog(req, route.spec.name, result.status, started, requestId, result.error?.code ?? null);
          return done(result.status);
        }
        if (this.draining) {
          // Shutdown began while the upstream answered: its tunnel would outlive the 1001 sweep.
          result.socket.destroy();
          const err = new GatewayError('SHUTTING_DOWN');
          writeRawError(socket, err, requestId);
          this.accessLog(req, route.spec.name, err.status, started, requestId, err.code);
          return done(err.status);
        }
        socket.write(switchingProtocols(accept, result.protocol, result.extensions));
        socket.off('error', handshakeSocketOnError);
        const tunnel = new WsTunnel(
          socket,
          result.socket,
          {
            id: randomHex(8),
            route: route.spec.name,
            clientAddress: client,
            clientKey,
            user,
            target: target.spec.origin,
            protocol: result.protocol,
            extensions: result.extensions,
            websocket: wsSpec,
            closeTimeoutMs: WS_CLOSE_TIMEOUT_MS,
          },
          this,
          this.clock,
        );
        target.activeTunnels++;
        this.prom.wsOpened(route.spec.name);
        tunnelTargets.set(tunnel, target);
        this.registry.add(tunnel);
        this.clock.add(this.registry);
        if (ex !== null && ex.closeHooks !== null) tunnelHooks.set(tunnel, ex.closeHooks);
        if (this.log.isLevelEnabled('info')) {
          this.log.info(
            { event: EVENTS.WS_OPEN, id: tunnel.options.id, route: route.spec.name, client, target: target.spec.origin, protocol: result.protocol, requestId },
            'ws open',
          );
        }
        if (ex !== null && ex.openHooks !== null) {
          const info = openInfo(tunnel);
          for (const fn of ex.openHooks) callHook(this.log, fn, info);
        }
        tunnel.start(head, result.head);
        done(101);
      },
    );
    const onClientGone = (): void => {
      clientLeft = true;
      upstreamReq.destroy();
    };
    // The client socket is not read during the handshake, but its FIN still arrives as 'end'.
    socket.once('close', onClientGone);
    socket.once('end', onClientGone);
    this.pendingHandshakes.add(upstreamReq);
  }

  // TunnelObserver: the tunnel is fully closed.
  onTunnelClose(tunnel: WsTunnel): void {
    this.registry.delete(tunnel);
    this.registry.release(tunnel.options.clientKey);
    if (this.registry.size === 0) this.clock.delete(this.registry);
    const target = tunnelTargets.get(tunnel);
    if (target !== undefined) target.activeTunnels--;
    this.prom.wsClosed(tunnel, tunnel.closeCode, tunnel.initiator, (tunnel.closedAtMs - tunnel.openedAtMs) / 1000, tunnel.rateLimited);
    // The info object is built only for someone who reads it (a closing storm at warn level skips it).
    const hooks = tunnelHooks.get(tunnel);
    if (hooks === undefined && !this.log.isLevelEnabled('info')) return this.afterTunnelClose();
    const info = closeInfo(tunnel);
    this.log.info(
      {
        event: EVENTS.WS_CLOSE,
        id: info.id,
        route: info.route,
        client: info.clientAddress,
        target: info.target,
        code: info.code,
        reason: info.reason,
        initiator: info.initiator,
        durationMs: info.durationMs,
        messagesIn: info.messagesIn,
        messagesOut: info.messagesOut,
        bytesIn: info.bytesIn,
        bytesOut: info.bytesOut,
        ...(tunnel.error !== null ? { error: tunnel.error.code } : {}),
      },
      'ws close',
    );
    if (hooks !== undefined) for (const fn of hooks) callHook(this.log, fn, info);
    this.afterTunnelClose();
  }

  private afterTunnelClose(): void {
    if (this.registry.size === 0) for (const w of this.tunnelWaiters.splice(0)) w();
  }

  // limits.maxConnections over all listeners: the connection over it gets a 503 and is closed
  // (SPEC section 2), rather than the silent drop of Node's server.maxConnections.
  private onConnection(socket: Socket): void {
    this.openConnections++;
    socket.once('close', connectionOnClose);
    (socket as CountedSocket).gateway = this;
    if (this.openConnections > this.runtime.config.limits.maxConnections) {
      (socket as CountedSocket).overLimit = true;
      socket.on('error', handshakeSocketOnError);
      writeRawError(socket, new GatewayError('OVER_CAPACITY', `the gateway holds limits.maxConnections (${this.runtime.config.limits.maxConnections}) connections`), createRequestId());
    }
  }

  connectionClosed(): void {
    this.openConnections--;
  }

  private onClientError(err: Error & { code?: string }, socket: Duplex): void {
    if ((socket as FramingSocket).framingRefused === true) {
      // Already answered (and logged) by onRequest: a second answer would follow the first on the wire.
      socket.end();
      return;
    }
    const gwErr = parseErrorToGatewayError(err);
    if (gwErr === null || !socket.writable) {
      socket.destroy();
      return;
    }
    const requestId = createRequestId();
    writeRawError(socket as Socket, gwErr, requestId);
    this.log.info({ event: EVENTS.HTTP_REQUEST, status: gwErr.status, code: gwErr.code, requestId, client: plainAddress((socket as Socket).remoteAddress) }, 'rejected');
  }

  exchangeFinished(res: OwnedRes): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
    this.prom.httpFinished(res.routeName, res.req.method ?? 'GET', res.writableFinished ? res.statusCode : 499, (performance.now() - res.exchangeStart) / 1000);
    if (!this.log.isLevelEnabled('info')) return;
    const req = res.req;
    const relay = res.relay;
    this.log.info(
      {
        event: EVENTS.HTTP_REQUEST,
        route: res.routeName,
        method: req.method,
        path: withoutQuery(req.url),
        status: res.writableFinished ? res.statusCode : 499,
        durationMs: Math.round((performance.now() - res.exchangeStart) * 1000) / 1000,
        requestId: res.requestId,
        client: plainAddress(req.socket?.remoteAddress),
        ...(relay !== undefined && relay.target !== null ? { target: relay.target.spec.origin } : {}),
        ...(relay !== undefined && relay.error !== null ? { code: relay.error.code } : {}),
      },
      'request',
    );
  }

  private accessLog(req: IncomingMessage, route: string, status: number, started: number, requestId: string, code: string | null): void {
    this.prom.wsRefused(route, status);
    if (!this.log.isLevelEnabled('info')) return;
    this.log.info(
      {
        event: EVENTS.HTTP_REQUEST,
        route,
        method: req.method,
        path: withoutQuery(req.url),
        status,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        requestId,
        client: plainAddress(req.socket?.remoteAddress),
        websocket: true,
        ...(code !== null ? { code } : {}),
      },
      'request',
    );
  }

  // ---- admin views (AdminSource) ----------------------------------------------------------

  routes(): unknown {
    return this.runtime.config.routes.map((r) => ({
      name: r.name,
      match: { host: r.host ?? null, path: r.path, methods: r.methods ?? null },
      upstream: r.upstream,
      respond: r.respond === null ? null : { status: r.respond.status },
      stripPrefix: r.stripPrefix,
      rewrite: r.rewrite,
      websocket: r.websocket,
      middleware: (this.routeMiddleware.get(r.name)?.length ?? 0) + this.globalMiddleware.length,
    }));
  }

  upstreams(): unknown {
    return [...this.runtime.pools.values()].map((p) => ({
      name: p.name,
      balance: p.spec.balance,
      targets: p.targets.map((t) => ({
        url: t.spec.origin,
        weight: t.spec.weight,
        backup: t.spec.backup,
        healthy: t.healthy,
        activeConnections: t.activeTunnels,
        inFlightRequests: t.inFlight,
      })),
    }));
  }

  // AdminSource: GET /metrics, in the Prometheus text format.
  metrics(): Promise<string> {
    return this.prom.text();
  }

  /** This gateway's metrics as prom-client JSON, for a cluster primary to merge. */
  metricsJson(): Promise<unknown> {
    return this.prom.json();
  }

  connection(id: string): unknown | null {
    const t = this.registry.get(id);
    return t === undefined ? null : connectionView(t);
  }

  closeConnection(id: string, code: number, reason: string): boolean {
    const t = this.registry.get(id);
    if (t === undefined) return false;
    t.close(code, reason, new GatewayError('WS_OPERATOR_CLOSE', reason));
    return true;
  }

  redactedConfig(): unknown {
    return redact(this.runtime.config.source);
  }

  connections(filter: ConnectionFilter): unknown {
    const list = this.registry.list(filter);
    return { connections: list.map(connectionView), total: this.registry.size };
  }

  /** Where POST /api/reload and SIGHUP read the new config from (the CLI sets the file loader). */
  setReloadSource(source: (() => unknown) | null): void {
    this.reloadSource = source;
  }

  // AdminSource: reload from the reload source (the config file).
  async reload(): Promise<ReloadResult> {
    if (this.reloadSource === null) return { ok: false, noSource: true, problems: [], message: 'this gateway has no config file to reload; call gateway.applyConfig(config)' };
    let raw: unknown;
    try {
      raw = this.reloadSource();
    } catch (err) {
      const problems = (err as { problems?: Problem[] }).problems ?? [];
      this.log.warn({ event: EVENTS.CONFIG_REJECTED, problems, reason: (err as Error).message }, 'config rejected');
      return { ok: false, problems, message: (err as Error).message };
    }
    return this.applyConfig(raw);
  }

  /**
   * Swaps in a new config atomically (SPEC section 10): new requests use it, established WebSockets
   * continue unless their route or target is gone (then 1012 after the drain period). An invalid
   * config changes nothing and is reported.
   */
  applyConfig(input: unknown): Promise<ReloadResult> {
    // One reload at a time: a SIGHUP and a POST arriving together must not both build from the
    // same old runtime (each would close pools the other still uses).
    const run = this.reloading.then(() => this.swapConfig(input));
    this.reloading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async swapConfig(input: unknown): Promise<ReloadResult> {
    let compiled: CompiledConfig;
    try {
      compiled = compileConfig(parseConfig(input));
    } catch (err) {
      const problems = (err as { problems?: Problem[] }).problems ?? [];
      this.log.warn({ event: EVENTS.CONFIG_REJECTED, problems, reason: problems.length > 0 ? undefined : (err as Error).message }, 'config rejected');
      return { ok: false, problems, message: problems.length > 0 ? `${problems.length} problem(s) in the new config; the running config is unchanged` : (err as Error).message };
    }
    const old = this.runtime;
    const notes: string[] = [];
    if (JSON.stringify(compiled.source.admin) !== JSON.stringify(old.config.source.admin)) notes.push('admin changes need a restart');
    if (compiled.source.workers !== old.config.source.workers) notes.push('workers changes need a restart');
    // Pools whose upstream is unchanged carry over (warm connections, counters); others are new.
    const pools = new Map<string, UpstreamPool>();
    for (const [name, spec] of compiled.upstreams) {
      const prev = old.pools.get(name);
      pools.set(name, prev !== undefined && JSON.stringify(prev.spec) === JSON.stringify(spec) ? prev : new UpstreamPool(spec));
    }
    let next: Runtime;
    try {
      next = this.buildRuntime(compiled, pools);
      await this.applyListeners(compiled);
    } catch (err) {
      for (const [name, p] of pools) if (old.pools.get(name) !== p) void p.close();
      this.log.warn({ event: EVENTS.CONFIG_REJECTED, reason: (err as Error).message }, 'config rejected');
      return { ok: false, problems: [], message: (err as Error).message };
    }
    this.runtime = next;
    for (const [name, p] of old.pools) if (pools.get(name) !== p) void p.close().catch(() => undefined);
    const orphans = this.orphanedTunnels(next);
    if (orphans.length > 0) {
      const timer = setTimeout(() => {
        // A later reload may have brought the route (or target) back: only those still orphaned close.
        const still = new Set(this.orphanedTunnels(this.runtime));
        for (const t of orphans) if (still.has(t)) t.close(CLOSE_CODES.SERVICE_RESTART, 'route changed by a config reload', new GatewayError('WS_ROUTE_REMOVED'));
      }, compiled.limits.drainTimeoutMs);
      timer.unref();
    }
    const message = `${compiled.routes.length} routes, ${compiled.upstreams.size} upstreams; ${orphans.length} WebSockets will get 1012 after ${compiled.limits.drainTimeoutMs} ms${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`;
    this.log.info({ event: EVENTS.CONFIG_LOADED, routes: compiled.routes.length, upstreams: compiled.upstreams.size, orphanedWebSockets: orphans.length, notes }, 'config loaded');
    return { ok: true, problems: [], message };
  }

  // Tunnels whose route is gone, or whose target left the route's upstream.
  private orphanedTunnels(rt: Runtime): WsTunnel[] {
    const out: WsTunnel[] = [];
    for (const t of this.registry.values()) {
      const spec = rt.config.routes.find((r) => r.name === t.options.route);
      const up = spec?.upstream == null ? undefined : rt.config.upstreams.get(spec.upstream);
      if (up === undefined || !up.targets.some((x) => x.origin === t.options.target)) out.push(t);
    }
    return out;
  }

  // Listeners follow the config like Envoy's LDS: new ones open, removed ones stop accepting (their
  // open connections finish), unchanged ones stay bound. Limits apply to new connections.
  private async applyListeners(config: CompiledConfig): Promise<void> {
    const keyOf = (l: { host: string; port: number; tls: unknown }): string => `${l.host}|${l.port}|${l.tls === null ? '' : 'tls'}`;
    // Matched one to one, not by key alone: two `port: 0` listeners on one host are two listeners.
    const unmatched = this.listenerSpecs.map((spec, i) => ({ key: keyOf(spec), i }));
    const kept = new Set<number>();
    const toOpen: ListenerSpec[] = [];
    for (const spec of config.listeners) {
      const at = unmatched.findIndex((u) => u.key === keyOf(spec));
      if (at === -1) toOpen.push(spec);
      else kept.add(unmatched.splice(at, 1)[0]!.i);
    }
    const handlers = { request: this.onRequest, upgrade: this.onUpgrade, clientError: this.onClientError, connection: this.onConnection };
    const opened: Server[] = [];
    const openedSpecs: ListenerSpec[] = [];
    try {
      for (const spec of toOpen) {
        const server = createListener(spec, config.limits, handlers);
        await listen(server, spec.host, spec.port);
        opened.push(server);
        openedSpecs.push(spec);
      }
    } catch (err) {
      for (const s of opened) s.close();
      throw err;
    }
    const keptServers: Server[] = [];
    const keptSpecs: ListenerSpec[] = [];
    this.servers.forEach((s, i) => {
      const spec = this.listenerSpecs[i]!;
      if (kept.has(i)) {
        applyLimits(s, config.limits);
        keptServers.push(s);
        keptSpecs.push(spec);
      } else {
        s.close();
        s.closeIdleConnections();
        this.retiredServers.push(s);
      }
    });
    this.servers = [...keptServers, ...opened];
    this.listenerSpecs = [...keptSpecs, ...openedSpecs];
  }
}

const tunnelTargets = new WeakMap<WsTunnel, import('../upstream/pool.js').Target>();
const tunnelHooks = new WeakMap<WsTunnel, ((info: WsCloseInfo) => void)[]>();

// Values of these keys are secrets wherever they appear in the config (SPEC section 6: redacted).
const SECRET_KEYS = new Set(['token', 'secret', 'password', 'sha256', 'privatekey', 'apikey']);

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) && typeof v === 'string' && v !== '' ? '[redacted]' : redact(v);
  }
  return out;
}

// The clock ticks at a quarter of the smallest WebSocket timer in use (clamped by Clock.setTick).
function clockTickFor(config: CompiledConfig): number {
  let min = 4000;
  for (const r of config.routes) {
    const w = r.websocket;
    for (const ms of [w.pingIntervalMs, w.pongTimeoutMs, w.idleTimeoutMs, w.maxLifetimeMs]) if (ms > 0 && ms < min) min = ms;
  }
  return min / 4;
}

function connectionView(t: WsTunnel): unknown {
  return {
    id: t.options.id,
    route: t.options.route,
    client: t.options.clientAddress,
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

function openInfo(t: WsTunnel): WsOpenInfo {
  return {
    id: t.options.id,
    route: t.options.route,
    clientAddress: t.options.clientAddress,
    target: t.options.target,
    protocol: t.options.protocol,
    openedAt: new Date(t.openedAtMs),
  };
}

function closeInfo(t: WsTunnel): WsCloseInfo {
  return {
    ...openInfo(t),
    code: t.closeCode,
    reason: t.closeReason,
    initiator: t.initiator,
    durationMs: t.closedAtMs - t.openedAtMs,
    messagesIn: t.messagesIn,
    messagesOut: t.messagesOut,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
  };
}

function callHook<T>(log: Logger, fn: (info: T) => void, info: T): void {
  try {
    fn(info);
  } catch (err) {
    log.error({ event: EVENTS.ERROR, code: 'INTERNAL', err }, 'lifecycle hook threw');
  }
}

function exchangeOnClose(this: OwnedRes): void {
  this.gateway.exchangeFinished(this);
  this.relay?.clientClosed();
}

function handshakeSocketOnError(this: Socket): void {
  this.destroy();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// The query stays out of logs: it may carry a credential (`?access_token=`, `?api_key=`; SPEC section 8).
function withoutQuery(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

// SPEC section 3: a trusted peer's X-Request-Id is kept (when it is safe to log); otherwise ours.
function requestIdOf(req: IncomingMessage, trusted: boolean): string {
  const sent = req.headers['x-request-id'];
  return trusted && typeof sent === 'string' && isSafeRequestId(sent) ? sent : createRequestId();
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function flatten(headers: readonly (readonly [string, string])[], requestId: string): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) out.push(k, v);
  out.push('x-request-id', requestId);
  return out;
}

function answerHttp(ex: Exchange, status: number, body: Buffer, headers: [string, string][]): void {
  const res = ex.res!;
  if (res.headersSent) return;
  res.writeHead(status, flatten(headers, ex.requestId).concat('content-length', String(body.length)));
  res.end(ex.req.method === 'HEAD' ? undefined : body);
}

function answerRaw(socket: HandshakeSocket): (ex: Exchange, status: number, body: Buffer, headers: [string, string][]) => void {
  return (ex, status, body, headers) => {
    if (!socket.handshaking || socket.destroyed) return;
    socket.handshaking = false;
    let head = `HTTP/1.1 ${status} ${statusText(status)}\r\nconnection: close\r\nx-request-id: ${ex.requestId}\r\ncontent-length: ${body.length}\r\n`;
    for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
    socket.end(Buffer.concat([Buffer.from(head + '\r\n'), body]));
  };
}

function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

// The path the upstream sees: normalized, then stripPrefix, then rewrite's prefix.
function upstreamPath(spec: RouteSpec, path: string): string {
  let out = spec.stripPrefix === null ? path : stripPrefix(path, spec.stripPrefix);
  if (spec.rewrite !== null) out = spec.rewrite === '/' ? out : out === '/' ? spec.rewrite : spec.rewrite.replace(/\/$/, '') + out;
  return out;
}

// HOT: per request. Copies the client's raw headers minus hop-by-hop ones (and those Connection
// names), adds X-Forwarded-*, X-Request-Id and traceparent, then the route's set/remove.
function upstreamRequestHeaders(req: IncomingMessage, config: CompiledConfig, spec: RouteSpec, peer: string, trusted: boolean, requestId: string, ex: Exchange | null): string[] {
  const raw = req.rawHeaders;
  const h = req.headers;
  const named = connectionTokens(headerString(h.connection));
  const ops = spec.requestHeaders;
  const out: string[] = [];
  const plain = named === null && ops === null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (plain && (name.length >= DROP_LENGTHS.length || DROP_LENGTHS[name.length] === 0)) {
      out.push(name, raw[i + 1]!);
      continue;
    }
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || FORWARDED.has(lower) || (named !== null && named.has(lower))) continue;
    if (ops !== null && (ops.remove.includes(lower) || ops.set.some((s) => s[0] === lower))) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  appendForwarded(out, req, peer, trusted, requestId);
  if (ops !== null) for (const [k, v] of ops.set) out.push(k, v);
  if (ex !== null) for (const [k, v] of ex.upstreamHeaders) setFlat(out, k, v);
  return out;
}

// tracestate needs nothing here: it is an ordinary header, copied with the others.
function appendForwarded(out: string[], req: IncomingMessage, peer: string, trusted: boolean, requestId: string): void {
  const h = req.headers;
  const xff = headerString(h['x-forwarded-for']);
  out.push('x-forwarded-for', trusted && xff !== undefined && xff !== '' ? `${xff}, ${peer}` : peer);
  const proto = headerString(h['x-forwarded-proto']);
  out.push('x-forwarded-proto', trusted && proto !== undefined ? proto : (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const fhost = headerString(h['x-forwarded-host']);
  out.push('x-forwarded-host', trusted && fhost !== undefined ? fhost : h.host ?? '');
  out.push('x-request-id', requestId);
  const tp = headerString(h.traceparent);
  out.push('traceparent', tp !== undefined && isValidTraceparent(tp) ? tp : isTraceId(requestId) ? traceparentFor(requestId) : createTraceparent());
}

function setFlat(out: string[], name: string, value: string): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i]!.toLowerCase() === name) {
      out.splice(i, 2);
      i -= 2;
    }
  }
  out.push(name, value);
}

