// server/http-ingress: the HTTP request path, from Node's 'request' event to the gateway's own
// answer or the relay to an upstream; the exchange's end (in-flight count, metrics, access log).
// Module-level functions over ServerState, in the style of fastify's handleRequest.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamSpec } from '../config/compile.js';
import { GatewayError } from '../core/errors.js';
import type { Affinity } from '../core/exchange.js';
import { cookieValue } from '../core/cookies.js';
import { sendError } from '../http/error-response.js';
import { clientAddress, createRequestId, isSafeRequestId, isTrustedPeer, plainAddress } from '../http/forwarded.js';
import { HttpRelay } from '../http/relay.js';
import { headerString, upstreamRequestHeaders } from '../http/request-headers.js';
import { runChain } from '../middleware/chain.js';
import { EVENTS } from '../observability/events.js';
import { UNMATCHED_ROUTE, type RouteMetrics } from '../observability/metrics.js';
import { isPreflight } from '../cors/cors.js';
import { METHOD_MISMATCH, type Matcher } from '../routing/matcher.js';
import { normalizeRequestPath, pathError, upstreamPath } from '../routing/normalize.js';
import { hashKeyOf } from '../upstream/balancers/hash.js';
import { isOverLimit, markAnswered } from './connections.js';
import { Exchange, queryWithout, type ExchangeAnswers } from './exchange.js';
import { routeMetrics, type RouteRuntime, type Runtime } from './runtime.js';
import type { ServerState } from './state.js';

// The response carries its exchange's bookkeeping to exchangeOnClose (one typed field set, no closure).
type OwnedRes = ServerResponse & { state: ServerState; exchangeStart: number; route: RouteRuntime | null; requestId: string; ex: Exchange | null; refusal: GatewayError | null; relay?: HttpRelay };

// HOT: per request.
export function handleRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): void {
  if (isOverLimit(req.socket)) {
    req.socket.destroy(); // already answered 503 by acceptConnection
    return;
  }
  const rt = state.runtime;
  const owned = res as OwnedRes;
  owned.exchangeStart = performance.now();
  owned.state = state;
  owned.route = null;
  owned.ex = null;
  owned.refusal = null;
  state.inFlight++;
  res.on('close', exchangeOnClose); // in-flight count, metrics and the access log
  const peer = plainAddress(req.socket.remoteAddress);
  const trusted = isTrustedPeer(peer, rt.config.trustedProxies, rt.config.trustedProxyCount);
  const requestId = requestIdOf(req, trusted);
  owned.requestId = requestId;
  if (state.draining) res.shouldKeepAlive = false;

  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = normalizeRequestPath(q === -1 ? target : target.slice(0, q));
  if (typeof path !== 'string') return refuse(res, pathError(path), requestId);
  const te = req.headers['transfer-encoding'];
  if (te !== undefined && (te.toLowerCase() !== 'chunked' || req.httpVersionMinor === 0)) {
    // llhttp decoded only the chunking: another coding (`gzip, chunked`) would reach the upstream
    // undeclared, and RFC 9112 §6.1 makes Transfer-Encoding on HTTP/1.0 faulty framing.
    markAnswered(req.socket);
    res.setHeader('connection', 'close');
    return refuse(res, new GatewayError('AMBIGUOUS_FRAMING', 'Transfer-Encoding must be "chunked" alone, on HTTP/1.1'), requestId);
  }
  const upgrade = req.headers.upgrade;
  if (upgrade !== undefined && upgrade.toLowerCase() === 'websocket') {
    // Node sends valid upgrades to 'upgrade'; this one lacks `Connection: upgrade`.
    return refuse(res, new GatewayError('WS_BAD_HANDSHAKE', 'Connection must contain "upgrade"'), requestId);
  }
  const host = req.headers.host ?? '';
  const method = req.method ?? 'GET';
  const m = method === 'OPTIONS' && isPreflight(req) ? matchPreflight(rt.matcher, host, path, req) : rt.matcher.match(host, path, method);
  if (m === null) return refuse(res, new GatewayError('ROUTE_NOT_FOUND', `no route for ${method} ${path}`), requestId);
  if (m === METHOD_MISMATCH) {
    const allow = rt.matcher.allowedMethods(host, path).join(', ');
    return refuse(res, new GatewayError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`), requestId, [['allow', allow]]);
  }
  const route = m.value;
  owned.route = route;
  const basePath = route.spec.respond !== null ? '' : upstreamPath(path, route.spec.stripPrefix, route.spec.rewrite);
  const query = q === -1 ? '' : target.slice(q);
  if (route.chain === null) return terminal(rt, route, req, res, basePath + query, peer, trusted, requestId, null, null);
  // Only middleware reads the client's address: the fast path never computes it.
  const client = clientAddress(peer, trusted, headerString(req.headers['x-forwarded-for']), rt.config.trustedProxies, rt.config.trustedProxyCount);
  const ex = new Exchange(req, res, false, route.info, m.params, requestId, client, HTTP_ANSWERS);
  owned.ex = ex; // the access log's `user`
  runChain(route.chain, ex, () =>
    new Promise<void>((resolve) => {
      // A credential in the query (auth's `query:NAME`) never reaches the upstream.
      const forwardPath = ex.droppedQuery === null ? basePath + query : basePath + queryWithout(query, ex.droppedQuery);
      terminal(rt, route, req, res, forwardPath, peer, trusted, requestId, ex, () => {
        ex.status = res.statusCode;
        resolve();
      });
    }),
  ).then(
    () => {
      if (!ex.responded && !res.headersSent && !res.writableEnded && owned.relay === undefined) {
        refuse(res, new GatewayError('INTERNAL', 'middleware neither answered nor called next()'), requestId);
      }
    },
    (err: unknown) => {
      const failure = new GatewayError('INTERNAL', undefined, { cause: err });
      state.log.error({ event: EVENTS.ERROR, code: failure.code, route: route.spec.name, requestId, err }, 'middleware failed');
      refuse(res, failure, requestId);
    },
  );
}

// A CORS preflight asks on behalf of the request it announces (Access-Control-Request-Method): the
// route that would serve that request answers it when it has `cors`, even if its methods omit
// OPTIONS; otherwise the OPTIONS request is matched like any other.
function matchPreflight(matcher: Matcher<RouteRuntime>, host: string, path: string, req: IncomingMessage): ReturnType<Matcher<RouteRuntime>['match']> {
  const actual = matcher.match(host, path, headerString(req.headers['access-control-request-method']) ?? 'GET');
  if (actual !== null && actual !== METHOD_MISMATCH && actual.value.spec.cors !== null) return actual;
  return matcher.match(host, path, 'OPTIONS');
}

// The end of the route: its static answer, or the relay to its upstream. `done` tells middleware
// that the exchange is over (null on the fast path).
function terminal(
  rt: Runtime,
  route: RouteRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  forwardPath: string,
  peer: string,
  trusted: boolean,
  requestId: string,
  ex: Exchange | null,
  done: (() => void) | null,
): void {
  const spec = route.spec;
  if (spec.respond !== null) {
    const r = spec.respond;
    res.writeHead(r.status, flatten(r.headers, requestId));
    res.end(req.method === 'HEAD' ? undefined : r.body);
    done?.();
    return;
  }
  const lengthHeader = req.headers['content-length'];
  const hasBody = (lengthHeader !== undefined && lengthHeader !== '0') || req.headers['transfer-encoding'] !== undefined;
  const maxBody = rt.config.limits.maxBodyBytes;
  if (lengthHeader !== undefined && Number(lengthHeader) > maxBody) {
    res.setHeader('connection', 'close');
    refuse(res, new GatewayError('BODY_TOO_LARGE', `request body of ${lengthHeader} bytes exceeds limits.maxBodyBytes (${maxBody})`), requestId);
    done?.();
    return;
  }
  const headers = upstreamRequestHeaders(req, spec.requestHeaders, peer, trusted, requestId, ex === null ? null : ex.upstreamHeaders);
  const pool = route.pool!;
  const affinity = usesAffinity(pool.spec)
    ? affinityOf(pool.spec, req, ex !== null ? ex.clientAddress : clientAddress(peer, trusted, headerString(req.headers['x-forwarded-for']), rt.config.trustedProxies, rt.config.trustedProxyCount))
    : null;
  // The relay hangs itself on res (exchangeOnClose and the access log find it there).
  const relay = new HttpRelay(req, res, pool, forwardPath, headers, spec.responseHeaders, requestId, hasBody, maxBody, done, affinity);
  relay.timed = (res as OwnedRes).state.log.isLevelEnabled('info'); // upstreamMs, for the access log only
  relay.start();
}

// Only upstreams that hash or pin read anything of the request to choose a target; the others keep
// a null Affinity, so their path allocates nothing for it (and never works out the client address).
export function usesAffinity(spec: UpstreamSpec): boolean {
  return spec.balance === 'hash' || spec.stickyCookie !== null;
}

// The request's Affinity (core/exchange.ts) for an upstream that usesAffinity(). `client` is the
// address `hashOn: ip` hashes. With both sticky and hash, the pool tries the sticky target first
// and the hash key chooses only when the cookie names no healthy target.
export function affinityOf(spec: UpstreamSpec, req: IncomingMessage, client: string): Affinity {
  const cookie = spec.stickyCookie;
  return {
    hashKey: spec.balance === 'hash' ? hashKeyOf(spec.hashOn, req, client) : null,
    stickyId: cookie === null ? null : cookieValue(req.headers.cookie, cookie),
  };
}

// SPEC section 3: a trusted peer's X-Request-Id is kept (when it is safe to log); otherwise ours.
export function requestIdOf(req: IncomingMessage, trusted: boolean): string {
  const sent = req.headers['x-request-id'];
  return trusted && typeof sent === 'string' && isSafeRequestId(sent) ? sent : createRequestId();
}

// The query stays out of logs: it may carry a credential (`?access_token=`, `?api_key=`; SPEC section 8).
export function withoutQuery(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function flatten(headers: readonly (readonly [string, string])[], requestId: string): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) out.push(k, v);
  out.push('x-request-id', requestId);
  return out;
}

// The gateway's own error answer, its code kept for the access log line.
function refuse(res: ServerResponse, err: GatewayError, requestId: string, extraHeaders?: readonly (readonly [string, string])[]): void {
  (res as OwnedRes).refusal = err;
  sendError(res, err, requestId, extraHeaders);
}

// Exchange.respond() and refuse() on an HTTP request (headers set with ctx.setResponseHeader are
// already on `res`: Node merges them into either answer).
const HTTP_ANSWERS: ExchangeAnswers = {
  answer(ex, status, body, headers) {
    const res = ex.res!;
    if (res.headersSent) return;
    // RFC 9110 §8.6: no Content-Length on a 204 (a CORS preflight's answer) or a 304.
    res.writeHead(status, status === 204 || status === 304 ? flatten(headers, ex.requestId) : flatten(headers, ex.requestId).concat('content-length', String(body.length)));
    res.end(ex.req.method === 'HEAD' ? undefined : body);
  },
  refuse(ex, err, headers) {
    ex.refusal = err;
    sendError(ex.res!, err, ex.requestId, headers);
  },
};

function exchangeOnClose(this: OwnedRes): void {
  exchangeFinished(this);
  this.relay?.clientClosed();
}

// The response closed, finished or not (499: the client left first).
function exchangeFinished(res: OwnedRes): void {
  const state = res.state;
  state.exchangeDone();
  const status = res.writableFinished ? res.statusCode : 499;
  const seconds = (performance.now() - res.exchangeStart) / 1000;
  const route = res.route;
  const metrics: RouteMetrics = route === null ? state.prom.route(UNMATCHED_ROUTE) : routeMetrics(state.prom, route);
  state.prom.httpFinished(metrics, res.req.method ?? 'GET', status, seconds);
  if (!state.log.isLevelEnabled('info')) return;
  const req = res.req;
  const relay = res.relay;
  const error = relay !== undefined ? relay.error : (res.ex !== null && res.ex.refusal !== null ? res.ex.refusal : res.refusal);
  // log.sample: a busy route logs a share of its successes; every error is logged.
  if (route !== null && route.spec.logSample < 1 && status < 400 && error === null && Math.random() >= route.spec.logSample) return;
  const cause = error === null ? undefined : causeCode(error.cause);
  const user = res.ex?.identity?.id;
  const target = relay === undefined ? null : (relay.target ?? relay.lastFailed);
  const userAgent = req.headers['user-agent'];
  state.log.info(
    {
      event: EVENTS.HTTP_REQUEST,
      route: route === null ? '' : route.spec.name,
      method: req.method,
      path: withoutQuery(req.url),
      status,
      durationMs: Math.round(seconds * 1e6) / 1000,
      requestId: res.requestId,
      client: plainAddress(req.socket.remoteAddress),
      bytesIn: requestBodyBytes(req, relay),
      bytesOut: responseBodyBytes(res, relay),
      ...(userAgent !== undefined ? { userAgent } : {}),
      ...(user !== undefined ? { user } : {}),
      ...(target !== null ? { target: target.origin } : {}),
      ...(relay !== undefined && relay.upstreamMs >= 0 ? { upstreamMs: relay.upstreamMs } : {}),
      ...(error !== null ? { code: error.code } : {}),
      ...(cause !== undefined ? { cause } : {}),
    },
    'request',
  );
}

// The request body's bytes as read: a Content-Length body counts once it was read whole; a chunked
// one is counted by the relay as it streams (limits.maxBodyBytes); a body nobody read counts 0.
function requestBodyBytes(req: IncomingMessage, relay: HttpRelay | undefined): number {
  const length = req.headers['content-length'];
  if (length !== undefined) return req.complete ? Number(length) : 0;
  return relay === undefined ? 0 : relay.bodyBytes;
}

// The response body's bytes sent: the relay counts what it relayed; the gateway's own answers
// (an error, a route's `respond`) are counted by their length, once sent whole.
function responseBodyBytes(res: OwnedRes, relay: HttpRelay | undefined): number {
  if (relay !== undefined && relay.bytesOut > 0) return relay.bytesOut;
  if (!res.writableFinished || res.req.method === 'HEAD') return 0;
  const respond = res.route === null ? null : res.route.spec.respond;
  if (relay === undefined && respond !== null) return respond.body.length;
  return Number(res.getHeader('content-length') ?? 0);
}

// The errno or library code under a GatewayError (`ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`): the
// first string `code` down the cause chain, for the 502/504 log line.
export function causeCode(cause: unknown): string | undefined {
  for (let c = cause, depth = 0; c !== null && typeof c === 'object' && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
