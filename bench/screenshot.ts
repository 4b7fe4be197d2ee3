// bench/screenshot: docs/dashboard.png, the admin dashboard with live traffic, taken in headless
// Chromium. Run by hand (not in CI) after changing the page:
//
//   node --import tsx bench/screenshot.ts [--out docs/dashboard.png] [--seconds 75]
//
// It starts a gateway in this process with an admin token, an HTTP upstream (two targets, one of them
// down so the health column has something to say), a WebSocket echo, and clients that vary their
// load in waves; opens the dashboard with the token, lets the charts fill, and saves a full-page shot.
// CHROMIUM_PATH picks another browser than /usr/bin/chromium.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import WebSocket, { WebSocketServer } from 'ws';
import { Gateway } from '../src/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'screenshot-token';

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, seconds: { type: 'string' } } });
  const out = resolve(values.out ?? join(ROOT, 'docs/dashboard.png'));
  const seconds = Number(values.seconds ?? 75);

  // Upstreams: an API answering in 1-40 ms (now and then a 503), and a WebSocket echo.
  const api = createServer((req, res) => {
    setTimeout(() => {
      if (req.url === '/healthz') return res.end('ok');
      res.statusCode = Math.random() < 0.02 ? 503 : 200;
      res.end(JSON.stringify({ path: req.url }));
    }, 1 + Math.random() * Math.random() * 40);
  });
  const apiPort = await listen(api);
  const echoServer = createServer();
  const wss = new WebSocketServer({ server: echoServer });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const echoPort = await listen(echoServer);
  const down = createServer();
  const downPort = await listen(down);
  down.close(); // a target nobody answers on: refused

  const gateway = new Gateway({
    listen: [{ port: 0, host: '127.0.0.1' }],
    admin: { listen: '127.0.0.1:0', token: TOKEN },
    log: { level: 'warn' },
    upstreams: {
      api: {
        targets: [{ url: `http://127.0.0.1:${apiPort}` }, { url: `http://127.0.0.1:${downPort}` }],
        healthCheck: { path: '/healthz', interval: '1s', unhealthyAfter: 1 },
      },
      realtime: { targets: [{ url: `http://127.0.0.1:${echoPort}` }] },
    },
    routes: [
      { name: 'chat', match: { path: '/ws/chat/*' }, upstream: 'realtime' },
      { name: 'feed', match: { path: '/ws/feed' }, upstream: 'realtime' },
      { name: 'api', match: { path: '/api/*' }, upstream: 'api', stripPrefix: '/api' },
      { name: 'ping', match: { path: '/ping' }, respond: { status: 200, json: { message: 'pong' } } },
    ],
  });
  await gateway.listen();
  const port = gateway.addresses()[0]!.port;
  const admin = gateway.adminAddress()!;

  // Load in waves: the rates follow a slow sine, so the charts have a shape.
  const started = Date.now();
  const wave = (): number => 0.55 + 0.45 * Math.sin((Date.now() - started) / 4000);
  const run = { stopping: false };
  const sockets: WebSocket[] = [];
  const paths = new Map<WebSocket, string>();
  const openSocket = (path: string): void => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { 'user-agent': 'screenshot-client/1.0' } });
    paths.set(ws, path);
    ws.on('error', () => undefined);
    ws.on('open', () => sockets.push(ws));
    ws.on('close', () => sockets.splice(sockets.indexOf(ws), 1));
  };
  for (let i = 0; i < 14; i++) openSocket(i < 10 ? `/ws/chat/room-${i % 3}` : '/ws/feed');
  const talk = setInterval(() => {
    for (const ws of sockets) if (Math.random() < wave()) ws.send(`message ${Date.now()} ${'x'.repeat(Math.floor(Math.random() * 200))}`);
  }, 50);
  const httpLoad = (async (): Promise<void> => {
    while (!run.stopping) {
      const n = Math.ceil(8 * wave());
      await Promise.all(Array.from({ length: n }, (_, i) => fetch(`http://127.0.0.1:${port}${i % 5 === 4 ? '/ping' : `/api/items/${i}`}`).then((r) => r.arrayBuffer()).catch(() => undefined)));
      await new Promise((done) => setTimeout(done, 40));
    }
  })();
  // Some churn: now and then the oldest client leaves (1000) and another takes its place.
  const churn = setInterval(() => {
    if (sockets.length === 0) return;
    const ws = sockets[0]!;
    ws.close(1000, 'bye');
    openSocket(paths.get(ws)!);
  }, 3000);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    await page.addInitScript((token) => sessionStorage.setItem('wsgate-admin-token', token), TOKEN);
    await page.goto(`http://127.0.0.1:${admin.port}/`);
    await page.locator('#status', { hasText: 'live' }).waitFor();
    // An operator closed one connection: a 1008 in the closes table.
    const first = await (await fetch(`http://127.0.0.1:${admin.port}/api/connections?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { connections: { id: string }[] };
    if (first.connections[0] !== undefined) await fetch(`http://127.0.0.1:${admin.port}/api/connections/${first.connections[0].id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    process.stderr.write(`screenshot: letting the charts fill for ${seconds} s\n`);
    await page.waitForTimeout(seconds * 1000);
    await page.screenshot({ path: out, fullPage: true });
    process.stderr.write(`screenshot: ${out}\n`);
  } finally {
    run.stopping = true;
    clearInterval(talk);
    clearInterval(churn);
    await httpLoad;
    await browser.close();
    for (const ws of sockets) ws.terminate();
    await gateway.close();
    wss.close();
    echoServer.close();
    api.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`screenshot: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
