// cli/status: `wsgate status`, a one-screen summary of a running gateway from its admin API: routes,
// upstream targets and their health, open WebSockets per route, request and message rates, readiness.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_ADMIN, call, errorLine } from './admin-client.js';
import { parsePromText, type PromSample } from '../observability/prom-text.js';

const SAMPLE_MS = 1000;

// The fields of /api/routes and /api/upstreams shown here (admin/views.ts has the full shapes).
interface RouteSummary {
  name: string;
  upstream: string | null;
}
interface TargetSummary {
  url: string;
  healthy: boolean;
  healthReason?: string;
  backup?: boolean;
  activeConnections: number;
  inFlightRequests: number;
}
interface UpstreamSummary {
  name: string;
  balance: string;
  targets: TargetSummary[];
}

export interface Sample {
  metrics: string;
  atMs: number;
}

/** The finite samples of metric `name` in Prometheus text, each with its labels. */
export function metricSamples(text: string, name: string): PromSample[] {
  return (parsePromText(text).get(name) ?? []).filter((s) => Number.isFinite(s.value));
}

/** The sum of every sample of metric `name` (0 when it is absent). */
export function sumMetric(text: string, name: string): number {
  return metricSamples(text, name).reduce((sum, s) => sum + s.value, 0);
}

/** Per second between two scrapes of a counter; 0 when it went down (a restart) or no time passed. */
export function counterRate(name: string, first: Sample, second: Sample): number {
  const elapsedS = (second.atMs - first.atMs) / 1000;
  if (elapsedS <= 0) return 0;
  return Math.max(0, sumMetric(second.metrics, name) - sumMetric(first.metrics, name)) / elapsedS;
}

class AdminError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`answered ${status}: ${errorLine(body)}`);
  }
}

async function getJson<T>(admin: string, path: string): Promise<T> {
  const { status, body } = await call(admin, 'GET', path);
  if (status !== 200) throw new AdminError(status, body);
  return body as T;
}

async function sample(admin: string): Promise<Sample> {
  const { status, body } = await call(admin, 'GET', '/metrics', { text: true });
  if (status !== 200) throw new AdminError(status, body);
  return { metrics: String(body), atMs: performance.now() };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function statusText(target: string, state: { ready: boolean; routes: RouteSummary[]; upstreams: UpstreamSummary[]; first: Sample; second: Sample }): string {
  const { routes, upstreams, first, second } = state;
  const lines = [`wsgate at ${target}: ${state.ready ? 'ready' : 'draining'}`];
  lines.push(`routes (${routes.length}): ${routes.map((r) => r.name).join(', ') || '-'}`);
  lines.push(`upstreams (${upstreams.length}):`);
  for (const u of upstreams) {
    const healthy = u.targets.filter((t) => t.healthy).length;
    lines.push(`  ${u.name} (${u.balance}): ${healthy}/${u.targets.length} healthy`);
    for (const t of u.targets) {
      const reason = t.healthy || t.healthReason === undefined ? '' : ` (${t.healthReason})`;
      lines.push(`    ${t.url}${t.backup === true ? ' [backup]' : ''}  ${t.healthy ? 'healthy' : 'unhealthy'}${reason}  ${plural(t.activeConnections, 'WebSocket')}, ${t.inFlightRequests} in flight`);
    }
  }
  const active = metricSamples(second.metrics, 'wsgate_ws_connections_active');
  const total = active.reduce((sum, s) => sum + s.value, 0);
  lines.push(`connections: ${total} open`);
  for (const s of active) {
    if (s.value > 0) lines.push(`  ${s.labels.route === undefined || s.labels.route === '' ? '(unmatched)' : s.labels.route}: ${s.value}`);
  }
  const requests = counterRate('wsgate_http_requests_total', first, second);
  const messages = counterRate('wsgate_ws_messages_total', first, second);
  lines.push(`rates: ${requests.toFixed(1)} requests/s, ${messages.toFixed(1)} messages/s`);
  return `${lines.join('\n')}\n`;
}

export async function statusCommand(admin: string | undefined): Promise<number> {
  const target = admin ?? DEFAULT_ADMIN;
  try {
    // Readiness first: /readyz needs no token, so it tells "nothing listens" apart from "not allowed".
    const readyz = await call(target, 'GET', '/readyz');
    const first = await sample(target);
    const [routes, upstreams] = await Promise.all([
      getJson<RouteSummary[]>(target, '/api/routes'),
      getJson<UpstreamSummary[]>(target, '/api/upstreams'),
      delay(Math.max(0, SAMPLE_MS - (performance.now() - first.atMs))),
    ]);
    const second = await sample(target);
    process.stdout.write(statusText(target, { ready: readyz.status === 200, routes, upstreams, first, second }));
    return 0;
  } catch (err) {
    if (err instanceof AdminError) {
      process.stderr.write(`wsgate status: ${target} ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`wsgate status: cannot reach the admin API at ${target}: ${(err as Error).message}\n`);
    return 2;
  }
}
