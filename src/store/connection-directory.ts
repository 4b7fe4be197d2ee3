// store/connection-directory: the connection list across instances. Each instance writes the
// summaries of its live connections under its own key with a TTL, renewed every PUBLISH_MS on the
// gateway clock (and at once when another instance asks, see cluster-requests.ts), and keeps its
// id in one sorted set scored by expiry; a reader lists the live ids and reads their keys. A dead
// instance's entries vanish with their TTL. Not the merging and filtering (admin/views.ts).

import type { StoreConnection } from './redis-connection.js';

export const PUBLISH_MS = 5_000;
export const ENTRY_TTL_MS = 15_000;
// One instance publishes at most this many summaries (about 400 bytes each); `total` still counts all.
export const MAX_PUBLISHED = 10_000;

/** What an instance publishes: its connection views (JSON) and how many it holds in all. */
export interface Summaries {
  readonly total: number;
  readonly connections: readonly unknown[];
}

export interface InstanceSummaries extends Summaries {
  readonly instance: string;
  readonly publishedAt: string; // ISO 8601
}

export class ConnectionDirectory {
  private publishedAtMs = 0;

  constructor(
    private readonly conn: StoreConnection,
    private readonly keyPrefix: string,
    private readonly instanceId: string,
    private readonly snapshot: () => Summaries,
  ) {}

  private get indexKey(): string {
    return `${this.keyPrefix}instances`;
  }

  private entryKey(instance: string): string {
    return `${this.keyPrefix}conns:${instance}`;
  }

  /** On the gateway clock: writes this instance's entry when PUBLISH_MS has passed (or `force`). */
  publish(nowMs: number, force = false): Promise<void> {
    if (!force && nowMs - this.publishedAtMs < PUBLISH_MS) return Promise.resolve();
    this.publishedAtMs = nowMs;
    if (!this.conn.up) return Promise.resolve();
    const s = this.snapshot();
    const entry: InstanceSummaries = {
      instance: this.instanceId,
      publishedAt: new Date(nowMs).toISOString(),
      total: s.total,
      connections: s.connections.length > MAX_PUBLISHED ? s.connections.slice(0, MAX_PUBLISHED) : s.connections,
    };
    const text = JSON.stringify(entry);
    // Two keys in two Cluster slots: two commands, sent together.
    return this.conn
      .command((c) =>
        Promise.all([
          c.set(this.entryKey(this.instanceId), text, 'PX', ENTRY_TTL_MS),
          c.zadd(this.indexKey, nowMs + ENTRY_TTL_MS, this.instanceId),
          c.zremrangebyscore(this.indexKey, '-inf', nowMs),
        ]),
      )
      .then(ignore, ignore);
  }

  /** Every live instance's entry (this one's as last published); null when the store cannot answer. */
  async read(nowMs: number): Promise<InstanceSummaries[] | null> {
    if (!this.conn.up) return null;
    try {
      const ids = await this.conn.command((c) => c.zrangebyscore(this.indexKey, nowMs, '+inf'));
      const texts = await this.conn.command((c) => Promise.all(ids.map((id) => c.get(this.entryKey(id)))));
      const out: InstanceSummaries[] = [];
      for (const text of texts) {
        const entry = parseEntry(text);
        if (entry !== null) out.push(entry);
      }
      return out;
    } catch {
      return null;
    }
  }

  /** How many instances are live (this one included, once published). */
  async liveCount(nowMs: number): Promise<number> {
    if (!this.conn.up) return 0;
    return this.conn.command((c) => c.zcount(this.indexKey, nowMs, '+inf')).catch(() => 0);
  }

  /** At shutdown: this instance leaves the list now rather than when its entry expires. */
  async withdraw(): Promise<void> {
    if (!this.conn.up) return;
    await this.conn
      .command((c) => Promise.all([c.del(this.entryKey(this.instanceId)), c.zrem(this.indexKey, this.instanceId)]))
      .then(ignore, ignore);
  }
}

// Another writer, an older version or a truncated value: skipped, never thrown on.
function parseEntry(text: string | null): InstanceSummaries | null {
  if (text === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Partial<InstanceSummaries>;
  if (typeof e.instance !== 'string' || typeof e.total !== 'number' || typeof e.publishedAt !== 'string' || !Array.isArray(e.connections)) return null;
  const connections = e.connections.filter(isSummary);
  return { instance: e.instance, publishedAt: e.publishedAt, total: e.total, connections };
}

// The fields the cluster list filters and sorts on must be what they claim; the rest is shown as is.
function isSummary(c: unknown): boolean {
  if (typeof c !== 'object' || c === null) return false;
  const v = c as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.route === 'string' && typeof v.path === 'string' && typeof v.client === 'string' && typeof v.openedAt === 'string' && (v.user === null || typeof v.user === 'string');
}

function ignore(): void {}
