// store/client-slots: maxPerClient counted across instances. Per client key, one Redis hash holds
// each instance's count and a sorted set each instance's lease (expiry time); both share a hash
// tag, so each script touches one Cluster slot. An instance that dies stops renewing its leases,
// and the next reserve on that key drops its count: a crashed instance's slots do not leak
// beyond LEASE_MS. Counts are written whole (this instance's exact number), so a write lost while
// Redis was down is repaired by the next renewal. Implements ws/registry's SharedCounts.
import { createHash } from 'node:crypto';
import type { SharedCounts } from '../ws/registry.js';
import { script, type StoreConnection } from './redis-connection.js';

// How long a slot outlives its instance's last renewal, and how often an instance renews.
export const LEASE_MS = 30_000;
export const RENEW_MS = 10_000;

// KEYS counts (hash), leases (zset); ARGV instance, its count with the new slot, max, now, lease end, ttl.
// Drops instances whose lease ended, then admits when everyone else's count plus ours fits.
const RESERVE = script(
  `local counts, leases = KEYS[1], KEYS[2]
local me, mine, max, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('TYPE', counts)['ok'] ~= 'hash' then redis.call('DEL', counts) end
if redis.call('TYPE', leases)['ok'] ~= 'zset' then redis.call('DEL', leases) end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  redis.call('HDEL', counts, gone)
  redis.call('ZREM', leases, gone)
end
local total = mine
local all = redis.call('HGETALL', counts)
for i = 1, #all, 2 do
  if all[i] ~= me then total = total + (tonumber(all[i + 1]) or 0) end
end
if total > max then return 0 end
redis.call('HSET', counts, me, mine)
redis.call('ZADD', leases, ARGV[5], me)
redis.call('PEXPIRE', counts, ARGV[6])
redis.call('PEXPIRE', leases, ARGV[6])
return 1`,
  2,
);

// KEYS counts, leases; ARGV instance, its count now, lease end, ttl. 0 removes the instance.
const WRITE = script(
  `local counts, leases = KEYS[1], KEYS[2]
if redis.call('TYPE', counts)['ok'] ~= 'hash' then redis.call('DEL', counts) end
if redis.call('TYPE', leases)['ok'] ~= 'zset' then redis.call('DEL', leases) end
if tonumber(ARGV[2]) <= 0 then
  redis.call('HDEL', counts, ARGV[1])
  redis.call('ZREM', leases, ARGV[1])
  return 0
end
redis.call('HSET', counts, ARGV[1], ARGV[2])
redis.call('ZADD', leases, ARGV[3], ARGV[1])
redis.call('PEXPIRE', counts, ARGV[4])
redis.call('PEXPIRE', leases, ARGV[4])
return 1`,
  2,
);

export class ClientSlots implements SharedCounts {
  // This instance's slots per client key, on routes with maxPerClient: handshakes and tunnels.
  private readonly held = new Map<string, number>();
  private renewedAtMs = 0;

  constructor(
    private readonly conn: StoreConnection,
    private readonly keyPrefix: string,
    private readonly instanceId: string,
    private readonly now: () => number,
  ) {}

  // The local count already admitted the client: when Redis cannot answer in time, that stands.
  reserve(clientKey: string, max: number): Promise<boolean> {
    const mine = (this.held.get(clientKey) ?? 0) + 1;
    this.held.set(clientKey, mine);
    if (!this.conn.up) return Promise.resolve(true);
    const now = this.now();
    return this.conn.run(RESERVE, this.keys(clientKey), [this.instanceId, mine, max, now, now + LEASE_MS, LEASE_MS]).then(
      (reply) => reply !== 0,
      () => true,
    );
  }

  // Called for every released slot; only keys this store counted are written. Resolves once written
  // (or not: Redis down); the registry does not wait for it.
  release(clientKey: string): Promise<void> {
    const n = this.held.get(clientKey);
    if (n === undefined) return Promise.resolve();
    if (n <= 1) this.held.delete(clientKey);
    else this.held.set(clientKey, n - 1);
    return this.write(clientKey, n - 1);
  }

  /** On the gateway clock: renews this instance's leases every RENEW_MS (and rewrites its counts). */
  renew(nowMs: number): Promise<void> {
    if (nowMs - this.renewedAtMs < RENEW_MS) return Promise.resolve();
    this.renewedAtMs = nowMs;
    return Promise.all([...this.held].map(([key, n]) => this.write(key, n))).then(ignore);
  }

  /** Forces the next renew() to write (after the store came back). */
  renewSoon(): void {
    this.renewedAtMs = 0;
  }

  /** At shutdown: this instance's counts leave Redis now rather than at the end of their lease. */
  async releaseAll(): Promise<void> {
    const keys = [...this.held.keys()];
    this.held.clear();
    if (!this.conn.up) return;
    const now = this.now();
    await Promise.allSettled(keys.map((k) => this.conn.run(WRITE, this.keys(k), [this.instanceId, 0, now + LEASE_MS, LEASE_MS])));
  }

  private write(clientKey: string, n: number): Promise<void> {
    if (!this.conn.up) return Promise.resolve();
    const now = this.now();
    return this.conn.run(WRITE, this.keys(clientKey), [this.instanceId, n, now + LEASE_MS, LEASE_MS]).then(ignore, ignore);
  }

  // A hash tag ({…}) keeps both keys in one Cluster slot; the client key (an address or a user id,
  // with the route) is hashed so no value can break the tag.
  private keys(clientKey: string): [string, string] {
    const tag = createHash('sha256').update(clientKey).digest('base64url').slice(0, 22);
    return [`${this.keyPrefix}slots:{${tag}}:n`, `${this.keyPrefix}slots:{${tag}}:lease`];
  }
}

function ignore(): void {}
