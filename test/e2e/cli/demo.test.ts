// e2e: the built-in demo (SPEC section 9) as a newcomer runs it: `wsgate demo`, or `wsgate start` with
// no config file, then the page, the HTTP routes, the echo and the chat, all through the gateway.
import { once } from 'node:events';
import { expect, onTestFinished, test } from 'vitest';
import WebSocket from 'ws';
import { runCli, startCli, tempDir, type CliProcess } from '../../helpers/cli.js';

interface Demo {
  cli: CliProcess;
  base: string;
  wsBase: string;
  admin: string;
}

async function startDemo(args: string[], cwd?: string): Promise<Demo> {
  const cli = startCli(args, cwd === undefined ? {} : { cwd });
  const { listeners, admin } = await cli.ports();
  // The demo listens on 0.0.0.0; loopback reaches it.
  return {
    cli,
    base: `http://127.0.0.1:${listeners[0]}`,
    wsBase: `ws://127.0.0.1:${listeners[0]}`,
    admin: `http://127.0.0.1:${admin}`,
  };
}

// A ws client that keeps every message, so none is lost between two awaits.
interface Client {
  ws: WebSocket;
  /** The first message (received or still to come) that matches; earlier ones are consumed. */
  next(predicate?: (message: string) => boolean): Promise<string>;
}

async function connectWs(url: string): Promise<Client> {
  const ws = new WebSocket(url);
  onTestFinished(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  const queued: string[] = [];
  let waiter: { predicate: (m: string) => boolean; resolve: (m: string) => void } | null = null;
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (waiter !== null && waiter.predicate(text)) {
      const { resolve } = waiter;
      waiter = null;
      resolve(text);
    } else if (waiter === null) queued.push(text);
  });
  await once(ws, 'open');
  return {
    ws,
    next(predicate = () => true) {
      while (queued.length > 0) {
        const text = queued.shift()!;
        if (predicate(text)) return Promise.resolve(text);
      }
      return new Promise((resolve) => (waiter = { predicate, resolve }));
    },
  };
}

function chatEvent(type: string, field: string, value: string): (m: string) => boolean {
  return (m) => {
    const event = JSON.parse(m) as Record<string, unknown>;
    return event.type === type && event[field] === value;
  };
}

const DEMO_ARGS = ['demo', '--port', '0', '--admin', '127.0.0.1:0'];

test('demo answers /ping itself, serves the page and relays /api/* to its API', async () => {
  const demo = await startDemo(DEMO_ARGS);

  const ping = await fetch(`${demo.base}/ping`);
  expect(ping.status).toBe(200);
  expect(await ping.json()).toEqual({ message: 'pong' });

  const page = await fetch(`${demo.base}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(await page.text()).toContain('<title>wsgate demo</title>');

  const hello = await fetch(`${demo.base}/api/hello`);
  expect(hello.status).toBe(200);
  expect(hello.headers.get('content-type')).toBe('application/json');
  expect(await hello.json()).toEqual({ message: 'hello from the demo api' });

  const headers = (await (await fetch(`${demo.base}/api/headers`)).json()) as Record<string, string>;
  expect(headers).toMatchObject({ 'x-gateway': 'wsgate', 'x-forwarded-for': '127.0.0.1' });
  expect(headers['x-request-id']).toMatch(/.+/);

  const ready = await fetch(`${demo.admin}/readyz`);
  expect(ready.status).toBe(200);
});

test('demo echoes WebSocket messages on /ws/echo', async () => {
  const demo = await startDemo(DEMO_ARGS);
  const client = await connectWs(`${demo.wsBase}/ws/echo`);
  client.ws.send('hello, echo');
  expect(await client.next()).toBe('hello, echo');
  const binary = Buffer.from([0, 1, 2, 250, 255]);
  const echoed = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
    client.ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })),
  );
  client.ws.send(binary);
  expect(await echoed).toEqual({ data: binary, isBinary: true });
});

test('two chat members on /ws/chat see each other join and talk', async () => {
  const demo = await startDemo(DEMO_ARGS);
  const a = await connectWs(`${demo.wsBase}/ws/chat?nick=a`);
  expect(JSON.parse(await a.next(chatEvent('join', 'nick', 'a')))).toEqual({ type: 'join', nick: 'a', members: 1 });
  const b = await connectWs(`${demo.wsBase}/ws/chat?nick=b`);
  expect(JSON.parse(await a.next(chatEvent('join', 'nick', 'b')))).toEqual({ type: 'join', nick: 'b', members: 2 });

  a.ws.send('hi b');
  const fromA = JSON.parse(await b.next(chatEvent('message', 'from', 'a'))) as Record<string, unknown>;
  expect(fromA).toMatchObject({ type: 'message', from: 'a', text: 'hi b' });
  expect(new Date(fromA.at as string).toISOString()).toBe(fromA.at);

  b.ws.send('hi a');
  expect(JSON.parse(await a.next(chatEvent('message', 'from', 'b')))).toMatchObject({ type: 'message', from: 'b', text: 'hi a' });

  b.ws.close(1000);
  expect(JSON.parse(await a.next(chatEvent('leave', 'nick', 'b')))).toEqual({ type: 'leave', nick: 'b', members: 1 });
});

test('start with no config file in the directory runs the demo', async () => {
  const demo = await startDemo(['start', '--port', '0', '--admin', '127.0.0.1:0'], tempDir());
  expect(await (await fetch(`${demo.base}/ping`)).json()).toEqual({ message: 'pong' });
  expect(await (await fetch(`${demo.base}/`)).text()).toContain('wsgate demo');
  expect((await fetch(`${demo.admin}/readyz`)).status).toBe(200);
});

test('the demo stops on SIGTERM with exit 0, closing chat members with 1001', async () => {
  const demo = await startDemo(DEMO_ARGS);
  const a = await connectWs(`${demo.wsBase}/ws/chat?nick=a`);
  await a.next(chatEvent('join', 'nick', 'a'));
  const closed = once(a.ws, 'close') as Promise<[number, Buffer]>;
  demo.cli.signal('SIGTERM');
  const [code] = await closed;
  expect(code).toBe(1001);
  expect(await demo.cli.closed).toEqual({ code: 0, signal: null });
  expect(demo.cli.logs.map((l) => l.event)).toEqual(expect.arrayContaining(['draining', 'stopped']));
});

test('demo exits 1 when --port is not a port number', async () => {
  const run = await runCli(['demo', '--port', 'eighty', '--admin', '127.0.0.1:0']);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe('wsgate demo: --port eighty: not a port number\n');
});
