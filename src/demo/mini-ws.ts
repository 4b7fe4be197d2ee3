// demo/mini-ws: a small RFC 6455 server endpoint for the demo upstreams (handshake, frames, close);
// not the gateway's relay (ws/), which never parses payloads. No extensions, no subprotocols.
import { isUtf8 } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { acceptKey } from '../ws/handshake.js';
import { OPCODE_BINARY, OPCODE_CLOSE, OPCODE_CONTINUATION, OPCODE_PING, OPCODE_PONG, OPCODE_TEXT } from '../ws/frame-scanner.js';
import { CLOSE_CODES } from '../ws/close-codes.js';

const CLOSE_NORMAL: number = CLOSE_CODES.NORMAL;
const CLOSE_NO_STATUS: number = CLOSE_CODES.NO_STATUS;
const CLOSE_ABNORMAL: number = CLOSE_CODES.ABNORMAL;
const CLOSE_PROTOCOL_ERROR: number = CLOSE_CODES.PROTOCOL_ERROR;
const CLOSE_INVALID_DATA = 1007;
const CLOSE_TOO_BIG: number = CLOSE_CODES.MESSAGE_TOO_BIG;

// Plenty for a demo, small enough that one client cannot exhaust memory.
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
// How long we wait for the peer's close frame (or its FIN) after sending ours.
const CLOSE_TIMEOUT_MS = 5_000;

const READ_HEADER = 0;
const READ_LENGTH_16 = 1;
const READ_LENGTH_64 = 2;
const READ_MASK = 3;
const READ_PAYLOAD = 4;
type ReadState =
  | typeof READ_HEADER
  | typeof READ_LENGTH_16
  | typeof READ_LENGTH_64
  | typeof READ_MASK
  | typeof READ_PAYLOAD;


/** Answers a handshake we refuse with a plain HTTP response, then ends the socket. */
export function rejectHandshake(socket: Duplex, status: number, message: string, extraHeaders: string[] = []): void {
  const body = JSON.stringify({ error: { code: status === 404 ? 'NOT_FOUND' : 'BAD_HANDSHAKE', message } });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...extraHeaders,
  ];
  socket.once('finish', socket.destroy);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * Completes an RFC 6455 handshake on an 'upgrade' socket, or answers 400/426 and returns null.
 * The caller has attached an 'error' handler to the socket already.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): MiniWebSocket | null {
  const key = req.headers['sec-websocket-key'];
  const connection = (req.headers.connection ?? '').toLowerCase();
  if (
    req.method !== 'GET' ||
    (req.headers.upgrade ?? '').toLowerCase() !== 'websocket' ||
    !connection.split(',').some((token) => token.trim() === 'upgrade') ||
    typeof key !== 'string' ||
    !/^[A-Za-z0-9+/]{22}==$/.test(key) // RFC 6455 §4.1: base64 of 16 random bytes
  ) {
    rejectHandshake(socket, 400, 'invalid WebSocket handshake');
    return null;
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    rejectHandshake(socket, 426, 'unsupported WebSocket version, use 13', ['Sec-WebSocket-Version: 13']);
    return null;
  }
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
  );
  const ws = new MiniWebSocket(socket);
  if (head.length > 0) ws.push(head);
  return ws;
}

function frameHeader(opcode: number, length: number): Buffer {
  let header: Buffer;
  if (length < 126) {
    header = Buffer.allocUnsafe(2);
    header[1] = length;
  } else if (length < 0x10000) {
    header = Buffer.allocUnsafe(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.allocUnsafe(10);
    header[1] = 127;
    header.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  header[0] = 0x80 | opcode; // FIN: we never fragment what we send
  return header;
}

// RFC 6455 §5.5: a control frame carries at most 125 bytes, so the reason is cut to 123.
function closePayload(code: number, reason: string): Buffer {
  const payload = Buffer.allocUnsafe(125);
  payload.writeUInt16BE(code, 0);
  return payload.subarray(0, 2 + payload.write(reason, 2));
}

// RFC 6455 §7.4: codes a peer may put in a close frame.
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

interface MiniWebSocketEvents {
  message: [data: Buffer, isBinary: boolean];
  close: [code: number, reason: string];
}

type Owned = Duplex & { miniWs: MiniWebSocket };

/**
 * One server-side WebSocket. Emits 'message' (data, isBinary) and, once the socket is gone,
 * 'close' (code, reason): the peer's close code, or 1006 when none arrived.
 */
export class MiniWebSocket extends EventEmitter<MiniWebSocketEvents> {
  private readonly socket: Owned;
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private readState: ReadState = READ_HEADER;
  private fin = false;
  private opcode = 0;
  private masked = false;
  private payloadLength = 0;
  private mask: Buffer = Buffer.alloc(4);
  private fragments: Buffer[] = [];
  private fragmentsBytes = 0;
  private fragmentsOpcode = 0;
  private closeSent = false;
  private closeReceived = false;
  private closeCode = CLOSE_ABNORMAL;
  private closeReason = '';
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(socket: Duplex) {
    super();
    this.socket = Object.assign(socket, { miniWs: this });
    this.socket.on('data', socketOnData).on('close', socketOnClose).on('end', socketOnEnd);
  }

  /** Sends a string as a text message, a Buffer as a binary one. Ignored once closing. */
  send(data: string | Buffer): void {
    if (typeof data === 'string') this.sendFrame(OPCODE_TEXT, Buffer.from(data));
    else this.sendFrame(OPCODE_BINARY, data);
  }

  /** Starts the closing handshake; the socket ends when the peer answers (or after a timeout). */
  close(code = CLOSE_NORMAL, reason = ''): void {
    if (!this.closeSent) this.sendClose(closePayload(code, reason));
  }

  /** Feeds bytes from the socket (also the 'upgrade' head) to the frame parser. */
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    while (!this.closeReceived && this.step());
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    if (this.closeSent || this.socket.destroyed) return;
    this.socket.cork();
    this.socket.write(frameHeader(opcode, payload.length));
    if (payload.length > 0) this.socket.write(payload);
    this.socket.uncork();
  }

  private sendClose(payload: Buffer): void {
    this.sendFrame(OPCODE_CLOSE, payload);
    this.closeSent = true;
    // A silent peer must not keep the socket forever (RFC 6455 §7.1.1: the server closes TCP first).
    this.closeTimer ??= setTimeout(destroySocket, CLOSE_TIMEOUT_MS, this.socket).unref();
  }

  private fail(code: number, reason: string): void {
    this.closeReceived = true; // stop parsing: nothing after a violation is trusted
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    if (!this.closeSent) this.sendClose(closePayload(code, reason));
    this.closeCode = code;
    this.closeReason = reason;
    this.socket.end();
  }

  // Takes n buffered bytes; a view when they sit in one chunk, a copy when they straddle chunks.
  private consume(n: number): Buffer {
    this.bufferedBytes -= n;
    const first = this.chunks[0] as Buffer;
    if (first.length === n) return this.chunks.shift() as Buffer;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0] as Buffer;
      const take = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, take);
      at += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return out;
  }

  // Runs one parser step; false when more bytes are needed.
  private step(): boolean {
    switch (this.readState) {
      case READ_HEADER: {
        if (this.bufferedBytes < 2) return false;
        const b = this.consume(2);
        const b0 = b[0] as number;
        const b1 = b[1] as number;
        this.fin = (b0 & 0x80) !== 0;
        this.opcode = b0 & 0x0f;
        this.masked = (b1 & 0x80) !== 0;
        this.payloadLength = b1 & 0x7f;
        if ((b0 & 0x70) !== 0) return this.failed(CLOSE_PROTOCOL_ERROR, 'reserved bits set without an extension');
        // RFC 6455 §5.1: a server closes the connection on an unmasked client frame.
        if (!this.masked) return this.failed(CLOSE_PROTOCOL_ERROR, 'client frames must be masked');
        if (this.opcode >= OPCODE_CLOSE) {
          if (this.opcode > OPCODE_PONG) return this.failed(CLOSE_PROTOCOL_ERROR, 'unknown opcode');
          // RFC 6455 §5.5: control frames are unfragmented and carry at most 125 bytes.
          if (!this.fin || this.payloadLength > 125) return this.failed(CLOSE_PROTOCOL_ERROR, 'invalid control frame');
        } else if (this.opcode === OPCODE_CONTINUATION) {
          if (this.fragmentsOpcode === 0) return this.failed(CLOSE_PROTOCOL_ERROR, 'continuation without a message');
        } else if (this.opcode === OPCODE_TEXT || this.opcode === OPCODE_BINARY) {
          if (this.fragmentsOpcode !== 0) return this.failed(CLOSE_PROTOCOL_ERROR, 'new message inside a fragmented one');
        } else {
          return this.failed(CLOSE_PROTOCOL_ERROR, 'unknown opcode');
        }
        if (this.payloadLength === 126) this.readState = READ_LENGTH_16;
        else if (this.payloadLength === 127) this.readState = READ_LENGTH_64;
        else this.readState = READ_MASK;
        return this.readState !== READ_MASK || this.checkLength();
      }
      case READ_LENGTH_16:
        if (this.bufferedBytes < 2) return false;
        this.payloadLength = this.consume(2).readUInt16BE(0);
        this.readState = READ_MASK;
        return this.checkLength();
      case READ_LENGTH_64: {
        if (this.bufferedBytes < 8) return false;
        const b = this.consume(8);
        const high = b.readUInt32BE(0);
        // RFC 6455 §5.2: the most significant bit must be 0; beyond 2^53 a JS number is not exact.
        if (high > 0x1f_ffff) return this.failed(CLOSE_TOO_BIG, 'message too big');
        this.payloadLength = high * 0x1_0000_0000 + b.readUInt32BE(4);
        this.readState = READ_MASK;
        return this.checkLength();
      }
      case READ_MASK:
        if (this.bufferedBytes < 4) return false;
        this.mask = this.consume(4);
        this.readState = READ_PAYLOAD;
        return true;
      case READ_PAYLOAD: {
        if (this.bufferedBytes < this.payloadLength) return false;
        const payload = this.payloadLength === 0 ? Buffer.alloc(0) : this.consume(this.payloadLength);
        for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (this.mask[i & 3] as number);
        this.readState = READ_HEADER;
        return this.onFrame(payload);
      }
    }
  }

  private checkLength(): boolean {
    if (this.opcode < OPCODE_CLOSE && this.fragmentsBytes + this.payloadLength > MAX_MESSAGE_BYTES) {
      return this.failed(CLOSE_TOO_BIG, 'message too big');
    }
    return true;
  }

  private failed(code: number, reason: string): false {
    this.fail(code, reason);
    return false;
  }

  private onFrame(payload: Buffer): boolean {
    switch (this.opcode) {
      case OPCODE_PING:
        this.sendFrame(OPCODE_PONG, payload);
        return true;
      case OPCODE_PONG:
        return true;
      case OPCODE_CLOSE:
        return this.onCloseFrame(payload);
    }
    if (!this.fin) {
      if (this.opcode !== OPCODE_CONTINUATION) this.fragmentsOpcode = this.opcode;
      this.fragments.push(payload);
      this.fragmentsBytes += payload.length;
      return true;
    }
    let opcode = this.opcode;
    let data = payload;
    if (opcode === OPCODE_CONTINUATION) {
      opcode = this.fragmentsOpcode;
      this.fragments.push(payload);
      data = Buffer.concat(this.fragments, this.fragmentsBytes + payload.length);
      this.fragments = [];
      this.fragmentsBytes = 0;
      this.fragmentsOpcode = 0;
    }
    if (opcode === OPCODE_TEXT && !isUtf8(data)) return this.failed(CLOSE_INVALID_DATA, 'text message is not UTF-8');
    this.emit('message', data, opcode === OPCODE_BINARY);
    return !this.closeReceived;
  }

  private onCloseFrame(payload: Buffer): false {
    if (payload.length === 1) return this.failed(CLOSE_PROTOCOL_ERROR, 'invalid close frame');
    let code = CLOSE_NO_STATUS;
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) return this.failed(CLOSE_PROTOCOL_ERROR, 'invalid close code');
      const reason = payload.subarray(2);
      if (!isUtf8(reason)) return this.failed(CLOSE_INVALID_DATA, 'close reason is not UTF-8');
      this.closeReason = reason.toString();
    }
    this.closeReceived = true;
    this.closeCode = code;
    // RFC 6455 §5.5.1: answer with a close frame (echoing code and reason), then the server closes TCP.
    if (!this.closeSent) this.sendClose(payload);
    this.socket.end();
    return false;
  }

  /** Called once, when the socket is gone. */
  onSocketClose(): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.closeSent = true;
    this.emit('close', this.closeCode, this.closeReason);
  }
}

function socketOnData(this: Owned, chunk: Buffer): void {
  this.miniWs.push(chunk);
}

// The peer half-closed without a close handshake: finish our half too.
function socketOnEnd(this: Owned): void {
  this.end();
}

function socketOnClose(this: Owned): void {
  this.miniWs.onSocketClose();
}

/** The 'error' handler every demo socket gets first: a broken peer only loses its own socket. */
export function socketOnError(this: Duplex): void {
  this.destroy();
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}
