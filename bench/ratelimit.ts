// bench/ratelimit: what a route's `rateLimit` costs per request. Two wsgates (from dist/, as users
// run it) in front of the same upstream, one whose route has no limit and one whose route has a limit
// that never refuses (every request takes a token from one bucket, keyed by ip: the memory store's hot
// path, plus the three RateLimit-* headers); the load generator runs closed loop against each in
// turn, `RUNS` times, and the table shows each run and the medians.
//
// The end-to-end figures need quiet CPUs; on a shared machine they drift by more than the cost
// measured. So the bench first measures the middleware itself, in process: a request's exchange
// (a real ServerResponse, no socket) through the rate limit with the memory store, against the same
// exchange through a middleware that only calls next(): the difference is the limit's own cost.
//
//   node --import tsx bench/ratelimit.ts [--runs 3] [--e2e] [--duration 5s] [--connections 50]
import { mkdtempSync, rmSync } from 'node:fs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.js';
import type { BenchResult } from '../src/cli/bench/report.js';
import { ManualClock } from '../src/core/clock.js';
import type { Middleware } from '../src/middleware/chain.js';
import { GatewayMetrics } from '../src/observability/metrics.js';
import { MemoryRateStore } from '../src/ratelimit/memory-store.js';
import { RateLimiter } from '../src/ratelimit/rate-limit.js';
import { Exchange } from '../src/server/exchange.js';
import {
  CLK_TCK,
  ROOT,
  TSX,
  choosePinning,
  ensureBuilt,
  environmentLine,
  exitedEarly,
  hasProc,
  lines,
  procStat,
  runBench,
  startChild,
  startGateway,
  startUpstream,
  stopChild,
  withTimeout,
} from './lib.js';

const WARMUP_MS = 1000;

interface Run {
  route: 'free' | 'limited';
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  gatewayUsPerOp: number; // wsgate's CPU time (user + system) per request in the measured window
  errors: number;
}

async function measure(route: Run['route'], port: number, durationMs: number, connections: number, cpu: number | null, gatewayPid: number): Promise<Run> {
  const url = `http://127.0.0.1:${port}/item`;
  const args = ['http', url, '--connections', String(connections), '--warmup', `${WARMUP_MS}ms`, '--duration', `${durationMs}ms`];
  const child = startChild([process.execPath, '--import', TSX, join(ROOT, 'bench/loadgen.ts'), ...args], cpu, 'loadgen');
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  let before = 0;
  let after = 0;
  const result = await withTimeout(
    Promise.race([
      new Promise<BenchResult>((done) =>
        lines(child, (line) => {
          const msg = JSON.parse(line) as { phase: string; result?: BenchResult };
          if (msg.phase === 'measuring') before = hasProc ? procStat(gatewayPid).cpuTicks : 0;
          else if (msg.phase === 'done' && msg.result !== undefined) {
            after = hasProc ? procStat(gatewayPid).cpuTicks : 0;
            done(msg.result);
          }
        }),
      ),
      exitedEarly(child, 'loadgen', () => stderr),
    ]),
    WARMUP_MS + durationMs + 30_000,
    'loadgen',
  );
  await stopChild(child);
  const cpuUs = ((after - before) / CLK_TCK) * 1e6;
  return {
    route,
    opsPerSec: result.opsPerSec,
    p50Us: result.latencyUs.p50,
    p99Us: result.latencyUs.p99,
    gatewayUsPerOp: hasProc && result.ops > 0 ? cpuUs / result.ops : Number.NaN,
    errors: result.errors,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function row(label: string, r: Omit<Run, 'route'>): string {
  return `| ${label} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.p50Us.toFixed(0)} | ${r.p99Us.toFixed(0)} | ${r.gatewayUsPerOp.toFixed(1)} | ${r.errors} |`;
}

// ---- in process: ns per request through the middleware -------------------------------------------

const OPS = 2_000_000;
const DONE = Promise.resolve();
function next(): Promise<void> {
  return DONE;
}

function exchangeOf(client: string): Exchange {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  const res = new ServerResponse(req);
  const unused = { answer: () => undefined, refuse: () => undefined };
  return new Exchange(req, res, false, { name: 'bench', upstream: 'bench' }, {}, 'id', client, unused);
}

// CPU ns (user + system) per call of `mw` over OPS calls, spread over `clients` addresses (buckets).
// CPU time rather than wall time: other processes on the machine do not count.
function nsPerOp(mw: Middleware, clients: number): number {
  const exchanges = Array.from({ length: clients }, (_, i) => exchangeOf(`10.0.${(i >> 8) & 255}.${i & 255}`));
  const started = process.cpuUsage();
  for (let i = 0; i < OPS; i++) mw(exchanges[i % clients]!, next);
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / OPS;
}

function inProcess(runs: number): string[] {
  const clock = new ManualClock(1000, Date.now());
  const store = new MemoryRateStore(clock);
  const limiter = new RateLimiter('bench', { requests: 1_000_000_000, perMs: 1000, burst: 1_000_000_000, key: { from: 'ip' }, keyText: 'ip' }, store, clock, new GatewayMetrics({ defaultMetrics: false, upstreams: () => [], tunnels: () => [], wsRoutes: () => [] }));
  const passThrough: Middleware = (_ctx, n) => n();
  const out = ['| middleware | clients (buckets) | CPU ns/request, each run | median |', '|---|---|---|---|'];
  for (const clients of [1, 10_000]) {
    for (const [name, mw] of [['next() only', passThrough], ['rateLimit (memory)', limiter.middleware]] as const) {
      nsPerOp(mw, clients); // warm-up: JIT and, for the limit, every bucket made once
      const each = Array.from({ length: runs }, () => nsPerOp(mw, clients));
      out.push(`| ${name} | ${clients} | ${each.map((n) => n.toFixed(0)).join(', ')} | ${median(each).toFixed(0)} |`);
    }
  }
  store.close();
  return out;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { e2e: { type: 'boolean', default: false }, duration: { type: 'string', default: '5s' }, runs: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' } },
  });
  const durationMs = parseDuration(values.duration);
  const runs = Number(values.runs);
  const connections = Number(values.connections);
  process.stdout.write(`## rateLimit middleware in process (${OPS.toLocaleString('en-US')} requests a run, ${runs} runs)\n\n${inProcess(runs).join('\n')}\n\n`);
  if (!values.e2e) return 0;
  const built = ensureBuilt();
  const pin = choosePinning('load generator');
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-'));
  try {
    const upstream = await startUpstream(pin.load);
    // Two wsgates on the same CPU, one measured at a time (the idle one costs nothing): the same
    // config but for the limited route's rateLimit.
    const gateways = {
      free: await startGateway(pin.gateway, upstream.port, dir, 'free.json', { name: 'free', match: { path: '/*' }, upstream: 'bench' }),
      limited: await startGateway(pin.gateway, upstream.port, dir, 'limited.json', {
        name: 'limited',
        match: { path: '/*' },
        upstream: 'bench',
        rateLimit: { requests: 1_000_000_000, per: '1s', key: 'ip' },
      }),
    };
    const all: Run[] = [];
    for (let i = 0; i < runs; i++) {
      for (const route of ['free', 'limited'] as const) {
        const g = gateways[route];
        all.push(await measure(route, g.port, durationMs, connections, pin.load, g.child.pid!));
      }
    }
    await stopChild(gateways.free.child);
    await stopChild(gateways.limited.child);
    await stopChild(upstream.child);
    const out: string[] = [
      `## rateLimit cost per request (${runs} runs of ${durationMs} ms, ${connections} connections, closed loop)`,
      '',
      environmentLine(built),
      pin.note,
      '',
      '| route | req/s | p50 µs | p99 µs | wsgate CPU µs/req | errors |',
      '|---|---|---|---|---|---|',
    ];
    for (const [i, r] of all.entries()) out.push(row(`${r.route} (run ${Math.floor(i / 2) + 1})`, r));
    for (const route of ['free', 'limited'] as const) {
      const mine = all.filter((r) => r.route === route);
      out.push(
        row(`**${route}, median**`, {
          opsPerSec: median(mine.map((r) => r.opsPerSec)),
          p50Us: median(mine.map((r) => r.p50Us)),
          p99Us: median(mine.map((r) => r.p99Us)),
          gatewayUsPerOp: median(mine.map((r) => r.gatewayUsPerOp)),
          errors: mine.reduce((n, r) => n + r.errors, 0),
        }),
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return all.some((r) => r.errors > 0) ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('ratelimit', main);
