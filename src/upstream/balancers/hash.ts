// upstream/balancers/hash: `balance: hash`, a consistent hash ring of the targets, and hashKeyOf,
// which reads a request's key where `hashOn` says; not the parsing of `hashOn` (config/compile.ts).
import type { IncomingMessage } from 'node:http';
import type { HashOn } from '../../config/compile.js';
import { cookieValue } from '../../core/cookies.js';
import type { ExchangeTarget } from '../../core/exchange.js';
import { usable, type Balancer, type Target } from '../pool.js';
import { createRoundRobin } from './round-robin.js';

// Points on the ring per unit of weight, ketama's figure: a share's spread shrinks with
// 1/sqrt(points), so each of ten equal targets owns 10% of the ring with a standard deviation
// under 1%: 10,000 user ids or IPv4 addresses over ten targets land 860 to 1190 on each.
const POINTS_PER_WEIGHT = 160;
// The ring costs 8 bytes a point; weights run up to 1000, so past a total weight of 409 each unit
// gets fewer points (at least one) rather than the ring growing to megabytes.
const MAX_POINTS = 1 << 16;

// A ring built once per pool: `points` sorted ascending, `owners[i]` the index of the target that
// owns points[i]. A key goes to the first point at or after its hash, wrapping round.
export function createHashRing(targets: readonly Target[]): Balancer {
  const { points, owners } = buildRing(targets);
  // A request without a key (no such header, cookie or parameter) is not pinned anywhere.
  const keyless = createRoundRobin(targets);
  return {
    // HOT: per request; no allocation.
    pick(list: readonly Target[], exclude: ExchangeTarget | null, hashKey: string | null): Target | null {
      if (hashKey === null) return keyless.pick(list, exclude, null);
      // Checked first so that the walk below always ends at a usable target's point.
      let any = false;
      for (let i = 0; i < list.length && !any; i++) any = usable(list[i]!, exclude);
      if (!any) return null;
      const h = hash32(hashKey);
      let lo = 0;
      let hi = points.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (points[mid]! < h) lo = mid + 1;
        else hi = mid;
      }
      // Clockwise to the first usable target: a down or excluded target's keys go to the targets
      // after its points, spread over many of them, and no other key moves.
      for (let i = lo === points.length ? 0 : lo; ; i = i + 1 === points.length ? 0 : i + 1) {
        const t = list[owners[i]!]!;
        if (usable(t, exclude)) return t;
      }
    },
  };
}

function buildRing(targets: readonly Target[]): { points: Uint32Array; owners: Uint32Array } {
  let totalWeight = 0;
  for (const t of targets) totalWeight += t.spec.weight;
  const perWeight = Math.max(1, Math.min(POINTS_PER_WEIGHT, Math.floor(MAX_POINTS / Math.max(1, totalWeight))));
  const ring: { point: number; owner: number; name: string }[] = [];
  const seen = new Map<string, number>();
  targets.forEach((t, owner) => {
    // Points are named after the origin, not the id or the place in the list: ids follow the place,
    // so removing one target would move every later target's points, and most keys with them.
    // Every gateway instance with the same targets, in any order, builds the same ring.
    const copies = seen.get(t.spec.origin) ?? 0;
    seen.set(t.spec.origin, copies + 1);
    const name = copies === 0 ? t.spec.origin : `${t.spec.origin}#${copies}`;
    for (let v = 0; v < t.spec.weight * perWeight; v++) ring.push({ point: hash32(`${name}-${v}`), owner, name });
  });
  // Two targets' points rarely collide; when they do, the name decides, so order does not.
  ring.sort((a, b) => a.point - b.point || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { points: Uint32Array.from(ring, (r) => r.point), owners: Uint32Array.from(ring, (r) => r.owner) };
}

// HOT: per request. FNV-1a over UTF-16 code units (one xor and one multiply each), then murmur3's
// fmix32 finaliser: FNV-1a alone barely moves the high bits for keys that differ only at the end
// ("10.0.0.1", "10.0.0.2"), and the ring orders by high bits first. Not crypto's createHash: a key
// needs spreading, not secrecy, and a digest object per request costs around a microsecond.
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// HOT: per request on `balance: hash` upstreams. Null when the request carries no key; an empty
// value counts as none, since hashing "" would pin every keyless client to one target.
export function hashKeyOf(hashOn: HashOn, req: IncomingMessage, clientAddress: string): string | null {
  let key: string | null;
  switch (hashOn.from) {
    case 'ip':
      key = clientAddress;
      break;
    case 'header': {
      const value = req.headers[hashOn.name];
      key = value === undefined ? null : typeof value === 'string' ? value : value.join(', ');
      break;
    }
    case 'cookie':
      key = cookieValue(req.headers.cookie, hashOn.name);
      break;
    case 'query':
      key = queryOf(req.url, hashOn.name);
      break;
  }
  return key === '' ? null : key;
}

// The first `name` parameter of the request target's query, decoded as URLSearchParams does. Keys
// are rarely escaped, so only a query with `%` or `+` pays for a URLSearchParams.
function queryOf(url: string | undefined, name: string): string | null {
  if (url === undefined) return null;
  const q = url.indexOf('?');
  if (q === -1) return null;
  if (url.includes('%', q) || url.includes('+', q)) return new URLSearchParams(url.slice(q + 1)).get(name);
  for (let at = q + 1; at < url.length; ) {
    let end = url.indexOf('&', at);
    if (end === -1) end = url.length;
    const after = at + name.length;
    if (url.startsWith(name, at) && (after === end || url.charCodeAt(after) === 0x3d)) return after === end ? '' : url.slice(after + 1, end);
    at = end + 1;
  }
  return null;
}
