// bench/run: end-to-end throughput and latency of wsgate, measured against the same upstream reached
// directly in the same run: HTTP GET, WebSocket echo of 64-byte messages, of 64 KiB and 1 MiB messages,
// and of 64 KiB and 1 MiB messages with permessage-deflate negotiated end to end.
//
//   npm run bench                      5 s per measurement
//   npm run bench -- --duration 10s    longer measurements
//   npm run bench -- --quick           2 s per measurement
//   npm run bench -- --rounds 3        every load 3 times, direct and wsgate alternating: best round, spread
//   npm run bench -- --only 'ws 64KiB,ws 1MiB'   only these loads
//   npm run bench -- --metrics-rounds 5   metrics on/off rounds after the main table (default 3, 0: none)
//   npm run bench -- --metrics-only    only the metrics on/off comparison (bench/metrics-cost.ts)
//   npm run bench -- --peers DIR       then the peers harness in DIR (its bench.sh): direct, nginx,
//                                      haproxy, caddy, node-http-proxy, gin-seed and wsgate in one run,
//                                      each proxy pinned alone; its table is appended (WSGATE_PEERS=DIR too)
//
// Every process is a child of this one: bench/upstream.ts, wsgate from the built dist/ (log level warn),
// and one bench/loadgen.ts (the `wsgate bench` load generator) per measurement (bench/deflate-loadgen.ts,
// driven by the ws package, for the compressed loads). Where taskset exists and two CPUs are allowed, wsgate runs
// alone on the second CPU, the upstream and the load generator share the first. Each measurement is
// preceded by a 1 s warm-up that is not recorded. The gateway's CPU time comes from /proc/<pid>/stat.
// The table goes to stdout and to bench/results/<UTC time>.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchResult } from '../src/cli/bench/report.js';
import { metricsCost, type CostLoad } from './metrics-cost.js';
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
  publish,
  runBench,
  startChild,
  startGateway,
  startUpstream,
  stopAllChildren,
  stopChild,
  withTimeout,
  type Pinning,
  type ProcStat,
} from './lib.js';
import { runSlowConsumer } from './slow-consumer.js';

const WARMUP_MS = 1000;

interface Scenario {
  name: string;
  mode: 'http' | 'ws';
  /** The load generator: `wsgate bench` (raw frames), or the ws package negotiating permessage-deflate. */
  deflate?: true;
  path: string;
  connections: number;
  size: number;
  unit: string;
  /** The headline figure of a result: requests or messages per second, or MB/s. */
  rate(r: BenchResult): number;
  describe: string;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'http',
    mode: 'http',
    path: '/',
    connections: 50,
    size: 0,
    unit: 'req/s',
    rate: (r) => r.opsPerSec,
    describe: 'HTTP/1.1 GET, keep-alive, 50 connections, 1 request in flight each',
  },
  {
    name: 'ws 64B',
    mode: 'ws',
    path: '/ws',
    connections: 200,
    size: 64,
    unit: 'msg/s',
    rate: (r) => r.opsPerSec,
    describe: 'WebSocket echo, 64-byte binary messages, 200 connections, 1 message in flight each',
  },
  {
    name: 'ws 64KiB',
    mode: 'ws',
    path: '/ws',
    connections: 20,
    size: 64 * 1024,
    unit: 'MB/s',
    rate: (r) => r.bytesPerSec / 1e6,
    describe: 'WebSocket echo, 64 KiB binary messages, 20 connections, 1 message in flight each; MB/s of echoed payload (10^6 bytes)',
  },
  {
    name: 'ws 1MiB',
    mode: 'ws',
    path: '/ws',
    connections: 20,
    size: 1024 * 1024,
    unit: 'MB/s',
    rate: (r) => r.bytesPerSec / 1e6,
    describe: 'WebSocket echo, 1 MiB binary messages, 20 connections, 1 message in flight each; MB/s of echoed payload',
  },
  {
    name: 'ws 64KiB deflate',
    mode: 'ws',
    deflate: true,
    path: '/deflate',
    connections: 20,
    size: 64 * 1024,
    unit: 'MB/s',
    rate: (r) => r.bytesPerSec / 1e6,
    describe: 'WebSocket echo with permessage-deflate negotiated between client and upstream (the gateway relays the compressed frames), 64 KiB JSON messages (about 5:1), 20 connections, 1 in flight each; MB/s of uncompressed payload',
  },
  {
    name: 'ws 1MiB deflate',
    mode: 'ws',
    deflate: true,
    path: '/deflate',
    connections: 20,
    size: 1024 * 1024,
    unit: 'MB/s',
    rate: (r) => r.bytesPerSec / 1e6,
    describe: 'the same with 1 MiB JSON messages',
  },
];

// The gateway's one route: every path to the upstream; messages up to 4 MiB (the default is 1 MiB,
// and a 1 MiB payload's frame is a few bytes more).
const ROUTE = { name: 'bench', match: { path: '/*' }, upstream: 'bench', websocket: { maxMessageBytes: '4mb' } };

// ---- measurement -------------------------------------------------------------------------------

interface Measurement {
  result: BenchResult;
  /** CPU time of each process inside the measured window, in seconds. */
  cpuSeconds: { loadgen: number; upstream: number; gateway: number };
  gatewayRssKb: number;
}

async function measure(scenario: Scenario, port: number, durationMs: number, cpu: number | null, pids: { upstream: number; gateway: number }): Promise<Measurement> {
  const args = [
    scenario.mode,
    `${scenario.mode}://127.0.0.1:${port}${scenario.path}`,
    '--connections', String(scenario.connections),
    '--warmup', `${WARMUP_MS}ms`,
    '--duration', `${durationMs}ms`,
    ...(scenario.size > 0 ? ['--size', `${scenario.size}b`] : []),
  ];
  const generator = scenario.deflate === true ? 'bench/deflate-loadgen.ts' : 'bench/loadgen.ts';
  const child = startChild([process.execPath, '--import', TSX, join(ROOT, generator), ...args], cpu, 'loadgen');
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  type Snapshot = Record<'loadgen' | 'upstream' | 'gateway', ProcStat>;
  const snapshot = (): Snapshot | null =>
    hasProc ? { loadgen: procStat(child.pid!), upstream: procStat(pids.upstream), gateway: procStat(pids.gateway) } : null;
  const span: { before: Snapshot | null; after: Snapshot | null } = { before: null, after: null };
  const result = await withTimeout(
    Promise.race([
      new Promise<BenchResult>((done) =>
        lines(child, (line) => {
          const msg = JSON.parse(line) as { phase: string; result?: BenchResult };
          if (msg.phase === 'measuring') span.before = snapshot();
          else if (msg.phase === 'done' && msg.result !== undefined) {
            span.after = snapshot();
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
  const { before, after } = span;
  const seconds = (name: keyof Snapshot): number =>
    before === null || after === null ? Number.NaN : (after[name].cpuTicks - before[name].cpuTicks) / CLK_TCK;
  return {
    result,
    cpuSeconds: { loadgen: seconds('loadgen'), upstream: seconds('upstream'), gateway: seconds('gateway') },
    gatewayRssKb: after === null ? Number.NaN : after.gateway.rssKb,
  };
}

interface Row {
  scenario: Scenario;
  direct: Measurement[]; // one per round
  wsgate: Measurement[];
}

// ---- output -------------------------------------------------------------------------------------

function best(rounds: Measurement[], scenario: Scenario): Measurement {
  return rounds.reduce((a, b) => (scenario.rate(b.result) > scenario.rate(a.result) ? b : a));
}

/** How far the worst round fell below the best, in % of the best. */
function spread(rounds: Measurement[], scenario: Scenario): string {
  const rates = rounds.map((m) => scenario.rate(m.result));
  const top = Math.max(...rates);
  return top > 0 ? `${(((top - Math.min(...rates)) / top) * 100).toFixed(0)} %` : 'n/a';
}

function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

function fmtMs(us: number): string {
  const ms = us / 1000;
  return ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function latency(r: BenchResult): string {
  return `${fmtMs(r.latencyUs.p50)} / ${fmtMs(r.latencyUs.p99)} ms`;
}

function percent(cpuSeconds: number, elapsedMs: number): string {
  return Number.isNaN(cpuSeconds) ? 'n/a' : `${Math.round((cpuSeconds / (elapsedMs / 1000)) * 100)}%`;
}

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (m === null) throw new Error(`--duration ${text}: write e.g. 10s or 500ms`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
  if (ms < 100 || ms > 600_000) throw new Error(`--duration ${text}: between 100ms and 600s`);
  return ms;
}

const USAGE = `usage: npm run bench -- [--duration 5s | --quick] [--rounds N] [--only LOADS] [--metrics-rounds N] [--metrics-only] [--peers DIR]
  --duration D        length of each measurement (default 5s), after a 1 s warm-up
  --quick             2 s per measurement
  --rounds N          measure every load N times (direct and wsgate alternating); the table shows the
                      best round and, from 2 rounds, each side's spread (worst below best, in %)
  --only LOADS        comma-separated load names (${SCENARIOS.map((x) => x.name).join(', ')})
  --metrics-rounds N  then N interleaved rounds of the http and ws 64B loads through a gateway with
                      metrics on and one with metrics off, medians and the cost in % (default 3; 0: skip)
  --metrics-only      only that comparison
  --slow-consumer     only the slow-consumer scenario: 1,000 slow readers, gateway RSS each second
  --peers DIR    also run the peers harness in DIR (nginx, HAProxy, Caddy, node http-proxy, Gin, wsgate)
                 and append its table (or set WSGATE_PEERS=DIR)
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      'metrics-rounds': { type: 'string' },
      'metrics-only': { type: 'boolean' },
      'slow-consumer': { type: 'boolean' },
      peers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const durationMs = values.duration !== undefined ? parseDuration(values.duration) : values.quick === true ? 2000 : 5000;
  const metricsRounds = Number(values['metrics-rounds'] ?? 3);
  if (!Number.isInteger(metricsRounds) || metricsRounds < 0 || metricsRounds > 50) throw new Error(`--metrics-rounds ${values['metrics-rounds']}: a whole number from 0 to 50`);
  const metricsOnly = values['metrics-only'] === true;
  const rounds = Number(values.rounds ?? 1);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds ${values.rounds}: a whole number from 1 to 20`);
  const only = values.only?.split(',').map((x) => x.trim());
  const unknown = only?.find((name) => !SCENARIOS.some((x) => x.name === name));
  if (unknown !== undefined) throw new Error(`--only ${unknown}: not a load; the loads are ${SCENARIOS.map((x) => x.name).join(', ')}`);
  const scenarios = SCENARIOS.filter((x) => only === undefined || only.includes(x.name));
  const built = ensureBuilt();
  const pin = choosePinning('load generator');
  process.stderr.write(`bench: ${pin.note}\n`);
  if (!hasProc) process.stderr.write('bench: no /proc here: CPU time and RSS are not measured\n');

  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-'));
  if (values['slow-consumer'] === true) return slowConsumerOnly(dir, pin, built, values.quick === true);
  let costErrors = 0;
  try {
    const upstream = await startUpstream(pin.load);
    const gateway = await startGateway(pin.gateway, upstream.port, dir, 'wsgate.json', ROUTE);
    const pids = { upstream: upstream.child.pid!, gateway: gateway.child.pid! };
    const rows: Row[] = metricsOnly ? [] : scenarios.map((scenario) => ({ scenario, direct: [], wsgate: [] }));
    for (let round = 1; round <= rounds; round++) {
      for (const row of rows) {
        const { scenario } = row;
        const run = async (label: string, port: number): Promise<Measurement> => {
          process.stderr.write(`bench: ${scenario.name} ${label}${rounds > 1 ? ` (round ${round})` : ''} ... `);
          const m = await measure(scenario, port, durationMs, pin.load, pids);
          process.stderr.write(`${fmtRate(scenario.rate(m.result))} ${scenario.unit}, p50/p99 ${latency(m.result)}${m.result.errors > 0 ? `, ${m.result.errors} errors` : ''}\n`);
          return m;
        };
        row.direct.push(await run('direct', upstream.port));
        row.wsgate.push(await run('wsgate', gateway.port));
      }
    }
    let costLines: string[] = [];
    if (metricsRounds > 0) {
      // A second gateway, the same but for metrics: both wait on the gateway CPU, only the measured one has load.
      const off = await startGateway(pin.gateway, upstream.port, dir, 'wsgate-metrics-off.json', ROUTE, { config: { metrics: { enabled: false } } });
      const loads: CostLoad[] = SCENARIOS.filter((s) => s.name === 'http' || s.name === 'ws 64B').map((scenario) => ({
        name: scenario.name,
        unit: scenario.unit,
        measure: async (port, pid) => {
          const m = await measure(scenario, port, durationMs, pin.load, { upstream: pids.upstream, gateway: pid });
          return { rate: scenario.rate(m.result), cpuUsPerOp: m.result.ops > 0 ? (m.cpuSeconds.gateway * 1e6) / m.result.ops : Number.NaN, errors: m.result.errors };
        },
      }));
      const cost = await metricsCost(loads, { on: { port: gateway.port, pid: pids.gateway }, off: { port: off.port, pid: off.child.pid! } }, metricsRounds, (line) => process.stderr.write(`bench: ${line}\n`));
      costLines = cost.lines;
      costErrors = cost.errors;
      await stopChild(off.child);
    }
    await stopChild(gateway.child);
    await stopChild(upstream.child);

    const now = new Date();
    const out: string[] = [];
    out.push(`# wsgate bench, ${now.toISOString()}`, '');
    out.push(environmentLine(built));
    out.push(`${pin.note}. ${durationMs / 1000} s per measurement after a ${WARMUP_MS / 1000} s warm-up; everything on 127.0.0.1; wsgate at log level warn.`, '');
    let errors = 0;
    if (rows.length > 0) {
      if (rounds > 1) out.push(`Each load ran ${rounds} times, direct and wsgate alternating; each figure is the best round (interference only slows a run down), and \`spread\` is how far the worst round fell below the best.`, '');
      out.push(`| load | direct | wsgate | ratio | direct p50 / p99 | wsgate p50 / p99 | wsgate CPU µs/op | wsgate RSS |${rounds > 1 ? ' direct spread | wsgate spread | wsgate rounds |' : ''}`);
      out.push(`|---|---:|---:|---:|---:|---:|---:|---:|${rounds > 1 ? '---:|---:|---|' : ''}`);
      for (const row of rows) {
        const { scenario } = row;
        const direct = best(row.direct, scenario);
        const wsgate = best(row.wsgate, scenario);
        const d = scenario.rate(direct.result);
        const w = scenario.rate(wsgate.result);
        const cpuUs = wsgate.result.ops > 0 ? (wsgate.cpuSeconds.gateway * 1e6) / wsgate.result.ops : Number.NaN;
        out.push(
          `| ${scenario.name} | ${fmtRate(d)} ${scenario.unit} | ${fmtRate(w)} ${scenario.unit} | ${d > 0 ? (w / d).toFixed(2) : 'n/a'} | ` +
            `${latency(direct.result)} | ${latency(wsgate.result)} | ${Number.isNaN(cpuUs) ? 'n/a' : cpuUs.toFixed(1)} | ` +
            `${Number.isNaN(wsgate.gatewayRssKb) ? 'n/a' : `${Math.round(wsgate.gatewayRssKb / 1024)} MiB`} |` +
            (rounds > 1
              ? ` ${spread(row.direct, scenario)} | ${spread(row.wsgate, scenario)} | ${row.wsgate.map((m) => fmtRate(scenario.rate(m.result))).join(' / ')} |`
              : ''),
        );
      }
      out.push('', 'Loads:');
      for (const { scenario } of rows) out.push(`- ${scenario.name}: ${scenario.describe}.`);
      out.push('', `CPU use during each measurement${rounds > 1 ? ' (the best round)' : ''} (100% = one CPU busy for the whole window; a process near 100% is the limit):`, '');
      out.push('| load | side | load generator | upstream | wsgate | ops | errors |');
      out.push('|---|---|---:|---:|---:|---:|---:|');
      for (const row of rows) {
        const { scenario } = row;
        errors += [...row.direct, ...row.wsgate].reduce((sum, m) => sum + m.result.errors, 0);
        for (const [side, m] of [['direct', best(row.direct, scenario)], ['wsgate', best(row.wsgate, scenario)]] as const) {
          const ms = m.result.elapsedMs;
          out.push(
            `| ${scenario.name} | ${side} | ${percent(m.cpuSeconds.loadgen, ms)} | ${percent(m.cpuSeconds.upstream, ms)} | ` +
              `${side === 'direct' ? '-' : percent(m.cpuSeconds.gateway, ms)} | ${m.result.ops.toLocaleString('en-US')} | ` +
              `${m.result.errors}${m.result.firstError !== null ? ` (${m.result.firstError})` : ''} |`,
          );
        }
      }
    }
    if (costLines.length > 0) out.push('', ...costLines);
    errors += costErrors;
    const peersDir = values.peers ?? process.env.WSGATE_PEERS;
    if (peersDir !== undefined && peersDir !== '') out.push('', ...runPeers(peersDir, values.quick === true));
    publish(`${out.join('\n')}\n`, now, '', false);
    return errors > 0 ? 1 : 0;
  } finally {
    await stopAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Issue 14: memory under slow readers, alone (it holds 1,000 tunnels; the scenarios above hold few).
async function slowConsumerOnly(dir: string, pin: Pinning, built: string, quick: boolean): Promise<number> {
  try {
    const now = new Date();
    const section = await runSlowConsumer({ tunnels: 1000, seconds: quick ? 5 : 10, gatewayCpu: pin.gateway, loadCpu: pin.load, dir });
    publish(`${[`# wsgate bench, ${now.toISOString()}`, '', environmentLine(built), `${pin.note}.`, '', ...section].join('\n')}\n`, now, '-slow-consumer', false);
    return 0;
  } finally {
    await stopAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The peers harness measures every proxy the same way (wrk and a Go WebSocket load generator, the
// proxy alone on CPU 1) in one run; wsgate is started from this checkout. Its table is returned.
function runPeers(dir: string, quick: boolean): string[] {
  const script = join(dir, 'bench.sh');
  if (!existsSync(script)) return [`Peers: no bench.sh in ${dir}; skipped.`];
  const targets = ['direct', 'nginx', 'haproxy', 'caddy', 'node-http-proxy', 'gin-seed', 'wsgate'];
  process.stderr.write(`bench: peers harness: ${targets.join(' ')}${quick ? ' (quick)' : ''} ...\n`);
  const run = spawnSync('bash', [script, ...(quick ? ['--quick'] : []), ...targets], {
    cwd: tmpdir(),
    env: { ...process.env, WSGATE_DIR: ROOT },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 30 * 60_000,
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- null when the spawn itself fails (ENOENT)
  const table = (run.stdout ?? '').trim();
  if (table === '') return [`Peers: the harness printed nothing (exit ${run.status}).`];
  return ['## Peers, same machine, one run', '', table];
}

runBench('bench', main);
