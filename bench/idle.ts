// bench/idle: what holding many idle WebSocket connections costs wsgate: CPU time, memory per held
// connection, and whether the heartbeat keeps every connection alive. N clients connect through wsgate
// to bench/upstream.ts, send nothing, and answer each gateway ping with a pong; over a fixed window the
// bench reads wsgate's CPU time and RSS from /proc. It runs twice: once with the heartbeat on, once
// with pingInterval 0s (heartbeat off), so the difference is what the heartbeat costs.
//
//   npm run bench:idle                              10,000 connections, 10 s window, pingInterval 1s
//   npm run bench:idle -- --conns 2000              fewer connections
//   npm run bench:idle -- --ping 30s --duration 60s the default pingInterval (use a window >= the interval)
//   npm run bench:idle -- --conns 20000 --workers 3 more than one process's open-file limit holds
//
// Every process is a child of this one: bench/upstream.ts, wsgate from the built dist/ (log level warn,
// one route with websocket { pingInterval, pongTimeout: 5s }), and the idle client, which is this file
// again: `node --import tsx bench/idle.ts client --port N --conns N ...`. Children start with the
// open-file limit raised as far as allowed (wsgate holds two sockets per connection, the client and
// the upstream one each). When --conns is more than one process may hold (its limit less 500 spare)
// or than one destination port should take (half the ephemeral port range, less 1,000: see
// PORT_SPARE), the connections are split over several idle clients, each to its own listen port of
// wsgate, and over several upstreams that are the targets of wsgate's one upstream (round robin). wsgate itself is not split behind your back: with more than
// about (limit - 500) / 2 connections the bench stops and names the --workers N that fits; with
// --workers N wsgate runs as a node:cluster primary and N workers, and its CPU time and RSS are summed
// over all of them. The parent starts and ends every client's window at once (a `snap` line on each
// client's stdin). Where taskset exists and two CPUs are allowed, wsgate (primary and workers) runs on
// the second CPU, the upstreams and the clients share the first. The table goes to stdout and to
// bench/results/<UTC time>-idle.md.
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { frameHeaderSize, handshakePrefix } from '../src/cli/bench/ws-connection.js';
import {
  CLK_TCK,
  STARTUP_TIMEOUT_MS,
  TSX,
  childOpenFileLimit,
  choosePinning,
  ensureBuilt,
  environmentLine,
  exitedEarly,
  lines,
  processTree,
  procStat,
  publish,
  reapPids,
  runBench,
  startChild,
  startGateway,
  startUpstream,
  stopAllChildren,
  stopChild,
  sumStats,
  tail,
  trackPid,
  withTimeout,
  type Pinning,
  type ProcStat,
  type Upstream,
} from './lib.js';
import { fromParent } from './parent-pipe.js';

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
  /** Handshakes in flight at once. */
  concurrency: number;
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
    this.socket.write(`${this.client.handshake}Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
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
        if (this.headerHave === 2) this.headerNeed = frameHeaderSize(this.header[1] as number);
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

  // The handshake request up to the key, the same for every connection.
  readonly handshake: string;

  constructor(readonly options: ClientOptions) {
    this.handshake = handshakePrefix({ target: { path: options.path, authority: `${options.host}:${options.port}` }, headers: [] });
  }

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
    while (this.inFlight < this.options.concurrency && this.started < this.options.conns && this.openDone !== null) {
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
      concurrency: { type: 'string' },
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
    concurrency: values.concurrency === undefined ? OPEN_CONCURRENCY : Math.max(1, int('concurrency', values.concurrency)),
  };
  // Bounded whatever happens: the parent stops this process long before this deadline.
  setTimeout(() => {
    process.stderr.write('idle client: hard deadline reached\n');
    process.exit(3);
  }, options.openTimeoutMs + options.settleMs + options.durationMs + 60_000).unref();
  process.on('SIGTERM', () => process.exit(0));

  const client = new IdleClient(options);
  // Each `snap` from the bench asks for the counters, so that the parent starts and ends the window
  // of every client at the same moment; the pipe closing means the parent died: stop at once.
  fromParent(
    (line) => {
      if (line === 'snap') emit({ phase: 'snap', ...client.counters });
    },
    () => process.exit(4),
  );

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
  // Holds every connection, answering `snap` lines, until the parent has read what it needs and
  // stops this process.
  setInterval(() => undefined, 60_000);
}

// ==== the bench (parent process) =================================================================

// Descriptors kept spare in each process when the load is split: client and upstream processes take
// one per connection, wsgate two (the client's socket and the upstream's).
const FD_SPARE = 500;
// Local ports kept spare per destination. connect() takes a local port from the even half of the
// ephemeral range first; once that half is used up towards one destination (address and port), every
// further connect() scans all of it in the kernel: at 20,000 connections to one port the idle clients
// spent a whole CPU in system time and opening took 17 s instead of 5. So no destination (a wsgate
// listen port, an upstream port) gets more than half the range less this.
const PORT_SPARE = 1000;
// What wsgate has open before its first connection (22 measured) plus the admin query at the end:
// one process holds at most (limit - this) / 2 connections.
const GATEWAY_BASE_FDS = 24;

// Soft open-file limit and open descriptors of a process.
function fdUse(pid: number): { limit: number; open: number } {
  const line = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const limit = line === null || line[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line[1]);
  return { limit, open: readdirSync(`/proc/${pid}/fd`).length };
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

// How the load is spread over processes so that each stays within its open-file limit.
interface Plan {
  /** wsgate's `workers`; 1: one process, no cluster. */
  workers: number;
  /** Connections each idle client process opens. */
  clientConns: number[];
  /** Upstream processes: the targets of wsgate's one upstream. */
  upstreams: number;
  /** Connections towards one destination port at most (see PORT_SPARE). */
  perPort: number;
  /** Handshakes in flight at once in each client: OPEN_CONCURRENCY in all. */
  concurrency: number;
}

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

// The workers that leave every one room, with some to spare: the cluster's round robin hands a
// connection to whichever worker is free, which is near, not exactly, an even split.
function workersFor(conns: number, perGateway: number): number {
  let n = Math.ceil(conns / perGateway);
  if (conns / n > perGateway * 0.85) n++;
  return n;
}

function plan(conns: number, workersAsked: number | undefined, limit: number, ports: number | null, say: (text: string) => void): Plan {
  const perPort = ports === null ? Number.POSITIVE_INFINITY : Math.max(PORT_SPARE, Math.floor(ports / 2) - PORT_SPARE);
  const perLoad = Math.min(perPort, Number.isFinite(limit) ? Math.max(100, limit - FD_SPARE) : Number.POSITIVE_INFINITY);
  const perGateway = Number.isFinite(limit) ? Math.max(50, Math.floor((limit - FD_SPARE) / 2)) : Number.POSITIVE_INFINITY;
  const mostGateway = Math.floor((limit - GATEWAY_BASE_FDS) / 2);
  const clients = Math.ceil(conns / perLoad);
  const upstreams = Math.ceil(conns / perLoad);
  const workers = workersAsked ?? 1;
  if (workersAsked === undefined && conns > mostGateway) {
    const n = workersFor(conns, perGateway);
    throw new Error(
      `--conns ${int(conns)} does not fit in one wsgate process: each held connection takes 2 of its file descriptors and the open-file ` +
        `limit here is ${int(limit)}, room for about ${int(perGateway)} connections. Run with --workers ${n}: wsgate then runs as a ` +
        `node:cluster primary and ${n} worker processes, each with its own limit, about ${int(Math.ceil(conns / n))} connections each.`,
    );
  }
  if (workersAsked !== undefined && Math.ceil(conns / workers) > perGateway) {
    say(
      `warning: --workers ${workers}: about ${int(Math.ceil(conns / workers))} connections per wsgate process, more than the ` +
        `about ${int(perGateway)} its open-file limit of ${int(limit)} comfortably holds; --workers ${workersFor(conns, perGateway)} leaves room`,
    );
  }
  return { workers, clientConns: split(conns, clients), upstreams, perPort, concurrency: Math.ceil(OPEN_CONCURRENCY / clients) };
}

// The size of the ephemeral port range: every connection here takes one of them from 127.0.0.1.
function ephemeralPorts(): number | null {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi) ? null : hi - lo + 1;
  } catch {
    return null;
  }
}

type ClientLine = Counters & { phase: 'open' | 'snap' | 'error'; openMs?: number; message?: string };

// One idle client process: `opened` settles when all its connections are open (or it gives up);
// snap() asks for its counters.
interface ClientProc {
  name: string;
  child: ChildProcess;
  err: () => string;
  opened: Promise<ClientLine>;
  snap(): Promise<ClientLine>;
}

function startClient(name: string, args: string[], cpu: number | null): ClientProc {
  const child = startChild([process.execPath, '--import', TSX, fileURLToPath(import.meta.url), 'client', ...args], cpu, name);
  const err = tail(child, ['stderr']);
  child.stdin!.on('error', () => undefined); // a `snap` written as it exits: its exit is what counts
  const waiting: ((line: ClientLine) => void)[] = [];
  let settle: { resolve: (line: ClientLine) => void; reject: (err: Error) => void } | null = null;
  const opened = new Promise<ClientLine>((resolve, reject) => (settle = { resolve, reject }));
  opened.catch(() => undefined); // read through Promise.all; a late failure is not unhandled
  lines(child, (text) => {
    let msg: ClientLine;
    try {
      msg = JSON.parse(text) as ClientLine;
    } catch {
      return; // not one of its lines
    }
    if (msg.phase === 'error') settle?.reject(new Error(msg.message ?? 'failed'));
    else if (msg.phase === 'open') settle?.resolve(msg);
    else waiting.shift()?.(msg);
  });
  const snap = (): Promise<ClientLine> =>
    new Promise((resolve) => {
      waiting.push(resolve);
      child.stdin!.write('snap\n');
    });
  return { name, child, err, opened, snap };
}

function sumCounters(list: readonly Counters[]): Counters {
  const out: Counters = { open: 0, pings: 0, pongs: 0, dataFrames: 0, dropped: 0, firstDrop: null };
  for (const c of list) {
    out.open += c.open;
    out.pings += c.pings;
    out.pongs += c.pongs;
    out.dataFrames += c.dataFrames;
    out.dropped += c.dropped;
    out.firstDrop ??= c.firstDrop;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

// wsgate's processes: the one process, or the cluster primary and its `workers` children, once all
// of them exist (the admin API says ready only when every worker listens; this makes sure of the pids).
async function gatewayProcesses(primary: number, workers: number, output: () => string): Promise<number[]> {
  if (workers <= 1) return [primary];
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const tree = processTree(primary);
    if (tree.length - 1 >= workers) return tree;
    if (Date.now() > deadline) throw new Error(`wsgate has ${tree.length - 1} of ${workers} worker processes after ${STARTUP_TIMEOUT_MS} ms:\n${output()}`);
    await sleep(50);
  }
}

interface PhaseResult {
  label: string;
  pingMs: number;
  conns: number;
  openMs: number;
  windowMs: number;
  cpu: { gateway: number; upstream: number; client: number }; // seconds inside the window
  /** Summed over wsgate's processes. */
  rssIdleKb: number;
  rssHoldKb: number;
  /** Per wsgate process: the one, or the primary then each worker. */
  gatewayRss: { idle: number[]; hold: number[] };
  pings: number;
  pongs: number;
  dataFrames: number;
  dropped: number;
  firstDrop: string | null;
  tunnels: number | null;
  fds: { limit: number; idle: number[]; holding: number[] };
}

async function runPhase(
  label: string,
  pingMs: number,
  opts: { conns: number; durationMs: number },
  layout: Plan,
  pin: Pinning,
  upstreams: readonly Upstream[],
  dir: string,
): Promise<PhaseResult> {
  const say = (text: string): boolean => process.stderr.write(`bench:idle: ${label}: ${text}\n`);
  const pingInterval = `${pingMs}ms`;
  const route = { name: 'idle', match: { path: '/*' }, upstream: 'bench', websocket: { pingInterval, pongTimeout: PONG_TIMEOUT } };
  const gateway = await startGateway(
    pin.gateway,
    upstreams.map((u) => u.port),
    dir,
    `wsgate-${pingInterval}.json`,
    route,
    // The default cap of 10,000 per target must not be what limits the run.
    // One listen port per idle client (see PORT_SPARE).
    { workers: layout.workers, listeners: layout.clientConns.length, upstream: { maxConnectionsPerTarget: Math.max(10_000, opts.conns) } },
  );
  const gw = gateway.child.pid!;
  let gwPids = [gw];
  const clients: ClientProc[] = [];
  try {
    gwPids = await gatewayProcesses(gw, layout.workers, gateway.output);
    for (const pid of gwPids.slice(1)) trackPid(pid);
    // Let start-up work (JIT, GC of the config load) finish before the idle RSS is read.
    await sleep(1000);
    const gatewayStats = (): ProcStat[] =>
      gwPids.map((pid) => {
        try {
          return procStat(pid);
        } catch {
          throw new Error(`${label}: wsgate process ${pid} is gone (a worker exited?)\n${gateway.output()}`);
        }
      });
    const idle = gatewayStats();
    const fdIdle = gwPids.map(fdUse);
    // The processes that hold tunnels: the one wsgate process, or each worker (the primary hands
    // every connection on).
    const holders = layout.workers > 1 ? fdIdle.slice(1) : fdIdle;
    const rooms = holders.map((f) => Math.floor((f.limit - f.open) / 2));
    const room = Math.min(...rooms);
    const limit = fdIdle[0]!.limit;
    const perHolder = Math.ceil(opts.conns / holders.length);
    let roomHint = '';
    if (layout.workers <= 1) {
      if (opts.conns > room) {
        say(
          `warning: wsgate may run out of file descriptors: open-file limit ${fdIdle[0]!.limit}, ${fdIdle[0]!.open} in use, ` +
            `2 per connection: room for about ${room.toLocaleString('en-US')} connections`,
        );
        roomHint = ` (wsgate has room for about ${room.toLocaleString('en-US')} connections within its open-file limit ${limit})`;
      }
    } else if (perHolder > room) {
      say(
        `warning: wsgate's workers may run out of file descriptors: ${layout.workers} workers, open-file limit ${Math.min(...holders.map((f) => f.limit))}, ` +
          `up to ${Math.max(...holders.map((f) => f.open))} in use, 2 per connection: room for about ${int(room)} connections in each, ` +
          `against about ${int(perHolder)} each if the cluster spreads them evenly`,
      );
      roomHint = ` (wsgate's ${layout.workers} workers have room for about ${int(room)} connections each within their open-file limit)`;
    }

    const openTimeoutMs = Math.max(30_000, opts.conns * 5);
    layout.clientConns.forEach((n, i) => {
      const args = [
        '--port', String(gateway.ports[i]!),
        '--path', '/idle',
        '--conns', String(n),
        '--settle-ms', String(SETTLE_MS),
        '--duration-ms', String(opts.durationMs),
        '--open-timeout-ms', String(openTimeoutMs),
        '--concurrency', String(layout.concurrency),
      ];
      const name = layout.clientConns.length === 1 ? 'idle client' : `idle client ${i + 1} of ${layout.clientConns.length}`;
      clients.push(startClient(name, args, pin.load));
    });
    const upstreamPids = upstreams.map((u) => u.child.pid!);
    type Snap = { atMs: number; gateway: ProcStat[]; upstream: ProcStat; client: ProcStat };
    const snap = (): Snap => ({
      atMs: performance.now(),
      gateway: gatewayStats(),
      upstream: sumStats(upstreamPids.map(procStat)),
      client: sumStats(clients.map((c) => procStat(c.child.pid!))),
    });
    say(`opening ${opts.conns.toLocaleString('en-US')} connections through wsgate ...`);
    let openMs = 0;
    const measure = async (): Promise<{ before: Snap; after: Snap; start: Counters; done: Counters }> => {
      const opened = await Promise.all(
        clients.map((c) =>
          c.opened.catch((err: unknown) => {
            const who = clients.length === 1 ? '' : `${c.name}: `;
            throw new Error(`${label}: ${who}${(err as Error).message}${roomHint}\n${gateway.output()}`);
          }),
        ),
      );
      openMs = Math.max(...opened.map((o) => o.openMs ?? 0));
      say(`${sumCounters(opened).open.toLocaleString('en-US')} open after ${(openMs / 1000).toFixed(1)} s; measuring for ${opts.durationMs / 1000} s after ${SETTLE_MS / 1000} s`);
      await sleep(SETTLE_MS);
      const start = sumCounters(await Promise.all(clients.map((c) => c.snap())));
      const before = snap();
      await sleep(opts.durationMs);
      const done = sumCounters(await Promise.all(clients.map((c) => c.snap())));
      return { before, after: snap(), start, done };
    };
    const { before: b, after, start, done } = await withTimeout(
      Promise.race([
        measure(),
        ...clients.map((c) => exitedEarly(c.child, c.name, c.err)),
        exitedEarly(gateway.child, 'wsgate', gateway.output),
      ]),
      openTimeoutMs + SETTLE_MS + opts.durationMs + 30_000,
      `${label}: idle client`,
    );
    const tunnels = await gatewayTunnels(gateway.adminPort);
    const fdHold = gwPids.map(fdUse);
    if (layout.workers > 1) {
      const now = processTree(gw);
      if (now.length !== gwPids.length || now.some((pid) => !gwPids.includes(pid))) {
        throw new Error(`${label}: wsgate's processes changed during the run (${gwPids.join(', ')} → ${now.join(', ')}): a worker was restarted\n${gateway.output()}`);
      }
    }
    await Promise.all(clients.map((c) => stopChild(c.child)));
    const gatewayTicks = (s: Snap): number => sumStats(s.gateway).cpuTicks;
    return {
      label,
      pingMs,
      conns: opts.conns,
      openMs,
      windowMs: after.atMs - b.atMs,
      cpu: {
        gateway: (gatewayTicks(after) - gatewayTicks(b)) / CLK_TCK,
        upstream: (after.upstream.cpuTicks - b.upstream.cpuTicks) / CLK_TCK,
        client: (after.client.cpuTicks - b.client.cpuTicks) / CLK_TCK,
      },
      rssIdleKb: sumStats(idle).rssKb,
      rssHoldKb: sumStats(after.gateway).rssKb,
      gatewayRss: { idle: idle.map((s) => s.rssKb), hold: after.gateway.map((s) => s.rssKb) },
      pings: done.pings - start.pings,
      pongs: done.pongs - start.pongs,
      dataFrames: done.dataFrames,
      dropped: done.dropped,
      firstDrop: done.firstDrop,
      tunnels,
      fds: { limit, idle: fdIdle.map((f) => f.open), holding: fdHold.map((f) => f.open) },
    };
  } finally {
    await Promise.all(clients.map((c) => stopChild(c.child)));
    await stopChild(gateway.child);
    // Workers leave with their primary (their IPC channel closes); make sure, before the next run.
    await reapPids(gwPids.slice(1));
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
const plural = (n: number, one: string, many: string): string => `${int(n)} ${n === 1 ? one : many}`;

function heartbeatLabel(pingMs: number): string {
  return pingMs === 0 ? 'off (pingInterval 0s)' : `pingInterval ${secs(pingMs).replace(' ', '')}`;
}

// What ran where, when the load was split over more than one process of a kind; empty otherwise.
function layoutText(layout: Plan, limit: number): string {
  const clients = layout.clientConns.length;
  if (layout.workers === 1 && clients === 1 && layout.upstreams === 1) return '';
  const out: string[] = [];
  if (layout.workers > 1) {
    out.push(
      ` wsgate ran with \`workers: ${layout.workers}\`: the node:cluster primary, which accepts each connection and hands it to a worker in turn, ` +
        `and ${layout.workers} worker processes that hold the tunnels; its CPU and RSS are summed over all ${layout.workers + 1} processes, ` +
        `and per connection is (RSS holding − RSS idle) / connections.`,
    );
  } else {
    out.push(' wsgate ran as one process.');
  }
  const shares = [...new Set(layout.clientConns)].map(int).join(' or ');
  out.push(
    ` The load came from ${plural(clients, 'idle client process', 'idle client processes')} (${shares} connections each, ${layout.concurrency} handshakes at a time each` +
      `${clients > 1 ? ', each to its own wsgate listen port on 127.0.0.1' : ''}) ` +
      `and ${plural(layout.upstreams, 'upstream process', 'upstream processes')}${layout.upstreams > 1 ? ' (the targets of wsgate’s one upstream, round robin)' : ''}` +
      (Number.isFinite(limit) ? `, every process within its own open-file limit of ${int(limit)}` : '') +
      `${Number.isFinite(layout.perPort) ? `, at most ${int(layout.perPort)} connections towards any one port (half the ephemeral port range, less ${int(PORT_SPARE)})` : ''}.`,
  );
  return out.join('');
}

const USAGE = `usage: npm run bench:idle -- [--conns 10000] [--duration 10s] [--ping 1s] [--workers N]
  --conns N      idle WebSocket connections held through wsgate (default 10000)
  --duration D   measurement window, after all are open and ${SETTLE_MS / 1000} s of settling (default 10s)
  --ping D       wsgate's pingInterval for the heartbeat run (default 1s; 30s is wsgate's default);
                 pongTimeout is ${PONG_TIMEOUT}. A second run with pingInterval 0s (heartbeat off) follows.
  --workers N    run wsgate with \`workers: N\` (node:cluster; default 1: one process). Memory and CPU
                 are then summed over the primary and its workers. Needed when --conns is more than
                 one process's open-file limit holds at 2 descriptors per connection; the bench says
                 which N fits. Idle clients and upstreams are split over processes by themselves.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      conns: { type: 'string' },
      duration: { type: 'string' },
      ping: { type: 'string' },
      workers: { type: 'string' },
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
  const workersAsked = values.workers === undefined ? undefined : Number(values.workers);
  if (workersAsked !== undefined && (!Number.isInteger(workersAsked) || workersAsked < 1 || workersAsked > 64)) {
    throw new Error(`--workers ${values.workers}: a whole number from 1 to 64`);
  }
  const durationMs = parseDuration(values.duration ?? '10s', 'duration', 1000);
  const pingMs = parseDuration(values.ping ?? '1s', 'ping', 100);
  if (!existsSync('/proc/self/stat')) throw new Error('bench:idle reads CPU time and memory from /proc, which this system does not have');
  const limit = childOpenFileLimit();
  const layout = plan(conns, workersAsked, limit, ephemeralPorts(), (text) => process.stderr.write(`bench:idle: ${text}\n`));
  const built = ensureBuilt();
  const pin = choosePinning('idle client');
  process.stderr.write(`bench:idle: ${pin.note}\n`);
  if (layout.workers > 1 || layout.clientConns.length > 1 || layout.upstreams > 1) {
    process.stderr.write(
      `bench:idle: wsgate ${layout.workers > 1 ? `with workers: ${layout.workers}` : 'in one process'}; ` +
        `${plural(layout.clientConns.length, 'idle client', 'idle clients')}, ${plural(layout.upstreams, 'upstream', 'upstreams')} (open-file limit ${int(limit)} each)\n`,
    );
  }
  if (durationMs < pingMs) {
    process.stderr.write(`bench:idle: warning: the ${secs(durationMs)} window is shorter than pingInterval ${secs(pingMs)}; use --duration ${secs(pingMs * 2).replace(' ', '')} or more to see the heartbeat's steady state\n`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'wsgate-bench-idle-'));
  try {
    const upstreams: Upstream[] = [];
    for (let i = 0; i < layout.upstreams; i++) upstreams.push(await startUpstream(pin.load));
    const results: PhaseResult[] = [];
    for (const ping of [pingMs, 0]) {
      results.push(await runPhase(`heartbeat ${ping === 0 ? 'off' : secs(ping).replace(' ', '')}`, ping, { conns, durationMs }, layout, pin, upstreams, dir));
      // The previous run's sockets close in the background; let the upstream and the kernel catch up.
      await sleep(1000);
    }
    await Promise.all(upstreams.map((u) => stopChild(u.child)));

    const now = new Date();
    const out: string[] = [];
    out.push(`# wsgate idle connections, ${now.toISOString()}`, '');
    out.push(environmentLine(built));
    out.push(
      `${pin.note}. ${int(conns)} idle WebSocket connections through wsgate to the bench upstream, opened ${OPEN_CONCURRENCY} handshakes at a time; ` +
        `each client sends nothing but a masked pong for every ping. Measured over ${secs(durationMs)} starting ${SETTLE_MS / 1000} s after the last connection opened; ` +
        `pongTimeout ${PONG_TIMEOUT}; everything on 127.0.0.1; wsgate at log level warn. CPU: utime+stime from /proc/<pid>/stat, 100% = one CPU busy for the whole window.` +
        layoutText(layout, limit),
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
    const fdLimit = (r: PhaseResult): string => (Number.isFinite(r.fds.limit) ? int(r.fds.limit) : 'unlimited');
    for (const r of results) {
      const fds =
        r.fds.idle.length === 1
          ? `wsgate file descriptors ${int(r.fds.idle[0]!)} idle, ${int(r.fds.holding[0]!)} holding, limit ${fdLimit(r)}.`
          : `wsgate file descriptors, primary / each worker: ${r.fds.idle.map(int).join(' / ')} idle, ${r.fds.holding.map(int).join(' / ')} holding, ` +
            `limit ${fdLimit(r)} each; RSS, primary / each worker: ${r.gatewayRss.idle.map((kb) => mib(kb).replace(' MiB', '')).join(' / ')} MiB idle, ` +
            `${r.gatewayRss.hold.map((kb) => mib(kb).replace(' MiB', '')).join(' / ')} MiB holding.`;
      out.push(
        `- ${heartbeatLabel(r.pingMs)}: opened in ${(r.openMs / 1000).toFixed(1)} s; window ${(r.windowMs / 1000).toFixed(2)} s; ` +
          `tunnels reported by wsgate at the end ${r.tunnels === null ? 'n/a' : int(r.tunnels)}; pongs sent ${int(r.pongs)}; data frames received ${r.dataFrames}; ` +
          `CPU upstream ${pct(r.cpu.upstream, r.windowMs)}, idle client ${pct(r.cpu.client, r.windowMs)}; ${fds}`,
      );
    }
    publish(`${out.join('\n')}\n`, now, '-idle', true);
    return failed ? 1 : 0;
  } finally {
    await stopAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'client') {
  clientMain(process.argv.slice(3)).catch((err: unknown) => {
    process.stderr.write(`idle client: ${(err as Error).message}\n`);
    process.exit(2);
  });
} else {
  runBench('bench:idle', main, { nofile: WANTED_NOFILE });
}
