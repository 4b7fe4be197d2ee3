// bench/balance-loadgen: `wsgate bench http` (src/cli/bench, the one load generator) with the connections
// split over several values of one header, as bench/balance.ts needs for `balance: hash` with
// `hashOn: header:X-User`: `wsgate bench` sends the same request on every connection, so one value would
// put the whole load on one target. Each value gets its own run of the load generator, all in this one
// process and started together, with an equal share of --connections:
//
//   node --import tsx bench/balance-loadgen.ts HEADER VALUE,VALUE,... http URL [the options of wsgate bench]
//
// It prints JSON lines on stdout, as bench/loadgen.ts does: {"phase":"measuring"} once every run has
// ended its warm-up, then {"phase":"done","result":{...}} with the runs merged: operations, bytes and
// errors summed, the rates summed, the window the longest, p50 the mean of the runs' p50 weighted by
// operations, and the other percentiles and max the worst run's. Exit 0 without errors, 1 with errors,
// 2 if the arguments are wrong, 4 if the parent died (its stdin pipe closed).
import { fromParent } from './parent-pipe.js';
import { BENCH_USAGE, parseBenchArgs } from '../src/cli/bench/options.js';
import { benchExitCode, type BenchResult } from '../src/cli/bench/report.js';
import { runBench } from '../src/cli/bench/run-bench.js';

const [header, valueList, ...benchArgs] = process.argv.slice(2);
const parsed = parseBenchArgs(benchArgs);
if (header === undefined || valueList === undefined || !/^[A-Za-z0-9-]+$/.test(header) || parsed.help || 'error' in parsed) {
  process.stderr.write(`balance-loadgen: ${'error' in parsed ? parsed.error : 'usage: balance-loadgen.ts HEADER VALUE,... http URL [options]'}\n${BENCH_USAGE}`);
  process.exit(2);
}
const base = parsed.options;
const values = valueList.split(',').filter((v) => v !== '');
if (values.length === 0 || values.length > base.connections) {
  process.stderr.write(`balance-loadgen: give 1 to ${base.connections} header values (one per connection at most)\n`);
  process.exit(2);
}
// Started by bench/balance.ts with a pipe on stdin: when it closes, the parent died; stop at once.
fromParent(null, () => process.exit(4));

let measuring = 0;
const runs = values.map((value, i) => {
  const connections = Math.floor(base.connections / values.length) + (i < base.connections % values.length ? 1 : 0);
  const options = { ...base, connections, headers: [...base.headers, `${header}: ${value}`] };
  return runBench(options, {
    onMeasuring: () => {
      if (++measuring === values.length) process.stdout.write('{"phase":"measuring"}\n');
    },
  });
});
const results = await Promise.all(runs);
const result = merge(results);
process.stdout.write(`${JSON.stringify({ phase: 'done', result })}\n`, () => process.exit(benchExitCode(result)));

function merge(list: readonly BenchResult[]): BenchResult {
  const first = list[0]!;
  const sum = (pick: (r: BenchResult) => number): number => list.reduce((a, r) => a + pick(r), 0);
  const worst = (pick: (r: BenchResult) => number): number => Math.max(...list.map(pick));
  const ops = sum((r) => r.ops);
  const errorsByKind: Record<string, number> = {};
  for (const r of list) for (const [kind, n] of Object.entries(r.errorsByKind)) errorsByKind[kind] = (errorsByKind[kind] ?? 0) + n;
  const stoppedBy = list.find((r) => r.stoppedBy !== 'duration')?.stoppedBy ?? 'duration';
  return {
    ...first,
    url: base.url,
    connections: sum((r) => r.connections),
    openConnections: sum((r) => r.openConnections),
    elapsedMs: worst((r) => r.elapsedMs),
    stoppedBy,
    ops,
    opsPerSec: sum((r) => r.opsPerSec),
    bytes: sum((r) => r.bytes),
    bytesPerSec: sum((r) => r.bytesPerSec),
    latencyUs: {
      p50: ops > 0 ? Math.round(sum((r) => r.latencyUs.p50 * r.ops) / ops) : 0,
      p90: worst((r) => r.latencyUs.p90),
      p99: worst((r) => r.latencyUs.p99),
      p999: worst((r) => r.latencyUs.p999),
      max: worst((r) => r.latencyUs.max),
      mean: ops > 0 ? Math.round(sum((r) => r.latencyUs.mean * r.ops) / ops) : 0,
    },
    errors: sum((r) => r.errors),
    errorsByKind,
    firstError: list.find((r) => r.firstError !== null)?.firstError ?? null,
    // The runs share this process: each measured the whole process's CPU over its window.
    generatorCpuUs: worst((r) => r.generatorCpuUs),
    generatorCpuUsPerOp: ops > 0 ? worst((r) => r.generatorCpuUs) / ops : null,
    connect: null,
  };
}
