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
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, fstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { frameHeaderSize, handshakePrefix } from '../src/cli/bench/ws-connection.js';
import {
  CLK_TCK,
  TSX,
  choosePinning,
  ensureBuilt,
  environmentLine,
  exitedEarly,
  lines,
  procStat,
  publish,
  runBench,
  startChild,
  startGateway,
  startUpstream,
  stopAllChildren,
  stopChild,
  tail,
  withTimeout,
  type Pinning,
  type ProcStat,
} from './lib.js';

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
  const pingInterval = `${pingMs}ms`;
  const route = { name: 'idle', match: { path: '/*' }, upstream: 'bench', websocket: { pingInterval, pongTimeout: PONG_TIMEOUT } };
  const gateway = await startGateway(pin.gateway, upstream.port, dir, `wsgate-${pingInterval}.json`, route);
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
    const client = startChild([process.execPath, '--import', TSX, fileURLToPath(import.meta.url), ...args], pin.load, 'idle client');
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
  const pin = choosePinning('idle client');
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
    const out: string[] = [];
    out.push(`# wsgate idle connections, ${now.toISOString()}`, '');
    out.push(environmentLine(built));
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
