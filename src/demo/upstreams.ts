// demo/upstreams: the services behind the built-in demo, on one loopback HTTP server: a small JSON
// API (/hello, /time, /echo, /headers) and two WebSocket endpoints (/ws/echo, /ws/chat).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { acceptWebSocket, rejectHandshake, socketOnError, type MiniWebSocket } from './mini-ws.js';

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

export async function startDemoUpstreams(): Promise<DemoUpstreams> {
  const sockets = new Set<MiniWebSocket>();
  const chat = new ChatRoom();
  const server = createServer(handleRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', socketOnError);
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    if (url.pathname !== '/ws/echo' && url.pathname !== '/ws/chat') {
      rejectHandshake(socket, 404, `no WebSocket endpoint at ${url.pathname}; try /ws/echo or /ws/chat`);
      return;
    }
    const ws = acceptWebSocket(req, socket, head);
    if (ws === null) return;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    if (url.pathname === '/ws/echo') ws.on('message', (data, isBinary) => ws.send(isBinary ? data : data.toString()));
    else chat.join(ws, url.searchParams.get('nick') ?? '');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { httpUrl: base, wsUrl: base, close: () => closeServer(server, sockets) };
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

async function closeServer(server: Server, sockets: Set<MiniWebSocket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  for (const ws of sockets) ws.close(1001, 'demo upstream shutting down');
  await closed;
}

interface Member {
  readonly ws: MiniWebSocket;
  readonly nick: string;
}

// A chat room: every text message from a member goes to all members, the sender included.
class ChatRoom {
  private readonly members = new Set<Member>();
  private guests = 0;

  join(ws: MiniWebSocket, requestedNick: string): void {
    const nick = cleanNick(requestedNick) || `guest-${++this.guests}`;
    const member: Member = { ws, nick };
    this.members.add(member);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString().slice(0, MAX_CHAT_TEXT_CHARS);
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
