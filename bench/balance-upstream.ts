// bench/balance-upstream: the targets bench/balance.ts balances over: N HTTP servers in one process,
// each on its own port of 127.0.0.1. GET /healthz answers 200 (the health checks); any other request
// answers a small JSON body and an `x-target` header naming the target, so that a probe sees where it
// landed. With --ws every server also accepts WebSockets: it greets each new one with the text message
// `target:N` (so the storm client knows which target holds it) and echoes what it receives.
//
//   node --import tsx bench/balance-upstream.ts --targets 4 [--first 0] [--ws]
//
// --first numbers the targets from there, when the targets of one upstream live in several processes
// (the reconnect storm kills one of them). Prints {"ports":[...]} on stdout once every server listens.
// A line `counts` on stdin prints {"requests":[...],"checks":[...]}: the requests other than /healthz
// and the health checks each target has answered since the start. Exits on SIGTERM, SIGINT, or when
// its stdin pipe closes (the parent died).
import { fromParent } from './parent-pipe.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: { targets: { type: 'string' }, first: { type: 'string', default: '0' }, ws: { type: 'boolean' } },
  strict: true,
});
const targetCount = Number(values.targets);
const first = Number(values.first);
if (!Number.isInteger(targetCount) || targetCount < 1 || targetCount > 500) throw new Error(`--targets ${values.targets}: a whole number from 1 to 500`);
if (!Number.isInteger(first) || first < 0) throw new Error(`--first ${values.first}: a whole number`);

const requests = new Array<number>(targetCount).fill(0);
const checks = new Array<number>(targetCount).fill(0);
const servers: Server[] = [];
const socketServers: WebSocketServer[] = [];

function serve(index: number): Promise<number> {
  const name = first + index;
  const body = Buffer.from(JSON.stringify({ ok: true, target: name }));
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length), 'x-target': String(name) };
  const health = Buffer.from('ok');
  const healthHeaders = { 'content-type': 'text/plain', 'content-length': String(health.length) };
  const server = createServer((req, res) => {
    req.resume();
    if (req.url === '/healthz') {
      checks[index]!++;
      res.writeHead(200, healthHeaders);
      res.end(health);
      return;
    }
    requests[index]!++;
    res.writeHead(200, headers);
    res.end(body);
  });
  // The load keeps every connection busy; no idle timeout should cut one in the middle of a run.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  if (values.ws === true) {
    const greeting = `target:${name}`;
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    wss.on('connection', (ws) => {
      ws.on('error', () => ws.terminate());
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.send(greeting);
    });
    socketServers.push(wss);
  }
  servers.push(server);
  return new Promise((done, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port));
  });
}

const ports = await Promise.all(Array.from({ length: targetCount }, (_, i) => serve(i)));
process.stdout.write(`${JSON.stringify({ ports })}\n`);

function stop(): void {
  for (const wss of socketServers) for (const ws of wss.clients) ws.terminate();
  for (const server of servers) server.closeAllConnections();
  let open = servers.length;
  for (const server of servers) {
    server.close(() => {
      if (--open === 0) process.exit(0);
    });
  }
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by bench/balance.ts: its lines ask for the counts; the pipe closing means the parent died.
fromParent((line) => {
  if (line === 'counts') process.stdout.write(`${JSON.stringify({ requests, checks })}\n`);
}, stop);
