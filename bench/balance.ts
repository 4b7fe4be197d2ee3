// bench/balance: what load balancing costs wsgate and how it copes when a target dies, in three parts:
//
//   1. policies  One wsgate per `balance` policy (round_robin, least_conn, random, and hash with
//                hashOn: header:X-User), each over the same 4 targets, each given the same HTTP load by
//                the `wsgate bench` load generator (bench/balance-loadgen.ts: the connections split over
//                4 X-User values, one landing on each target under hash, found by probing first): req/s,
//                wsgate CPU µs per request, and how the requests spread over the targets.
//   2. health    Two idle wsgates over the same 50 targets, one with healthCheck { interval: 1s }, one
//                without, side by side over the same window with no traffic: CPU %, and CPU ms per
//                check (all of it, and what it adds over the gateway without checks).
//   3. storm     5,000 WebSockets (bench/storm-client.ts, with the `ws` package) through wsgate to two
//                echo targets in two processes (round_robin); then one target's process is killed with
//                SIGKILL and every client whose socket closed reconnects at once (no backoff; a failed
//                handshake is tried again after 50 ms, at most 100 times). Reported: how many were on
//                the dead target, the time from the kill until all are open again (all on the survivor),
//                the handshake attempts that failed and why, and wsgate's CPU meanwhile. Run with
//                passive ejection only, health checks only, and both (--quick: both only).
//
//   npm run bench:balance                        all three, full size (about 3 minutes)
//   npm run bench:balance -- --quick             shorter and smaller (about 1 minute)
//   npm run bench:balance -- --only storm        one part (policies, health or storm; repeatable)
//   npm run bench:balance -- --storm-conns 2000  fewer WebSockets in the storm
//
// Every process is a child of this one and is killed on the way out (bench/lib.ts runBench): the
// targets (bench/balance-upstream.ts), wsgate from the built dist/ (log level warn), the load generator
// and the storm client. Everything listens and connects on 127.0.0.1. Where taskset exists and two CPUs
// are allowed, wsgate runs on the second CPU and everything else on the first. Children get the
// open-file limit raised as far as the hard limit allows (as bench:idle and the peers harness do): the
// storm holds 2 descriptors per WebSocket in wsgate and 1 in the client; the bench stops early and says
// so when the limit is too low. The gateway's CPU time comes from /proc/<pid>/stat (1/100 s ticks). The
// tables go to stdout and to bench/results/<UTC time>-balance.md.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchResult } from '../src/cli/bench/report.js';
import {
  CLK_TCK,
  ROOT,
  STARTUP_TIMEOUT_MS,
  TSX,
  childOpenFileLimit,
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
  stopAllChildren,
  stopChild,
  tail,
  withTimeout,
  type Gateway,
  type Pinning,
  type ProcStat,
} from './lib.js';

const WARMUP_MS = 1000;
// Open-file limit asked for every child; when the hard limit is lower, the hard limit is used.
const WANTED_NOFILE = 65536;
// Descriptors wsgate and the storm client have open besides the WebSockets, with room to spare.
const FD_SPARE = 200;
const HASH_HEADER = 'X-User';
const POLICY_TARGETS = 4;
const HEALTH_TARGETS = 50;
const STORM_RETRY_MS = 50;
const STORM_MAX_ATTEMPTS = 100;
// Time allowed from the kill until all WebSockets are open again before the run is called failed.
const STORM_RECOVER_TIMEOUT_MS = 90_000;
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

interface Sizes {
  policyConnections: number;
  policyDurationMs: number;
  policyRounds: number;
  healthSettleMs: number;
  healthWindowMs: number;
  stormConns: number;
  stormVariants: StormVariant[];
}

// ---- targets --------------------------------------------------------------------------------------

interface TargetCounts {
  requests: number[];
  checks: number[];
}

interface Targets {
  child: ChildProcess;
  ports: number[];
  counts(): Promise<TargetCounts>;
}

// One bench/balance-upstream.ts process serving `count` targets, numbered from `first`.
async function startTargets(count: number, first: number, ws: boolean, cpu: number | null): Promise<Targets> {
  const args = ['--targets', String(count), '--first', String(first), ...(ws ? ['--ws'] : [])];
  const child = startChild([process.execPath, '--import', TSX, join(ROOT, 'bench/balance-upstream.ts'), ...args], cpu, 'targets');
  const output = tail(child, ['stderr']);
  child.stdin!.on('error', () => undefined); // a `counts` written as it exits: its exit is what counts
  const waiting: ((counts: TargetCounts) => void)[] = [];
  let listening: ((ports: number[]) => void) | null = null;
  const ready = new Promise<number[]>((done) => (listening = done));
  lines(child, (line) => {
    const msg = JSON.parse(line) as { ports?: number[] } & Partial<TargetCounts>;
    if (msg.ports !== undefined) listening?.(msg.ports);
    else if (msg.requests !== undefined && msg.checks !== undefined) waiting.shift()?.({ requests: msg.requests, checks: msg.checks });
  });
  const ports = await withTimeout(Promise.race([ready, exitedEarly(child, 'targets', output)]), STARTUP_TIMEOUT_MS, 'targets start');
  const counts = (): Promise<TargetCounts> =>
    withTimeout(
      new Promise<TargetCounts>((done) => {
        waiting.push(done);
        child.stdin!.write('counts\n');
      }),
      10_000,
      'target counts',
    );
  return { child, ports, counts };
}

// ---- part 1: the policies ---------------------------------------------------------------------------

type Policy = 'round_robin' | 'least_conn' | 'random' | 'hash';
const POLICIES: Policy[] = ['round_robin', 'least_conn', 'random', 'hash'];

function policyLabel(policy: Policy): string {
  return policy === 'hash' ? `hash (header:${HASH_HEADER})` : policy;
}

interface LoadRun {
  result: BenchResult;
  gatewayCpuSeconds: number;
  /** Requests each target answered inside the window. */
  perTarget: number[];
}

// Finds one X-User value per target under `balance: hash`: asks the hash gateway with user-0, user-1, …
// and keeps the first value each target answers. The load then gives every target the same share.
async function keysPerTarget(port: number, targets: number): Promise<string[]> {
  const found = new Map<string, string>();
  for (let k = 0; k < 400 && found.size < targets; k++) {
    const key = `user-${k}`;
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { [HASH_HEADER]: key }, signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    const target = res.headers.get('x-target');
    if (res.status !== 200 || target === null) throw new Error(`probing the hash gateway: ${res.status} for ${HASH_HEADER}: ${key}`);
    if (!found.has(target)) found.set(target, key);
  }
  return [...found.values()];
}

async function measureLoad(port: number, keys: readonly string[], sizes: Sizes, cpu: number | null, gatewayPid: number, targets: Targets): Promise<LoadRun> {
  const args = [
    HASH_HEADER,
    keys.join(','),
    'http',
    `http://127.0.0.1:${port}/`,
    '--connections', String(sizes.policyConnections),
    '--warmup', `${WARMUP_MS}ms`,
    '--duration', `${sizes.policyDurationMs}ms`,
  ];
  const child = startChild([process.execPath, '--import', TSX, join(ROOT, 'bench/balance-loadgen.ts'), ...args], cpu, 'loadgen');
  const stderr = tail(child, ['stderr']);
  const span: { before: ProcStat | null; after: ProcStat | null; countsBefore: Promise<TargetCounts> | null; countsAfter: Promise<TargetCounts> | null } = {
    before: null,
    after: null,
    countsBefore: null,
    countsAfter: null,
  };
  const result = await withTimeout(
    Promise.race([
      new Promise<BenchResult>((done) =>
        lines(child, (line) => {
          const msg = JSON.parse(line) as { phase: string; result?: BenchResult };
          if (msg.phase === 'measuring') {
            span.before = hasProc ? procStat(gatewayPid) : null;
            span.countsBefore = targets.counts();
          } else if (msg.phase === 'done' && msg.result !== undefined) {
            span.after = hasProc ? procStat(gatewayPid) : null;
            span.countsAfter = targets.counts();
            done(msg.result);
          }
        }),
      ),
      exitedEarly(child, 'loadgen', stderr),
    ]),
    WARMUP_MS + sizes.policyDurationMs + 30_000,
    'loadgen',
  );
  await stopChild(child);
  const [before, after] = await Promise.all([span.countsBefore, span.countsAfter]);
  const perTarget = before === null || after === null ? [] : after.requests.map((n, i) => n - (before.requests[i] ?? 0));
  return {
    result,
    gatewayCpuSeconds: span.before === null || span.after === null ? Number.NaN : (span.after.cpuTicks - span.before.cpuTicks) / CLK_TCK,
    perTarget,
  };
}

interface PolicyResult {
  policy: Policy;
  runs: LoadRun[];
}

async function partPolicies(sizes: Sizes, pin: Pinning, dir: string, say: (text: string) => void): Promise<{ results: PolicyResult[]; keys: string[] }> {
  const targets = await startTargets(POLICY_TARGETS, 0, false, pin.load);
  const gateways = new Map<Policy, Gateway>();
  try {
    for (const policy of POLICIES) {
      const upstream = policy === 'hash' ? { balance: 'hash', hashOn: `header:${HASH_HEADER}` } : { balance: policy };
      gateways.set(policy, await startGateway(pin.gateway, targets.ports, dir, `policy-${policy}.json`, { name: 'bench', match: { path: '/*' }, upstream: 'bench' }, { upstream }));
    }
    const keys = await keysPerTarget(gateways.get('hash')!.port, POLICY_TARGETS);
    say(`policies: ${HASH_HEADER} values ${keys.join(', ')} (one per target under hash)`);
    const results: PolicyResult[] = POLICIES.map((policy) => ({ policy, runs: [] }));
    for (let round = 1; round <= sizes.policyRounds; round++) {
      // Every other round in reverse order, so that no policy always goes first (on fresh targets) or last.
      for (const row of round % 2 === 1 ? results : [...results].reverse()) {
        const gateway = gateways.get(row.policy)!;
        const run = await measureLoad(gateway.port, keys, sizes, pin.load, gateway.child.pid!, targets);
        row.runs.push(run);
        say(
          `policies: ${policyLabel(row.policy)}${sizes.policyRounds > 1 ? ` round ${round}` : ''}: ${fmtRate(run.result.opsPerSec)} req/s, ` +
            `${fmtUs(cpuUsPerOp(run))} µs CPU/req${run.result.errors > 0 ? `, ${run.result.errors} errors (${run.result.firstError})` : ''}`,
        );
      }
    }
    return { results, keys };
  } finally {
    for (const gateway of gateways.values()) await stopChild(gateway.child);
    await stopChild(targets.child);
  }
}

// ---- part 2: health checks of 50 idle targets -------------------------------------------------------

interface HealthResult {
  windowMs: number;
  checks: number;
  cpuOn: number;
  cpuOff: number;
  rssOnKb: number;
  rssOffKb: number;
  healthyOn: number | null;
}

async function healthyTargets(adminPort: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/upstreams`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { targets?: { healthy?: boolean }[] }[];
    return body[0]?.targets?.filter((t) => t.healthy === true).length ?? null;
  } catch {
    return null;
  }
}

async function partHealth(sizes: Sizes, pin: Pinning, dir: string, say: (text: string) => void): Promise<HealthResult> {
  if (!hasProc) throw new Error('the health part reads CPU time from /proc, which this system does not have');
  const targets = await startTargets(HEALTH_TARGETS, 0, false, pin.load);
  const route = { name: 'bench', match: { path: '/*' }, upstream: 'bench' };
  const gateways: Gateway[] = [];
  try {
    const on = await startGateway(pin.gateway, targets.ports, dir, 'health-on.json', route, { upstream: { healthCheck: { interval: '1s' } } });
    gateways.push(on);
    const off = await startGateway(pin.gateway, targets.ports, dir, 'health-off.json', route);
    gateways.push(off);
    say(`health: two idle gateways over ${HEALTH_TARGETS} targets, settling ${sizes.healthSettleMs / 1000} s, then measuring ${sizes.healthWindowMs / 1000} s`);
    await sleep(sizes.healthSettleMs);
    const before = { at: performance.now(), on: procStat(on.child.pid!), off: procStat(off.child.pid!), counts: await targets.counts() };
    await sleep(sizes.healthWindowMs);
    const after = { at: performance.now(), on: procStat(on.child.pid!), off: procStat(off.child.pid!), counts: await targets.counts() };
    const checks = after.counts.checks.reduce((a, n, i) => a + n - (before.counts.checks[i] ?? 0), 0);
    const result: HealthResult = {
      windowMs: after.at - before.at,
      checks,
      cpuOn: (after.on.cpuTicks - before.on.cpuTicks) / CLK_TCK,
      cpuOff: (after.off.cpuTicks - before.off.cpuTicks) / CLK_TCK,
      rssOnKb: after.on.rssKb,
      rssOffKb: after.off.rssKb,
      healthyOn: await healthyTargets(on.adminPort),
    };
    say(`health: ${checks} checks; CPU ${pct(result.cpuOn, result.windowMs)} with, ${pct(result.cpuOff, result.windowMs)} without`);
    return result;
  } finally {
    for (const gateway of gateways) await stopChild(gateway.child);
    await stopChild(targets.child);
  }
}

// ---- part 3: the reconnect storm ----------------------------------------------------------------------

interface StormVariant {
  name: string;
  upstream: Record<string, unknown>;
  describe: string;
}

const STORM_VARIANTS: StormVariant[] = [
  {
    name: 'passive',
    upstream: { passive: { consecutiveFailures: 1, ejectFor: '30s' } },
    describe: 'passive { consecutiveFailures: 1, ejectFor: 30s }',
  },
  {
    name: 'healthCheck',
    upstream: { healthCheck: { interval: '1s', unhealthyAfter: 1 } },
    describe: 'healthCheck { interval: 1s, unhealthyAfter: 1 }',
  },
  {
    name: 'both',
    upstream: { passive: { consecutiveFailures: 1, ejectFor: '30s' }, healthCheck: { interval: '1s', unhealthyAfter: 1 } },
    describe: 'both of the above',
  },
];

interface ClientLine {
  phase: string;
  message?: string;
  openMs?: number;
  failures?: number;
  byTarget?: Record<string, number>;
  expected?: number;
  at?: number;
  open?: number;
  gaveUp?: number;
  closed?: number;
  otherClosed?: number;
  firstCloseAt?: number;
  lastCloseAt?: number;
  failed?: number;
  attempts?: number;
  maxAttemptsUsed?: number;
  dropsBeforeStorm?: number;
  failuresByKind?: Record<string, number>;
  closeCodes?: Record<string, number>;
  reopenedOn?: Record<string, number>;
}

// The lines of the storm client, by phase: next(phase) settles with the first line of that phase
// (seen before or after the call); an `error` line or the child's exit rejects every wait.
function clientLines(child: ChildProcess, name: string, output: () => string): (phase: string, timeoutMs: number) => Promise<ClientLine> {
  const seen: ClientLine[] = [];
  const waiting: { phase: string; done: (line: ClientLine) => void; fail: (err: Error) => void }[] = [];
  let failure: Error | null = null;
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const w of waiting.splice(0)) w.fail(err);
  };
  lines(child, (text) => {
    let msg: ClientLine;
    try {
      msg = JSON.parse(text) as ClientLine;
    } catch {
      return;
    }
    if (msg.phase === 'error') return failAll(new Error(`${name}: ${msg.message ?? 'failed'}`));
    const at = waiting.findIndex((w) => w.phase === msg.phase);
    if (at === -1) seen.push(msg);
    else waiting.splice(at, 1)[0]!.done(msg);
  });
  child.once('exit', (code, signal) => failAll(new Error(`${name} exited (code ${code}, signal ${signal})${output() === '' ? '' : `:\n${output()}`}`)));
  return (phase, timeoutMs) => {
    const have = seen.findIndex((l) => l.phase === phase);
    if (have !== -1) return Promise.resolve(seen.splice(have, 1)[0]!);
    if (failure !== null) return Promise.reject(failure);
    return withTimeout(new Promise<ClientLine>((done, fail) => waiting.push({ phase, done, fail })), timeoutMs, `${name}: ${phase}`);
  };
}

interface StormResult {
  variant: StormVariant;
  conns: number;
  openMs: number;
  onDead: number;
  /** From the kill until the last of them is open again. */
  recoverMs: number;
  firstCloseMs: number;
  lastCloseMs: number;
  open: number;
  gaveUp: number;
  otherClosed: number;
  attempts: number;
  failed: number;
  failures: Record<string, number>;
  closeCodes: Record<string, number>;
  reopenedOn: Record<string, number>;
  byTarget: Record<string, number>;
  maxAttemptsUsed: number;
  dropsBeforeStorm: number;
  gatewayCpuSeconds: number;
  deadTarget: string | null;
}

async function deadTargetState(adminPort: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/upstreams`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { targets?: { healthy?: boolean; healthReason?: string; activeConnections?: number }[] }[];
    const t = body[0]?.targets?.[1];
    return t === undefined ? null : `${t.healthy === true ? 'healthy' : 'unhealthy'} (${t.healthReason ?? '?'}), ${t.activeConnections ?? '?'} tunnels`;
  } catch {
    return null;
  }
}

async function runStorm(variant: StormVariant, conns: number, pin: Pinning, dir: string, say: (text: string) => void): Promise<StormResult> {
  // Two targets in two processes, so that one can die alone.
  const survivor = await startTargets(1, 0, true, pin.load);
  const doomed = await startTargets(1, 1, true, pin.load);
  let gateway: Gateway | null = null;
  let client: ChildProcess | null = null;
  try {
    gateway = await startGateway(
      pin.gateway,
      [...survivor.ports, ...doomed.ports],
      dir,
      `storm-${variant.name}.json`,
      { name: 'storm', match: { path: '/*' }, upstream: 'bench' },
      { upstream: { balance: 'round_robin', ...variant.upstream } },
    );
    const openTimeoutMs = Math.max(30_000, conns * 10);
    client = startChild(
      [
        process.execPath, '--import', TSX, join(ROOT, 'bench/storm-client.ts'),
        '--url', `ws://127.0.0.1:${gateway.port}/storm`,
        '--conns', String(conns),
        '--retry-ms', String(STORM_RETRY_MS),
        '--max-attempts', String(STORM_MAX_ATTEMPTS),
        '--open-timeout-ms', String(openTimeoutMs),
        '--deadline-ms', String(openTimeoutMs + STORM_RECOVER_TIMEOUT_MS + 60_000),
      ],
      pin.load,
      'storm client',
    );
    const output = tail(client, ['stderr']);
    client.stdin!.on('error', () => undefined);
    const next = clientLines(client, 'storm client', output);
    say(`storm (${variant.name}): opening ${int(conns)} WebSockets through wsgate ...`);
    const opened = await next('open', openTimeoutMs + 5_000);
    say(`storm (${variant.name}): open after ${((opened.openMs ?? 0) / 1000).toFixed(1)} s, by target ${JSON.stringify(opened.byTarget)}; killing target 1`);
    await sleep(1000);
    client.stdin!.write('storm 1\n');
    const armed = await next('armed', 10_000);
    const before = procStat(gateway.child.pid!);
    const killAt = Date.now();
    doomed.child.kill('SIGKILL');
    const done = await next('recovered', STORM_RECOVER_TIMEOUT_MS);
    const after = procStat(gateway.child.pid!);
    const deadTarget = await deadTargetState(gateway.adminPort);
    const since = (at: number | undefined): number => (at === undefined || at === 0 ? Number.NaN : at - killAt);
    const result: StormResult = {
      variant,
      conns,
      openMs: opened.openMs ?? Number.NaN,
      onDead: armed.expected ?? 0,
      recoverMs: since(done.at),
      firstCloseMs: since(done.firstCloseAt),
      lastCloseMs: since(done.lastCloseAt),
      open: done.open ?? 0,
      gaveUp: done.gaveUp ?? 0,
      otherClosed: done.otherClosed ?? 0,
      attempts: done.attempts ?? 0,
      failed: done.failed ?? 0,
      failures: done.failuresByKind ?? {},
      closeCodes: done.closeCodes ?? {},
      reopenedOn: done.reopenedOn ?? {},
      byTarget: done.byTarget ?? {},
      maxAttemptsUsed: done.maxAttemptsUsed ?? 0,
      dropsBeforeStorm: done.dropsBeforeStorm ?? 0,
      gatewayCpuSeconds: (after.cpuTicks - before.cpuTicks) / CLK_TCK,
      deadTarget,
    };
    say(
      `storm (${variant.name}): ${int(result.onDead)} on the dead target; all ${int(result.open)} open again ${fmtSeconds(result.recoverMs)} after the kill; ` +
        `${int(result.failed)} failed handshakes`,
    );
    return result;
  } finally {
    if (client !== null) await stopChild(client);
    if (gateway !== null) await stopChild(gateway.child);
    await stopChild(doomed.child);
    await stopChild(survivor.child);
  }
}

// ---- output ---------------------------------------------------------------------------------------

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const pct = (cpuSeconds: number, ms: number): string => (Number.isFinite(cpuSeconds) ? `${((cpuSeconds / (ms / 1000)) * 100).toFixed(1)}%` : 'n/a');
const fmtSeconds = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
const fmtUs = (us: number): string => (Number.isFinite(us) ? us.toFixed(1) : 'n/a');
const fmtMs = (us: number): string => (us / 1000 >= 10 ? (us / 1000).toFixed(1) : (us / 1000).toFixed(2));

function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

function cpuUsPerOp(run: LoadRun): number {
  return run.result.ops > 0 ? (run.gatewayCpuSeconds * 1e6) / run.result.ops : Number.NaN;
}

// The middle value (the mean of the two middle ones for an even count): one round slowed down by other
// work on the machine moves it less than it moves the mean.
function median(list: readonly number[]): number {
  if (list.length === 0) return Number.NaN;
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function kinds(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k} × ${int(n)}`).join(', ');
}

function spread(perTarget: readonly number[]): string {
  const total = perTarget.reduce((a, n) => a + n, 0);
  return total === 0 ? 'n/a' : perTarget.map((n) => `${Math.round((n / total) * 100)}`).join(' / ');
}

function policiesTable(results: readonly PolicyResult[], keys: readonly string[], sizes: Sizes): string[] {
  const out: string[] = [];
  const rounds = sizes.policyRounds;
  out.push('## 1. Cost per request of each policy', '');
  out.push(
    `One wsgate per policy, each over the same ${POLICY_TARGETS} targets (${POLICY_TARGETS} node:http servers in one process); the same load for each: ` +
      `HTTP/1.1 GET, keep-alive, ${sizes.policyConnections} connections with 1 request in flight each, split evenly over the ${HASH_HEADER} values ` +
      `${keys.join(', ')} (each lands on its own target under hash; the other policies ignore the header); ${sizes.policyDurationMs / 1000} s after a ` +
      `${WARMUP_MS / 1000} s warm-up, ${rounds === 1 ? 'one round' : `${rounds} rounds, the policies taking turns (every other round in reverse order); figures are the median of the rounds`}.`,
    '',
  );
  out.push(`| policy | req/s | wsgate CPU µs/req${rounds > 1 ? ' (each round)' : ''} | wsgate CPU | p50 / p99 | share per target % | errors |`);
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const { policy, runs } of results) {
    const perRound = runs.map(cpuUsPerOp);
    const cpu = median(runs.map((r) => r.gatewayCpuSeconds / (r.result.elapsedMs / 1000)));
    const perTarget = runs.reduce<number[]>((sum, r) => r.perTarget.map((n, i) => n + (sum[i] ?? 0)), []);
    const errors = runs.reduce((a, r) => a + r.result.errors, 0);
    const firstError = runs.find((r) => r.result.firstError !== null)?.result.firstError;
    out.push(
      `| ${policyLabel(policy)} | ${fmtRate(median(runs.map((r) => r.result.opsPerSec)))} | ${fmtUs(median(perRound))}${rounds > 1 ? ` (${perRound.map(fmtUs).join(', ')})` : ''} | ` +
        `${Number.isFinite(cpu) ? `${Math.round(cpu * 100)}%` : 'n/a'} | ${fmtMs(median(runs.map((r) => r.result.latencyUs.p50)))} / ` +
        `${fmtMs(Math.max(...runs.map((r) => r.result.latencyUs.p99)))} ms | ${spread(perTarget)} | ${errors}${firstError !== undefined ? ` (${firstError})` : ''} |`,
    );
  }
  out.push(
    '',
    'CPU: utime + stime of the wsgate process over the measured window; 100% = one CPU busy the whole window. p50 is the mean of the per-value runs (the median over rounds), ' +
      'p99 the worst of all. The load generator and the targets share the other CPU and are usually the limit, so compare the policies on CPU µs per request.',
  );
  return out;
}

function healthTable(r: HealthResult, sizes: Sizes): string[] {
  const seconds = r.windowMs / 1000;
  const extra = r.cpuOn - r.cpuOff;
  const out: string[] = [];
  out.push('', '## 2. Health checks of 50 idle targets', '');
  out.push(
    `Two wsgates, each with one upstream of ${HEALTH_TARGETS} targets (${HEALTH_TARGETS} node:http servers in one process answering GET /healthz), ` +
      `no traffic at all; one with healthCheck { interval: 1s } (the other keys at their defaults), one without. Both ran side by side on the same CPU, ` +
      `measured over the same ${seconds.toFixed(1)} s window after ${sizes.healthSettleMs / 1000} s of settling; checks counted by the targets.`,
    '',
  );
  out.push('| gateway | checks in window (per s) | wsgate CPU | CPU ms per check | RSS |');
  out.push('|---|---:|---:|---:|---:|');
  out.push(
    `| healthCheck { interval: 1s } | ${int(r.checks)} (${(r.checks / seconds).toFixed(1)}) | ${pct(r.cpuOn, r.windowMs)} | ` +
      `${r.checks > 0 ? ((r.cpuOn * 1000) / r.checks).toFixed(3) : 'n/a'} | ${(r.rssOnKb / 1024).toFixed(1)} MiB |`,
  );
  out.push(`| no healthCheck | 0 | ${pct(r.cpuOff, r.windowMs)} | - | ${(r.rssOffKb / 1024).toFixed(1)} MiB |`);
  out.push(
    '',
    `- What the checks add: ${pct(extra, r.windowMs)} of one CPU, ${r.checks > 0 ? ((extra * 1000) / r.checks).toFixed(3) : 'n/a'} ms of CPU per check ` +
      `(the difference between the two gateways over the window, divided by the checks). /proc counts CPU time in 10 ms ticks: ` +
      `±${((0.01 / seconds) * 100).toFixed(2)} percentage points each.`,
    `- Targets healthy in the checking gateway at the end: ${r.healthyOn === null ? 'n/a' : `${r.healthyOn} of ${HEALTH_TARGETS}`}.`,
  );
  return out;
}

function stormTable(results: readonly StormResult[]): string[] {
  const out: string[] = [];
  const conns = results[0]?.conns ?? 0;
  out.push('', '## 3. Reconnect storm: one of two targets dies', '');
  out.push(
    `${int(conns)} WebSockets through wsgate (one upstream, round_robin over two echo targets, each its own process); once all are open, one target's process ` +
      `is killed (SIGKILL). Every client whose socket closes reconnects at once, no backoff; a failed handshake is tried again after ${STORM_RETRY_MS} ms, ` +
      `at most ${STORM_MAX_ATTEMPTS} times. Clients: the \`ws\` package in one process, 256 handshakes at a time for the first opening; a socket counts as ` +
      `open when its target's greeting arrives, which also says which target holds it. Times are from the kill.`,
    '',
  );
  out.push('| target health | on the dead target | all open again | first / last close seen | handshakes tried | failed | why they failed | wsgate CPU until recovered |');
  out.push('|---|---:|---:|---:|---:|---:|---|---:|');
  for (const r of results) {
    out.push(
      `| ${r.variant.describe} | ${int(r.onDead)} of ${int(r.conns)} | ${fmtSeconds(r.recoverMs)} | ${fmtSeconds(r.firstCloseMs)} / ${fmtSeconds(r.lastCloseMs)} | ` +
        `${int(r.attempts)} | ${int(r.failed)} | ${kinds(r.failures)} | ${Number.isFinite(r.gatewayCpuSeconds) ? `${(r.gatewayCpuSeconds * 1000).toFixed(0)} ms` : 'n/a'} |`,
    );
  }
  out.push('');
  for (const r of results) {
    out.push(
      `- ${r.variant.name}: opened in ${fmtSeconds(r.openMs)}; after the storm ${int(r.open)} open by target ${JSON.stringify(r.byTarget)}, reopened on ${JSON.stringify(r.reopenedOn)}` +
        `${r.gaveUp > 0 ? `, ${int(r.gaveUp)} gave up after ${STORM_MAX_ATTEMPTS} attempts` : ''}; close codes the clients saw: ${kinds(r.closeCodes)}` +
        `${r.otherClosed > 0 ? `; ${int(r.otherClosed)} sockets on the surviving target closed too` : ''}${r.dropsBeforeStorm > 0 ? `; ${int(r.dropsBeforeStorm)} dropped before the kill` : ''}; ` +
        `most attempts by one client ${r.maxAttemptsUsed}; the dead target in /api/upstreams afterwards: ${r.deadTarget ?? 'n/a'}.`,
    );
  }
  return out;
}

// ---- main -----------------------------------------------------------------------------------------

type Part = 'policies' | 'health' | 'storm';
const PARTS: Part[] = ['policies', 'health', 'storm'];

const USAGE = `usage: npm run bench:balance -- [--quick] [--only policies|health|storm ...] [--storm-conns 5000]
  --quick            shorter and smaller: 2 s per policy and round, 24 connections; an 8 s health window;
                     the storm with passive ejection and health checks together only
  --only PART        run only this part (repeatable): policies, health, storm
  --storm-conns N    WebSockets in the storm (default 5000)
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string', multiple: true },
      'storm-conns': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const quick = values.quick === true;
  const parts = values.only === undefined ? PARTS : values.only.map((p) => {
    if (!PARTS.includes(p as Part)) throw new Error(`--only ${p}: one of ${PARTS.join(', ')}`);
    return p as Part;
  });
  const stormConns = values['storm-conns'] === undefined ? 5000 : Number(values['storm-conns']);
  if (!Number.isInteger(stormConns) || stormConns < 2 || stormConns > 20_000) throw new Error(`--storm-conns ${values['storm-conns']}: a whole number from 2 to 20000`);
  const sizes: Sizes = quick
    ? { policyConnections: 24, policyDurationMs: 2000, policyRounds: 2, healthSettleMs: 2000, healthWindowMs: 8000, stormConns, stormVariants: STORM_VARIANTS.filter((v) => v.name === 'both') }
    : { policyConnections: 48, policyDurationMs: 5000, policyRounds: 4, healthSettleMs: 3000, healthWindowMs: 20_000, stormConns, stormVariants: STORM_VARIANTS };
  if (!hasProc) process.stderr.write('bench:balance: no /proc here: CPU time is not measured\n');
  if (parts.includes('storm')) {
    const limit = childOpenFileLimit();
    const need = 2 * stormConns + FD_SPARE;
    if (limit < need) {
      throw new Error(
        `the storm needs ${int(need)} open files in wsgate (2 per WebSocket) and the open-file limit children get here is ${int(limit)}: ` +
          `raise the hard limit (ulimit -Hn, or LimitNOFILE for a service) or run with --storm-conns ${Math.floor((limit - FD_SPARE) / 2)}`,
      );
    }
  }
  const built = ensureBuilt();
  const pin = choosePinning('the load generator, the storm client and the targets');
  const say = (text: string): void => void process.stderr.write(`bench:balance: ${text}\n`);
  say(pin.note);

  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-balance-'));
  try {
    const started = performance.now();
    const policies = parts.includes('policies') ? await partPolicies(sizes, pin, dir, say) : null;
    const health = parts.includes('health') ? await partHealth(sizes, pin, dir, say) : null;
    const storms: StormResult[] = [];
    if (parts.includes('storm')) {
      for (const variant of sizes.stormVariants) {
        storms.push(await runStorm(variant, sizes.stormConns, pin, dir, say));
        // The closed sockets of the run before leave TIME_WAIT entries and a busy client; let them settle.
        await sleep(1000);
      }
    }
    const now = new Date();
    const out: string[] = [];
    out.push(`# wsgate load balancing${quick ? ' (--quick)' : ''}, ${now.toISOString()}`, '');
    out.push(environmentLine(built));
    out.push(
      `${pin.note}. Everything on 127.0.0.1; wsgate from dist/ at log level warn. The whole run took ${((performance.now() - started) / 1000).toFixed(0)} s. ` +
        'Measured on a shared machine where other work may run at the same time: expect ±10 % or more between runs.',
    );
    if (policies !== null) out.push('', ...policiesTable(policies.results, policies.keys, sizes));
    if (health !== null) out.push(...healthTable(health, sizes));
    if (storms.length > 0) out.push(...stormTable(storms));
    publish(`${out.join('\n')}\n`, now, '-balance', false);
    const errors = (policies?.results ?? []).reduce((a, p) => a + p.runs.reduce((b, r) => b + r.result.errors, 0), 0);
    const incomplete = storms.some((s) => s.gaveUp > 0 || s.open !== s.conns);
    return errors > 0 || incomplete ? 1 : 0;
  } finally {
    await stopAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench:balance', main, { nofile: WANTED_NOFILE });
