// bench/lib: the process plumbing bench/run.ts and bench/idle.ts share: child processes (pinned,
// tracked, killed on the way out), /proc readings, the upstream and wsgate under test, the stale-build
// check, and the header and file of a results table.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
export const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s
export const STARTUP_TIMEOUT_MS = 15_000;

// Set once by runBench: the prefix of every line a bench writes on stderr, and the open-file limit
// asked for every child (null: inherited).
let tag = 'bench';
let nofile: number | null = null;

// ---- children: every one is tracked and killed on the way out, whatever happens ------------------

export const children = new Set<ChildProcess>();
// Processes a child started itself (wsgate's cluster workers), by pid: killed with the children on the
// way out, in case their parent did not take them down.
const grandchildren = new Set<number>();

export function trackPid(pid: number): void {
  grandchildren.add(pid);
}

// Raises the open-file limit (to the hard limit when the one asked for is above it), then execs the
// command, so the pid is the command's own.
function withNofile(command: string[], limit: number): string[] {
  const script = `ulimit -n ${limit} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  return ['bash', '-c', script, tag.replace(':', '-'), ...command];
}

export function startChild(command: string[], cpu: number | null, name: string): ChildProcess {
  const wrapped = nofile === null ? command : withNofile(command, nofile);
  const argv = cpu === null ? wrapped : ['taskset', '-c', String(cpu), ...wrapped];
  // stdin is a pipe the child watches: if this process dies, the pipe closes and the child stops.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.on('error', (err) => process.stderr.write(`${tag}: ${name}: ${err.message}\n`));
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map(stopChild));
}

function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
  for (const pid of grandchildren) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  grandchildren.clear();
}

// Waits up to ms for each pid to be gone, then kills what is left; forgets them either way.
export async function reapPids(pids: readonly number[], ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  const alive = (pid: number): boolean => {
    const state = procState(pid);
    return state !== null && state !== 'Z' && state !== 'X';
  };
  while (pids.some(alive) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
  for (const pid of pids) {
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    grandchildren.delete(pid);
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

// The fields of /proc/<pid>/stat after "(comm)" (state is the first: field 3 in proc(5)); null: gone.
function statFields(pid: number | string): string[] | null {
  const stat = readFileSafe(`/proc/${pid}/stat`);
  return stat === '' ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function procState(pid: number): string | null {
  return statFields(pid)?.[0] ?? null;
}

// Runs a bench's main with its children killed on exit, on Ctrl-C and on a thrown error; main's
// number is the exit code.
export function runBench(name: string, main: () => Promise<number>, options: { nofile?: number } = {}): void {
  tag = name;
  nofile = options.nofile ?? null;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAllNow();
      process.exit(130);
    });
  }
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${tag}: ${(err as Error).message}\n`);
      killAllNow();
      process.exitCode = 1;
    },
  );
}

// Keeps the tail of a child's output for error messages, so a full pipe never blocks it.
export function tail(child: ChildProcess, streams: ('stdout' | 'stderr')[] = ['stdout', 'stderr']): () => string {
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-4000);
  };
  for (const s of streams) child[s]?.on('data', keep);
  return () => text.trim();
}

export function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') onLine(line);
  });
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | null = null;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
    }),
  ]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}

export function exitedEarly(child: ChildProcess, name: string, output: () => string): Promise<never> {
  return new Promise((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (code ${code}, signal ${signal})${output() === '' ? '' : `:\n${output()}`}`)));
  });
}

// ---- environment --------------------------------------------------------------------------------

export interface Pinning {
  /** CPU of the upstream and the load-generating client, and of wsgate; null: not pinned. */
  load: number | null;
  gateway: number | null;
  note: string;
}

function allowedCpus(): number[] | null {
  const out = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  if (out.error !== undefined || out.status !== 0) return null;
  // "pid 123's current affinity list: 0-3,6"
  const list = /list:\s*([\d,\s-]+)/.exec(out.stdout)?.[1];
  if (list === undefined) return null;
  const cpuList: number[] = [];
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) cpuList.push(c);
  }
  return cpuList;
}

// wsgate alone on the second allowed CPU, so that what it is measured against never takes its time.
export function choosePinning(client: string): Pinning {
  const allowed = allowedCpus();
  if (allowed === null) return { load: null, gateway: null, note: 'not pinned: taskset is not available' };
  if (allowed.length < 2) return { load: null, gateway: null, note: `not pinned: only ${allowed.length} CPU allowed` };
  const [load, gateway] = allowed as [number, number];
  return { load, gateway, note: `pinned with taskset: wsgate on CPU ${gateway}; upstream and ${client} on CPU ${load}` };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

// wsgate runs from dist/, as users run it; rebuild when any source is newer than the build.
export function ensureBuilt(): string {
  const main = join(ROOT, 'dist/cli/main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(join(ROOT, 'src'))) return 'dist/ is up to date';
  process.stderr.write(`${tag}: dist/ is missing or older than src/, running npm run build\n`);
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status === 0) return 'dist/ rebuilt';
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- null when the spawn itself fails (ENOENT)
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim();
  // tsc still writes JavaScript when it reports type errors.
  if (existsSync(main)) {
    process.stderr.write(`${tag}: warning: npm run build reported errors; running what it emitted\n${output}\n`);
    return 'dist/ rebuilt with type errors';
  }
  throw new Error(`npm run build failed:\n${output}`);
}

// The open-file limit a child gets from startChild: what the same ulimit line gives a shell here.
export function childOpenFileLimit(): number {
  const command = ['bash', '-c', 'ulimit -n'];
  const argv = nofile === null ? command : withNofile(command, nofile);
  const out = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const text = out.status === 0 ? out.stdout.trim() : '';
  if (text === 'unlimited') return Number.POSITIVE_INFINITY;
  const n = Number(text);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- null when the spawn itself fails (ENOENT)
  if (text === '' || !Number.isFinite(n)) throw new Error(`could not read the open-file limit children get: ${(out.stderr ?? '').trim() || 'no output'}`);
  return n;
}

export function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

export const hasProc = existsSync('/proc/self/stat');

export interface ProcStat {
  cpuTicks: number;
  rssKb: number;
}

export function procStat(pid: number): ProcStat {
  // Fields after "(comm)": state is field 3, utime 14, stime 15 (proc(5)).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  // NaN, not 0: the tables print n/a for a reading that was not there.
  return { cpuTicks, rssKb: rss === null ? Number.NaN : Number(rss[1]) };
}

export function sumStats(stats: readonly ProcStat[]): ProcStat {
  return stats.reduce((a, b) => ({ cpuTicks: a.cpuTicks + b.cpuTicks, rssKb: a.rssKb + b.rssKb }), { cpuTicks: 0, rssKb: 0 });
}

// pid and every live process below it (each level by pid, from a scan of /proc/*/stat: this kernel may
// lack /proc/<pid>/task/<tid>/children). Zombies are left out.
export function processTree(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields === null) continue;
    const [state, ppid] = fields; // fields 3 and 4
    if (state === 'Z' || state === 'X') continue;
    const list = byParent.get(Number(ppid)) ?? [];
    list.push(Number(entry));
    byParent.set(Number(ppid), list);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i]!) ?? []).sort((a, b) => a - b));
  return tree;
}

// ---- processes under test -----------------------------------------------------------------------

export interface Upstream {
  child: ChildProcess;
  port: number;
}

/** Starts an upstream script of bench/ (one that prints {"port":N} once listening): bench/upstream.ts unless named. */
export async function startUpstream(cpu: number | null, script = 'upstream'): Promise<Upstream> {
  const child = startChild([process.execPath, '--import', TSX, join(ROOT, `bench/${script}.ts`)], cpu, script);
  const output = tail(child);
  const port = await withTimeout(
    Promise.race([
      new Promise<number>((done) => lines(child, (line) => done((JSON.parse(line) as { port: number }).port))),
      exitedEarly(child, script, output),
    ]),
    STARTUP_TIMEOUT_MS,
    `${script} start`,
  );
  return { child, port };
}

export interface Gateway {
  child: ChildProcess;
  /** The first traffic port; ports: all of them. */
  port: number;
  ports: number[];
  adminPort: number;
  output: () => string;
}

export interface GatewayOptions {
  /** `workers` in the config (node:cluster); 1 or absent: one process, no cluster. */
  workers?: number;
  /** More keys of the upstream `bench` (e.g. maxConnectionsPerTarget). */
  upstream?: Record<string, unknown>;
  /** Traffic listeners, each on its own port of 127.0.0.1 (default 1). */
  listeners?: number;
  /** More top-level keys of the config (e.g. `metrics: { enabled: false }`). */
  config?: Record<string, unknown>;
}

// wsgate with one upstream, `bench`, whose targets are the upstream ports given (round robin), and the
// one route given; its config goes to dir/file. Ready when the admin API says so: with workers, when
// every worker is listening.
export async function startGateway(
  cpu: number | null,
  upstreamPort: number | readonly number[],
  dir: string,
  file: string,
  route: object,
  options: GatewayOptions = {},
): Promise<Gateway> {
  const listenPorts: number[] = [];
  while (listenPorts.length < Math.max(1, options.listeners ?? 1)) {
    const p = await freePort();
    if (!listenPorts.includes(p)) listenPorts.push(p);
  }
  const port = listenPorts[0]!;
  let adminPort = await freePort();
  while (listenPorts.includes(adminPort)) adminPort = await freePort();
  const ports = typeof upstreamPort === 'number' ? [upstreamPort] : upstreamPort;
  const config = {
    listen: listenPorts.map((p) => ({ port: p, host: '127.0.0.1' })),
    admin: { listen: `127.0.0.1:${adminPort}` },
    ...(options.workers !== undefined && options.workers > 1 ? { workers: options.workers } : {}),
    log: { level: 'warn' },
    limits: { drainTimeout: '2s' },
    upstreams: { bench: { targets: ports.map((p) => ({ url: `http://127.0.0.1:${p}` })), ...options.upstream } },
    routes: [route],
    ...options.config,
  };
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(config, null, 2));
  const child = startChild([process.execPath, join(ROOT, 'dist/cli/main.js'), 'start', '-c', path], cpu, 'wsgate');
  const output = tail(child);
  // At log level warn there is no `listening` line: ask the admin API until it answers.
  const ready = (async (): Promise<void> => {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error(`wsgate was not ready after ${STARTUP_TIMEOUT_MS} ms:\n${output()}`);
  })();
  await Promise.race([ready, exitedEarly(child, 'wsgate', output)]);
  return { child, port, ports: listenPorts, adminPort, output };
}

// ---- results ------------------------------------------------------------------------------------

// The line under a table's title: what ran, on what, from which commit and build.
export function environmentLine(built: string): string {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return (
    `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs), commit ${commit.status === 0 ? commit.stdout.trim() : 'unknown'}` +
    `${dirty.status === 0 && dirty.stdout.trim() !== '' ? ' + uncommitted changes in src/' : ''}; ${built}.`
  );
}

// Prints the table and keeps it in bench/results/<UTC time><suffix>.md; append: add to a file of the
// same second instead of replacing it.
export function publish(text: string, now: Date, suffix: string, append: boolean): void {
  process.stdout.write(`\n${text}`);
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${now.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${suffix}.md`);
  if (append) appendFileSync(file, text);
  else writeFileSync(file, text);
  process.stderr.write(`${tag}: wrote ${file.slice(ROOT.length + 1)}\n`);
}
