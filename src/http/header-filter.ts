// http/header-filter: the one loop that copies header fields minus those a hop must not pass on,
// for both directions: the upstream request (request-headers.ts) and the client's response (relay.ts).
import type { HeaderOps } from '../config/compile.js';
import { HOP_BY_HOP, nameLengths } from '../core/hop-by-hop.js';

// Names a copy drops, and their lengths as a table: a name of any other length cannot be one of
// them, so the copy takes it without making a lower-cased copy to look up.
export interface DropSet {
  readonly names: ReadonlySet<string>;
  readonly lengths: Uint8Array;
}

export function createDropSet(names: readonly string[]): DropSet {
  return { names: new Set(names), lengths: nameLengths(names) };
}

// Toward the upstream: hop-by-hop, and what the gateway sets itself (X-Forwarded-*, X-Request-Id,
// traceparent; SPEC section 3). Expect is answered by Node, never forwarded.
export const REQUEST_DROP: DropSet = createDropSet([...HOP_BY_HOP, 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'traceparent', 'expect']);
// Toward the client: hop-by-hop, and X-Request-Id (the client gets the id our logs carry).
export const RESPONSE_DROP: DropSet = createDropSet([...HOP_BY_HOP, 'x-request-id']);

export function text(field: Buffer | string): string {
  return typeof field === 'string' ? field : field.toString('latin1');
}

// HOT: per request and per response head. `raw` is name, value, …; `named` holds the extra names a
// Connection header listed; `ops` the route's set/remove (its set values are appended by the caller).
export function copyHeaders(out: string[], raw: readonly (Buffer | string)[], drop: DropSet, named: ReadonlySet<string> | null, ops: HeaderOps | null): void {
  const lengths = drop.lengths;
  const plain = named === null && ops === null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i]!);
    if (plain && (name.length >= lengths.length || lengths[name.length] === 0)) {
      out.push(name, text(raw[i + 1]!));
      continue;
    }
    const lower = name.toLowerCase();
    if (drop.names.has(lower) || (named !== null && named.has(lower)) || (ops !== null && ops.drop.has(lower))) continue;
    out.push(name, text(raw[i + 1]!));
  }
}
