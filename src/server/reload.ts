// server/reload: a new config swapped in atomically (SPEC section 10): checked and compiled first
// (an invalid one changes nothing), pools carried over, listeners opened and closed to match, the
// runtime reference swapped, and tunnels whose route or target is gone closed with 1012 later.
import type { Server } from 'node:http';
import { parseConfig } from '../config/check.js';
import { compileConfig, configHash, type CompiledConfig, type ListenerSpec } from '../config/compile.js';
import type { Problem } from '../config/load.js';
import { GatewayError } from '../core/errors.js';
import type { ReloadResult } from '../admin/server.js';
import { EVENTS } from '../observability/events.js';
import { CLOSE_CODES } from '../ws/close-codes.js';
import type { WsTunnel } from '../ws/tunnel.js';
import { applyLimits, createListener, diffListeners, listen, prepareTls } from './listener.js';
import { createEdge } from './edge.js';
import { buildRuntime, carryPools, clockTickFor, closePoolsNotIn, type Runtime } from './runtime.js';
import type { ServerState } from './state.js';
import { poolEvents } from './tunnel-events.js';

/** Rereads the reload source (the config file) and applies it. */
export async function reloadFromSource(state: ServerState): Promise<ReloadResult> {
  if (state.reloadSource === null) return { ok: false, noSource: true, problems: [], message: 'this gateway has no config file to reload; call gateway.applyConfig(config)' };
  let raw: unknown;
  try {
    raw = state.reloadSource();
  } catch (err) {
    const problems = problemsOf(err);
    state.log.warn({ event: EVENTS.CONFIG_REJECTED, problems, reason: messageOf(err) }, 'config rejected');
    return { ok: false, problems, message: messageOf(err) };
  }
  return applyConfig(state, raw);
}

// One reload at a time: a SIGHUP and a POST arriving together must not both build from the same
// old runtime (each would close pools the other still uses).
export function applyConfig(state: ServerState, input: unknown): Promise<ReloadResult> {
  const run = state.reloading.then(() => swapConfig(state, input));
  state.reloading = run.catch(() => undefined);
  return run;
}

async function swapConfig(state: ServerState, input: unknown): Promise<ReloadResult> {
  let compiled: CompiledConfig;
  try {
    compiled = compileConfig(parseConfig(input));
  } catch (err) {
    const problems = problemsOf(err);
    state.log.warn({ event: EVENTS.CONFIG_REJECTED, problems, reason: problems.length > 0 ? undefined : messageOf(err) }, 'config rejected');
    return { ok: false, problems, message: problems.length > 0 ? `${problems.length} problem(s) in the new config; the running config is unchanged` : messageOf(err) };
  }
  const old = state.runtime;
  const notes: string[] = [];
  if (JSON.stringify(compiled.source.admin) !== JSON.stringify(old.config.source.admin)) notes.push('admin changes need a restart');
  if (compiled.source.workers !== old.config.source.workers) notes.push('workers changes need a restart');
  // Read once at start: the registry (metrics.enabled) and the shared store's connection.
  if (JSON.stringify(compiled.source.metrics) !== JSON.stringify(old.config.source.metrics)) notes.push('metrics changes need a restart');
  if (JSON.stringify(compiled.source.store) !== JSON.stringify(old.config.source.store)) notes.push('store changes need a restart');
  const pools = carryPools(old.pools, compiled, state.poolClock, poolEvents(state.log, () => state));
  let next: Runtime;
  const edge = createEdge(compiled, old.edge.deps, old.edge);
  try {
    next = buildRuntime(compiled, state.middleware, pools, edge);
    await applyListeners(state, compiled);
  } catch (err) {
    closePoolsNotIn(pools, old.pools);
    edge.close(old.edge);
    state.log.warn({ event: EVENTS.CONFIG_REJECTED, reason: messageOf(err) }, 'config rejected');
    return { ok: false, problems: [], message: messageOf(err) };
  }
  state.clock.setTick(clockTickFor(compiled));
  state.runtime = next;
  closePoolsNotIn(old.pools, pools);
  old.edge.close(edge);
  const orphans = orphanedTunnels(state, next);
  if (orphans.length > 0) {
    const timer = setTimeout(() => {
      // A later reload may have brought the route (or target) back: only those still orphaned close.
      const still = new Set(orphanedTunnels(state, state.runtime));
      for (const t of orphans) if (still.has(t)) t.close(CLOSE_CODES.SERVICE_RESTART, 'route changed by a config reload', new GatewayError('WS_ROUTE_REMOVED'));
    }, compiled.limits.drainTimeoutMs);
    timer.unref();
  }
  const drainMs = compiled.limits.drainTimeoutMs;
  const message = `${compiled.routes.length} routes, ${compiled.upstreams.size} upstreams; ${orphans.length} WebSockets will get 1012 after ${drainMs} ms${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`;
  state.log.info({ event: EVENTS.CONFIG_LOADED, trigger: 'reload', routes: compiled.routes.length, upstreams: compiled.upstreams.size, orphanedWebSockets: orphans.length, notes, hash: configHash(compiled.source) }, 'config loaded');
  return { ok: true, problems: [], message };
}

// Tunnels whose route is gone, or whose target left the route's upstream.
function orphanedTunnels(state: ServerState, rt: Runtime): WsTunnel[] {
  const out: WsTunnel[] = [];
  for (const t of state.registry.values()) {
    const spec = rt.config.routes.find((r) => r.name === t.options.route);
    const up = spec?.upstream == null ? undefined : rt.config.upstreams.get(spec.upstream);
    if (up === undefined || !up.targets.some((x) => x.origin === t.options.target)) out.push(t);
  }
  return out;
}

// Listeners follow the config: new ones open, removed ones stop accepting (their open connections
// finish), unchanged ones stay bound. Limits apply to new connections.
async function applyListeners(state: ServerState, config: CompiledConfig): Promise<void> {
  const { kept, toOpen } = diffListeners(state.listenerSpecs, config.listeners);
  const opened: Server[] = [];
  const openedSpecs: ListenerSpec[] = [];
  try {
    for (const spec of toOpen) {
      const server = createListener(spec, config.limits, state.handlers);
      await listen(server, spec.host, spec.port);
      opened.push(server);
      openedSpecs.push(spec);
    }
  } catch (err) {
    for (const s of opened) s.close();
    throw err;
  }
  // A kept https listener takes the certificates just read (renewed files, SNI entries added or
  // removed); its open connections, HTTP keep-alive and wss tunnels alike, keep the old ones.
  let commits: (() => void)[];
  try {
    commits = [...kept].map(([i, spec]) => prepareTls(state.servers[i]!, spec));
  } catch (err) {
    for (const s of opened) s.close();
    throw err;
  }
  for (const commit of commits) commit();
  const keptServers: Server[] = [];
  const keptSpecs: ListenerSpec[] = [];
  state.servers.forEach((s, i) => {
    const spec = kept.get(i);
    if (spec !== undefined) {
      applyLimits(s, config.limits);
      keptServers.push(s);
      keptSpecs.push(spec);
    } else {
      s.close();
      s.closeIdleConnections();
      state.retired.push(s);
    }
  });
  state.servers = [...keptServers, ...opened];
  state.listenerSpecs = [...keptSpecs, ...openedSpecs];
}

function problemsOf(err: unknown): Problem[] {
  return (err as { problems?: Problem[] }).problems ?? [];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
