// bench/balancers: ns per pick() for each `balance` policy over 10 targets, as the pool calls it,
// and ns per hashKeyOf() for each `hashOn` source, as the server calls it for hash upstreams.
// Run: node --import tsx bench/balancers.bench.ts   (about 4 s: each case runs for a fixed time)

import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { parseConfig } from '../src/config/check.js';
import { compileConfig, type BalancePolicy, type HashOn } from '../src/config/compile.js';
import { createBalancer } from '../src/upstream/balancers/create.js';
import { hashKeyOf } from '../src/upstream/balancers/hash.js';
import { UpstreamPool, type Balancer, type Target } from '../src/upstream/pool.js';

const RUN_MS = 400;
const WARMUP_MS = 100;
const TARGETS = 10;

// Nothing listens on these ports: picking never connects.
const config = parseConfig({
  upstreams: {
    app: { targets: Array.from({ length: TARGETS }, (_, i) => ({ url: `http://127.0.0.1:${7000 + i}`, weight: 1 + (i % 3) })) },
  },
  routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
});
const spec = compileConfig(config).upstreams.get('app')!;
const pool = new UpstreamPool(spec);
const targets = pool.targets;
// Uneven loads, so least_conn and random compare real numbers rather than ties.
targets.forEach((t, i) => {
  t.inFlight = (i * 7) % 5;
  t.activeTunnels = i % 3;
});

// Client addresses, as `hashOn: ip` hands them over.
const keys = Array.from({ length: 256 }, (_, i) => `10.0.${i >> 4}.${(i * 37) % 251}`);

let sink = 0;

function measure(balancer: Balancer, list: readonly Target[], hashed: boolean, ms: number): number {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < keys.length; i++) sink += balancer.pick(list, null, hashed ? keys[i]! : null)?.spec.weight ?? 0;
      n += keys.length;
    }
    const now = process.hrtime.bigint();
    if (now >= deadline) return Number(now - start) / n;
  }
}

const policies: BalancePolicy[] = ['round_robin', 'least_conn', 'random', 'hash'];
console.log(`balancers: ${TARGETS} targets, weights 1-3, node ${process.version}`);
for (const balance of policies) {
  const balancer = createBalancer({ ...spec, balance }, targets);
  const hashed = balance === 'hash';
  measure(balancer, targets, hashed, WARMUP_MS);
  console.log(`  ${balance.padEnd(16)} ${measure(balancer, targets, hashed, RUN_MS).toFixed(1).padStart(7)} ns/pick`);
}

// A browser-like request: the key sits among other headers, cookies and parameters.
const req = new IncomingMessage(new Socket());
req.url = '/ws/chat?room=lobby&user=u-48213&v=3';
req.headers = {
  host: 'chat.example.com',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0',
  'x-user-id': 'u-48213',
  cookie: '_ga=GA1.2.1234567890.1700000000; theme=dark; session=8f14e45fceea167a5a36dedd4bea2543; lang=en',
};

function measureKey(hashOn: HashOn, ms: number): number {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < keys.length; i++) sink += hashKeyOf(hashOn, req, keys[i]!)?.length ?? 0;
      n += keys.length;
    }
    const now = process.hrtime.bigint();
    if (now >= deadline) return Number(now - start) / n;
  }
}

const sources: HashOn[] = [
  { from: 'ip' },
  { from: 'header', name: 'x-user-id' },
  { from: 'cookie', name: 'session' },
  { from: 'query', name: 'user' },
];
for (const hashOn of sources) {
  measureKey(hashOn, WARMUP_MS);
  console.log(`  ${`hashKeyOf ${hashOn.from}`.padEnd(16)} ${measureKey(hashOn, RUN_MS).toFixed(1).padStart(7)} ns/call`);
}
if (sink === -1) console.log(sink); // keeps the results alive
await pool.close();
