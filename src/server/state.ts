// server/state: what the gateway's request paths, drain and reload share: the running runtime, the
// listeners, the live tunnels and upgrades, the in-flight count and the waiters drain sleeps on.
import type { Server } from 'node:http';
import type { ListenerSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import type { Middleware } from '../middleware/chain.js';
import type { Logger } from '../observability/log.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { TunnelRegistry } from '../ws/registry.js';
import { acceptConnection, handleClientError } from './connections.js';
import { handleRequest } from './http-ingress.js';
import type { ListenerHandlers } from './listener.js';
import type { PendingUpgrade } from './pending-upgrade.js';
import type { Runtime } from './runtime.js';
import { createTunnelObserver } from './tunnel-events.js';
import type { TunnelObserver } from '../ws/tunnel.js';
import { handleUpgrade } from './ws-ingress.js';

// Middleware registered with Gateway.use(): global, then per route name.
export interface MiddlewareLists {
  readonly global: Middleware[];
  readonly byRoute: Map<string, Middleware[]>;
}

export class ServerState {
  // Traffic listeners and their specs, index for index; those a reload removed drain in `retired`.
  servers: Server[] = [];
  listenerSpecs: ListenerSpec[] = [];
  readonly retired: Server[] = [];
  adminServer: Server | null = null;
  // Upgrades not yet tunnels: a shutdown cancels their upstream handshakes.
  readonly pendingUpgrades = new Set<PendingUpgrade>();
  // What every traffic listener calls: made once, so a reload's new listeners share them.
  readonly handlers: ListenerHandlers;
  readonly tunnelObserver: TunnelObserver;
  reloadSource: (() => unknown) | null = null;
  reloading: Promise<unknown> = Promise.resolve();
  draining = false;
  inFlight = 0;          // HTTP exchanges between 'request' and the response's 'close'
  openConnections = 0;   // client connections over every listener (limits.maxConnections)
  private idleWaiters: (() => void)[] = [];
  private tunnelWaiters: (() => void)[] = [];

  constructor(
    readonly log: Logger,
    readonly prom: GatewayMetrics,
    readonly registry: TunnelRegistry,
    readonly clock: Clock,
    // The clock the upstream pools' deadlines follow: only an injected one (tests); else their own.
    readonly poolClock: Clock | null,
    readonly middleware: MiddlewareLists,
    public runtime: Runtime, // only ever swapped whole (a reload, a use())
  ) {
    this.handlers = {
      request: (req, res) => handleRequest(this, req, res),
      upgrade: (req, socket, head) => handleUpgrade(this, req, socket, head),
      clientError: (err, socket) => handleClientError(this, err, socket),
      connection: (socket) => acceptConnection(this, socket),
    };
    this.tunnelObserver = createTunnelObserver(this);
  }

  exchangeDone(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  tunnelDone(): void {
    if (this.registry.size === 0) for (const w of this.tunnelWaiters.splice(0)) w();
  }

  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  whenNoTunnels(): Promise<void> {
    if (this.registry.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.tunnelWaiters.push(resolve));
  }
}
