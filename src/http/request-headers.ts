// http/request-headers: the header list an upstream request carries (HTTP exchanges and WebSocket
// handshakes alike): the client's fields minus hop-by-hop ones and those Connection names, then
// X-Forwarded-*, X-Request-Id and traceparent (SPEC section 3), the route's set, middleware's own.
import type { IncomingMessage } from 'node:http';
import type { HeaderOps } from '../config/compile.js';
import { connectionTokens } from '../core/hop-by-hop.js';
import { createTraceparent, isTraceId, isValidTraceparent, traceparentFor } from './forwarded.js';
import { REQUEST_DROP, copyHeaders } from './header-filter.js';

export function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

// HOT: per request. `extra` are the headers middleware set (ctx.setUpstreamHeader; a null value:
// ctx.removeUpstreamHeader), null without.
export function upstreamRequestHeaders(
  req: IncomingMessage,
  ops: HeaderOps | null,
  peer: string,
  trusted: boolean,
  requestId: string,
  extra: readonly (readonly [string, string | null])[] | null,
): string[] {
  const out: string[] = [];
  copyHeaders(out, req.rawHeaders, REQUEST_DROP, connectionTokens(headerString(req.headers.connection)), ops);
  appendForwarded(out, req, peer, trusted, requestId);
  if (ops !== null) for (const [k, v] of ops.set) out.push(k, v);
  if (extra !== null) for (const [k, v] of extra) setFlat(out, k, v);
  return out;
}

// X-Forwarded-For from an untrusted peer is replaced, not appended to. tracestate needs nothing
// here: it is an ordinary header, copied with the others.
function appendForwarded(out: string[], req: IncomingMessage, peer: string, trusted: boolean, requestId: string): void {
  const h = req.headers;
  const xff = headerString(h['x-forwarded-for']);
  out.push('x-forwarded-for', trusted && xff !== undefined && xff !== '' ? `${xff}, ${peer}` : peer);
  const proto = headerString(h['x-forwarded-proto']);
  out.push('x-forwarded-proto', trusted && proto !== undefined ? proto : (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http');
  const fhost = headerString(h['x-forwarded-host']);
  out.push('x-forwarded-host', trusted && fhost !== undefined ? fhost : h.host ?? '');
  out.push('x-request-id', requestId);
  const tp = headerString(h.traceparent);
  out.push('traceparent', tp !== undefined && isValidTraceparent(tp) ? tp : isTraceId(requestId) ? traceparentFor(requestId) : createTraceparent());
}

// Middleware's header replaces any copy of the same name already in the list (null: removes them).
function setFlat(out: string[], name: string, value: string | null): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i]!.toLowerCase() === name) {
      out.splice(i, 2);
      i -= 2;
    }
  }
  if (value !== null) out.push(name, value);
}
