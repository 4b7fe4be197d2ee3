// test/helpers/servers: real upstreams on 127.0.0.1:0 for tests, closed when the test finishes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { WebSocketServer, type WebSocket, type ServerOptions } from 'ws';

export interface Upstream {
  url: string;
  port: number;
  server: Server;
  requests: IncomingMessage[];
}

async function listen(server: Server | import('node:net').Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function closeOnFinish(server: Server | import('node:net').Server, sockets: Set<Socket>): void {
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

function track(server: Server | import('node:net').Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

export async function startHttpUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  const sockets = track(server);
  const port = await listen(server);
  closeOnFinish(server, sockets);
  return { url: `http://127.0.0.1:${port}`, port, server, requests };
}

export interface HoldingUpstream extends Upstream {
  /** The response to the first request, which the upstream leaves unanswered for the test to end. */
  held: Promise<ServerResponse>;
}

// An upstream that answers nothing by itself: the test holds the first request open.
export async function startHoldingUpstream(): Promise<HoldingUpstream> {
  let hold!: (res: ServerResponse) => void;
  const held = new Promise<ServerResponse>((resolve) => (hold = resolve));
  const up = await startHttpUpstream((_req, res) => hold(res));
  return { ...up, held };
}

export interface WsUpstream extends Upstream {
  wss: WebSocketServer;
  connections: WebSocket[];
  handshakes: IncomingMessage[];
}

// A `ws` server echoing every message (text as text, binary as binary).
export async function startWsEcho(options: Omit<ServerOptions, 'server' | 'port'> = {}, onConnection?: (ws: WebSocket, req: IncomingMessage) => void): Promise<WsUpstream> {
  const server = createServer((req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('websocket only');
  });
  const wss = new WebSocketServer({ ...options, server });
  const connections: WebSocket[] = [];
  const handshakes: IncomingMessage[] = [];
  wss.on('connection', (ws, req) => {
    connections.push(ws);
    handshakes.push(req);
    ws.on('error', () => ws.terminate());
    if (onConnection) onConnection(ws, req);
    else ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const sockets = track(server);
  const port = await listen(server);
  onTestFinished(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  closeOnFinish(server, sockets);
  return { url: `http://127.0.0.1:${port}`, port, server, requests: [], wss, connections, handshakes };
}

export interface RecordingEcho {
  url: string;
  /** The upstream end of the first tunnel. */
  upstream(): WebSocket;
  pongs: string[];
  messages: string[];
}

// An echo upstream that also records, in order, every message and every pong it receives.
export async function recordingEcho(): Promise<RecordingEcho> {
  const pongs: string[] = [];
  const messages: string[] = [];
  const up = await startWsEcho({}, (ws) => {
    ws.on('pong', (data: Buffer) => pongs.push(data.toString()));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      messages.push(data.toString());
      ws.send(data, { binary: isBinary });
    });
  });
  return { url: up.url, upstream: () => up.connections[0]!, pongs, messages };
}

// A misbehaving peer: the test writes bytes by hand.
export async function startRawUpstream(onSocket: (socket: Socket) => void): Promise<{ url: string; port: number; sockets: Set<Socket> }> {
  const server = createNetServer((socket) => {
    socket.on('error', () => socket.destroy());
    onSocket(socket);
  });
  const sockets = track(server);
  const port = await listen(server);
  closeOnFinish(server, sockets);
  return { url: `http://127.0.0.1:${port}`, port, sockets };
}
