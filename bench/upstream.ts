// bench/upstream: the service both sides of bench/run.ts talk to: GET answers a small JSON body, and
// every WebSocket connection echoes each message back. Kept cheap so that it is not what is measured.
// A handshake on /deflate may negotiate permessage-deflate (the echo is then compressed again);
// every other path refuses it.
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

const plain = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
const deflate = new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 }, maxPayload: 16 * 1024 * 1024 });
for (const wss of [plain, deflate]) {
  wss.on('connection', (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
}
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const wss = req.url?.startsWith('/deflate') === true ? deflate : plain;
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

function stop(): void {
  for (const wss of [plain, deflate]) for (const ws of wss.clients) ws.terminate();
  server.closeAllConnections();
  server.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by bench/run.ts: the pipe closing means the parent died. Otherwise: run until a signal.
fromParent(null, stop);
