// ws/upstream-socket: our own WebSocket handshake with a plain-TCP upstream, on a socket read
// through net's `onread` option: every read lands in one shared buffer and reaches the tunnel
// without the Readable stream machinery (push, buffering, 'data' emit) — the relay's hottest path.
// TLS upstreams keep the node:https client in handshake.ts (tls sockets take no `onread`).
import { connect, type Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { GatewayError, toGatewayError } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import { checkSwitchingProtocols, failedHandshake, type HandshakeClient, type HandshakeResult, type UpstreamTarget } from './handshake.js';
import { copyRead, READ_BYTES } from './read-pool.js';

// Reads are synchronous callbacks, one at a time, so one buffer serves every upstream socket. A
// read is copied out of it (one copy, into a pooled buffer once the tunnel relays) before anything
// may keep a reference to it.
const READ_BUFFER = Buffer.allocUnsafe(READ_BYTES);
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

// Whoever owns the socket after the 101 (the tunnel) receives its reads here, each as a pooled copy
// (read-pool.ts) that the reader gives back once nothing references it.
export interface UpstreamReader {
  fromUpstreamRead(chunk: Buffer): void;
}

type UpstreamSocket = Socket & { handshake: RawHandshake | null; reader: UpstreamReader | null };

// HOT: per read from every plain-TCP upstream.
function upstreamOnRead(this: UpstreamSocket, nread: number, buf: Buffer): boolean {
  if (this.reader !== null) {
    this.reader.fromUpstreamRead(copyRead(buf, nread));
  } else if (this.handshake !== null) {
    // The handshake keeps what it reads (the head, bytes after the 101): a copy of its own.
    const chunk = Buffer.allocUnsafe(nread);
    buf.copy(chunk, 0, 0, nread);
    this.handshake.onData(chunk);
  }
  return true;
}

/** Hands the socket's reads to the tunnel that now owns it. */
export function attachReader(socket: Socket, reader: UpstreamReader): void {
  if (isRawUpstream(socket)) (socket as UpstreamSocket).reader = reader;
}

/** True when the socket delivers reads through attachReader, not 'data' events. */
export function isRawUpstream(socket: Socket): boolean {
  // Only sockets this module connected carry the field (null once the handshake is over).
  return (socket as Partial<UpstreamSocket>).handshake !== undefined;
}

// RFC 9110 §5.5: field values never carry CR, LF or NUL; a header that would is dropped rather
// than written raw into the request head.
const BAD_VALUE = /[\r\n\0]/;

// The handshake request: the gateway's upstream headers (name, value, … without hop-by-hop ones)
// and the upgrade pair.
export function requestHead(path: string, headers: readonly string[]): string {
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const value = headers[i + 1]!;
    if (!BAD_VALUE.test(value)) head += `${headers[i]!}: ${value}\r\n`;
  }
  return head + 'connection: Upgrade\r\nupgrade: websocket\r\n\r\n';
}

class RawHandshake {
  private head: Buffer = EMPTY;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  // Set when the upstream answered something other than a 101 and it is being relayed.
  private relayLeft = -1;

  constructor(
    readonly socket: UpstreamSocket,
    private readonly expectedAccept: string,
    private readonly offered: string | undefined,
    private readonly timeoutMs: number,
    private readonly client: HandshakeClient,
    private readonly done: (result: HandshakeResult) => void,
  ) {
    this.timer = setTimeout(handshakeTimedOut, timeoutMs, this);
    this.timer.unref();
  }

  fail(err: GatewayError): void {
    this.finish(failedHandshake(err));
    this.socket.destroy();
  }

  timedOut(): void {
    this.fail(new GatewayError('UPSTREAM_TIMEOUT', `upstream did not answer the WebSocket handshake within ${formatDuration(this.timeoutMs)}`));
  }

  finish(result: HandshakeResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.done(result);
  }

  onData(chunk: Buffer): void {
    if (this.relayLeft !== -1) return this.relay(chunk);
    if (this.settled) return;
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const end = this.head.indexOf(HEAD_END);
    if (end === -1) {
      if (this.head.length > MAX_HEAD_BYTES) this.fail(new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream answer head is too large'));
      return;
    }
    const lines = this.head.toString('latin1', 0, end).split('\r\n');
    const rest = this.head.subarray(end + 4);
    const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
    if (status === null) return this.fail(new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream sent an invalid status line'));
    const headers = new Map<string, string>();
    const raw: [string, string][] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) return this.fail(new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream sent an invalid header line'));
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      raw.push([name, value]);
      const lower = name.toLowerCase();
      const prev = headers.get(lower);
      headers.set(lower, prev === undefined ? value : `${prev}, ${value}`);
    }
    const code = Number(status[1]);
    if (code !== 101) return this.relayAnswer(code, status[2] ?? '', raw, headers, rest);
    const err = checkSwitchingProtocols((name) => headers.get(name), this.expectedAccept, this.offered);
    if (err !== null) return this.fail(err);
    this.finish({
      socket: this.socket,
      head: rest.length === 0 ? EMPTY : Buffer.from(rest),
      protocol: headers.get('sec-websocket-protocol') ?? '',
      extensions: headers.get('sec-websocket-extensions') ?? '',
      error: null,
      status: 101,
      relayed: false,
    });
  }

  // Not a 101: the answer goes to the client as plain HTTP, and no tunnel opens. Its body is
  // delimited by Content-Length, else by the upstream closing (we asked for an upgrade, so an
  // upstream that refuses it with a chunked keep-alive answer is cut at the response timeout).
  private relayAnswer(code: number, reason: string, raw: [string, string][], headers: Map<string, string>, rest: Buffer): void {
    const err = new GatewayError('UPSTREAM_BAD_RESPONSE', `upstream answered the WebSocket handshake with ${code}`);
    const client = this.client;
    const relayed = client.writable;
    this.finish({ socket: null, head: EMPTY, protocol: '', extensions: '', error: err, status: code, relayed });
    clearTimeout(this.timer);
    if (!relayed) return void this.socket.destroy();
    const chunked = /chunked/i.test(headers.get('transfer-encoding') ?? '');
    const length = chunked ? -1 : Number(headers.get('content-length') ?? -1);
    let head = `HTTP/1.1 ${code} ${reason || STATUS_CODES[code] || ''}\r\n`;
    for (const [name, value] of raw) {
      const lower = name.toLowerCase();
      if (lower === 'connection' || lower === 'keep-alive' || lower === 'upgrade' || lower === 'proxy-connection') continue;
      head += `${name}: ${value}\r\n`;
    }
    client.write(head + 'connection: close\r\n\r\n');
    this.relayLeft = Number.isInteger(length) && length >= 0 ? length : Number.MAX_SAFE_INTEGER;
    this.socket.once('end', relayEnded).once('close', relayEnded);
    const timer = setTimeout(relayTimedOut, this.timeoutMs, this);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
    this.relay(rest);
  }

  private relay(chunk: Buffer): void {
    if (this.relayLeft <= 0) return;
    const part = chunk.length > this.relayLeft ? chunk.subarray(0, this.relayLeft) : chunk;
    this.relayLeft -= part.length;
    if (part.length > 0) this.client.write(part);
    if (this.relayLeft === 0) this.endRelay();
  }

  endRelay(): void {
    this.relayLeft = 0;
    this.client.end();
    this.socket.destroy();
  }
}

function handshakeTimedOut(h: RawHandshake): void {
  h.timedOut();
}

function relayTimedOut(h: RawHandshake): void {
  h.endRelay();
}

function relayEnded(this: UpstreamSocket): void {
  this.handshake?.endRelay();
}

function socketOnError(this: UpstreamSocket, err: Error): void {
  this.handshake?.fail(toGatewayError(err, 'UPSTREAM_UNAVAILABLE'));
}

function socketOnCloseEarly(this: UpstreamSocket): void {
  this.handshake?.fail(new GatewayError('UPSTREAM_UNAVAILABLE', 'upstream closed the connection during the WebSocket handshake'));
}

/** Connects to a plain-TCP upstream and performs the WebSocket handshake; `done` is called once. */
export function rawUpstreamHandshake(
  target: UpstreamTarget,
  path: string,
  headers: readonly string[],
  expectedAccept: string,
  offeredProtocols: string | undefined,
  timeoutMs: number,
  client: HandshakeClient,
  done: (result: HandshakeResult) => void,
): { destroy(): void } {
  const socket = connect({
    host: target.hostname,
    port: target.port,
    noDelay: true,
    onread: { buffer: READ_BUFFER, callback: upstreamOnRead },
  }) as UpstreamSocket;
  socket.reader = null;
  const handshake = new RawHandshake(socket, expectedAccept, offeredProtocols, timeoutMs, client, (result) => {
    socket.off('close', socketOnCloseEarly);
    if (result.socket !== null) {
      socket.off('error', socketOnError);
      socket.handshake = null;
    }
    done(result);
  });
  socket.handshake = handshake;
  socket.on('error', socketOnError).on('close', socketOnCloseEarly);
  socket.write(requestHead(path, headers));
  return { destroy: () => handshake.fail(new GatewayError('UPSTREAM_UNAVAILABLE', 'handshake cancelled')) };
}
