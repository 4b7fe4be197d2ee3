// socket.io behind the gateway: its default transports start with HTTP long-polling, whose session
// lives in one server's memory, then upgrade to a WebSocket that must reach that same server. With
// `sticky` every request of a session lands there; without it round robin splits the session.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { expect, onTestFinished, test } from 'vitest';
import { Server as IoServer } from 'socket.io';
import { io as connectIo, type Socket as IoClient } from 'socket.io-client';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';

const CLIENTS = 20;
const MESSAGES = 5;

interface IoUpstream {
  url: string;
  sessionErrors: string[]; // engine.io's own complaints, such as "Session ID unknown"
  close(): Promise<void>;  // ends every session (a held long poll gets its answer), then the server
}

// A socket.io server on a node:http server that tags each reply with its own name.
async function startIoUpstream(name: string): Promise<IoUpstream> {
  const http = createServer();
  const io = new IoServer(http);
  const sessionErrors: string[] = [];
  io.engine.on('connection_error', (err: { message: string }) => sessionErrors.push(err.message));
  io.on('connection', (socket) => {
    socket.on('hello', (text: string, ack: (reply: string) => void) => ack(`${name}:${text}`));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= new Promise<void>((resolve) => void io.close(() => resolve())));
  onTestFinished(close);
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('socket.io upstream has no port');
  return { url: `http://127.0.0.1:${address.port}`, sessionErrors, close };
}

async function gatewayFor(upstream: Record<string, unknown>): Promise<{ gw: TestGateway; ups: IoUpstream[] }> {
  const ups = [await startIoUpstream('one'), await startIoUpstream('two')];
  const gw = await startGateway({
    upstreams: { io: { targets: ups.map((u) => ({ url: u.url })), ...upstream } },
    routes: [{ name: 'io', match: { path: '/socket.io/*' }, upstream: 'io' }],
  });
  // Test-end hooks run last-registered first: the servers end their sessions before the gateway
  // drains, or a long poll that a broken session left waiting would hold the drain for 25 s.
  onTestFinished(() => Promise.all(ups.map((u) => u.close())).then(() => undefined));
  return { gw, ups };
}

// A client with the default transports (polling, then the upgrade to websocket). In Node,
// withCredentials gives engine.io-client a cookie jar: it keeps the Set-Cookie lines of polling
// answers and sends them on every later request, the WebSocket handshake included, as a browser
// sends its cookies. Reconnection is off so that a failure shows instead of being retried away.
function client(gw: TestGateway): IoClient {
  const socket = connectIo(gw.url(), { forceNew: true, withCredentials: true, reconnection: false });
  onTestFinished(() => {
    socket.disconnect();
  });
  return socket;
}

type Outcome = { ok: true; names: string[] } | { ok: false; error: string };

// Connects, waits for the upgrade to websocket, then exchanges messages over it; or the first
// failure: a connect_error, a failed upgrade, a disconnect.
function session(socket: IoClient): Promise<Outcome> {
  return new Promise((resolve) => {
    const engine = socket.io.engine;
    let connected = false;
    let upgraded = false;
    const fail = (what: string) => (err?: unknown): void => resolve({ ok: false, error: `${what}: ${err instanceof Error ? err.message : String(err)}` });
    const exchange = (): void => {
      if (!connected || !upgraded) return;
      void Promise.all(Array.from({ length: MESSAGES }, (_, i) => socket.emitWithAck('hello', `m${i}`) as Promise<string>)).then(
        (replies) => {
          const transport = socket.io.engine.transport.name;
          if (transport !== 'websocket') resolve({ ok: false, error: `messages went over ${transport}` });
          else resolve({ ok: true, names: replies.map((r) => r.slice(0, r.indexOf(':'))) });
        },
        fail('ack'),
      );
    };
    socket.on('connect_error', fail('connect_error'));
    socket.on('disconnect', fail('disconnect'));
    engine.on('upgradeError', fail('upgradeError'));
    engine.on('upgrade', () => {
      upgraded = true;
      exchange();
    });
    socket.on('connect', () => {
      connected = true;
      exchange();
    });
  });
}

test('with sticky: { cookie: io }, 20 socket.io clients poll, upgrade to websocket and each stays on one server', async () => {
  const { gw, ups } = await gatewayFor({ sticky: { cookie: 'io' } });
  const outcomes = await Promise.all(Array.from({ length: CLIENTS }, () => session(client(gw))));
  expect(outcomes.filter((o) => !o.ok)).toEqual([]);
  const servers = outcomes.map((o) => (o.ok ? new Set(o.names) : new Set<string>()));
  for (const names of servers) expect(names.size).toBe(1);
  // Round robin placed the first requests of the sessions: both servers serve some.
  expect(new Set(servers.map((s) => [...s][0])).size).toBe(2);
  expect(ups.flatMap((u) => u.sessionErrors)).toEqual([]);
});

test('without sticky, round robin splits the sessions: the servers answer "Session ID unknown"', async () => {
  const { gw, ups } = await gatewayFor({});
  const outcomes = await Promise.all(Array.from({ length: CLIENTS }, () => session(client(gw))));
  expect(outcomes.filter((o) => !o.ok).length).toBeGreaterThan(0);
  expect(ups.flatMap((u) => u.sessionErrors)).toContain('Session ID unknown');
});
