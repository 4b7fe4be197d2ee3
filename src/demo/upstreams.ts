// demo/upstreams: the services behind the built-in demo, on one loopback HTTP server: a small JSON
// API (/hello, /time, /echo, /headers) and two WebSocket endpoints (/ws/echo, /ws/chat), served by
// the ws package as a user's app would be; the gateway's own relay (ws/) never parses payloads.
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type ServerOptions, type WebSocket } from 'ws';

export interface DemoUpstreams {
  /** Base URL of the JSON API, e.g. http://127.0.0.1:40123 (paths without the gateway's /api prefix). */
  readonly httpUrl: string;
  /** Base URL of the WebSocket endpoints (/ws/echo, /ws/chat), written as http:// like any gateway target. */
  readonly wsUrl: string;
  /** Closes every WebSocket with 1001 and stops the server. */
  close(): Promise<void>;
}

const MAX_NICK_CHARS = 24;
const MAX_CHAT_TEXT_CHARS = 2_000;
// Plenty for a demo, small enough that one client cannot exhaust memory (ws closes with 1009).
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
// How long a closing socket waits for the peer's close frame, so a silent peer cannot hold shutdown.
const CLOSE_TIMEOUT_MS = 5_000;

// closeTimeout is a ws 8.19 option that @types/ws 8.18 does not list yet.
const WS_OPTIONS: ServerOptions & { closeTimeout: number } = {
  noServer: true,
  maxPayload: MAX_MESSAGE_BYTES,
  closeTimeout: CLOSE_TIMEOUT_MS,
  // No extensions and no subprotocols: frames reach the gateway as plainly as a client sent them.
  perMessageDeflate: false,
  handleProtocols: () => false,
};

export async function startDemoUpstreams(): Promise<DemoUpstreams> {
  const wss = new WebSocketServer(WS_OPTIONS);
  // ws answers a bad handshake in text/plain; the demo answers every refusal as JSON, like its API.
  wss.on('wsClientError', (err, socket) => rejectHandshake(socket, 400, `invalid WebSocket handshake: ${err.message}`));
  const chat = new ChatRoom();
  const server = createServer(handleRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', socketOnError);
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    if (url.pathname !== '/ws/echo' && url.pathname !== '/ws/chat') {
      rejectHandshake(socket, 404, `no WebSocket endpoint at ${url.pathname}; try /ws/echo or /ws/chat`);
      return;
    }
    // ws also accepts draft version 8; RFC 6455 §4.4 asks for 426 and the version we speak.
    if (req.headers['sec-websocket-version'] !== '13') {
      rejectHandshake(socket, 426, 'unsupported WebSocket version, use 13', ['Sec-WebSocket-Version: 13']);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', wsOnError);
      if (url.pathname === '/ws/echo') ws.on('message', echoOnMessage);
      else chat.join(ws, url.searchParams.get('nick') ?? '');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { httpUrl: base, wsUrl: base, close: () => closeServer(server, wss) };
}

/** Answers a handshake we refuse with a plain HTTP response, then ends the socket. */
function rejectHandshake(socket: Duplex, status: number, message: string, extraHeaders: string[] = []): void {
  const body = JSON.stringify({ error: { code: status === 404 ? 'NOT_FOUND' : 'BAD_HANDSHAKE', message } });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...extraHeaders,
  ];
  socket.once('finish', socketOnFinish);
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

// The first handler every upgrade socket gets: a broken peer only loses its own socket.
function socketOnError(this: Duplex): void {
  this.destroy();
}

// A refused client may keep its half open; the response is all it gets.
function socketOnFinish(this: Duplex): void {
  this.destroy();
}

// ws has already closed the socket with the matching code (1002, 1007, 1009); a listener must exist
// only because an 'error' nobody listens to would end the process.
function wsOnError(): void {}

function echoOnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  this.send(data, { binary: isBinary });
}

function handleRequest(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://demo.invalid').pathname;
  const route = `${req.method ?? ''} ${path}`;
  if (route === 'GET /hello') return sendJson(res, 200, { message: 'hello from the demo api' });
  if (route === 'GET /time') return sendJson(res, 200, { now: new Date().toISOString() });
  if (route === 'GET /headers') return sendJson(res, 200, req.headers);
  if (route === 'POST /echo') {
    // Streams the body straight back: the gateway's relay is what this endpoint shows off.
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  req.resume();
  sendJson(res, 404, {
    error: { code: 'NOT_FOUND', message: `no ${route}; try GET /hello, GET /time, GET /headers or POST /echo` },
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function closeServer(server: Server, wss: WebSocketServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  for (const ws of wss.clients) ws.close(1001, 'demo upstream shutting down');
  await closed;
}

interface Member {
  readonly ws: WebSocket;
  readonly nick: string;
}

// A chat room: every text message from a member goes to all members, the sender included.
class ChatRoom {
  private readonly members = new Set<Member>();
  private guests = 0;

  join(ws: WebSocket, requestedNick: string): void {
    const nick = cleanNick(requestedNick) || `guest-${++this.guests}`;
    const member: Member = { ws, nick };
    this.members.add(member);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      // ws's server sockets keep binaryType 'nodebuffer', so a message is always one Buffer.
      const text = (data as Buffer).toString().slice(0, MAX_CHAT_TEXT_CHARS);
      this.broadcast({ type: 'message', from: nick, text, at: new Date().toISOString() });
    });
    ws.on('close', () => {
      this.members.delete(member);
      this.broadcast({ type: 'leave', nick, members: this.members.size });
    });
    this.broadcast({ type: 'join', nick, members: this.members.size });
  }

  private broadcast(event: object): void {
    const json = JSON.stringify(event);
    for (const member of this.members) member.ws.send(json);
  }
}

function cleanNick(nick: string): string {
  // Control characters would garble other members' screens.
  return nick.replace(/\p{Cc}/gu, '').trim().slice(0, MAX_NICK_CHARS);
}
