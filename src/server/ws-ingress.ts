// server/ws-ingress: the WebSocket upgrade path, from Node's 'upgrade' event to a tunnel: every
// check that can refuse a handshake (shutdown, path, route, RFC 6455, Origin, middleware,
// maxPerClient, a healthy target), then our own handshake with the chosen upstream. The socket
// itself belongs to a PendingUpgrade until the tunnel takes it.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../core/errors.js';
import { randomHex } from '../core/random.js';
import { clientAddress, isTrustedPeer, plainAddress } from '../http/forwarded.js';
import { stickyCookieLine } from '../http/relay.js';
import { headerString, upstreamRequestHeaders } from '../http/request-headers.js';
import { runChain } from '../middleware/chain.js';
import { EVENTS } from '../observability/events.js';
import { METHOD_MISMATCH } from '../routing/matcher.js';
import { normalizeRequestPath, pathError, upstreamPath } from '../routing/normalize.js';
import { acceptKey, checkClientHandshake, switchingProtocols, upstreamHandshake, type HandshakeResult } from '../ws/handshake.js';
import { WsTunnel } from '../ws/tunnel.js';
import { rawUpstreamHandshake } from '../ws/upstream-socket.js';
import type { Target } from '../upstream/pool.js';
import { isOverLimit } from './connections.js';
import { Exchange, queryWithout } from './exchange.js';
import { affinityOf, requestIdOf, usesAffinity } from './http-ingress.js';
import { PendingUpgrade } from './pending-upgrade.js';
import { routeMetrics, type RouteRuntime } from './runtime.js';
import type { ServerState } from './state.js';
import { reportHandshake, tunnelOpened } from './tunnel-events.js';

// How long our close frame waits for a silent peer before the tunnel destroys both sockets.
const WS_CLOSE_TIMEOUT_MS = 5_000;

// What the upstream handshake needs of the client's request, worked out once by the checks.
interface Forward {
  readonly route: RouteRuntime;
  readonly path: string;      // as the upstream sees it, query excluded
  readonly query: string;     // as the client sent it ('' or starting with '?')
  readonly peer: string;
  readonly trusted: boolean;
  readonly client: string;    // the client's address (X-Forwarded-For from a trusted peer)
  readonly clientPath: string; // as the client sent it, query removed (the connection list, logs)
}

export function handleUpgrade(state: ServerState, req: IncomingMessage, duplex: Duplex, head: Buffer): void {
  const socket = duplex as Socket;
  if (isOverLimit(socket)) {
    socket.destroy(); // already answered 503 by acceptConnection
    return;
  }
  const started = performance.now();
  const rt = state.runtime;
  const peer = plainAddress(socket.remoteAddress);
  const trusted = isTrustedPeer(peer, rt.config.trustedProxies, rt.config.trustedProxyCount);
  const pending = new PendingUpgrade(state, req, socket, head, requestIdOf(req, trusted), started);
  if (state.draining) return pending.refuse(new GatewayError('SHUTTING_DOWN'));
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = normalizeRequestPath(q === -1 ? target : target.slice(0, q));
  if (typeof path !== 'string') return pending.refuse(pathError(path));
  const m = rt.matcher.match(req.headers.host ?? '', path, 'GET');
  if (m === null || m === METHOD_MISMATCH) return pending.refuse(new GatewayError('ROUTE_NOT_FOUND', `no route for ${path}`));
  const route = m.value;
  pending.matched(route);
  const bad = checkClientHandshake(req);
  if (bad !== null) return pending.refuse(bad);
  if (route.pool === null) return pending.refuse(new GatewayError('WS_BAD_HANDSHAKE', `route ${route.spec.name} does not proxy WebSockets`));
  const origins = route.spec.websocket.origins;
  // Browsers always send Origin; a missing one is a non-browser client, which origins cannot police.
  const origin = req.headers.origin;
  if (origins !== null && origin !== undefined && !origins.includes(origin.toLowerCase())) {
    return pending.refuse(new GatewayError('WS_ORIGIN_FORBIDDEN', `Origin ${origin} is not allowed on route ${route.spec.name}`));
  }
  const forward: Forward = {
    route,
    path: upstreamPath(path, route.spec.stripPrefix, route.spec.rewrite),
    query: q === -1 ? '' : target.slice(q),
    peer,
    trusted,
    client: clientAddress(peer, trusted, headerString(req.headers['x-forwarded-for']), rt.config.trustedProxies, rt.config.trustedProxyCount),
    clientPath: path,
  };
  if (route.chain === null) return connectUpstream(state, pending, forward, null);
  const ex = new Exchange(req, null, true, route.info, m.params, pending.requestId, forward.client, {
    answer: (_ex, status, body, headers) => pending.answer(status, body, headers),
    refuse: (_ex, err, headers) => pending.refuse(err, headerLines(headers)),
  });
  runChain(route.chain, ex, () =>
    new Promise<void>((resolve) => {
      pending.whenSettled((status) => {
        ex.status = status;
        resolve();
      });
      connectUpstream(state, pending, forward, ex);
    }),
  ).then(
    () => {
      if (!ex.responded && pending.isNew) pending.refuse(new GatewayError('INTERNAL', 'middleware neither answered nor called next()'));
    },
    (err: unknown) => {
      const failure = new GatewayError('INTERNAL', undefined, { cause: err });
      state.log.error({ event: EVENTS.ERROR, code: failure.code, route: route.spec.name, requestId: pending.requestId, err }, 'middleware failed');
      pending.refuse(failure);
    },
  );
}

// The checks passed (and middleware called next()): a per-client slot, a target, our handshake.
function connectUpstream(state: ServerState, pending: PendingUpgrade, forward: Forward, ex: Exchange | null): void {
  if (pending.gone) return pending.abandon();
  const { route, client } = forward;
  const pool = route.pool!;
  const wsSpec = route.spec.websocket;
  const user = ex?.identity?.id ?? null;
  pending.user = user;
  // maxPerClient is set per route, so it counts this route's tunnels only.
  const clientKey = `${route.spec.name}\0${user !== null ? `user:${user}` : `ip:${client}`}`;
  if (!pending.reserve(clientKey, wsSpec.maxPerClient)) {
    state.prom.wsConnectionsLimited(routeMetrics(state.prom, route));
    return pending.refuse(new GatewayError('WS_TOO_MANY_CONNECTIONS', `over maxPerClient (${wsSpec.maxPerClient}) on route ${route.spec.name}`), 'retry-after: 1\r\n');
  }
  const req = pending.req;
  const affinity = usesAffinity(pool.spec) ? affinityOf(pool.spec, req, client) : null;
  const target = pool.pick(null, affinity);
  if (target === null) {
    const err = new GatewayError('NO_HEALTHY_TARGET', `upstream ${pool.name} has no healthy target with room (health checks, ejections, maxConnectionsPerTarget)`);
    return pending.refuse(err, `retry-after: ${pool.retryAfterS}\r\n`);
  }
  pending.target = target.spec.origin;
  // As on an HTTP answer (http/relay.ts): the 101 names the target unless the cookie already did.
  const cookie = pool.stickyCookie;
  const setCookie = cookie !== null && affinity?.stickyId !== target.id ? `set-cookie: ${stickyCookieLine(cookie, target.id, req)}\r\n` : '';
  const accept = acceptKey(req.headers['sec-websocket-key']!);
  const offered = offeredProtocols(headerString(req.headers['sec-websocket-protocol']), ex === null ? null : ex.droppedProtocols);
  if (ex !== null && ex.droppedProtocols !== null) {
    // The upstream is offered the list without the credential entries (or no list at all).
    if (offered === undefined) ex.removeUpstreamHeader('sec-websocket-protocol');
    else ex.setUpstreamHeader('sec-websocket-protocol', offered);
  }
  const headers = upstreamRequestHeaders(req, route.spec.requestHeaders, forward.peer, forward.trusted, pending.requestId, ex === null ? null : ex.upstreamHeaders);
  const handshake = target.spec.secure ? upstreamHandshake : rawUpstreamHandshake;
  const upstreamTarget = ex === null || ex.droppedQuery === null ? forward.path + forward.query : forward.path + queryWithout(forward.query, ex.droppedQuery);
  const timeoutMs = pool.spec.connectTimeoutMs + pool.spec.responseTimeoutMs;
  pending.connect((answerTo) =>
    handshake(target.spec, upstreamTarget, headers, accept, offered, timeoutMs, answerTo, (result) => {
      reportHandshake(state, target, result);
      if (pending.upstreamAnswered(result)) openTunnel(state, pending, forward, target, clientKey, user, accept, result, ex, setCookie);
    }),
  );
}

// The upstream said 101: the client gets its 101 and the tunnel takes both sockets.
function openTunnel(state: ServerState, pending: PendingUpgrade, forward: Forward, target: Target, clientKey: string, user: string | null, accept: string, result: HandshakeResult, ex: Exchange | null, setCookie: string): void {
  const route = forward.route;
  const extra = ex === null || ex.responseHeaders === null ? setCookie : setCookie + headerLines(ex.responseHeaders);
  const client = pending.handOver(switchingProtocols(accept, result.protocol, result.extensions, extra));
  const tunnel = new WsTunnel(
    client,
    result.socket!,
    {
      id: randomHex(8),
      route: route.spec.name,
      clientAddress: forward.client,
      clientKey,
      user,
      target: target.spec.origin,
      protocol: result.protocol,
      extensions: result.extensions,
      websocket: route.spec.websocket,
      closeTimeoutMs: WS_CLOSE_TIMEOUT_MS,
      path: forward.clientPath,
      host: pending.req.headers.host ?? '',
      // A forwarded address has no port we could trust; the peer's port belongs to the proxy.
      clientPort: forward.trusted && pending.req.headers['x-forwarded-for'] !== undefined ? null : (client.remotePort ?? null),
      userAgent: pending.req.headers['user-agent'] ?? '',
      expiresAtMs: ex === null ? 0 : ex.expiresAt,
    },
    state.tunnelObserver,
    state.clock,
  );
  tunnelOpened(state, tunnel, route, target, ex, pending.requestId);
  tunnel.start(pending.head, result.head);
}

// Extra header lines for a raw answer (a refusal or the 101).
function headerLines(headers: readonly (readonly [string, string])[]): string {
  let out = '';
  for (const [k, v] of headers) out += `${k}: ${v}\r\n`;
  return out;
}

// The client's Sec-WebSocket-Protocol list minus the entries middleware removed (a `bearer.<token>`
// credential); undefined when nothing is left, so the upstream is offered no list at all.
function offeredProtocols(offered: string | undefined, dropped: readonly string[] | null): string | undefined {
  if (offered === undefined || dropped === null) return offered;
  const kept = offered.split(',').map((p) => p.trim()).filter((p) => p !== '' && !dropped.includes(p));
  return kept.length === 0 ? undefined : kept.join(', ');
}
