// bench/matcher: ns per match() on a 50-route table, for exact, prefix and param hits and for misses.
// Run: node --import tsx bench/matcher.bench.ts   (about 5 s: each case runs for a fixed time)

import { METHOD_MISMATCH, createMatcher, type RouteEntry } from '../src/routing/matcher.js';
import { normalizePath } from '../src/routing/normalize.js';

const RUN_MS = 400;
const WARMUP_MS = 100;

const entries: RouteEntry<number>[] = [];
const add = (path: string, host?: string, methods?: string[]): void => {
  entries.push({ path, host, methods, value: entries.length });
};
const words = ['users', 'orders', 'items', 'carts', 'search', 'billing', 'reports', 'teams', 'files', 'events'];
for (const w of words) add(`/${w}/health`); // 10 exact
for (const w of words) add(`/v1/${w}`, undefined, ['GET', 'POST']); // 10 exact with methods
for (const w of words) add(`/api/${w}/*`); // 10 prefixes
for (const w of words.slice(0, 5)) add(`/${w}/:id`); // 5 params
for (const w of words.slice(0, 5)) add(`/${w}/:id/children/:child`); // 5 params
add('/ws/*', 'chat.example.com'); // 5 host routes
add('/ws/*', '*.example.com');
add('/admin/*', 'admin.example.com', ['GET']);
add('/static/*', '*.cdn.example.com');
add('/ping', 'chat.example.com');
for (const w of words.slice(0, 4)) add(`/${w}/*`); // 4 short prefixes
add('/*'); // last: the "miss" cases use the table without it
if (entries.length !== 50) throw new Error(`expected 50 routes, built ${entries.length}`);

const withCatchAll = createMatcher(entries);
const withoutCatchAll = createMatcher(entries.slice(0, -1));

type Request = readonly [host: string, path: string, method: string];
const requests = (host: string, paths: readonly string[], method = 'GET'): Request[] => paths.map((p) => [host, p, method]);
const few = words.slice(0, 5);
const cases: { name: string; matcher: typeof withCatchAll; requests: Request[] }[] = [
  { name: 'exact hit', matcher: withCatchAll, requests: requests('gw.example.org:8080', words.map((w) => `/v1/${w}`)) },
  { name: 'prefix hit', matcher: withCatchAll, requests: requests('gw.example.org', words.map((w) => `/api/${w}/list/page/2`)) },
  {
    name: 'param hit',
    matcher: withCatchAll,
    requests: requests('gw.example.org', few.flatMap((w) => [`/${w}/42`, `/${w}/42/children/7`])),
  },
  {
    name: 'host hit',
    matcher: withCatchAll,
    requests: [['chat.example.com', '/ws/room/1', 'GET'], ['a.example.com', '/ws/x', 'GET'], ['Admin.Example.com', '/admin/x', 'GET']],
  },
  { name: 'catch-all hit', matcher: withCatchAll, requests: requests('gw.example.org', words.map((w) => `/nothing/${w}`)) },
  { name: 'miss', matcher: withoutCatchAll, requests: requests('gw.example.org', words.map((w) => `/nothing/${w}/x`)) },
  { name: 'method mismatch', matcher: withoutCatchAll, requests: requests('gw.example.org', words.map((w) => `/v1/${w}`), 'DELETE') },
];

let sink = 0;

function measure(requests: readonly Request[], matcher: typeof withCatchAll, ms: number): number {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < requests.length; i++) {
        const r = requests[i]!;
        const found = matcher.match(r[0], r[1], r[2]);
        sink += found === null ? 1 : found === METHOD_MISMATCH ? 2 : found.value;
      }
      n += requests.length;
    }
    const now = process.hrtime.bigint();
    if (now >= deadline) return Number(now - start) / n;
  }
}

function measureNormalize(paths: readonly string[], ms: number): number {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < paths.length; i++) sink += normalizePath(paths[i]!)?.length ?? 0;
      n += paths.length;
    }
    const now = process.hrtime.bigint();
    if (now >= deadline) return Number(now - start) / n;
  }
}

console.log(`matcher: ${entries.length} routes, node ${process.version}`);
for (const c of cases) {
  measure(c.requests, c.matcher, WARMUP_MS);
  console.log(`  ${c.name.padEnd(16)} ${measure(c.requests, c.matcher, RUN_MS).toFixed(1).padStart(7)} ns/match`);
}
const clean = ['/api/users/list/page/2', '/v1/orders', '/users/42/children/7'];
const dirty = ['/api//users/./list/%7Epage', '/v1/a/../orders', '/users/%2F42'];
measureNormalize(clean, WARMUP_MS);
console.log(`  ${'normalize clean'.padEnd(16)} ${measureNormalize(clean, RUN_MS).toFixed(1).padStart(7)} ns/path`);
measureNormalize(dirty, WARMUP_MS);
console.log(`  ${'normalize dirty'.padEnd(16)} ${measureNormalize(dirty, RUN_MS).toFixed(1).padStart(7)} ns/path`);
if (sink === -1) console.log(sink); // keeps the results alive
