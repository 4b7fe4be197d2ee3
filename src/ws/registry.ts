// ws/registry: every live tunnel by id, the per-client counts behind `maxPerClient` (and the shared
// counts of every instance, when a store shares them), and the one sweep that drives all tunnel
// deadlines (heartbeat, idle, lifetime) from the shared clock.
import type { Sweepable } from '../core/clock.js';
import type { WsTunnel } from './tunnel.js';

export interface RegistryFilter {
  readonly route: string | null;
  readonly user: string | null;
  readonly path?: string | null;   // prefix of the client's path
  readonly client?: string | null; // prefix of the client's address
  readonly limit: number;
}

// Told about every live tunnel on each sweep: metrics add what it relayed since the last tick.
export interface TunnelReporter {
  reportTunnel(tunnel: WsTunnel): void;
}

// maxPerClient counted across instances (store/client-slots.ts with `store: { redis }`). Neither
// promise rejects: a store that cannot answer in time resolves true, and the local count decides;
// a release is written in the background (nobody waits for it).
export interface SharedCounts {
  reserve(clientKey: string, max: number): Promise<boolean>;
  release(clientKey: string): Promise<void>;
}

export class TunnelRegistry implements Sweepable {
  private readonly byId = new Map<string, WsTunnel>();
  // Open tunnels plus handshakes in progress, per client key (user id, else address).
  private readonly perClient = new Map<string, number>();

  private shared: SharedCounts | null = null;

  constructor(private readonly reporter: TunnelReporter | null = null) {}

  /** Counts maxPerClient slots across instances too, from now on. */
  shareCounts(shared: SharedCounts | null): void {
    this.shared = shared;
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): WsTunnel | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<WsTunnel> {
    return this.byId.values();
  }

  // Reserves a slot for a client before its handshake reaches the upstream; false when over `max`.
  reserve(clientKey: string, max: number): boolean {
    const n = this.perClient.get(clientKey) ?? 0;
    if (max > 0 && n >= max) return false;
    this.perClient.set(clientKey, n + 1);
    return true;
  }

  /**
   * After reserve(): the count across instances, or null when nothing is shared (no store, or no
   * limit). A slot refused here is still held locally until release(), like any other.
   */
  reserveShared(clientKey: string, max: number): Promise<boolean> | null {
    return max > 0 && this.shared !== null ? this.shared.reserve(clientKey, max) : null;
  }

  release(clientKey: string): void {
    const n = (this.perClient.get(clientKey) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(clientKey);
    else this.perClient.set(clientKey, n);
    if (this.shared !== null) void this.shared.release(clientKey);
  }

  add(tunnel: WsTunnel): void {
    this.byId.set(tunnel.options.id, tunnel);
  }

  delete(tunnel: WsTunnel): void {
    if (this.byId.get(tunnel.options.id) === tunnel) this.byId.delete(tunnel.options.id);
  }

  list(filter: RegistryFilter): WsTunnel[] {
    const out: WsTunnel[] = [];
    const path = filter.path ?? null;
    const client = filter.client ?? null;
    for (const t of this.byId.values()) {
      if (out.length >= filter.limit) break;
      if (filter.route !== null && t.options.route !== filter.route) continue;
      if (filter.user !== null && t.options.user !== filter.user) continue;
      if (path !== null && !t.options.path.startsWith(path)) continue;
      if (client !== null && !t.options.clientAddress.startsWith(client)) continue;
      out.push(t);
    }
    return out;
  }

  // HOT: once per clock tick, over every tunnel; each check is a few comparisons.
  sweep(nowMs: number): void {
    const reporter = this.reporter;
    for (const t of this.byId.values()) {
      t.sweep(nowMs);
      if (reporter !== null) reporter.reportTunnel(t);
    }
  }
}
