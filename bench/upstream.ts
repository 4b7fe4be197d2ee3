// bench/upstream: the service both sides of bench/run.ts talk to: GET answers a small JSON body, and
// every WebSocket connection echoes each message back. Kept cheap so that it is not what is measured.
// Prints {"port":N} on stdout once listening; exits on SIGTERM, SIGINT, or when its stdin pipe closes
// (the parent died).
import { fromParent } from './parent-pipe.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const BODY = Buffer.from(JSON.stringify({ ok: true, service: 'bench-upstream' }));
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) };

const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
// The load keeps every connection busy; no idle timeout should cut one in the middle of a run.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;

const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

function stop(): void {
  for (const ws of wss.clients) ws.terminate();
  server.closeAllConnections();
  server.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by bench/run.ts: the pipe closing means the parent died. Otherwise: run until a signal.
fromParent(null, stop);
