// server/warmup-traffic: the start-up warm-up's traffic (issue 14): a loopback upstream (a fixed JSON
// answer and a WebSocket echo), the client lanes that drive the private gateway (keep-alive HTTP,
// long-lived tunnels, handshake-message-close cycles), and the little WebSocket framing both need.
// Not the bounds, the private gateway or the log line: warmup.ts.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { acceptKey } from '../ws/handshake.js';
import type { WarmupLimits } from './warmup.js';
// Lanes run side by side, so every path gets its share of a short budget.
const HTTP_LANES = 4;
const MESSAGE_LANES = 4;
const HANDSHAKE_LANES = 4;
// Past the budget, lanes stop at their next step; this much later, whatever still runs is cut.
const ABORT_GRACE_MS = 1000;
const UPSTREAM_BODY = Buffer.from(`{"warmup":true,"message":"a small JSON answer, about the size of an API reply","n":42}`);
const POST_BODY = Buffer.alloc(64, 0x61);
const MESSAGE_BYTES = 64;
// Made once: a new Error per closed connection captures a stack each time.
const CLOSED = new Error('the private gateway closed a warm-up connection');

// ---- the loopback upstream: a fixed JSON answer, and a WebSocket echo --------------------------

export interface LoopbackUpstream {
  readonly port: number;
  close(): Promise<void>;
}

export async function startLoopbackUpstream(port: number): Promise<LoopbackUpstream> {
  const sockets = new Set<Duplex>();
  const server = createServer({ keepAliveTimeout: 5_000 });
  server.on('request', upstreamOnRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    acceptEcho(req, socket, head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: in a cluster worker, never the primary's shared handle (another worker's port 0).
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as { port: number }).port;
  return {
    port: bound,
    close: () => closeUpstream(server, sockets),
  };
}

function closeUpstream(server: Server, sockets: Set<Duplex>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const s of sockets) s.destroy();
  });
}

function upstreamOnRequest(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': UPSTREAM_BODY.length });
    res.end(UPSTREAM_BODY);
  });
}

function acceptEcho(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const accept = acceptKey(key);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const reader = new FrameReader(true);
  const onData = (chunk: Buffer): void => {
    for (const f of reader.push(chunk)) {
      // RFC 6455 §5.5.1: a close is answered with a close, then the server ends the connection.
      socket.write(frame(f.opcode, f.payload, false));
      if (f.opcode === OPCODE_CLOSE) {
        socket.end();
        return;
      }
    }
    if (reader.bad) socket.destroy();
  };
  socket.on('data', onData);
  if (head.length > 0) onData(head);
}

// ---- frames (only what the warm-up sends and echoes: no fragmentation, payloads < 64 KiB) ------

const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;

interface Frame {
  opcode: number;
  payload: Buffer;
}

class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  bad = false;

  constructor(private readonly masked: boolean) {}

  push(chunk: Buffer): Frame[] {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      const b1 = buf[at + 1]!;
      let len = b1 & 0x7f;
      let headerBytes = 2;
      if (len === 127 || (b1 & 0x80) !== (this.masked ? 0x80 : 0)) {
        this.bad = true;
        break;
      }
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        headerBytes = 4;
      }
      const maskAt = at + headerBytes;
      if (this.masked) headerBytes += 4;
      if (buf.length - at < headerBytes + len) break;
      const payload = Buffer.from(buf.subarray(at + headerBytes, at + headerBytes + len));
      if (this.masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskAt + (i & 3)]!;
      frames.push({ opcode: buf[at]! & 0x0f, payload });
      at += headerBytes + len;
    }
    this.pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    return frames;
  }
}

function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const ext = payload.length > 125 ? 2 : 0;
  const out = Buffer.alloc(2 + ext + (masked ? 4 : 0) + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = (masked ? 0x80 : 0) | (ext === 0 ? payload.length : 126);
  if (ext !== 0) out.writeUInt16BE(payload.length, 2);
  let at = 2 + ext;
  if (masked) {
    const mask = randomBytes(4);
    mask.copy(out, at);
    at += 4;
    for (let i = 0; i < payload.length; i++) out[at + i] = payload[i]! ^ mask[i & 3]!;
  } else payload.copy(out, at);
  return out;
}

// ---- the client side: lanes of HTTP exchanges, tunnels and handshakes --------------------------

// Drives every lane until its count is reached or the budget is spent; destroy() cuts what is left.
export class Drive {
  requests = 0;
  messages = 0;
  handshakes = 0;
  // Units begun, per kind: lanes reserve one before starting it, so the counts are never exceeded.
  private readonly begun = { requests: 0, messages: 0, handshakes: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly deadline: number;
  private abortTimer: NodeJS.Timeout | null = null;
  private abort: (() => void) | null = null;

  constructor(
    private readonly port: number,
    private readonly limits: WarmupLimits,
    started: number,
  ) {
    this.deadline = started + limits.budgetMs;
  }

  // Reserves one more unit of `kind`, unless its count is reached or the budget spent.
  private take(kind: 'requests' | 'messages' | 'handshakes'): boolean {
    if (this.begun[kind] >= this.limits[kind] || performance.now() >= this.deadline) return false;
    this.begun[kind]++;
    return true;
  }

  async run(): Promise<void> {
    const lanes: Promise<void>[] = [];
    for (let i = 0; i < HTTP_LANES; i++) lanes.push(this.httpLane());
    for (let i = 0; i < MESSAGE_LANES; i++) lanes.push(this.messageLane());
    for (let i = 0; i < HANDSHAKE_LANES; i++) lanes.push(this.handshakeLane());
    const aborted = new Promise<void>((resolve) => {
      this.abort = resolve;
      const left = Math.max(0, this.deadline - performance.now());
      this.abortTimer = setTimeout(resolve, left + ABORT_GRACE_MS);
      this.abortTimer.unref();
    });
    await Promise.race([Promise.all(lanes), aborted]);
  }

  destroy(): void {
    if (this.abortTimer !== null) clearTimeout(this.abortTimer);
    this.abort?.();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private open(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1');
      this.sockets.add(socket);
      socket.setNoDelay(true);
      const conn = new Conn(socket);
      socket.once('connect', () => resolve(conn));
      socket.once('error', reject);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  private close(conn: Conn): void {
    conn.socket.destroy();
    this.sockets.delete(conn.socket);
  }

  private async httpLane(): Promise<void> {
    if (this.limits.requests === 0) return;
    const conn = await this.open();
    for (let n = 0; this.take('requests'); n++) {
      // One POST in eight: the request-body path of the relay.
      const post = (n & 7) === 7;
      conn.socket.write(post
        ? `POST /warmup/api?n=${n} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${POST_BODY.length}\r\n\r\n${POST_BODY.toString()}`
        : `GET /warmup/api?n=${n} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nUser-Agent: wsgate-warmup\r\n\r\n`);
      const status = await conn.readResponse();
      if (status !== 200) throw new Error(`the private gateway answered ${status} to a warm-up request`);
      this.requests++;
    }
    this.close(conn);
  }

  private async messageLane(): Promise<void> {
    if (this.limits.messages === 0) return;
    const conn = await this.open();
    await conn.handshake('/warmup/ws');
    const payload = Buffer.alloc(MESSAGE_BYTES, 0x62);
    while (this.take('messages')) {
      conn.socket.write(frame(OPCODE_BINARY, payload, true));
      await conn.readFrame();
      this.messages++;
    }
    await conn.closeWs();
    this.close(conn);
  }

  private async handshakeLane(): Promise<void> {
    const payload = Buffer.alloc(MESSAGE_BYTES, 0x63);
    while (this.take('handshakes')) {
      const conn = await this.open();
      await conn.handshake('/warmup/ws?lane=handshake');
      this.handshakes++;
      conn.socket.write(frame(OPCODE_BINARY, payload, true));
      await conn.readFrame();
      await conn.closeWs();
      this.close(conn);
    }
  }
}

// One client socket and what it has received: an HTTP response head and body, or frames.
class Conn {
  private buffered: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly frames = new FrameReader(false);
  private readonly queued: Frame[] = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    const end = (err?: Error): void => {
      this.failure ??= err ?? CLOSED;
      this.wake?.();
    };
    socket.on('error', end);
    socket.on('close', () => end());
  }

  // Resolves at the next chunk (or end); the caller looks at `buffered` again.
  private more(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.wake = () => {
        this.wake = null;
        if (this.failure !== null) reject(this.failure);
        else resolve();
      };
    });
  }

  // The response's status once it is whole (Content-Length or chunked framing).
  async readResponse(): Promise<number> {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = this.buffered.toString('latin1', 0, end);
        const status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        const bodyStart = end + 4;
        let used = -1;
        if (length !== null) {
          const total = bodyStart + Number(length[1]);
          if (this.buffered.length >= total) used = total;
        } else {
          const last = this.buffered.indexOf('0\r\n\r\n', bodyStart);
          if (last !== -1) used = last + 5;
        }
        if (used !== -1) {
          this.buffered = this.buffered.subarray(used);
          return status;
        }
      }
      await this.more();
    }
  }

  async handshake(path: string): Promise<void> {
    const key = randomBytes(16).toString('base64');
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end !== -1) {
        const status = Number(this.buffered.toString('latin1', 9, 12));
        if (status !== 101) throw new Error(`the private gateway answered ${status} to a warm-up handshake`);
        const rest = this.buffered.subarray(end + 4);
        this.buffered = Buffer.alloc(0);
        if (rest.length > 0) this.queued.push(...this.frames.push(rest));
        return;
      }
      await this.more();
    }
  }

  async readFrame(): Promise<Frame> {
    for (;;) {
      if (this.buffered.length > 0) {
        this.queued.push(...this.frames.push(this.buffered));
        this.buffered = Buffer.alloc(0);
        if (this.frames.bad) throw new Error('a warm-up tunnel sent a frame the client cannot read');
      }
      const f = this.queued.shift();
      if (f !== undefined) return f;
      await this.more();
    }
  }

  // Our close (1000), then the echoed close: the tunnel's close path, both ways.
  async closeWs(): Promise<void> {
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    this.socket.write(frame(OPCODE_CLOSE, code, true));
    for (;;) {
      const f = await this.readFrame();
      if (f.opcode === OPCODE_CLOSE) return;
    }
  }
}
