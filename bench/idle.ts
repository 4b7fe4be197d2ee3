// bench/idle: what holding many idle WebSocket connections costs wsgate: CPU time, memory per held
// connection, and whether the heartbeat keeps every connection alive. N clients connect through wsgate
// to bench/upstream.ts, send nothing, and answer each gateway ping with a pong; over a fixed window the
// bench reads wsgate's CPU time and RSS from /proc. It runs twice: once with the heartbeat on, once
// with pingInterval 0s (heartbeat off), so the difference is what the heartbeat costs.
//
//   npm run bench:idle                              10,000 connections, 10 s window, pingInterval 1s
//   npm run bench:idle -- --conns 2000              fewer connections
//   npm run bench:idle -- --ping 30s --duration 60s the default pingInterval (use a window >= the interval)
//
// Every process is a child of this one: bench/upstream.ts, wsgate from the built dist/ (log level warn,
// one route with websocket { pingInterval, pongTimeout: 5s }), and the idle client, which is this file
// again: `node --import tsx bench/idle.ts client --port N --conns N ...`. Children start with the
// open-file limit raised as far as allowed (wsgate holds two sockets per connection). Where taskset
// exists and two CPUs are allowed, wsgate runs alone on the second CPU, the upstream and the client
// share the first. The table goes to stdout and to bench/results/<UTC time>-idle.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { appendFileSync, existsSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s
const STARTUP_TIMEOUT_MS = 15_000;
const PONG_TIMEOUT = '5s';
// After the last connection opens and before the window starts: every connection is then past its
// handshake and, with a 1 s heartbeat, in its steady ping/pong rhythm.
const SETTLE_MS = 2000;
// Handshakes in flight at once while connecting, well under the listen backlog.
const OPEN_CONCURRENCY = 256;
// Open-file limit asked for every child; when the hard limit is lower, the hard limit is used.
const WANTED_NOFILE = 65536;

// ==== the idle client (child process) ============================================================

const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const CRLFCRLF = Buffer.from('\r\n\r\n');

interface ClientOptions {
  host: string;
  port: number;
  path: string;
  conns: number;
  settleMs: number;
  durationMs: number;
  openTimeoutMs: number;
}

interface Counters {
  /** Connections whose handshake completed. */
  open: number;
  /** Pings received and pongs written, since the start. */
  pings: number;
  pongs: number;
  /** Data frames received (the upstream only echoes, so this stays 0). */
  dataFrames: number;
  /** Connections lost after their handshake completed. */
  dropped: number;
  firstDrop: string | null;
}

// Masks come from a pool of random bytes, refilled when used up (RFC 6455 §5.3: a fresh mask per frame).
const maskPool = Buffer.allocUnsafe(4096);
let maskAt = maskPool.length;

function pongFrame(payload: Buffer): Buffer {
  if (maskAt + 4 > maskPool.length) {
    randomFillSync(maskPool);
    maskAt = 0;
  }
  const at = maskAt;
  maskAt += 4;
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x80 | 0xa; // FIN, pong
  out[1] = 0x80 | payload.length; // masked; a control payload is at most 125 bytes
  maskPool.copy(out, 2, at, at + 4);
  for (let i = 0; i < payload.length; i++) out[6 + i] = (payload[i] as number) ^ (maskPool[at + (i & 3)] as number);
  return out;
}

type IdleSocket = Socket & { conn: IdleConnection };

class IdleConnection {
  private readonly socket: IdleSocket;
  private handshaking = true;
  private pending: Buffer | null = null;
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  private headerNeed = 2;
  private opcode = 0;
  private payloadLeft = 0;
  // The payload of the control frame being read (pings are answered with the same bytes).
  private control: Buffer | null = null;
  private controlHave = 0;
  private closeReason: string | null = null;

  constructor(
    private readonly client: IdleClient,
    options: ClientOptions,
  ) {
    const socket = connect(options.port, options.host) as IdleSocket;
    socket.conn = this;
    socket.setNoDelay(true);
    socket.on('error', idleOnError).on('close', idleOnClose).on('data', idleOnData).on('connect', idleOnConnect);
    this.socket = socket;
  }

  onConnect(): void {
    const o = this.client.options;
    this.socket.write(
      `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  }

  onData(input: Buffer): void {
    let chunk = input;
    let at = 0;
    if (this.handshaking) {
      if (this.pending !== null) {
        chunk = Buffer.concat([this.pending, input]);
        this.pending = null;
      }
      const end = chunk.indexOf(CRLFCRLF);
      if (end === -1) {
        this.pending = chunk;
        return;
      }
      const status = chunk.toString('latin1', 0, chunk.indexOf('\r\n'));
      if (!status.startsWith('HTTP/1.1 101 ')) {
        this.closeReason = `handshake refused: ${status}`;
        this.socket.destroy();
        return;
      }
      this.handshaking = false;
      at = end + 4;
      this.client.opened();
    }
    while (at < chunk.length) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, chunk.length - at);
        if (this.control !== null) chunk.copy(this.control, this.controlHave, at, at + take);
        this.controlHave += take;
        this.payloadLeft -= take;
        at += take;
        if (this.payloadLeft > 0) return;
        this.frameDone();
        continue;
      }
      while (at < chunk.length && this.headerHave < this.headerNeed) {
        this.header[this.headerHave++] = chunk[at++] as number;
        if (this.headerHave === 2) {
          const len7 = (this.header[1] as number) & 0x7f;
          this.headerNeed = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
        }
      }
      if (this.headerHave < this.headerNeed) return;
      const b1 = this.header[1] as number;
      if ((b1 & 0x80) !== 0) {
        this.closeReason = 'the server sent a masked frame';
        this.socket.destroy();
        return;
      }
      const len7 = b1 & 0x7f;
      this.opcode = (this.header[0] as number) & 0x0f;
      this.payloadLeft = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
      this.headerHave = 0;
      this.headerNeed = 2;
      this.controlHave = 0;
      this.control = this.opcode >= OPCODE_CLOSE ? Buffer.allocUnsafe(this.payloadLeft) : null;
      if (this.payloadLeft === 0) this.frameDone();
    }
  }

  private frameDone(): void {
    const counters = this.client.counters;
    if (this.opcode === OPCODE_PING) {
      counters.pings++;
      this.socket.write(pongFrame(this.control!));
      counters.pongs++;
    } else if (this.opcode === OPCODE_CLOSE) {
      const payload = this.control!;
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.closeReason = `the gateway sent close ${code}${payload.length > 2 ? ` (${payload.toString('utf8', 2)})` : ''}`;
      this.socket.destroy();
    } else if (this.opcode < OPCODE_CLOSE) {
      counters.dataFrames++;
    }
    this.control = null;
  }

  onError(err: Error): void {
    this.closeReason ??= err.message;
  }

  onClose(): void {
    this.client.closed(this.handshaking, this.closeReason ?? (this.handshaking ? 'closed during the handshake' : 'closed by the gateway'));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function idleOnConnect(this: IdleSocket): void {
  this.conn.onConnect();
}
function idleOnData(this: IdleSocket, chunk: Buffer): void {
  this.conn.onData(chunk);
}
function idleOnError(this: IdleSocket, err: Error): void {
  this.conn.onError(err);
}
function idleOnClose(this: IdleSocket): void {
  this.conn.onClose();
}

class IdleClient {
  readonly counters: Counters = { open: 0, pings: 0, pongs: 0, dataFrames: 0, dropped: 0, firstDrop: null };
  private readonly conns: IdleConnection[] = [];
  private started = 0;
  private inFlight = 0;
  private stopping = false;
  private openDone: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(readonly options: ClientOptions) {}

  // Opens every connection, OPEN_CONCURRENCY handshakes at a time; rejects on the first refusal.
  openAll(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.openDone = { resolve, reject }));
    this.launch();
    const timer = setTimeout(
      () => this.failOpen(`${this.counters.open.toLocaleString('en-US')} of ${this.options.conns.toLocaleString('en-US')} connections open after ${this.options.openTimeoutMs / 1000} s`),
      this.options.openTimeoutMs,
    );
    return done.finally(() => clearTimeout(timer));
  }

  private launch(): void {
    while (this.inFlight < OPEN_CONCURRENCY && this.started < this.options.conns && this.openDone !== null) {
      this.inFlight++;
      this.started++;
      this.conns.push(new IdleConnection(this, this.options));
    }
  }

  opened(): void {
    this.inFlight--;
    this.counters.open++;
    if (this.counters.open === this.options.conns) {
      const done = this.openDone;
      this.openDone = null;
      done?.resolve();
    } else {
      this.launch();
    }
  }

  closed(duringHandshake: boolean, reason: string): void {
    if (this.stopping) return;
    if (duringHandshake) {
      this.failOpen(`a handshake failed with ${this.counters.open.toLocaleString('en-US')} connections open: ${reason}`);
      return;
    }
    this.counters.open--;
    this.counters.dropped++;
    this.counters.firstDrop ??= reason;
  }

  private failOpen(message: string): void {
    const done = this.openDone;
    this.openDone = null;
    done?.reject(new Error(message));
  }

  destroyAll(): void {
    this.stopping = true;
    for (const c of this.conns) c.destroy();
  }
}

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function clientMain(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      path: { type: 'string', default: '/' },
      conns: { type: 'string' },
      'settle-ms': { type: 'string' },
      'duration-ms': { type: 'string' },
      'open-timeout-ms': { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 0) throw new Error(`--${name} is required: a whole number`);
    return n;
  };
  const options: ClientOptions = {
    host: values.host,
    port: int('port', values.port),
    path: values.path,
    conns: int('conns', values.conns),
    settleMs: int('settle-ms', values['settle-ms']),
    durationMs: int('duration-ms', values['duration-ms']),
    openTimeoutMs: int('open-timeout-ms', values['open-timeout-ms']),
  };
  // Bounded whatever happens: the parent stops this process long before this deadline.
  setTimeout(() => {
    process.stderr.write('idle client: hard deadline reached\n');
    process.exit(3);
  }, options.openTimeoutMs + options.settleMs + options.durationMs + 60_000).unref();
  // Started with a pipe on stdin: when it closes, the parent died; stop at once.
  if (fstatSync(0).isFIFO()) process.stdin.on('end', () => process.exit(4)).resume();
  process.on('SIGTERM', () => process.exit(0));

  const client = new IdleClient(options);
  const startMs = performance.now();
  try {
    await client.openAll();
  } catch (err) {
    client.destroyAll();
    emit({ phase: 'error', message: (err as Error).message, ...client.counters });
    process.exitCode = 2;
    return;
  }
  emit({ phase: 'open', openMs: Math.round(performance.now() - startMs), ...client.counters });
  await new Promise((done) => setTimeout(done, options.settleMs));
  emit({ phase: 'measuring', ...client.counters });
  await new Promise((done) => setTimeout(done, options.durationMs));
  emit({ phase: 'done', ...client.counters });
  // Holds every connection until the parent has read what it needs and stops this process.
  setInterval(() => undefined, 60_000);
}

// ==== the bench (parent process) =================================================================

const TSX = (): string => pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const children = new Set<ChildProcess>();

// Raises the open-file limit (to the hard limit when WANTED_NOFILE is above it), then execs the command,
// so the pid is the command's own.
function withNofile(command: string[]): string[] {
  const script = `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  return ['bash', '-c', script, 'bench-idle', ...command];
}

function startChild(command: string[], cpu: number | null, name: string): ChildProcess {
  const wrapped = withNofile(command);
  const argv = cpu === null ? wrapped : ['taskset', '-c', String(cpu), ...wrapped];
  // stdin is a pipe the child watches: if this process dies, the pipe closes and the child stops.
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.on('error', (err) => process.stderr.write(`bench:idle: ${name}: ${err.message}\n`));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}

// Keeps the tail of a child's output for error messages, so a full pipe never blocks it.
function tail(child: ChildProcess, streams: ('stdout' | 'stderr')[] = ['stdout', 'stderr']): () => string {
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-4000);
  };
  for (const s of streams) child[s]?.on('data', keep);
  return () => text.trim();
}

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line.trim() !== '') onLine(line);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
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

function exitedEarly(child: ChildProcess, name: string, output: () => string): Promise<never> {
  return new Promise((_, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (code ${code}, signal ${signal})${output() === '' ? '' : `:\n${output()}`}`)));
  });
}

interface Pinning {
  load: number | null;
  gateway: number | null;
  note: string;
}

function allowedCpus(): number[] | null {
  const out = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  if (out.error !== undefined || out.status !== 0) return null;
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

function choosePinning(): Pinning {
  const allowed = allowedCpus();
  if (allowed === null) return { load: null, gateway: null, note: 'not pinned: taskset is not available' };
  if (allowed.length < 2) return { load: null, gateway: null, note: `not pinned: only ${allowed.length} CPU allowed` };
  const [load, gateway] = allowed as [number, number];
  return { load, gateway, note: `pinned with taskset: wsgate on CPU ${gateway}; upstream and idle client on CPU ${load}` };
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
function ensureBuilt(): string {
  const main = join(ROOT, 'dist/cli/main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(join(ROOT, 'src'))) return 'dist/ is up to date';
  process.stderr.write('bench:idle: dist/ is missing or older than src/, running npm run build\n');
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status === 0) return 'dist/ rebuilt';
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim();
  if (existsSync(main)) {
    process.stderr.write(`bench:idle: warning: npm run build reported errors; running what it emitted\n${output}\n`);
    return 'dist/ rebuilt with type errors';
  }
  throw new Error(`npm run build failed:\n${output}`);
}

function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

interface ProcStat {
  cpuTicks: number;
  rssKb: number;
}

function procStat(pid: number): ProcStat {
  // Fields after "(comm)": state is field 3, utime 14, stime 15 (proc(5)).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuTicks, rssKb: rss === null ? Number.NaN : Number(rss[1]) };
}

// Soft open-file limit and open descriptors of a process.
function fdUse(pid: number): { limit: number; open: number } {
  const line = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const limit = line === null || line[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line[1]);
  return { limit, open: readdirSync(`/proc/${pid}/fd`).length };
}

async function startUpstream(cpu: number | null): Promise<{ child: ChildProcess; port: number }> {
  const child = startChild([process.execPath, '--import', TSX(), join(ROOT, 'bench/upstream.ts')], cpu, 'upstream');
  const output = tail(child);
  const port = await withTimeout(
    Promise.race([
      new Promise<number>((done) => lines(child, (line) => done((JSON.parse(line) as { port: number }).port))),
      exitedEarly(child, 'upstream', output),
    ]),
    STARTUP_TIMEOUT_MS,
    'upstream start',
  );
  return { child, port };
}

interface Gateway {
  child: ChildProcess;
  port: number;
  adminPort: number;
  output: () => string;
}

async function startGateway(cpu: number | null, upstreamPort: number, pingInterval: string, dir: string): Promise<Gateway> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = {
    listen: [{ port, host: '127.0.0.1' }],
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'warn' },
    limits: { drainTimeout: '2s' },
    upstreams: { bench: { targets: [{ url: `http://127.0.0.1:${upstreamPort}` }] } },
    routes: [{ name: 'idle', match: { path: '/*' }, upstream: 'bench', websocket: { pingInterval, pongTimeout: PONG_TIMEOUT } }],
  };
  const file = join(dir, `wsgate-${pingInterval}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = startChild([process.execPath, join(ROOT, 'dist/cli/main.js'), 'start', '-c', file], cpu, 'wsgate');
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
  return { child, port, adminPort, output };
}

// The number of tunnels wsgate holds, from its admin API; null if it does not answer.
async function gatewayTunnels(adminPort: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/connections?limit=1`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { total?: number };
    return typeof body.total === 'number' ? body.total : null;
  } catch {
    return null;
  }
}

type ClientLine = Counters & { phase: 'open' | 'measuring' | 'done' | 'error'; openMs?: number; message?: string };

interface PhaseResult {
  label: string;
  pingMs: number;
  conns: number;
  openMs: number;
  windowMs: number;
  cpu: { gateway: number; upstream: number; client: number }; // seconds inside the window
  rssIdleKb: number;
  rssHoldKb: number;
  pings: number;
  pongs: number;
  dataFrames: number;
  dropped: number;
  firstDrop: string | null;
  tunnels: number | null;
  fds: { limit: number; idle: number; holding: number };
}

async function runPhase(
  label: string,
  pingMs: number,
  opts: { conns: number; durationMs: number },
  pin: Pinning,
  upstream: { child: ChildProcess; port: number },
  dir: string,
): Promise<PhaseResult> {
  const say = (text: string): boolean => process.stderr.write(`bench:idle: ${label}: ${text}\n`);
  const gateway = await startGateway(pin.gateway, upstream.port, `${pingMs}ms`, dir);
  const gw = gateway.child.pid!;
  try {
    // Let start-up work (JIT, GC of the config load) finish before the idle RSS is read.
    await new Promise((done) => setTimeout(done, 1000));
    const idle = procStat(gw);
    const fdIdle = fdUse(gw);
    const room = Math.floor((fdIdle.limit - fdIdle.open) / 2);
    if (opts.conns > room) {
      say(
        `warning: wsgate may run out of file descriptors: open-file limit ${fdIdle.limit}, ${fdIdle.open} in use, ` +
          `2 per connection: room for about ${room.toLocaleString('en-US')} connections`,
      );
    }

    const openTimeoutMs = Math.max(30_000, opts.conns * 5);
    const args = [
      'client',
      '--port', String(gateway.port),
      '--path', '/idle',
      '--conns', String(opts.conns),
      '--settle-ms', String(SETTLE_MS),
      '--duration-ms', String(opts.durationMs),
      '--open-timeout-ms', String(openTimeoutMs),
    ];
    const client = startChild([process.execPath, '--import', TSX(), fileURLToPath(import.meta.url), ...args], pin.load, 'idle client');
    const clientErr = tail(client, ['stderr']);
    const pids = { gateway: gw, upstream: upstream.child.pid!, client: client.pid! };
    type Snap = { atMs: number; gateway: ProcStat; upstream: ProcStat; client: ProcStat };
    const snap = (): Snap => ({ atMs: performance.now(), gateway: procStat(pids.gateway), upstream: procStat(pids.upstream), client: procStat(pids.client) });
    let before: Snap | null = null;
    let atStart: Counters | null = null;
    let openMs = 0;
    say(`opening ${opts.conns.toLocaleString('en-US')} connections through wsgate ...`);
    const { after, done } = await withTimeout(
      Promise.race([
        new Promise<{ after: Snap; done: ClientLine }>((resolveDone, rejectDone) =>
          lines(client, (line) => {
            const msg = JSON.parse(line) as ClientLine;
            if (msg.phase === 'error') {
              const hint = opts.conns > room ? ` (wsgate has room for about ${room.toLocaleString('en-US')} connections within its open-file limit ${fdIdle.limit})` : '';
              rejectDone(new Error(`${label}: ${msg.message}${hint}\n${gateway.output()}`));
            } else if (msg.phase === 'open') {
              openMs = msg.openMs ?? 0;
              say(`${msg.open.toLocaleString('en-US')} open after ${(openMs / 1000).toFixed(1)} s; measuring for ${opts.durationMs / 1000} s after ${SETTLE_MS / 1000} s`);
            } else if (msg.phase === 'measuring') {
              before = snap();
              atStart = msg;
            } else if (msg.phase === 'done') {
              resolveDone({ after: snap(), done: msg });
            }
          }),
        ),
        exitedEarly(client, 'idle client', clientErr),
        exitedEarly(gateway.child, 'wsgate', gateway.output),
      ]),
      openTimeoutMs + SETTLE_MS + opts.durationMs + 30_000,
      `${label}: idle client`,
    );
    const b = before as Snap | null;
    const start = atStart as Counters | null;
    if (b === null || start === null) throw new Error(`${label}: the idle client skipped the start of the window`);
    const tunnels = await gatewayTunnels(gateway.adminPort);
    const fdHold = fdUse(gw);
    await stopChild(client);
    const seconds = (name: 'gateway' | 'upstream' | 'client'): number => (after[name].cpuTicks - b[name].cpuTicks) / CLK_TCK;
    return {
      label,
      pingMs,
      conns: opts.conns,
      openMs,
      windowMs: after.atMs - b.atMs,
      cpu: { gateway: seconds('gateway'), upstream: seconds('upstream'), client: seconds('client') },
      rssIdleKb: idle.rssKb,
      rssHoldKb: after.gateway.rssKb,
      pings: done.pings - start.pings,
      pongs: done.pongs - start.pongs,
      dataFrames: done.dataFrames,
      dropped: done.dropped,
      firstDrop: done.firstDrop,
      tunnels,
      fds: { limit: fdIdle.limit, idle: fdIdle.open, holding: fdHold.open },
    };
  } finally {
    await stopChild(gateway.child);
  }
}

// ---- output -------------------------------------------------------------------------------------

function parseDuration(text: string, name: string, min: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw new Error(`--${name} ${text}: write e.g. 10s, 500ms or 1m`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (ms < min || ms > 600_000) throw new Error(`--${name} ${text}: between ${min}ms and 600s`);
  return ms;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (kb: number): string => (Number.isNaN(kb) ? 'n/a' : `${(kb / 1024).toFixed(1)} MiB`);
const pct = (cpuSeconds: number, ms: number): string => `${((cpuSeconds / (ms / 1000)) * 100).toFixed(1)}%`;
const secs = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)} s`;

function heartbeatLabel(pingMs: number): string {
  return pingMs === 0 ? 'off (pingInterval 0s)' : `pingInterval ${secs(pingMs).replace(' ', '')}`;
}

const USAGE = `usage: npm run bench:idle -- [--conns 10000] [--duration 10s] [--ping 1s]
  --conns N      idle WebSocket connections held through wsgate (default 10000)
  --duration D   measurement window, after all are open and ${SETTLE_MS / 1000} s of settling (default 10s)
  --ping D       wsgate's pingInterval for the heartbeat run (default 1s; 30s is wsgate's default);
                 pongTimeout is ${PONG_TIMEOUT}. A second run with pingInterval 0s (heartbeat off) follows.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      conns: { type: 'string' },
      duration: { type: 'string' },
      ping: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const conns = values.conns === undefined ? 10_000 : Number(values.conns);
  if (!Number.isInteger(conns) || conns < 1 || conns > 60_000) throw new Error(`--conns ${values.conns}: a whole number from 1 to 60000`);
  const durationMs = parseDuration(values.duration ?? '10s', 'duration', 1000);
  const pingMs = parseDuration(values.ping ?? '1s', 'ping', 100);
  if (!existsSync('/proc/self/stat')) throw new Error('bench:idle reads CPU time and memory from /proc, which this system does not have');
  const built = ensureBuilt();
  const pin = choosePinning();
  process.stderr.write(`bench:idle: ${pin.note}\n`);
  if (durationMs < pingMs) {
    process.stderr.write(`bench:idle: warning: the ${secs(durationMs)} window is shorter than pingInterval ${secs(pingMs)}; use --duration ${secs(pingMs * 2).replace(' ', '')} or more to see the heartbeat's steady state\n`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-idle-'));
  try {
    const upstream = await startUpstream(pin.load);
    const results: PhaseResult[] = [];
    for (const ping of [pingMs, 0]) {
      results.push(await runPhase(`heartbeat ${ping === 0 ? 'off' : secs(ping).replace(' ', '')}`, ping, { conns, durationMs }, pin, upstream, dir));
      // The previous run's sockets close in the background; let the upstream and the kernel catch up.
      await new Promise((done) => setTimeout(done, 1000));
    }
    await stopChild(upstream.child);

    const now = new Date();
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
    const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
    const out: string[] = [];
    out.push(`# wsgate idle connections, ${now.toISOString()}`, '');
    out.push(
      `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} CPUs), commit ${commit.status === 0 ? commit.stdout.trim() : 'unknown'}` +
        `${dirty.status === 0 && dirty.stdout.trim() !== '' ? ' + uncommitted changes in src/' : ''}; ${built}.`,
    );
    out.push(
      `${pin.note}. ${int(conns)} idle WebSocket connections through wsgate to the bench upstream, opened ${OPEN_CONCURRENCY} handshakes at a time; ` +
        `each client sends nothing but a masked pong for every ping. Measured over ${secs(durationMs)} starting ${SETTLE_MS / 1000} s after the last connection opened; ` +
        `pongTimeout ${PONG_TIMEOUT}; everything on 127.0.0.1; wsgate at log level warn. CPU: utime+stime from /proc/<pid>/stat, 100% = one CPU busy for the whole window.`,
      '',
    );
    out.push('| heartbeat | connections held | wsgate CPU | RSS idle | RSS holding | per connection | pings received (expected) | dropped |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    let failed = false;
    for (const r of results) {
      const expected = r.pingMs === 0 ? 0 : (r.conns * r.windowMs) / r.pingMs;
      const held = r.tunnels ?? r.conns - r.dropped;
      if (r.dropped > 0 || r.tunnels !== r.conns) failed = true;
      out.push(
        `| ${heartbeatLabel(r.pingMs)} | ${int(held)} | ${pct(r.cpu.gateway, r.windowMs)} | ${mib(r.rssIdleKb)} | ${mib(r.rssHoldKb)} | ` +
          `${((r.rssHoldKb - r.rssIdleKb) / r.conns).toFixed(1)} KiB | ${int(r.pings)} (≈ ${int(expected)}) | ${r.dropped}${r.firstDrop !== null ? ` (${r.firstDrop})` : ''} |`,
      );
    }
    const on = results[0]!;
    const off = results[1]!;
    out.push('');
    const extra = on.cpu.gateway / (on.windowMs / 1000) - off.cpu.gateway / (off.windowMs / 1000);
    out.push(
      `- Heartbeat cost: ${(extra * 100).toFixed(1)} percentage points of one CPU for ${int(on.conns)} connections at pingInterval ${secs(on.pingMs).replace(' ', '')}` +
        (on.pings > 0 ? `, about ${((extra * (on.windowMs / 1000) * 1e6) / on.pings).toFixed(1)} µs of wsgate CPU per ping and pong.` : '.'),
    );
    out.push(`- Expected pings: connections × window / pingInterval; wsgate pings a connection once it has been silent for pingInterval, checked on its clock tick, so a little fewer arrive.`);
    for (const r of results) {
      out.push(
        `- ${heartbeatLabel(r.pingMs)}: opened in ${(r.openMs / 1000).toFixed(1)} s; window ${(r.windowMs / 1000).toFixed(2)} s; ` +
          `tunnels reported by wsgate at the end ${r.tunnels === null ? 'n/a' : int(r.tunnels)}; pongs sent ${int(r.pongs)}; data frames received ${r.dataFrames}; ` +
          `CPU upstream ${pct(r.cpu.upstream, r.windowMs)}, idle client ${pct(r.cpu.client, r.windowMs)}; ` +
          `wsgate file descriptors ${int(r.fds.idle)} idle, ${int(r.fds.holding)} holding, limit ${Number.isFinite(r.fds.limit) ? int(r.fds.limit) : 'unlimited'}.`,
      );
    }
    const text = `${out.join('\n')}\n`;
    process.stdout.write(`\n${text}`);
    const resultsDir = join(ROOT, 'bench/results');
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `${now.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-idle.md`);
    appendFileSync(file, text);
    process.stderr.write(`bench:idle: wrote ${file.slice(ROOT.length + 1)}\n`);
    return failed ? 1 : 0;
  } finally {
    await Promise.all([...children].map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'client') {
  clientMain(process.argv.slice(3)).catch((err: unknown) => {
    process.stderr.write(`idle client: ${(err as Error).message}\n`);
    process.exit(2);
  });
} else {
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
      process.stderr.write(`bench:idle: ${(err as Error).message}\n`);
      killAllNow();
      process.exitCode = 1;
    },
  );
}
