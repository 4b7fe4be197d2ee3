// cli/bench/command: `wsgate bench http|ws URL [options]` (SPEC section 1): parses the arguments, shows
// progress on a terminal, prints the summary or the JSON object, and returns the exit code:
// 0 no errors, 1 errors or bad usage, 2 the target could not be reached at all.
import { BENCH_USAGE, parseBenchArgs } from './options.js';
import { benchExitCode, formatBenchReport } from './report.js';
import { runBench, type BenchProgress } from './run-bench.js';

function progressLine(p: BenchProgress, opsPerSec: number, connections: number): string {
  const elapsed = `${(p.elapsedMs / 1000).toFixed(0)}s`;
  const errors = `${p.errors.toLocaleString('en-US')} error${p.errors === 1 ? '' : 's'}`;
  switch (p.phase) {
    case 'connecting':
      return `${elapsed}  connecting: ${p.opened.toLocaleString('en-US')}/${connections.toLocaleString('en-US')} open, ${errors}`;
    case 'holding':
      return `${elapsed}  holding ${(p.opened - p.dropped).toLocaleString('en-US')} connections, ${p.dropped} dropped, ${errors}`;
    default:
      return `${elapsed}  ${p.phase === 'warmup' ? 'warming up' : 'measuring'}: ${Math.round(opsPerSec).toLocaleString('en-US')} ops/s, ${errors}`;
  }
}

export async function benchCommand(argv: string[]): Promise<number> {
  const parsed = parseBenchArgs(argv);
  if (parsed.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  if ('error' in parsed) {
    process.stderr.write(`wsgate bench: ${parsed.error}\n(wsgate bench --help lists the options)\n`);
    return 1;
  }
  const { options } = parsed;
  const tty = process.stderr.isTTY;
  let lastOps = 0;
  let lastMs = 0;
  const onProgress = (p: BenchProgress): void => {
    const opsPerSec = p.elapsedMs > lastMs ? ((p.ops - lastOps) * 1000) / (p.elapsedMs - lastMs) : 0;
    lastOps = p.ops;
    lastMs = p.elapsedMs;
    process.stderr.write(`\r\x1b[K${progressLine(p, opsPerSec, options.connections)}`);
  };
  // The first Ctrl-C ends the run early and still prints what was measured; a second one exits.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await runBench(options, { signal: interrupt.signal, ...(tty ? { onProgress } : {}) });
    if (tty) process.stderr.write('\r\x1b[K');
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : formatBenchReport(result));
    return benchExitCode(result);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
