// admin/server: the operator's listener (SPEC section 6), separate from traffic listeners.
// This version answers health, readiness and the read-only views; the write API comes with #4.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export interface AdminSource {
  readonly ready: boolean;
  routes(): unknown;
  upstreams(): unknown;
  connections(filter: { route: string | null; limit: number }): unknown;
}

function send(res: ServerResponse, status: number, body: unknown): void {
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

export function createAdminServer(source: AdminSource, token: string): Server {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') return send(res, source.ready ? 200 : 503, { status: source.ready ? 'ready' : 'draining' });
    if (!authorized(req, token)) return send(res, 401, { error: { code: 'UNAUTHORIZED', message: 'admin API needs Authorization: Bearer <admin.token>' } });
    if (req.method !== 'GET') return send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed here` } });
    switch (url.pathname) {
      case '/api/routes':
        return send(res, 200, source.routes());
      case '/api/upstreams':
        return send(res, 200, source.upstreams());
      case '/api/connections': {
        const limit = Number(url.searchParams.get('limit') ?? 1000);
        return send(res, 200, source.connections({ route: url.searchParams.get('route'), limit: Number.isFinite(limit) && limit > 0 ? limit : 1000 }));
      }
      default:
        return send(res, 404, { error: { code: 'NOT_FOUND', message: `no admin endpoint ${url.pathname}` } });
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}
