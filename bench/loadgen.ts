// bench/loadgen: `wsgate bench` (src/cli/bench, the one load generator) as a child process of bench/run.ts,
// which reads the other processes' CPU time at the moment the measured window begins:
//
//   node --import tsx bench/loadgen.ts http|ws URL [the options of wsgate bench]
//
// It prints JSON lines on stdout: {"phase":"measuring"} when the warm-up ends, then
// {"phase":"done","result":{...}} with the object `wsgate bench --json` prints, and exits.
// Exit 0 without errors, 1 with errors, 2 if the target could not be reached or the arguments are wrong,
// 4 if the parent died (its stdin pipe closed).
import { fstatSync } from 'node:fs';
import { BENCH_USAGE, parseBenchArgs } from '../src/cli/bench/options.js';
import { benchExitCode } from '../src/cli/bench/report.js';
import { runBench } from '../src/cli/bench/run-bench.js';

const parsed = parseBenchArgs(process.argv.slice(2));
if (parsed.help || 'error' in parsed) {
  process.stderr.write(`${parsed.help ? '' : `loadgen: ${parsed.error}\n`}${BENCH_USAGE}`);
  process.exit(parsed.help ? 0 : 2);
}
// Started by bench/run.ts with a pipe on stdin: when it closes, the parent died; stop at once.
if (fstatSync(0).isFIFO()) process.stdin.on('end', () => process.exit(4)).resume();
const result = await runBench(parsed.options, { onMeasuring: () => process.stdout.write('{"phase":"measuring"}\n') });
process.stdout.write(`${JSON.stringify({ phase: 'done', result })}\n`, () => process.exit(benchExitCode(result)));
