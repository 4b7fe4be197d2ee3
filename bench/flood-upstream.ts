// bench/flood-upstream: the upstream of the slow-consumer scenario (bench/slow-consumer.ts): every
// WebSocket connection gets 1 MiB binary messages back to back, the next one as soon as its socket
// took the last, so the gateway in front is pushed as hard as its backpressure allows.
// Prints {"port":N} once listening; exits on SIGTERM, SIGINT, or when its stdin pipe closes.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { fromParent } from './parent-pipe.js';

const MESSAGE = Buffer.alloc(1024 * 1024, 0x5a);

const server = createServer((_req, res) => res.end());
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', () => undefined);
  push(ws);
});

// One message queued at a time per connection: the callback runs when the socket took it.
function push(ws: WebSocket): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(MESSAGE, { binary: true }, (err) => {
    if (err === undefined) push(ws);
  });
}

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
fromParent(null, stop);
