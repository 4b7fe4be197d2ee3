// cli/admin-client: `wsgate connections` and `wsgate reload` talk to a running gateway's admin API;
// the request helper that `wsgate connections --watch` (watch.ts) and `wsgate status` (status.ts) share.
import { request } from 'undici';

export const DEFAULT_ADMIN = 'http://127.0.0.1:9901';

// The fields of GET /api/connections the CLI shows (admin/views.ts has the full shape).
export interface ConnectionView {
  id: string;
  route: string;
  user: string | null;
  client: string;
  path?: string | null;  // newer gateways only
  instance?: string;     // with --scope cluster
  openedAt: string;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ConnectionFilter {
  route?: string | undefined;
  user?: string | undefined;
  limit?: string | undefined;
  scope?: string | undefined; // cluster: every instance's connections (a Redis store)
}

function adminHeaders(): Record<string, string> {
  const token = process.env.WSGATE_ADMIN_TOKEN;
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function call(admin: string, method: 'GET' | 'POST', path: string, options: { text?: boolean } = {}): Promise<{ status: number; body: unknown }> {
  const base = /^https?:\/\//.test(admin) ? admin : `http://${admin}`;
  const res = await request(new URL(path, base), { method, headers: adminHeaders(), headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (options.text === true && res.statusCode === 200) return { status: res.statusCode, body: text };
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error line
  }
  return { status: res.statusCode, body };
}

export function errorLine(body: unknown): string {
  const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
  return err ? `${err.code}: ${err.message}` : String(body);
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function connectionsTable(list: readonly ConnectionView[], nowMs: number): string {
  // The cluster view names the instance holding each connection, in a last column.
  const cluster = list.some((c) => c.instance !== undefined);
  const rows = [['ID', 'ROUTE', 'USER', 'CLIENT', 'AGE', 'MSGS IN', 'MSGS OUT', ...(cluster ? ['INSTANCE'] : [])]];
  for (const c of list) {
    rows.push([c.id, c.route, c.user ?? '-', c.client, formatAge(nowMs - Date.parse(c.openedAt)), String(c.messagesIn), String(c.messagesOut), ...(cluster ? [c.instance ?? '-'] : [])]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i >= 5 && i <= 6 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function connectionsPath(filter: ConnectionFilter): string {
  const q = new URLSearchParams();
  if (filter.route !== undefined) q.set('route', filter.route);
  if (filter.user !== undefined) q.set('user', filter.user);
  if (filter.limit !== undefined) q.set('limit', filter.limit);
  if (filter.scope !== undefined) q.set('scope', filter.scope);
  return `/api/connections${q.size > 0 ? `?${q}` : ''}`;
}

export async function connectionsCommand(admin: string | undefined, filter: ConnectionFilter): Promise<number> {
  const target = admin ?? DEFAULT_ADMIN;
  try {
    const { status, body } = await call(target, 'GET', connectionsPath(filter));
    if (status !== 200) {
      process.stderr.write(`wsgate connections: ${target} answered ${status}: ${errorLine(body)}\n`);
      return 1;
    }
    const { connections, total, instances, complete } = body as { connections: ConnectionView[]; total: number; instances?: unknown[]; complete?: boolean };
    const across = instances === undefined ? '' : ` on ${instances.length} instance${instances.length === 1 ? '' : 's'}`;
    process.stdout.write(`${connectionsTable(connections, Date.now())}\n${connections.length} shown, ${total} live${across}\n`);
    if (complete === false) process.stderr.write('wsgate connections: the shared store did not answer: only this instance\'s connections are listed\n');
    return 0;
  } catch (err) {
    process.stderr.write(`wsgate connections: cannot reach the admin API at ${target}: ${(err as Error).message}\n`);
    return 2;
  }
}

export async function reloadCommand(admin: string | undefined): Promise<number> {
  const target = admin ?? DEFAULT_ADMIN;
  try {
    const { status, body } = await call(target, 'POST', '/api/reload');
    if (status === 200) {
      process.stdout.write(`reloaded: ${(body as { message?: string }).message ?? ''}\n`);
      return 0;
    }
    const problems = (body as { error?: { problems?: { path: string; message: string }[] } }).error?.problems ?? [];
    process.stderr.write(`wsgate reload: ${errorLine(body)}\n`);
    for (const p of problems) process.stderr.write(`  ${p.path}: ${p.message}\n`);
    return 1;
  } catch (err) {
    process.stderr.write(`wsgate reload: cannot reach the admin API at ${target}: ${(err as Error).message}\n`);
    return 2;
  }
}
