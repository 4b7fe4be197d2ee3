// bench/deflate-loadgen: a WebSocket echo load with permessage-deflate negotiated, for bench/run.ts (issue
// 14). `wsgate bench` relays raw frames and does not compress, so this load is driven by the ws package,
// which does: each connection keeps one message in flight and checks every echo. Same child protocol
// as bench/loadgen.ts:
//
//   node --import tsx bench/deflate-loadgen.ts ws URL --connections N --size 64kb --warmup 1000ms --duration 5000ms
//
// The payload is JSON text (records with counters and random numbers, about 5:1 under deflate, the
// kind of feed users compress), built once per connection; its first 12 bytes carry a sequence number
// so each echo is matched to its send. Prints {"phase":"measuring"} when the warm-up ends, then
// {"phase":"done","result":{...}} (BenchResult) and exits: 0, or 1 with errors, 2 when unreachable.
import { fstatSync } from 'node:fs';
import WebSocket from 'ws';
import { BENCH_USAGE, parseBenchArgs } from '../src/cli/bench/options.js';
import type { BenchResult } from '../src/cli/bench/report.js';
import { newHistogram } from '../src/cli/bench/stats.js';

// The same arguments as `wsgate bench ws`; of them this load uses the URL, connections, size, warm-up
// and duration.
const parsed = parseBenchArgs(process.argv.slice(2));
if (parsed.help || 'error' in parsed || parsed.options.mode !== 'ws' || parsed.options.sizeBytes < 16) {
  process.stderr.write(`deflate-loadgen: ws URL with --size of 16 bytes or more\n${BENCH_USAGE}`);
  process.exit(2);
}
const { url, connections, sizeBytes: size, warmupMs, durationMs } = parsed.options;
if (fstatSync(0).isFIFO()) process.stdin.on('end', () => process.exit(4)).resume();

// JSON records of a live feed: repeated keys, varying numbers. Seeded per connection, so no two
// connections send the same bytes and no message is a copy of the last one inside deflate's window.
function payload(seed: number): Buffer {
  let x = seed * 2654435761 + 1;
  const rand = (): number => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const parts: string[] = [];
  let length = 12;
  for (let i = 0; length < size; i++) {
    const record = `{"seq":${i},"symbol":"SYM${(rand() * 500) | 0}","price":${(rand() * 1000).toFixed(4)},"size":${(rand() * 1e4) | 0},"side":"${rand() < 0.5 ? 'buy' : 'sell'}"},`;
    parts.push(record);
    length += record.length;
  }
  const body = Buffer.alloc(size, 0x20);
  body.write('000000000000', 0, 'latin1');
  Buffer.from(parts.join(''), 'latin1').copy(body, 12, 0, size - 12);
  return body;
}

const histogram = newHistogram();
let measuring = false;
let stopped = false;
let ops = 0;
let bytes = 0;
let errors = 0;
let firstError: string | null = null;
let opened = 0;
let measureStart = 0;
const errorsByKind: Record<string, number> = {};

function fail(kind: string, message: string): void {
  errors++;
  errorsByKind[kind] = (errorsByKind[kind] ?? 0) + 1;
  firstError ??= message;
}

function connect(index: number): Promise<void> {
  const body = payload(index + 1);
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 64 * 1024 * 1024 });
    let seq = 0;
    let sentAt = 0n;
    const send = (): void => {
      body.write(String(++seq).padStart(12, '0'), 0, 'latin1');
      sentAt = process.hrtime.bigint();
      ws.send(body, { binary: true, compress: true });
    };
    ws.on('open', () => {
      if (!ws.extensions.includes('permessage-deflate')) {
        fail('protocol', 'permessage-deflate was not negotiated');
        ws.terminate();
        return resolve();
      }
      opened++;
      resolve();
      send();
    });
    ws.on('message', (data: Buffer) => {
      if (stopped) return;
      if (data.length !== size || data.toString('latin1', 0, 12) !== String(seq).padStart(12, '0')) fail('protocol', 'corrupt echo');
      else if (measuring) {
        ops++;
        bytes += size;
        histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - sentAt) / 1000n)));
      }
      send();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      fail(err.code === 'ECONNREFUSED' ? 'connect_refused' : 'other', err.message);
      resolve();
    });
    ws.on('close', () => {
      if (!stopped) fail('closed', 'closed by peer');
    });
    sockets.push(ws);
  });
}

const sockets: WebSocket[] = [];
await Promise.all(Array.from({ length: connections }, (_, i) => connect(i)));
await new Promise((r) => setTimeout(r, warmupMs));
const cpuStart = process.cpuUsage();
measuring = true;
measureStart = Date.now();
process.stdout.write('{"phase":"measuring"}\n');
await new Promise((r) => setTimeout(r, durationMs));
measuring = false;
stopped = true;
const elapsedMs = Date.now() - measureStart;
const cpu = process.cpuUsage(cpuStart);
for (const ws of sockets) ws.terminate();

const result: BenchResult = {
  mode: 'ws',
  connectOnly: false,
  url,
  connections,
  openConnections: opened,
  rate: null,
  coordinatedOmissionCorrected: false,
  warmupMs,
  durationMs,
  elapsedMs,
  stoppedBy: opened === 0 ? 'unreachable' : 'duration',
  ops,
  opsPerSec: (ops * 1000) / elapsedMs,
  bytes,
  bytesPerSec: (bytes * 1000) / elapsedMs,
  latencyUs: {
    p50: histogram.getValueAtPercentile(50),
    p90: histogram.getValueAtPercentile(90),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
    mean: histogram.mean,
  },
  errors,
  errorsByKind,
  firstError,
  generatorCpuUs: cpu.user + cpu.system,
  generatorCpuUsPerOp: ops > 0 ? (cpu.user + cpu.system) / ops : null,
  connect: null,
};
process.stdout.write(`${JSON.stringify({ phase: 'done', result })}\n`, () => process.exit(opened === 0 ? 2 : errors > 0 ? 1 : 0));
