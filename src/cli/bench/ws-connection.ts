// cli/bench/ws-connection: `wsgate bench ws`: one WebSocket client with its own handshake (101 and
// Sec-WebSocket-Accept checked), one pre-masked message in flight at a time, echoes counted by frame
// headers only (payloads are skipped), pings answered with pongs.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { acceptKey } from '../../ws/handshake.js';
import { LoadConnection, IN_FLIGHT, OPENING } from './load-connection.js';
import type { BenchOptions, BenchTarget } from './options.js';
import type { BenchRun } from './run-bench.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HANDSHAKE_BYTES = 16 * 1024;
const OPCODE_CONTINUATION = 0x0;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
const MAX_CONTROL_PAYLOAD = 125; // RFC 6455 §5.5
// Close 1000, masked with a zero key: a zero key leaves the payload as it is (RFC 6455 §5.3).
const CLOSE_NORMAL = Buffer.from([0x80 | OPCODE_CLOSE, 0x80 | 2, 0, 0, 0, 0, 0x03, 0xe8]);
const ACCEPT = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*?)[ \t]*(\r\n|$)/i;
const UPGRADE = /\r\nupgrade:[ \t]*websocket[ \t]*(\r\n|$)/i;

/** A binary message of `size` bytes, masked once (RFC 6455 §5.3: client frames are masked) and sent by every connection. */
export function maskedFrame(size: number): Buffer {
  const ext = size < 126 ? 0 : size < 0x10000 ? 2 : 8;
  const head = 2 + ext + 4;
  const out = Buffer.allocUnsafe(head + size);
  out[0] = 0x80 | OPCODE_BINARY;
  out[1] = 0x80 | (ext === 0 ? size : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(size, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(size), 2);
  const mask = randomBytes(4);
  mask.copy(out, head - 4);
  const payload = randomBytes(size);
  for (let i = 0; i < size; i++) out[head + i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return out;
}

/** Bytes of a server frame's header before the payload (unmasked), from its second byte (RFC 6455 §5.2). */
export function frameHeaderSize(byte1: number): number {
  const len7 = byte1 & 0x7f;
  return len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
}

/** The handshake request up to the key, built once: request line, Host, --header lines. */
export function handshakePrefix(options: Pick<BenchOptions, 'headers'> & { target: Pick<BenchTarget, 'path' | 'authority'> }): string {
  const lines = [`GET ${options.target.path} HTTP/1.1`];
  if (!options.headers.some((h) => /^host:/i.test(h))) lines.push(`Host: ${options.target.authority}`);
  lines.push(...options.headers, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13');
  return `${lines.join('\r\n')}\r\n`;
}

export class WsConnection extends LoadConnection {
  private expectedAccept = '';
  private handshakeHead: Buffer | null = null;
  // The frame header being read, possibly across chunks (at most 14 bytes).
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  private headerNeed = 2;
  private opcode = 0;
  private fin = false;
  private payloadLeft = 0;
  private messageBytes = 0;
  // The payload of a control frame (ping: echoed in the pong; close: its code).
  private readonly control = Buffer.alloc(MAX_CONTROL_PAYLOAD);
  private controlHave = 0;

  constructor(
    run: BenchRun,
    private readonly frame: Buffer,
    private readonly prefix: string,
  ) {
    super(run);
  }

  protected onTransportReady(): void {
    const key = randomBytes(16).toString('base64');
    this.expectedAccept = acceptKey(key);
    this.state = OPENING;
    this.socket!.write(`${this.prefix}Sec-WebSocket-Key: ${key}\r\n\r\n`);
  }

  protected writeOperation(): void {
    this.socket!.write(this.frame);
  }

  protected resetProtocol(): void {
    this.handshakeHead = null;
    this.headerHave = 0;
    this.headerNeed = 2;
    this.payloadLeft = 0;
    this.messageBytes = 0;
    this.controlHave = 0;
  }

  protected closedInFlight(): boolean {
    return false;
  }

  protected goodbye(socket: Socket): void {
    socket.end(CLOSE_NORMAL);
  }

  // HOT: per chunk.
  onData(input: Buffer): void {
    if (this.state !== OPENING) {
      this.readFrames(input, 0);
      return;
    }
    let chunk = input;
    if (this.handshakeHead !== null) {
      chunk = Buffer.concat([this.handshakeHead, input]);
      this.handshakeHead = null;
    }
    const end = chunk.indexOf(CRLFCRLF);
    if (end === -1) {
      if (chunk.length > MAX_HANDSHAKE_BYTES) this.fail('protocol', 'handshake answer larger than 16 KiB');
      else this.handshakeHead = chunk;
      return;
    }
    const head = chunk.toString('latin1', 0, end);
    const eol = head.indexOf('\r\n');
    const statusLine = eol === -1 ? head : head.slice(0, eol);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (status === null) return this.fail('protocol', `malformed handshake answer: ${statusLine.slice(0, 80)}`);
    if (status[1] !== '101') return this.fail(`status_${Number(status[1])}`, `handshake answered ${statusLine.slice(0, 80)}`);
    if (!UPGRADE.test(head)) return this.fail('protocol', 'handshake answer without Upgrade: websocket');
    if (ACCEPT.exec(head)?.[1] !== this.expectedAccept) return this.fail('protocol', 'Sec-WebSocket-Accept does not match the key sent');
    this.becameOpen();
    if (end + 4 < chunk.length && !this.run.finished) this.readFrames(chunk, end + 4);
  }

  // HOT: per chunk. Header bytes are copied one by one (at most 14 per frame), data payloads only counted.
  private readFrames(chunk: Buffer, from: number): void {
    let at = from;
    while (at < chunk.length) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, chunk.length - at);
        if (this.opcode >= OPCODE_CLOSE) {
          chunk.copy(this.control, this.controlHave, at, at + take);
          this.controlHave += take;
        } else {
          this.messageBytes += take;
        }
        this.payloadLeft -= take;
        at += take;
        if (this.payloadLeft > 0) return;
        if (!this.frameDone()) return;
        continue;
      }
      while (at < chunk.length && this.headerHave < this.headerNeed) {
        this.header[this.headerHave++] = chunk[at++] as number;
        if (this.headerHave === 2) this.headerNeed = frameHeaderSize(this.header[1] as number);
      }
      if (this.headerHave < this.headerNeed) return;
      const b0 = this.header[0] as number;
      const b1 = this.header[1] as number;
      const len7 = b1 & 0x7f;
      this.headerHave = 0;
      this.headerNeed = 2;
      this.fin = (b0 & 0x80) !== 0;
      this.opcode = b0 & 0x0f;
      if ((b1 & 0x80) !== 0) return this.fail('protocol', 'the server sent a masked frame'); // RFC 6455 §5.1
      if ((b0 & 0x70) !== 0) return this.fail('protocol', 'reserved bits set without an extension'); // §5.2
      if (this.opcode >= OPCODE_CLOSE) {
        if (this.opcode > OPCODE_PONG) return this.fail('protocol', `unknown opcode ${this.opcode}`);
        if (!this.fin || len7 > MAX_CONTROL_PAYLOAD) return this.fail('protocol', 'fragmented or oversized control frame'); // §5.5
        this.controlHave = 0;
      } else if (this.opcode > OPCODE_BINARY) {
        return this.fail('protocol', `unknown opcode ${this.opcode}`);
      } else if (this.opcode !== OPCODE_CONTINUATION && this.messageBytes > 0) {
        return this.fail('protocol', 'a new message began inside a fragmented one'); // §5.4
      }
      if (len7 === 126) this.payloadLeft = this.header.readUInt16BE(2);
      else if (len7 === 127) {
        if (this.header.readUInt32BE(2) !== 0) return this.fail('protocol', 'frame larger than 4 GiB');
        this.payloadLeft = this.header.readUInt32BE(6);
      } else this.payloadLeft = len7;
      if (this.payloadLeft === 0 && !this.frameDone()) return;
    }
  }

  // Returns false when the connection is gone (or the run is over): stop reading this chunk.
  private frameDone(): boolean {
    if (this.opcode >= OPCODE_CLOSE) {
      if (this.opcode === OPCODE_PING) this.sendControl(OPCODE_PONG);
      else if (this.opcode === OPCODE_CLOSE) {
        const code = this.controlHave >= 2 ? this.control.readUInt16BE(0) : 1005;
        this.counted = true;
        this.run.stats.error('closed', `the server closed the WebSocket with ${code}`);
        this.enterClosing();
        this.socket?.end(CLOSE_NORMAL); // RFC 6455 §5.5.1: answer the close, then the server ends TCP
        return false;
      }
      return true;
    }
    if (!this.fin) return true;
    const bytes = this.messageBytes;
    this.messageBytes = 0;
    // With --connect-only nothing is sent: messages the server pushes are not a fault.
    if (this.run.options.connectOnly) return true;
    if (this.state !== IN_FLIGHT) {
      this.run.stats.error('protocol', 'a message arrived that is not the echo of one sent');
      return true;
    }
    const expected = this.run.options.sizeBytes;
    if (bytes !== expected) {
      this.fail('protocol', `an echo of ${bytes} bytes for a message of ${expected}`);
      return false;
    }
    this.operationDone(true, bytes, true);
    return !this.run.finished;
  }

  private sendControl(opcode: number): void {
    const length = this.controlHave;
    const out = Buffer.allocUnsafe(6 + length);
    out[0] = 0x80 | opcode;
    out[1] = 0x80 | length;
    out.writeUInt32BE(0, 2); // zero mask key: the payload goes as it came
    this.control.copy(out, 6, 0, length);
    this.socket?.write(out);
  }
}
