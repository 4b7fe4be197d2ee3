// bench/loadgen: a load generator built to stay out of the way of what it measures: raw node:net
// sockets, one pre-serialized HTTP/1.1 keep-alive request or one pre-masked WebSocket frame reused for
// every send, a minimal parser for the answers (status line + Content-Length; frame headers only, payload
// bytes are counted, never read), one request or message in flight per connection, latency in µs into an
// HDR histogram. bench/run.ts starts one process per measurement:
//
//   node --import tsx bench/loadgen.ts --mode http|ws --port N [--path /] [--connections 50]
//     [--size 64] [--warmup-ms 1000] [--duration-ms 5000] [--max-ops 50000000]
//
// It prints JSON lines on stdout: {"phase":"measuring"} when the warm-up ends (nothing before it is
// recorded), then {"phase":"done",...} with the result, and exits. Every run is bounded by time and by
// count, and a hard deadline ends the process if the target stops answering.
import { randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Histogram } from 'hdr-histogram-js';

export interface LoadResult {
  phase: 'done';
  mode: 'http' | 'ws';
  connections: number;
  /** Completed requests (HTTP) or echoed messages (WebSocket) inside the measured window. */
  ops: number;
  elapsedMs: number;
  opsPerSec: number;
  /** Response body or echoed payload bytes received inside the window. */
  bytes: number;
  bytesPerSec: number;
  latencyUs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  firstError: string | null;
}

interface Options {
  mode: 'http' | 'ws';
  host: string;
  port: number;
  path: string;
  connections: number;
  size: number;
  warmupMs: number;
  durationMs: number;
  maxOps: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const READING_HEAD = -1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
// Reconnects after a connection is lost mid-run, in all; each one is also counted as an error.
const MAX_RECONNECTS_PER_CONNECTION = 5;

class Stats {
  histogram: Histogram = newHistogram();
  measuring = false;
  stopped = false;
  ops = 0;
  bytes = 0;
  errors = 0;
  firstError: string | null = null;
  reconnectsLeft: number;
  onLimit: () => void = () => undefined;

  constructor(
    readonly maxOps: number,
    connections: number,
  ) {
    this.reconnectsLeft = connections * MAX_RECONNECTS_PER_CONNECTION;
  }

  // HOT: once per completed request or echoed message.
  record(sentAtMs: number, bytes: number): void {
    if (!this.measuring) return;
    const us = Math.round((performance.now() - sentAtMs) * 1000);
    this.histogram.recordValue(us < 1 ? 1 : us);
    this.bytes += bytes;
    if (++this.ops >= this.maxOps) this.onLimit();
  }

  error(message: string): void {
    this.errors++;
    this.firstError ??= message;
  }

  startMeasuring(): void {
    this.histogram = newHistogram();
    this.ops = 0;
    this.bytes = 0;
    this.errors = 0;
    this.firstError = null;
    this.measuring = true;
  }
}

function newHistogram(): Histogram {
  // 1 µs to 60 s at 3 significant digits.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

// ---- HTTP ---------------------------------------------------------------------------------------

type HttpSocket = Socket & { conn: HttpConnection };

class HttpConnection {
  private socket: HttpSocket;
  private sentAtMs = 0;
  private bodyLeft = READING_HEAD;
  private bodyBytes = 0;
  private pending: Buffer | null = null;
  private ready: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private readonly whenOpen: Promise<void>;

  constructor(
    private readonly options: Options,
    private readonly request: Buffer,
    private readonly stats: Stats,
  ) {
    this.whenOpen = new Promise((resolve, reject) => (this.ready = { resolve, reject }));
    this.whenOpen.catch(() => undefined);
    this.socket = this.open();
  }

  whenConnected(): Promise<void> {
    return this.whenOpen;
  }

  private open(): HttpSocket {
    const socket = connect(this.options.port, this.options.host) as HttpSocket;
    socket.conn = this;
    socket.setNoDelay(true);
    socket.on('error', httpOnError).on('close', httpOnClose).on('data', httpOnData).on('connect', httpOnConnect);
    return socket;
  }

  onConnect(): void {
    const ready = this.ready;
    this.ready = null;
    if (ready !== null) ready.resolve();
    else if (!this.stats.stopped) this.send(); // a reconnect during the run: resume at once
  }

  send(): void {
    this.sentAtMs = performance.now();
    this.socket.write(this.request);
  }

  // HOT: per chunk. One response in flight, so a chunk never holds the start of a second one.
  onData(input: Buffer): void {
    let chunk = input;
    if (this.pending !== null) {
      chunk = Buffer.concat([this.pending, input]);
      this.pending = null;
    }
    let at = 0;
    for (;;) {
      if (this.bodyLeft === READING_HEAD) {
        const end = chunk.indexOf(CRLFCRLF, at);
        if (end === -1) {
          this.pending = Buffer.from(chunk.subarray(at));
          return;
        }
        const head = chunk.toString('latin1', at, end);
        const length = CONTENT_LENGTH.exec(head);
        if (!head.startsWith('HTTP/1.1 200 ') || length === null) {
          this.fail(`unexpected response: ${head.split('\r\n', 1)[0]}${length === null ? ' (no Content-Length)' : ''}`);
          return;
        }
        this.bodyLeft = Number(length[1]);
        this.bodyBytes = this.bodyLeft;
        at = end + 4;
      }
      const take = Math.min(this.bodyLeft, chunk.length - at);
      this.bodyLeft -= take;
      at += take;
      if (this.bodyLeft > 0) return;
      this.bodyLeft = READING_HEAD;
      this.stats.record(this.sentAtMs, this.bodyBytes);
      if (!this.stats.stopped) this.send();
      if (at >= chunk.length) return;
    }
  }

  fail(message: string): void {
    this.stats.error(message);
    this.socket.destroy();
  }

  onClose(): void {
    if (this.stats.stopped) return;
    const ready = this.ready;
    if (ready !== null) {
      this.ready = null;
      ready.reject(new Error(`could not connect to ${this.options.host}:${this.options.port}: ${this.stats.firstError ?? 'closed'}`));
      return;
    }
    this.stats.error('connection closed by the server');
    if (this.stats.reconnectsLeft-- <= 0) return;
    this.bodyLeft = READING_HEAD;
    this.pending = null;
    this.socket = this.open();
  }

  onError(err: Error): void {
    this.stats.error(err.message);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function httpOnConnect(this: HttpSocket): void {
  this.conn.onConnect();
}
function httpOnData(this: HttpSocket, chunk: Buffer): void {
  this.conn.onData(chunk);
}
function httpOnError(this: HttpSocket, err: Error): void {
  this.conn.onError(err);
}
function httpOnClose(this: HttpSocket): void {
  this.conn.onClose();
}

// ---- WebSocket ----------------------------------------------------------------------------------

type WsSocket = Socket & { conn: WsConnection };

// A masked binary frame (RFC 6455 §5.3: client frames are masked), built once and sent by every connection.
function maskedFrame(size: number): Buffer {
  const ext = size < 126 ? 0 : size < 0x10000 ? 2 : 8;
  const head = 2 + ext + 4;
  const out = Buffer.allocUnsafe(head + size);
  out[0] = 0x80 | 0x2;
  out[1] = 0x80 | (ext === 0 ? size : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(size, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(size), 2);
  const mask = randomBytes(4);
  mask.copy(out, head - 4);
  const payload = randomBytes(size);
  for (let i = 0; i < size; i++) out[head + i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return out;
}

class WsConnection {
  private readonly socket: WsSocket;
  private handshaking = true;
  private pending: Buffer | null = null;
  private sentAtMs = 0;
  // The header being read, possibly across chunks.
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  private headerNeed = 2;
  private opcode = 0;
  private fin = false;
  private payloadLeft = 0;
  private messageBytes = 0;
  private ready: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private readonly whenOpen: Promise<void>;

  constructor(
    private readonly options: Options,
    private readonly frame: Buffer,
    private readonly stats: Stats,
  ) {
    this.whenOpen = new Promise((resolve, reject) => (this.ready = { resolve, reject }));
    this.whenOpen.catch(() => undefined);
    const socket = connect(options.port, options.host) as WsSocket;
    socket.conn = this;
    socket.setNoDelay(true);
    socket.on('error', wsOnError).on('close', wsOnClose).on('data', wsOnData).on('connect', wsOnConnect);
    this.socket = socket;
  }

  whenConnected(): Promise<void> {
    return this.whenOpen;
  }

  onConnect(): void {
    const key = randomBytes(16).toString('base64');
    this.socket.write(
      `GET ${this.options.path} HTTP/1.1\r\nHost: ${this.options.host}:${this.options.port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  }

  send(): void {
    this.sentAtMs = performance.now();
    this.socket.write(this.frame);
  }

  // HOT: per chunk. Frame headers are copied byte by byte (at most 10 per frame), payloads only counted.
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
        this.openFailed(new Error(`handshake refused: ${status}`));
        return;
      }
      this.handshaking = false;
      at = end + 4;
      const ready = this.ready;
      this.ready = null;
      ready?.resolve();
    }
    while (at < chunk.length) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, chunk.length - at);
        this.payloadLeft -= take;
        this.messageBytes += take;
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
      const b0 = this.header[0] as number;
      const b1 = this.header[1] as number;
      if ((b1 & 0x80) !== 0) return this.fail('the server sent a masked frame');
      const len7 = b1 & 0x7f;
      this.fin = (b0 & 0x80) !== 0;
      this.opcode = b0 & 0x0f;
      this.payloadLeft = len7 === 126 ? this.header.readUInt16BE(2) : len7 === 127 ? Number(this.header.readBigUInt64BE(2)) : len7;
      this.headerHave = 0;
      this.headerNeed = 2;
      if (this.payloadLeft === 0) this.frameDone();
    }
  }

  private frameDone(): void {
    if (this.opcode >= OPCODE_CLOSE) {
      this.messageBytes = 0;
      if (this.opcode === OPCODE_CLOSE) this.fail('the server closed the WebSocket');
      else if (this.opcode === OPCODE_PING) this.fail('unexpected ping'); // never sent by the echo
      return;
    }
    if (!this.fin) return;
    const bytes = this.messageBytes;
    this.messageBytes = 0;
    if (bytes !== this.options.size) {
      this.fail(`echo of ${bytes} bytes, sent ${this.options.size}`);
      return;
    }
    this.stats.record(this.sentAtMs, bytes);
    if (!this.stats.stopped) this.send();
  }

  private openFailed(err: Error): void {
    const ready = this.ready;
    this.ready = null;
    ready?.reject(err);
    this.socket.destroy();
  }

  fail(message: string): void {
    this.stats.error(message);
    this.socket.destroy();
  }

  onError(err: Error): void {
    if (this.ready !== null) this.openFailed(err);
    else this.stats.error(err.message);
  }

  onClose(): void {
    if (this.ready !== null) this.openFailed(new Error('connection closed during the handshake'));
    else if (!this.stats.stopped) this.stats.error('connection closed by the server');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function wsOnConnect(this: WsSocket): void {
  this.conn.onConnect();
}
function wsOnData(this: WsSocket, chunk: Buffer): void {
  this.conn.onData(chunk);
}
function wsOnError(this: WsSocket, err: Error): void {
  this.conn.onError(err);
}
function wsOnClose(this: WsSocket): void {
  this.conn.onClose();
}

// ---- the run ------------------------------------------------------------------------------------

export async function runLoad(options: Options, onMeasuring: () => void = () => undefined): Promise<LoadResult> {
  const stats = new Stats(options.maxOps, options.connections);
  const conns: (HttpConnection | WsConnection)[] = [];
  if (options.mode === 'http') {
    const request = Buffer.from(`GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nAccept: */*\r\n\r\n`, 'latin1');
    for (let i = 0; i < options.connections; i++) conns.push(new HttpConnection(options, request, stats));
  } else {
    const frame = maskedFrame(options.size);
    for (let i = 0; i < options.connections; i++) conns.push(new WsConnection(options, frame, stats));
  }
  let connectTimer: NodeJS.Timeout | null = null;
  try {
    await Promise.race([
      Promise.all(conns.map((c) => c.whenConnected())),
      new Promise<never>((_, reject) => {
        connectTimer = setTimeout(() => reject(new Error(`${options.connections} connections not open after 10 s`)), 10_000);
      }),
    ]);
  } catch (err) {
    for (const c of conns) c.destroy();
    throw err;
  } finally {
    if (connectTimer !== null) clearTimeout(connectTimer);
  }
  stats.errors = 0;
  stats.firstError = null;

  let startMs = 0;
  const result = await new Promise<LoadResult>((resolve) => {
    let endTimer: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (stats.stopped) return;
      stats.stopped = true;
      if (endTimer !== null) clearTimeout(endTimer);
      const elapsedMs = performance.now() - startMs;
      const h = stats.histogram;
      const seconds = elapsedMs / 1000;
      resolve({
        phase: 'done',
        mode: options.mode,
        connections: options.connections,
        ops: stats.ops,
        elapsedMs: Math.round(elapsedMs),
        opsPerSec: stats.ops / seconds,
        bytes: stats.bytes,
        bytesPerSec: stats.bytes / seconds,
        latencyUs: {
          p50: h.getValueAtPercentile(50),
          p90: h.getValueAtPercentile(90),
          p99: h.getValueAtPercentile(99),
          max: h.maxValue,
        },
        errors: stats.errors,
        firstError: stats.firstError,
      });
    };
    stats.onLimit = finish;
    for (const c of conns) c.send();
    setTimeout(() => {
      stats.startMeasuring();
      startMs = performance.now();
      onMeasuring();
      endTimer = setTimeout(finish, options.durationMs);
    }, options.warmupMs);
  });
  for (const c of conns) c.destroy();
  return result;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${value}: expected a positive whole number`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      path: { type: 'string', default: '/' },
      connections: { type: 'string' },
      size: { type: 'string' },
      'warmup-ms': { type: 'string' },
      'duration-ms': { type: 'string' },
      'max-ops': { type: 'string' },
    },
    strict: true,
  });
  if (values.mode !== 'http' && values.mode !== 'ws') throw new Error('--mode http|ws is required');
  const options: Options = {
    mode: values.mode,
    host: values.host,
    port: positiveInt('port', values.port, 0),
    path: values.path,
    connections: positiveInt('connections', values.connections, values.mode === 'http' ? 50 : 200),
    size: positiveInt('size', values.size, 64),
    warmupMs: positiveInt('warmup-ms', values['warmup-ms'], 1000),
    durationMs: positiveInt('duration-ms', values['duration-ms'], 5000),
    maxOps: positiveInt('max-ops', values['max-ops'], 50_000_000),
  };
  if (options.port === 0) throw new Error('--port is required');
  // If the target stops answering altogether, the run still ends.
  setTimeout(() => {
    process.stderr.write('loadgen: hard deadline reached\n');
    process.exit(3);
  }, options.warmupMs + options.durationMs + 20_000).unref();
  // Started by bench/run.ts with a pipe on stdin: when it closes, the parent died; stop at once.
  if (fstatSync(0).isFIFO()) process.stdin.on('end', () => process.exit(4)).resume();
  const result = await runLoad(options, () => process.stdout.write('{"phase":"measuring"}\n'));
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`loadgen: ${(err as Error).message}\n`);
    process.exit(2);
  });
}
