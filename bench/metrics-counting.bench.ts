// bench/metrics-counting: ns of the metrics work the relay does, with metrics on and off (issue 10),
// as the gateway calls it: per HTTP exchange httpFinished() and the target's answered(); per tunnel
// and clock tick reportTunnel() (WebSocket messages are counted on the tunnel itself, metrics or
// not, and reach the metrics only as these per-tick deltas). A steadier figure than end-to-end
// throughput on a shared machine; compare it with the gateway's CPU µs per request in npm run bench.
// Run: node --import tsx bench/metrics-counting.bench.ts   (about 3 s)
import { GatewayMetrics, type TunnelCounts } from '../src/observability/metrics.js';

const RUN_MS = 400;
const WARMUP_MS = 100;
const METHODS = ['GET', 'GET', 'GET', 'POST'];
const STATUSES = [200, 200, 200, 200, 404, 503];

function gateway(enabled: boolean): GatewayMetrics {
  return new GatewayMetrics({ enabled, defaultMetrics: false, upstreams: () => [], tunnels: () => [], wsRoutes: () => [] });
}

// Runs `op` in batches until `ms` passed; ns per call.
function time(op: (i: number) => void, ms: number): number {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let calls = 0;
  for (;;) {
    for (let i = 0; i < 10_000; i++) op(calls + i);
    calls += 10_000;
    const now = process.hrtime.bigint();
    if (now >= deadline) return Number(now - start) / calls;
  }
}

function perExchange(enabled: boolean): number {
  const m = gateway(enabled);
  const routes = ['api', 'chat', 'static'].map((n) => m.route(n));
  const targets = ['http://10.0.0.1:80', 'http://10.0.0.2:80'].map((t) => m.target('api', t));
  const op = (i: number): void => {
    const seconds = 0.0005 + (i % 97) * 0.0003;
    m.httpFinished(routes[i % 3]!, METHODS[i & 3]!, STATUSES[i % 6]!, seconds);
    targets[i & 1]!.answered(STATUSES[i % 6]!, seconds * 0.8);
  };
  time(op, WARMUP_MS);
  return time(op, RUN_MS);
}

function perTunnelTick(enabled: boolean): number {
  const m = gateway(enabled);
  const tunnels: (TunnelCounts & { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number })[] = Array.from({ length: 1000 }, (_, i) => ({
    options: { route: `route-${i % 4}` },
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    reportedMessagesIn: 0,
    reportedMessagesOut: 0,
    reportedBytesIn: 0,
    reportedBytesOut: 0,
  }));
  const op = (i: number): void => {
    const t = tunnels[i % 1000]!;
    // Traffic since the last tick, as a busy tunnel has.
    t.messagesIn += 3;
    t.messagesOut += 3;
    t.bytesIn += 200;
    t.bytesOut += 200;
    m.reportTunnel(t);
  };
  time(op, WARMUP_MS);
  return time(op, RUN_MS);
}

const rows: [string, (enabled: boolean) => number][] = [
  ['per HTTP exchange (httpFinished + target answered)', perExchange],
  ['per tunnel per clock tick (reportTunnel, with traffic)', perTunnelTick],
];
process.stdout.write('| work | metrics on, ns | metrics off, ns | difference, ns |\n|---|---:|---:|---:|\n');
for (const [name, run] of rows) {
  // Interleaved, median of 3 each, so drift hits both sides.
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < 3; r++) {
    on.push(run(true));
    off.push(run(false));
  }
  const med = (v: number[]): number => v.sort((a, b) => a - b)[1]!;
  process.stdout.write(`| ${name} | ${med(on).toFixed(1)} | ${med(off).toFixed(1)} | ${(med(on) - med(off)).toFixed(1)} |\n`);
}
