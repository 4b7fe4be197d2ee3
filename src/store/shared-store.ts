// store/shared-store: what instances share through Redis (`store: { redis }`), owned by one Gateway
// for its lifetime: the connection and its up/down state, the rate limit buckets, the maxPerClient
// counts, the connection directory and the requests to other instances (kicks, "publish now").
// A member of the gateway clock: probes a down store, renews leases and republishes on its ticks.
// A reload never replaces it (`store` is read at start).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { StoreSpec } from '../config/compile.js';
import type { Sweepable } from '../core/clock.js';
import type { Logger } from '../observability/log.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { RedisRateStore } from '../ratelimit/redis-store.js';
import { ClientSlots } from './client-slots.js';
import { ClusterRequests, type Ask } from './cluster-requests.js';
import { ConnectionDirectory, type InstanceSummaries, type Summaries } from './connection-directory.js';
import { StoreConnection } from './redis-connection.js';

// While down, a PING at most this often decides when Redis is trusted again.
const PROBE_MS = 1_000;

/**
 * What the store needs of its gateway: the local connection list, and closing a local connection
 * (true when it was here); the close is asked over Redis, so it checks the code and reason itself.
 */
export interface LocalConnections {
  snapshot(): Summaries;
  close(id: string, code: number, reason: string): boolean;
}

export interface StoreDeps {
  readonly log: Logger;
  readonly prom: GatewayMetrics;
  readonly now: () => number; // the gateway clock
}

export class SharedStore implements Sweepable {
  /** This instance's name in Redis and in the cluster connection list: host, pid and a random tag. */
  readonly instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly rates: RedisRateStore;
  readonly slots: ClientSlots;
  private readonly conn: StoreConnection;
  private readonly directory: ConnectionDirectory;
  private readonly requests: ClusterRequests;
  private probedAtMs = 0;
  private wasUp = false;

  constructor(
    spec: Extract<StoreSpec, { kind: 'redis' }>,
    private readonly deps: StoreDeps,
    private readonly local: LocalConnections,
  ) {
    const prefix = spec.keyPrefix;
    this.conn = new StoreConnection({ target: spec.target, timeoutMs: spec.timeoutMs }, deps.log, deps.prom);
    this.rates = new RedisRateStore(this.conn, prefix);
    this.slots = new ClientSlots(this.conn, prefix, this.instanceId, deps.now);
    this.directory = new ConnectionDirectory(this.conn, prefix, this.instanceId, () => local.snapshot());
    this.requests = new ClusterRequests(this.conn, prefix, this.instanceId, { answer: (ask) => this.answer(ask) });
  }

  get up(): boolean {
    return this.conn.up;
  }

  /** Starts connecting; resolves once ioredis is loaded, whether or not Redis answers. */
  open(): Promise<void> {
    return this.conn.open(this.requests.channels, (channel, message) => this.requests.onMessage(channel, message));
  }

  // Every clock tick: cheap unless something is due.
  sweep(nowMs: number): void {
    const up = this.conn.up;
    if (!up) {
      this.wasUp = false;
      if (nowMs - this.probedAtMs >= PROBE_MS) {
        this.probedAtMs = nowMs;
        this.conn.probe();
      }
      return;
    }
    if (!this.wasUp) {
      // Back (or up for the first time): what this instance holds is written again at once.
      this.wasUp = true;
      this.slots.renewSoon();
      void this.directory.publish(nowMs, true);
    } else {
      void this.directory.publish(nowMs);
    }
    void this.slots.renew(nowMs);
  }

  /** Every instance's connections: each is asked to publish first, then all entries are read. Null while down. */
  async connections(): Promise<InstanceSummaries[] | null> {
    if (!this.conn.up) return null;
    const now = this.deps.now();
    await this.directory.publish(now, true);
    await this.requests.ask({ op: 'publish' }, await this.directory.liveCount(now), false);
    return this.directory.read(this.deps.now());
  }

  /** Closes a connection some other instance holds; true when one did. */
  async kick(id: string, code: number, reason: string): Promise<boolean> {
    if (!this.conn.up) return false;
    return this.requests.ask({ op: 'kick', id, code, reason }, await this.directory.liveCount(this.deps.now()), true);
  }

  /** At shutdown: leaves the directory, gives back this instance's slots, then disconnects. */
  async close(): Promise<void> {
    this.requests.close();
    await Promise.allSettled([this.directory.withdraw(), this.slots.releaseAll()]);
    this.rates.close();
    this.conn.close();
  }

  private async answer(ask: Ask): Promise<boolean> {
    if (ask.op === 'publish') {
      await this.directory.publish(this.deps.now(), true);
      return true;
    }
    return this.local.close(ask.id, ask.code, ask.reason);
  }
}
