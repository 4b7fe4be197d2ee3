// test/helpers/ws: hand-made handshakes for upstreams, frames read and written by hand, and byte counters for the WebSocket tests.
import type { Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { startRawUpstream } from './servers.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export function newKey(): string {
  return randomBytes(16).toString('base64');
}

// The header fields of a request or response head, names lower-cased (a repeated name keeps its last value).
export function headersOf(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return headers;
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
      const headers = headersOf(requestHead);
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

// The code and reason of a close frame; given bytes, of the first close frame among the complete
// frames in them (null if there is none).
export function closeOf(from: Frame): { code: number; reason: string };
export function closeOf(from: Buffer): { code: number; reason: string } | null;
export function closeOf(from: Frame | Buffer): { code: number; reason: string } | null {
  const f = Buffer.isBuffer(from) ? readFrames(from).frames.find((x) => x.opcode === 0x8) : from;
  if (f === undefined) return null;
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
