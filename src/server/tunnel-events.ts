// server/tunnel-events: what the gateway does when a tunnel opens and when it is gone: the
// registry, the target's counter, metrics, the ws_open and ws_close log lines, and the lifecycle
// hooks middleware registered (ctx.onOpen / ctx.onClose); and what a target's health means for
// tunnels: handshake outcomes for passive health, 1012 for the tunnels of a target gone down.
import type { Clock, Sweepable } from '../core/clock.js';
import { GatewayError, type ErrorCode } from '../core/errors.js';
import { errorKind, failureKind } from '../core/exchange.js';
import type { WsCloseInfo, WsOpenInfo } from '../middleware/chain.js';
import type { Logger } from '../observability/log.js';
import { EVENTS } from '../observability/events.js';
import type { PoolEvents, Target, UpstreamPool } from '../upstream/pool.js';
import { CLOSE_CODES } from '../ws/close-codes.js';
import type { HandshakeResult } from '../ws/handshake.js';
import type { TunnelObserver, TunnelOptions, WsTunnel } from '../ws/tunnel.js';
import type { Exchange } from './exchange.js';
import { routeMetrics, type RouteRuntime } from './runtime.js';
import type { ServerState } from './state.js';

// What a tunnel's close needs to undo, kept beside it rather than on it (ws/ knows no targets).
const tunnelTargets = new WeakMap<WsTunnel, Target>();
const tunnelHooks = new WeakMap<WsTunnel, ((info: WsCloseInfo) => void)[]>();

export function tunnelOpened(state: ServerState, tunnel: WsTunnel, route: RouteRuntime, target: Target, ex: Exchange | null, requestId: string): void {
  target.activeTunnels++;
  state.prom.wsOpened(routeMetrics(state.prom, route));
  tunnelTargets.set(tunnel, target);
  state.registry.add(tunnel);
  state.clock.add(state.registry);
  if (ex !== null && ex.closeHooks !== null) tunnelHooks.set(tunnel, ex.closeHooks);
  if (state.log.isLevelEnabled('info')) {
    const o = tunnel.options;
    state.log.info({ event: EVENTS.WS_OPEN, id: o.id, route: o.route, ...identityFields(o), target: o.target, protocol: o.protocol, requestId }, 'ws open');
  }
  if (ex !== null && ex.openHooks !== null) {
    const info = openInfo(tunnel);
    for (const fn of ex.openHooks) callHook(state.log, fn, info);
  }
}

// The tunnels' observer: one per gateway, told when a tunnel is fully closed.
export function createTunnelObserver(state: ServerState): TunnelObserver {
  return { onTunnelClose: (tunnel) => tunnelClosed(state, tunnel) };
}

function tunnelClosed(state: ServerState, tunnel: WsTunnel): void {
  const registry = state.registry;
  registry.delete(tunnel);
  registry.release(tunnel.options.clientKey);
  if (registry.size === 0) state.clock.delete(registry);
  const target = tunnelTargets.get(tunnel);
  if (target !== undefined) target.activeTunnels--;
  state.prom.wsClosed(tunnel, tunnel.closeCode, tunnel.initiator, (tunnel.closedAtMs - tunnel.openedAtMs) / 1000, tunnel.rateLimited);
  // The info object is built only for someone who reads it (a closing storm at warn level skips it).
  const hooks = tunnelHooks.get(tunnel);
  if (hooks !== undefined || state.log.isLevelEnabled('info')) {
    const info = closeInfo(tunnel);
    state.log.info(
      {
        event: EVENTS.WS_CLOSE,
        id: info.id,
        route: info.route,
        ...identityFields(tunnel.options),
        target: info.target,
        code: info.code,
        reason: info.reason,
        initiator: info.initiator,
        durationMs: info.durationMs,
        messagesIn: info.messagesIn,
        messagesOut: info.messagesOut,
        bytesIn: info.bytesIn,
        bytesOut: info.bytesOut,
        ...(tunnel.error !== null ? { error: tunnel.error.code } : {}),
      },
      'ws close',
    );
    if (hooks !== undefined) for (const fn of hooks) callHook(state.log, fn, info);
  }
  state.tunnelDone();
}

function openInfo(t: WsTunnel): WsOpenInfo {
  return {
    id: t.options.id,
    route: t.options.route,
    clientAddress: t.options.clientAddress,
    target: t.options.target,
    protocol: t.options.protocol,
    openedAt: new Date(t.openedAtMs),
  };
}

function closeInfo(t: WsTunnel): WsCloseInfo {
  return {
    ...openInfo(t),
    code: t.closeCode,
    reason: t.closeReason,
    initiator: t.initiator,
    durationMs: t.closedAtMs - t.openedAtMs,
    messagesIn: t.messagesIn,
    messagesOut: t.messagesOut,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
  };
}

// A hook that throws is logged; it never reaches the tunnel or the socket.
function callHook<T>(log: Logger, fn: (info: T) => void, info: T): void {
  try {
    fn(info);
  } catch (err) {
    log.error({ event: EVENTS.ERROR, code: 'INTERNAL' satisfies ErrorCode, err }, 'lifecycle hook threw');
  }
}

// An upstream handshake's outcome as passive health counts it (server/ws-ingress.ts): a 101 or a
// 4xx is an answer; a 5xx, a refusal, a reset or a timeout is a failure. During a drain the
// handshakes we cancel ourselves are not the target's fault.
export function reportHandshake(state: ServerState, target: Target, result: HandshakeResult): void {
  if (state.draining) return;
  const failure = result.socket !== null ? null : failureKind(result.error) ?? (result.status >= 500 ? `status ${result.status}` : null);
  target.report(failure);
  // Metrics: a 101, or a non-101 answer relayed to the client, is an answer; the rest are errors.
  if (result.socket !== null || result.relayed) target.answered(result.socket !== null ? 101 : result.status, -1);
  else {
    const kind = errorKind(result.error);
    if (kind !== null) target.failed(kind);
  }
}

// What every upstream pool tells the gateway: its health lines go to the gateway's log, and a target
// that goes down under `onUnhealthy: close` has its tunnels closed. `state` is read when that
// happens (the gateway builds its first pools before its state).
export function poolEvents(log: Logger, state: () => ServerState): PoolEvents {
  return { log, targetDown: (pool, target) => closeTunnelsOf(state(), pool, target), targetMetrics: (upstream, origin) => state().prom.target(upstream, origin) };
}

// onUnhealthy: close. The target's tunnels get 1012 (try again: the client reconnects to a healthy
// target), spread evenly over closeSpread so that they do not all reconnect in the same tick.
function closeTunnelsOf(state: ServerState, pool: UpstreamPool, target: Target): void {
  const tunnels: WsTunnel[] = [];
  for (const t of state.registry.values()) if (tunnelTargets.get(t) === target) tunnels.push(t);
  if (tunnels.length === 0) return;
  const closer = new TunnelCloser(state.clock, target, tunnels, state.clock.nowMs, pool.spec.closeSpreadMs);
  if (!closer.closeDue(state.clock.nowMs)) state.clock.add(closer); // the first goes at once
}

// Closes the tunnels one after the other on the gateway clock's ticks; stops early if the target
// came back (the remaining tunnels stay).
class TunnelCloser implements Sweepable {
  private next = 0;
  constructor(private readonly clock: Clock, private readonly target: Target, private readonly tunnels: readonly WsTunnel[], private readonly startMs: number, private readonly spreadMs: number) {}

  sweep(nowMs: number): void {
    if (this.closeDue(nowMs)) this.clock.delete(this);
  }

  // Closes the tunnels whose turn has come; true when nothing is left to do.
  closeDue(nowMs: number): boolean {
    const n = this.tunnels.length;
    while (this.next < n && !this.target.healthy && nowMs >= this.startMs + Math.floor((this.next * this.spreadMs) / n)) {
      this.tunnels[this.next++]!.close(CLOSE_CODES.SERVICE_RESTART, 'upstream target unhealthy', new GatewayError('WS_TARGET_UNHEALTHY'));
    }
    return this.next >= n || this.target.healthy;
  }
}

// Who the socket is, as ws_open and ws_close name it (the connection list shows the same fields).
function identityFields(o: TunnelOptions): { path: string; host: string; client: string; clientPort?: number; userAgent?: string; user?: string } {
  return {
    path: o.path,
    host: o.host,
    client: o.clientAddress,
    ...(o.clientPort !== null ? { clientPort: o.clientPort } : {}),
    ...(o.userAgent !== '' ? { userAgent: o.userAgent } : {}),
    ...(o.user !== null ? { user: o.user } : {}),
  };
}
