// auth/verified-cache: what a provider already verified, keyed by a hash of the credential (the
// token itself is never kept), so a keep-alive client resending the same token costs one hash and a
// lookup instead of a signature check or an introspection call. Bounded in size; an entry never
// outlives the credential's exp nor the provider's cacheFor.
import { createHash } from 'node:crypto';

// What a provider learnt from a valid credential.
export interface Verified {
  readonly id: string;                                   // the identity: sub, username or key id
  readonly claims: Readonly<Record<string, unknown>>;
  readonly scopes: readonly string[];
  readonly expMs: number;                                // the credential's exp; 0: none
}

interface Entry {
  readonly verified: Verified;
  readonly untilMs: number;
}

export const DEFAULT_MAX_ENTRIES = 10_000;

export class VerifiedCache {
  // Insertion order is eviction order: a full cache drops its oldest entry.
  private readonly entries = new Map<string, Entry>();

  constructor(readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  // HOT: per authenticated request.
  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64');
  }

  // HOT: per authenticated request.
  get(key: string, nowMs: number): Verified | null {
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (nowMs >= e.untilMs) {
      this.entries.delete(key);
      return null;
    }
    return e.verified;
  }

  /** Keeps `verified` until untilMs (already bounded by the caller's exp and cacheFor); past ones are ignored. */
  set(key: string, verified: Verified, untilMs: number, nowMs: number): void {
    if (untilMs <= nowMs || this.maxEntries === 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { verified, untilMs });
  }

  clear(): void {
    this.entries.clear();
  }
}
