// admin/server: the operator's listener (SPEC section 6), separate from traffic listeners.
// Answers JSON, the dashboard page and its event stream (GET /api/events, admin/events-stream.ts);
// the gateway supplies the views and actions through AdminSource.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { DASHBOARD_HTML } from './dashboard.js';
import { EventStreams, eventsFilter } from './events-stream.js';
import { METRICS_CONTENT_TYPE } from '../observability/metrics.js';
import { ERRORS, type ErrorCode } from '../core/errors.js';

const DASHBOARD_BYTES = Buffer.from(DASHBOARD_HTML);

export interface ConnectionFilter {
  readonly route: string | null;
  readonly user: string | null;
  readonly path?: string | null;   // a prefix of the client's path
  readonly client?: string | null; // a prefix of the client's address
  readonly limit: number;
  readonly scope?: 'local' | 'cluster'; // cluster: every instance's, through the shared store
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
  /** The anomalies active now; absent on a cluster primary (the event stream then reads wsgate_anomaly_active). */
  anomalies?(): readonly { route: string; signal: string }[];
}

// An endpoint's JSON answer; null when the endpoint wrote its own (the dashboard, /metrics).
interface Reply {
  readonly status: number;
  readonly body: unknown;
}

function reply(status: number, body: unknown): Reply {
  return { status, body };
}

// The status comes from the code's row in ERRORS, so an admin answer cannot drift from the docs.
function failure(code: ErrorCode, message: string, extra?: Record<string, unknown>): Reply {
  return { status: ERRORS[code].status, body: { error: { code, message, ...extra } } };
}

function send(res: ServerResponse, { status, body }: Reply): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

// RFC 6455 §7.4: what an operator may send; 1000 and 4000-4999 are also fine. Also checked on a
// close asked by another instance (a shared store), which arrives without passing through here.
export function validOperatorCode(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1008 || code === 1011 || code === 1012 || code === 1013 || (code >= 3000 && code <= 4999);
}

// GET /api/connections and GET /api/events: this instance's connections, or every instance's.
function isScope(scope: string): scope is 'local' | 'cluster' {
  return scope === 'local' || scope === 'cluster';
}

function scopeProblem(scope: string): string {
  return `scope must be local or cluster, got "${scope}"`;
}

export function createAdminServer(source: AdminSource, token: string): Server {
  const streams = new EventStreams();
  const server = createServer((req, res) => {
    handle(source, token, streams, req, res).then(
      (answer) => {
        if (answer !== null) send(res, answer);
      },
      (err: unknown) => {
        if (!res.headersSent) send(res, failure('INTERNAL', (err as Error).message));
        else res.destroy();
      },
    );
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  // An event stream never ends by itself, and close() waits for every response: closing the
  // listener (a drain, a stop) ends the streams first, so their clients read a clean end.
  const close = server.close.bind(server);
  server.close = (callback?: (err?: Error) => void): Server => {
    streams.endAll();
    return close(callback);
  };
  return server;
}

async function handle(source: AdminSource, token: string, streams: EventStreams, req: IncomingMessage, res: ServerResponse): Promise<Reply | null> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/healthz') return reply(200, { status: 'ok' });
  if (path === '/readyz') return reply(source.ready ? 200 : 503, { status: source.ready ? 'ready' : 'draining' });
  if (path === '/' && method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': DASHBOARD_BYTES.length, 'cache-control': 'no-store' });
    res.end(DASHBOARD_BYTES);
    return null;
  }
  if (!authorized(req, token)) return failure('UNAUTHORIZED', ERRORS.UNAUTHORIZED.message);
  if (path === '/metrics' && method === 'GET') {
    const text = Buffer.from(await source.metrics());
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': text.length, 'cache-control': 'no-store' });
    res.end(text);
    return null;
  }
  if (path === '/api/events' && method === 'GET') {
    const scope = url.searchParams.get('scope') ?? 'local';
    if (!isScope(scope)) return failure('BAD_REQUEST', scopeProblem(scope));
    streams.serve(source, eventsFilter(url.searchParams), req, res);
    return null;
  }
  if (path === '/api/routes' && method === 'GET') return reply(200, await source.routes());
  if (path === '/api/upstreams' && method === 'GET') return reply(200, await source.upstreams());
  if (path === '/api/config' && method === 'GET') return reply(200, await source.redactedConfig());
  if (path === '/api/reload') {
    if (method !== 'POST') return failure('METHOD_NOT_ALLOWED', 'use POST /api/reload');
    const result = await source.reload();
    if (result.ok) return reply(200, { status: 'reloaded', message: result.message });
    if (result.noSource === true) return failure('NO_CONFIG_SOURCE', result.message);
    return failure('CONFIG_REJECTED', result.message, { problems: result.problems });
  }
  if (path === '/api/connections' && method === 'GET') {
    const limit = Number(url.searchParams.get('limit') ?? 1000);
    const scope = url.searchParams.get('scope') ?? 'local';
    if (!isScope(scope)) return failure('BAD_REQUEST', scopeProblem(scope));
    return reply(
      200,
      await source.connections({
        route: url.searchParams.get('route'),
        user: url.searchParams.get('user'),
        path: url.searchParams.get('path'),
        client: url.searchParams.get('client'),
        limit: Number.isInteger(limit) && limit > 0 ? limit : 1000,
        scope,
      }),
    );
  }
  const m = /^\/api\/connections\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (m !== null) {
    const id = m[1]!;
    if (method === 'GET') {
      const view = await source.connection(id);
      return view === null ? failure('NOT_FOUND', `no live connection ${id}`) : reply(200, view);
    }
    if (method === 'DELETE') {
      const code = Number(url.searchParams.get('code') ?? 1008);
      if (!Number.isInteger(code) || !validOperatorCode(code)) {
        return failure('BAD_REQUEST', `code ${url.searchParams.get('code')} is not a close code an operator may send (1000, 1001, 1008, 1011-1013, 3000-4999)`);
      }
      const reason = url.searchParams.get('reason') ?? 'closed by operator';
      if (Buffer.byteLength(reason) > 123) return failure('BAD_REQUEST', 'reason is longer than 123 bytes');
      return (await source.closeConnection(id, code, reason))
        ? reply(202, { status: 'closing', id, code, reason })
        : failure('NOT_FOUND', `no live connection ${id}`);
    }
    return failure('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
  }
  return failure('NOT_FOUND', `no admin endpoint ${method} ${path}`);
}
