// server/drain: the graceful stop of SPEC section 10: stop accepting, /readyz 503, finish in-flight
// HTTP within the drain period, close WebSockets with 1001 (spread out), then stop everything.
import type { Server } from 'node:http';
import { GatewayError } from '../core/errors.js';
import { EVENTS } from '../observability/events.js';
import { CLOSE_CODES } from '../ws/close-codes.js';
import type { ServerState } from './state.js';

// Tunnels get this long after the drain period to finish their close handshakes (their own close
// timer destroys a silent peer after 5 s), then whatever is left is destroyed.
const TUNNEL_CLOSE_GRACE_MS = 5_100;

export async function drainAndStop(state: ServerState): Promise<void> {
  state.draining = true;
  const drainMs = state.runtime.config.limits.drainTimeoutMs;
  state.log.info({ event: EVENTS.DRAINING, inFlight: state.inFlight, websockets: state.registry.size, drainTimeoutMs: drainMs }, 'draining');
  const closed = Promise.all(state.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  for (const s of state.servers) s.closeIdleConnections();
  closeAllTunnels(state, drainMs);
  for (const p of state.pendingUpgrades) p.cancel();
  await Promise.race([state.whenIdle(), delay(drainMs)]);
  for (const s of [...state.servers, ...state.retired]) s.closeAllConnections();
  await Promise.race([state.whenNoTunnels(), delay(TUNNEL_CLOSE_GRACE_MS)]);
  for (const t of [...state.registry.values()]) t.destroyBoth();
  state.clock.stop();
  await closed;
  await closeServers(state);
  await Promise.all([...state.runtime.pools.values()].map((p) => p.close()));
  state.runtime.edge.close(null);
  state.log.info({ event: EVENTS.STOPPED }, 'stopped');
  await new Promise<void>((resolve) => state.log.flush(() => resolve()));
}

// Every listener, retired ones and the admin's too; their open connections are cut.
export async function closeServers(state: ServerState): Promise<void> {
  const all: Server[] = [...state.servers, ...state.retired, ...(state.adminServer !== null ? [state.adminServer] : [])];
  await Promise.all(all.map((s) => new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  })));
}

// SPEC section 10 wants 1001 for every tunnel; closing 10,000 at once makes 10,000 clients
// reconnect in the same millisecond. They are closed in batches spread over up to a quarter of the
// drain period (about 1 ms per tunnel, at most 10 s).
function closeAllTunnels(state: ServerState, drainMs: number): void {
  const tunnels = [...state.registry.values()];
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
