// admin/server: the operator's listener (SPEC section 6), separate from traffic listeners.
// Answers JSON only; the gateway supplies the views and actions through AdminSource.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { DASHBOARD_HTML } from './dashboard.js';
import { METRICS_CONTENT_TYPE } from '../observability/metrics.js';
import { ERRORS, type ErrorCode } from '../core/errors.js';

const DASHBOARD_BYTES = Buffer.from(DASHBOARD_HTML);

export interface ConnectionFilter {
  readonly route: string | null;
  readonly user: string | null;
  readonly limit: number;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly problems: readonly { path: string; message: string }[];
  readonly message: string;
  /** True when there is nothing to reload from (a gateway built in code, without a file). */
  readonly noSource?: boolean;
}

// Views and actions may answer later: a cluster primary (server/workers.ts) asks its workers.
export interface AdminSource {
  readonly ready: boolean;
  routes(): unknown;
  upstreams(): unknown;
  connections(filter: ConnectionFilter): unknown;
  connection(id: string): unknown; // null (or a promise of null): no such live connection
  closeConnection(id: string, code: number, reason: string): boolean | Promise<boolean>;
  redactedConfig(): unknown;
  reload(): Promise<ReloadResult>;
  metrics(): Promise<string>; // Prometheus text format
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

// The status comes from the code's row in ERRORS, so an admin answer cannot drift from the docs.
function fail(res: ServerResponse, code: ErrorCode, message: string, extra?: Record<string, unknown>): void {
  send(res, ERRORS[code].status, { error: { code, message, ...extra } });
}

function authorized(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

// RFC 6455 §7.4: what an operator may send; 1000 and 4000-4999 are also fine.
function validOperatorCode(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1008 || code === 1011 || code === 1012 || code === 1013 || (code >= 3000 && code <= 4999);
}

export function createAdminServer(source: AdminSource, token: string): Server {
  const server = createServer((req, res) => {
    handle(source, token, req, res).catch((err: unknown) => {
      if (!res.headersSent) fail(res, 'INTERNAL', (err as Error).message);
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

async function handle(source: AdminSource, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/healthz') return send(res, 200, { status: 'ok' });
  if (path === '/readyz') return send(res, source.ready ? 200 : 503, { status: source.ready ? 'ready' : 'draining' });
  if (path === '/' && method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': DASHBOARD_BYTES.length, 'cache-control': 'no-store' });
    res.end(DASHBOARD_BYTES);
    return;
  }
  if (!authorized(req, token)) return fail(res, 'UNAUTHORIZED', ERRORS.UNAUTHORIZED.message);
  if (path === '/metrics' && method === 'GET') {
    const text = Buffer.from(await source.metrics());
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': text.length, 'cache-control': 'no-store' });
    res.end(text);
    return;
  }
  if (path === '/api/routes' && method === 'GET') return send(res, 200, await source.routes());
  if (path === '/api/upstreams' && method === 'GET') return send(res, 200, await source.upstreams());
  if (path === '/api/config' && method === 'GET') return send(res, 200, await source.redactedConfig());
  if (path === '/api/reload') {
    if (method !== 'POST') return fail(res, 'METHOD_NOT_ALLOWED', 'use POST /api/reload');
    const result = await source.reload();
    if (result.ok) return send(res, 200, { status: 'reloaded', message: result.message });
    if (result.noSource === true) return fail(res, 'NO_CONFIG_SOURCE', result.message);
    return fail(res, 'CONFIG_REJECTED', result.message, { problems: result.problems });
  }
  if (path === '/api/connections' && method === 'GET') {
    const limit = Number(url.searchParams.get('limit') ?? 1000);
    return send(
      res,
      200,
      await source.connections({
        route: url.searchParams.get('route'),
        user: url.searchParams.get('user'),
        limit: Number.isInteger(limit) && limit > 0 ? limit : 1000,
      }),
    );
  }
  const m = /^\/api\/connections\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (m !== null) {
    const id = m[1]!;
    if (method === 'GET') {
      const view = await source.connection(id);
      return view === null ? fail(res, 'NOT_FOUND', `no live connection ${id}`) : send(res, 200, view);
    }
    if (method === 'DELETE') {
      const code = Number(url.searchParams.get('code') ?? 1008);
      if (!Number.isInteger(code) || !validOperatorCode(code)) {
        return fail(res, 'BAD_REQUEST', `code ${url.searchParams.get('code')} is not a close code an operator may send (1000, 1001, 1008, 1011-1013, 3000-4999)`);
      }
      const reason = url.searchParams.get('reason') ?? 'closed by operator';
      if (Buffer.byteLength(reason) > 123) return fail(res, 'BAD_REQUEST', 'reason is longer than 123 bytes');
      return (await source.closeConnection(id, code, reason))
        ? send(res, 202, { status: 'closing', id, code, reason })
        : fail(res, 'NOT_FOUND', `no live connection ${id}`);
    }
    return fail(res, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
  }
  return fail(res, 'NOT_FOUND', `no admin endpoint ${method} ${path}`);
}
