// http/relay: one exchange relayed through the core/exchange interfaces. A real client and a real
// gateway-side server; the target is a scripted ExchangeTarget that plays the upstream client's part
// (the calls h1 and undici make on the handler), so retries, errors and header rules are exact.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { expect, onTestFinished, test } from 'vitest';
import type { Affinity, DispatchOptions, ExchangeControl, ExchangeHandler, ExchangeTarget, TargetChooser } from '../../../src/core/exchange.js';
import type { HeaderOps } from '../../../src/config/compile.js';
import { HttpRelay } from '../../../src/http/relay.js';
import { send } from '../../helpers/http.js';

type Script = (handler: ExchangeHandler, options: DispatchOptions, control: Control) => void;

// As the upstream clients do: an abort ends the exchange with onError.
class Control implements ExchangeControl {
  aborted: Error | null = null;
  resumed = 0;
  constructor(private readonly handler: ExchangeHandler) {}
  abort(err: Error): void {
    this.aborted = err;
    queueMicrotask(() => this.handler.onError(err));
  }
  resume(): void {
    this.resumed++;
  }
}

class ScriptedTarget implements ExchangeTarget {
  inFlight = 0;
  readonly seen: DispatchOptions[] = [];
  readonly controls: Control[] = [];
  readonly id: string;
  constructor(readonly origin: string, private readonly script: Script) {
    this.id = `id-${origin.slice(7)}`;
  }
  dispatch(options: DispatchOptions, handler: ExchangeHandler): void {
    this.seen.push(options);
    const control = new Control(handler);
    this.controls.push(control);
    handler.onStart(control);
    this.script(handler, options, control);
  }
}

class Chooser implements TargetChooser {
  readonly name = 'app';
  readonly connectTimeoutMs = 5_000;
  readonly responseTimeoutMs = 30_000;
  readonly idleTimeoutMs = 60_000;
  readonly retryAfterS = 5;
  readonly excluded: (ExchangeTarget | null)[] = [];
  constructor(private readonly targets: readonly ScriptedTarget[], readonly retries = 1, readonly stickyCookie: string | null = null) {}
  pick(exclude: ExchangeTarget | null, affinity: Affinity | null): ExchangeTarget | null {
    this.excluded.push(exclude);
    const pinned = this.targets.find((t) => t.id === affinity?.stickyId);
    if (pinned !== undefined) return pinned;
    return this.targets.find((t) => t !== exclude) ?? null;
  }
}

function answer(status: number, headers: string[], body: string): Script {
  return (handler) => {
    handler.onHeaders(status, headers, null, '');
    handler.onData(Buffer.from(body), true);
    handler.onComplete(null);
  };
}

function failWith(code: string): Script {
  return (handler) => handler.onError(Object.assign(new Error(code), { code }));
}

// A server whose every request is relayed through `chooser`; its URL.
async function relayServer(chooser: TargetChooser, responseOps: HeaderOps | null = null, affinity: Affinity | null = null): Promise<string> {
  const server: Server = createServer((req, res) => {
    const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
    new HttpRelay(req, res, chooser, req.url ?? '/', ['host', 'upstream'], responseOps, 'req-1', hasBody, 1024, null, affinity).start();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('relays the answer without hop-by-hop headers or those Connection names, with our request id', async () => {
  const target = new ScriptedTarget('http://a', answer(201, ['Connection', 'x-secret', 'X-Secret', '1', 'Keep-Alive', 'timeout=5', 'X-Request-Id', 'theirs', 'Content-Type', 'text/plain', 'X-Kept', 'yes'], 'made'));
  const url = await relayServer(new Chooser([target]));
  const res = await send(`${url}/things?x=1`);
  expect(res.status).toBe(201);
  expect(res.body.toString()).toBe('made');
  expect(res.headers['x-kept']).toBe('yes');
  expect(res.headers['x-secret']).toBeUndefined();
  expect(res.headers['keep-alive']).toBeUndefined();
  expect(res.headers['x-request-id']).toBe('req-1');
  expect(target.seen[0]).toMatchObject({ path: '/things?x=1', method: 'GET', headers: ['host', 'upstream'], body: null });
});

test("applies the route's response header set and remove", async () => {
  const ops: HeaderOps = { set: [['x-gateway', 'wsgate']], remove: ['server'], drop: new Set(['server', 'x-gateway']) };
  const target = new ScriptedTarget('http://a', answer(200, ['Server', 'upstream/1.0', 'X-Gateway', 'spoofed'], ''));
  const res = await send(await relayServer(new Chooser([target]), ops));
  expect(res.headers.server).toBeUndefined();
  expect(res.headers['x-gateway']).toBe('wsgate');
});

test('retries an idempotent request on another target after a connect failure, excluding the failed one', async () => {
  const dead = new ScriptedTarget('http://dead', failWith('ECONNREFUSED'));
  const live = new ScriptedTarget('http://live', answer(200, [], 'ok'));
  const chooser = new Chooser([dead, live]);
  const res = await send(await relayServer(chooser));
  expect(res.status).toBe(200);
  expect(chooser.excluded).toEqual([null, dead]);
  expect(dead.inFlight).toBe(0);
  expect(live.inFlight).toBe(0);
});

test('does not retry a POST: the client gets 502 UPSTREAM_UNAVAILABLE as JSON', async () => {
  const dead = new ScriptedTarget('http://dead', failWith('ECONNREFUSED'));
  const live = new ScriptedTarget('http://live', answer(200, [], 'ok'));
  const res = await send(await relayServer(new Chooser([dead, live])), { method: 'POST' });
  expect(res.status).toBe(502);
  expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'UPSTREAM_UNAVAILABLE', requestId: 'req-1' } });
  expect(live.seen).toHaveLength(0);
});

test('a response timeout answers 504 naming the configured timeout', async () => {
  const slow = new ScriptedTarget('http://slow', failWith('H1_HEADERS_TIMEOUT'));
  const res = await send(await relayServer(new Chooser([slow], 0)));
  expect(res.status).toBe(504);
  expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'UPSTREAM_TIMEOUT', message: 'upstream app did not answer within 30s' } });
});

test('no target to pick answers 503 NO_HEALTHY_TARGET', async () => {
  const res = await send(await relayServer(new Chooser([])));
  expect(res.status).toBe(503);
  expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'NO_HEALTHY_TARGET' } });
  expect(res.headers['retry-after']).toBe('5');
});

test('counts the exchange in flight on its target until the answer completes', async () => {
  let during = -1;
  const target: ScriptedTarget = new ScriptedTarget('http://a', (handler) => {
    during = target.inFlight;
    answer(200, [], 'ok')(handler, { path: '', method: '', headers: [], body: null }, new Control(handler));
  });
  await send(await relayServer(new Chooser([target])));
  expect(during).toBe(1);
  expect(target.inFlight).toBe(0);
});

test('a header Node refuses to write aborts the exchange: the client gets 502 UPSTREAM_BAD_RESPONSE', async () => {
  let accepted = true;
  const target = new ScriptedTarget('http://a', (handler) => {
    accepted = handler.onHeaders(200, ['X-Bad', 'line\nbreak'], null, '');
  });
  const res = await send(await relayServer(new Chooser([target])));
  expect(accepted).toBe(false);
  expect(res.status).toBe(502);
  expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'UPSTREAM_BAD_RESPONSE' } });
});

test('a chunked body over maxBodyBytes aborts the exchange: the client gets 413 BODY_TOO_LARGE', async () => {
  const target = new ScriptedTarget('http://a', (_handler, options) => options.body?.resume());
  const url = await relayServer(new Chooser([target]));
  const res = await send(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: Buffer.alloc(4096) });
  expect(res.status).toBe(413);
  expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  expect(target.controls[0]!.aborted).toMatchObject({ code: 'BODY_TOO_LARGE' });
});

test('a sticky upstream names the chosen target in its cookie, by id', async () => {
  const a = new ScriptedTarget('http://a', answer(200, [], 'a'));
  const res = await send(await relayServer(new Chooser([a], 1, 'sid')));
  expect(res.headers['set-cookie']).toEqual(['sid=id-a; Path=/; HttpOnly; SameSite=Lax']);
});

test('a client already pinned to the target it gets is not sent the cookie again', async () => {
  const a = new ScriptedTarget('http://a', answer(200, [], 'a'));
  const b = new ScriptedTarget('http://b', answer(200, [], 'b'));
  const res = await send(await relayServer(new Chooser([a, b], 1, 'sid'), null, { hashKey: null, stickyId: 'id-b' }));
  expect(res.body.toString()).toBe('b');
  expect(res.headers['set-cookie']).toBeUndefined();
});
