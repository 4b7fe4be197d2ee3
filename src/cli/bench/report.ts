// cli/bench/report: the result of a bench run, as the one JSON object of `--json` and as the text summary,
// and the exit code it means.
import { errorKindLabel } from './stats.js';

/**
 * The object `wsgate bench --json` prints on one line. These field names are stable.
 *
 *   mode                 "http" | "ws"
 *   connectOnly          true for `bench ws --connect-only`
 *   url                  the URL as given
 *   connections          connections asked for (--connections)
 *   openConnections      connections that opened (TCP for http, after a valid 101 for ws)
 *   rate                 --rate in operations/s (open loop), or null (closed loop, 1 in flight each)
 *   coordinatedOmissionCorrected
 *                        true with --rate: latency runs from each operation's intended send time
 *   warmupMs, durationMs the warm-up and measurement asked for
 *   elapsedMs            the measured window as it happened; with --connect-only, the time to open all
 *   stoppedBy            "duration" | "max-ops" | "deadline" | "interrupt"; "unreachable": no TCP connection
 *                        could be made (exit 2); "no-connection": connected, but none opened (TLS, handshake)
 *   ops                  operations that succeeded inside the window: 2xx responses (http), echoes of the
 *                        size sent (ws), completed handshakes (--connect-only)
 *   opsPerSec            ops / elapsed seconds (handshakes/s with --connect-only)
 *   bytes, bytesPerSec   payload bytes received inside the window: response bodies (http), echoed
 *                        payloads (ws); MB/s in the summary is bytesPerSec / 1e6
 *   latencyUs            { p50, p90, p99, p999, max, mean } in µs of the successful operations (the
 *                        handshakes with --connect-only), from an HDR histogram at 3 significant digits
 *   errors               all errors, from the first connect to the end (warm-up included)
 *   errorsByKind         { kind: count }; kinds: connect_refused, reset, timeout, closed, protocol, tls,
 *                        deadline, other, and status_NNN for each non-2xx status (non-101 for ws handshakes)
 *   firstError           the first error's message, or null
 *   generatorCpuUs       CPU time (user + system) this process used inside the window, in µs
 *   generatorCpuUsPerOp  generatorCpuUs / ops, or null without ops: small next to the target's, the
 *                        generator is not the bottleneck
 *   connect              with --connect-only: { opened, failed, openMs, handshakesPerSec, heldMs, dropped },
 *                        otherwise null
 */
export interface BenchResult {
  mode: 'http' | 'ws';
  connectOnly: boolean;
  url: string;
  connections: number;
  openConnections: number;
  rate: number | null;
  coordinatedOmissionCorrected: boolean;
  warmupMs: number;
  durationMs: number;
  elapsedMs: number;
  stoppedBy: 'duration' | 'max-ops' | 'deadline' | 'interrupt' | 'unreachable' | 'no-connection';
  ops: number;
  opsPerSec: number;
  bytes: number;
  bytesPerSec: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  errors: number;
  errorsByKind: Record<string, number>;
  firstError: string | null;
  generatorCpuUs: number;
  generatorCpuUsPerOp: number | null;
  connect: { opened: number; failed: number; openMs: number; handshakesPerSec: number; heldMs: number; dropped: number } | null;
}

/** 0 without errors, 1 with errors, 2 when no connection to the target could be made at all. */
export function benchExitCode(r: BenchResult): number {
  if (r.stoppedBy === 'unreachable') return 2;
  return r.errors > 0 ? 1 : 0;
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

function rate(n: number): string {
  return n >= 100 ? count(n) : n.toFixed(1);
}

function ms(us: number): string {
  return (us / 1000).toFixed(3);
}

function seconds(msValue: number): string {
  return `${(msValue / 1000).toFixed(2)} s`;
}

function latencyLine(r: BenchResult): string {
  const l = r.latencyUs;
  return `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)} ms`;
}

function errorLines(r: BenchResult): string[] {
  if (r.errors === 0) return ['  errors     0'];
  const kinds = Object.entries(r.errorsByKind)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${errorKindLabel(kind)} ×${count(n)}`);
  return [`  errors     ${count(r.errors)}: ${kinds.join(', ')}`, `             first: ${r.firstError ?? ''}`];
}

/** The text summary: a title line, then one aligned line per figure. */
export function formatBenchReport(r: BenchResult): string {
  const out: string[] = [];
  const unit = r.mode === 'http' ? 'requests' : 'messages';
  if (r.stoppedBy === 'unreachable') {
    out.push(`wsgate bench ${r.mode} ${r.url}: the target could not be reached (no connection of ${count(r.connections)} opened)`);
    out.push(...errorLines(r));
    return `${out.join('\n')}\n`;
  }
  if (r.connectOnly) {
    const c = r.connect!;
    out.push(`wsgate bench ws ${r.url} --connect-only: ${plural(r.connections, 'connection')}, 256 handshakes at a time`);
    out.push(`  opened     ${count(c.opened)} of ${count(r.connections)} in ${c.openMs.toFixed(0)} ms (${rate(c.handshakesPerSec)} handshakes/s)`);
    out.push(`  failed     ${count(c.failed)}`);
    if (c.opened > 0) out.push(`  handshake  ${latencyLine(r)}`);
    out.push(`  held       ${seconds(c.heldMs)}, ${count(c.dropped)} dropped`);
  } else {
    const loop =
      r.rate === null
        ? `closed loop, 1 ${r.mode === 'http' ? 'request' : 'message'} in flight per connection`
        : `open loop at ${rate(r.rate)} ${unit}/s; latency from the intended send time (coordinated omission corrected)`;
    out.push(`wsgate bench ${r.mode} ${r.url}: ${plural(r.connections, 'connection')}, ${loop}`);
    out.push(`  window     ${seconds(r.elapsedMs)} after ${seconds(r.warmupMs)} warm-up${r.stoppedBy === 'duration' ? '' : ` (stopped by ${r.stoppedBy})`}`);
    if (r.openConnections < r.connections) out.push(`  open       ${count(r.openConnections)} of ${count(r.connections)} connections`);
    out.push(`  ops        ${plural(r.ops, unit.slice(0, -1))}`);
    out.push(`  ops/s      ${rate(r.opsPerSec)}`);
    out.push(`  MB/s       ${(r.bytesPerSec / 1e6).toFixed(2)} (${r.mode === 'http' ? 'response bodies' : 'echoed payloads'})`);
    if (r.ops > 0) out.push(`  latency    ${latencyLine(r)}`);
  }
  out.push(...errorLines(r));
  out.push(`  generator CPU µs/op  ${r.generatorCpuUsPerOp === null ? 'n/a' : r.generatorCpuUsPerOp.toFixed(1)}`);
  return `${out.join('\n')}\n`;
}
