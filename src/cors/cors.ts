// cors/cors: a route's `cors` as middleware (Fetch standard §3.2, the CORS protocol): the preflight
// answered by the gateway and never forwarded, and the Access-Control-* headers of an actual
// response. Not which origins match (cors/origins.ts) nor which route a preflight belongs to
// (isPreflight, used by server/http-ingress.ts).
import type { IncomingMessage } from 'node:http';
import type { CorsSpec } from '../config/compile.js';
import type { Context, Middleware, Next } from '../middleware/chain.js';

// A preflight: OPTIONS with Origin and Access-Control-Request-Method (Fetch §4.8). Any other OPTIONS
// is an ordinary request for the route's upstream.
export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
}

export function createCors(spec: CorsSpec): Middleware {
  // The preflight's answer varies on the request headers it reflects (a cache must not reuse it).
  const preflightVary = spec.allowHeaders === null ? 'Origin, Access-Control-Request-Headers' : 'Origin';
  const credentials = spec.credentials ? 'true' : null;
  const any = spec.origins === null;

  // HOT: per request on a CORS route.
  function cors(ctx: Context, next: Next): unknown {
    // Browsers never preflight a WebSocket, nor apply CORS to it: websocket.origins (which defaults
    // to cors.origins) polices a handshake's Origin before middleware runs.
    if (ctx.websocket) return next();
    const req = ctx.req;
    const origin = req.headers.origin;
    const allowed = origin !== undefined && (any || spec.origins.includes(origin));
    if (isPreflight(req)) {
      // A refused origin still gets 204, without Access-Control-Allow-Origin: the browser fails the
      // preflight, and the answer says nothing about what the route allows.
      const headers: Record<string, string> = { vary: preflightVary };
      if (allowed) {
        headers['access-control-allow-origin'] = any ? '*' : origin;
        if (credentials !== null) headers['access-control-allow-credentials'] = credentials;
        headers['access-control-allow-methods'] = spec.allowMethods;
        const allowHeaders = spec.allowHeaders ?? req.headers['access-control-request-headers'];
        if (allowHeaders !== undefined && allowHeaders !== '') headers['access-control-allow-headers'] = allowHeaders;
        if (spec.maxAge !== null) headers['access-control-max-age'] = spec.maxAge;
      }
      ctx.respond(204, undefined, headers);
      return undefined;
    }
    // Vary: Origin on every answer, allowed or not: a shared cache must not hand one origin's answer
    // (with or without Access-Control-Allow-Origin) to another. Set before next(), these headers
    // are on the relayed response and on any refusal after us (a 401, a 429), which a browser can
    // then read.
    ctx.setResponseHeader('vary', 'Origin');
    if (allowed) {
      ctx.setResponseHeader('access-control-allow-origin', any ? '*' : origin);
      if (credentials !== null) ctx.setResponseHeader('access-control-allow-credentials', credentials);
      if (spec.exposeHeaders !== null) ctx.setResponseHeader('access-control-expose-headers', spec.exposeHeaders);
    }
    return next();
  }
  return cors;
}
