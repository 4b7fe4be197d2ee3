// test/helpers/ws: raw HTTP answers, hand-made upstream handshakes and byte counters for the WebSocket tests.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { startRawUpstream } from './servers.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export function newKey(): string {
  return randomBytes(16).toString('base64');
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status, headers };
}

// Sends raw bytes and resolves with the first complete HTTP answer: its body ends at content-length,
// or at the end of the connection when there is none; a 101 ends with its head. Works on keep-alive
// connections too.
export async function rawHttp(port: number, bytes: string | Buffer): Promise<RawAnswer> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(bytes);
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const tryParse = (atEnd: boolean): boolean => {
      const at = buf.indexOf('\r\n\r\n');
      if (at === -1) return false;
      const head = buf.subarray(0, at).toString('latin1');
      const { status, headers } = parseHead(head);
      const length = headers['content-length'];
      const body = buf.subarray(at + 4);
      if (status === 101) {
        resolve({ status, headers, body: '', raw: buf.toString('latin1') });
        return true;
      }
      if (length !== undefined && body.length >= Number(length)) {
        resolve({ status, headers, body: body.subarray(0, Number(length)).toString('utf8'), raw: buf.toString('latin1') });
        return true;
      }
      if (length === undefined && atEnd) {
        resolve({ status, headers, body: body.toString('utf8'), raw: buf.toString('latin1') });
        return true;
      }
      return false;
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (tryParse(false)) socket.destroy();
    });
    socket.on('close', () => {
      if (!tryParse(true)) reject(new Error(`connection closed before a complete answer: ${JSON.stringify(buf.toString('latin1'))}`));
    });
  });
}

// A handshake request written by hand; `lines` replaces or adds header lines.
export function handshakeRequest(port: number, path: string, lines: Record<string, string | null> = {}, requestLine = `GET ${path} HTTP/1.1`): string {
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': newKey(),
    'Sec-WebSocket-Version': '13',
    ...lines,
  };
  let out = `${requestLine}\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== null) out += `${k}: ${v}\r\n`;
  return out + '\r\n';
}

export interface HandshakeSeen {
  socket: Socket;
  requestHead: string;
  key: string;
  headers: Record<string, string>;
  rest: Buffer; // bytes that came after the request head
}

// An upstream that reads each handshake request by hand and hands it to `onRequest`, which answers.
// `onRequest` runs in the same tick as the head's last chunk: it must attach its own 'data' listener
// there if it wants what follows.
export async function startHandshakeUpstream(onRequest: (seen: HandshakeSeen) => void): Promise<{ url: string; port: number; connections: number; requests: HandshakeSeen[] }> {
  const state = { url: '', port: 0, connections: 0, requests: [] as HandshakeSeen[] };
  const up = await startRawUpstream((socket) => {
    state.connections++;
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const at = buf.indexOf('\r\n\r\n');
      if (at === -1) return;
      socket.off('data', onData);
      const requestHead = buf.subarray(0, at).toString('latin1');
      const headers: Record<string, string> = {};
      for (const line of requestHead.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const seen = { socket, requestHead, key: headers['sec-websocket-key'] ?? '', headers, rest: buf.subarray(at + 4) };
      state.requests.push(seen);
      onRequest(seen);
    };
    socket.on('data', onData);
  });
  state.url = up.url;
  state.port = up.port;
  return state;
}

export function switchingProtocols(key: string, extra = ''): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n${extra}\r\n`;
}

// A client socket after a successful handshake, paused: the test reads frames from `socket` itself
// (nothing is buffered for it), so it can keep it paused or count megabytes without copying them.
// `early` goes in the same write as the handshake (frames a client pipelines before the 101).
export async function rawWsSocket(port: number, path = '/', early: Buffer = Buffer.alloc(0)): Promise<{ socket: Socket; rest: Buffer }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  socket.write(Buffer.concat([Buffer.from(handshakeRequest(port, path)), early]));
  let buf = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const at = buf.indexOf('\r\n\r\n');
      if (at === -1) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      const head = buf.subarray(0, at).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`handshake failed: ${head}`));
      else resolve({ socket, rest: buf.subarray(at + 4) });
    };
    const onClose = (): void => reject(new Error('closed during handshake'));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

export interface Frame {
  opcode: number;
  fin: boolean;
  rsv: number;
  masked: boolean;
  payload: Buffer; // unmasked
}

// Parses complete frames, masked or not; returns them and the number of bytes they cover.
export function readFrames(buf: Buffer): { frames: Frame[]; used: number } {
  const frames: Frame[] = [];
  let at = 0;
  while (at + 2 <= buf.length) {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    let len = b1 & 0x7f;
    let p = at + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? buf.subarray(p, p + 4) : null;
    if (masked) p += 4;
    if (p + len > buf.length) break;
    const payload = Buffer.from(buf.subarray(p, p + len));
    if (key !== null) for (let i = 0; i < len; i++) payload[i]! ^= key[i & 3]!;
    frames.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, masked, payload });
    at = p + len;
  }
  return { frames, used: at };
}

// Collects the frames a raw socket receives (small traffic only), and resolves when one matches.
export function frameCollector(socket: Socket, initial: Buffer = Buffer.alloc(0)): { frames: Frame[]; waitFor(match: (f: Frame) => boolean): Promise<Frame> } {
  let buf = initial;
  const frames: Frame[] = [];
  const waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  const drain = (): void => {
    const { frames: got, used } = readFrames(buf);
    buf = buf.subarray(used);
    for (const f of got) {
      frames.push(f);
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.match(f)) waiters.splice(i, 1)[0]!.resolve(f);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    drain();
  });
  drain();
  return {
    frames,
    waitFor: (match) => {
      const found = frames.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        socket.once('close', () => reject(new Error(`closed; frames seen: ${JSON.stringify(frames.map((f) => f.opcode))}`)));
      });
    },
  };
}

export function closeOf(f: Frame): { code: number; reason: string } {
  return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString('utf8') };
}

// A frame header for `length` payload bytes; masked with the all-zero key, so the payload goes on the
// wire as it is and one buffer can be written many times (RFC 6455 §5.3 allows any key).
export function frameHeader(opcode: number, length: number, masked: boolean, fin = true): Buffer {
  const ext = length > 65535 ? 8 : length > 125 ? 2 : 0;
  const out = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = (masked ? 0x80 : 0) | (ext === 8 ? 127 : ext === 2 ? 126 : length);
  if (ext === 8) out.writeBigUInt64BE(BigInt(length), 2);
  else if (ext === 2) out.writeUInt16BE(length, 2);
  return out;
}

// Resolves once `read()` has not changed for `turns` consecutive turns of the event loop, each of which
// polls for I/O: the traffic it measures has stalled. Rejects if it is still moving after `maxTurns`.
export async function stalled(read: () => number, turns = 200, maxTurns = 200_000): Promise<number> {
  let last = read();
  let still = 0;
  for (let i = 0; i < maxTurns; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = read();
    if (now === last) {
      if (++still >= turns) return now;
    } else {
      still = 0;
      last = now;
    }
  }
  throw new Error(`still moving after ${maxTurns} turns (last value ${last})`);
}

// Hashes and counts every byte a socket delivers until `total` bytes have arrived.
export function receiveAll(socket: Socket, total: number, initial: Buffer = Buffer.alloc(0)): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const take = (chunk: Buffer): void => {
      bytes += chunk.length;
      hash.update(chunk);
      if (bytes >= total) {
        socket.off('data', take);
        resolve({ bytes, sha256: hash.digest('hex') });
      }
    };
    socket.on('data', take);
    socket.once('close', () => {
      if (bytes < total) reject(new Error(`closed after ${bytes} of ${total} bytes`));
    });
    if (initial.length > 0) take(initial);
  });
}

export function sha256Of(parts: readonly Buffer[], times: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < times; i++) for (const p of parts) hash.update(p);
  return hash.digest('hex');
}
