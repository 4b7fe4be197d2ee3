// Built-in anomaly detection through a real gateway (issue 10, item 5): steady traffic raises
// nothing, an upstream that starts answering 500 raises http_5xx, and its recovery clears it.
import { expect, test } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { proxyConfig, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { closed, openWs } from '../../helpers/clients.js';

const WINDOW_MS = 1000;
const PER_WINDOW = 5;

// Until the gateway counted `total` exchanges on the route (a response can reach the client just
// before the gateway counts it): no timer, only turns of the event loop.
async function counted(gw: TestGateway, total: number): Promise<void> {
  const series = `wsgate_http_request_duration_seconds_count{route="app"} ${total}`;
  for (let i = 0; i < 10_000; i++) {
    if ((await gw.gw.metrics()).split('\n').includes(series)) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`the gateway never counted ${total} exchanges`);
}

// Until the gateway logged `total` ws_close lines (it counts a close before it logs it).
async function wsClosed(gw: TestGateway, total: number): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (gw.logs.filter((l) => l.event === 'ws_close').length >= total) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`the gateway never closed ${total} tunnels`);
}

function anomalyLines(gw: TestGateway): Record<string, unknown>[] {
  return gw.logs.filter((l) => l.event === 'anomaly');
}

async function gauge(gw: TestGateway, signal = 'http_5xx'): Promise<number | undefined> {
  const line = (await gw.gw.metrics()).split('\n').find((l) => l.startsWith(`wsgate_anomaly_active{route="app",signal="${signal}"} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

test('an upstream answering 500 raises http_5xx after `for`, and its recovery clears it', async () => {
  let status = 200;
  const up = await startHttpUpstream((_req, res) => {
    res.statusCode = status;
    res.end('x');
  });
  const clock = new ManualClock(1000);
  const gw = await startGateway(proxyConfig(up.url, {}, { anomaly: { window: '1s', for: '3s', warmup: '10s' } }), undefined, { clock });
  let total = 0;
  // N exchanges, all counted, then the window ends.
  const windows = async (n: number): Promise<void> => {
    for (let w = 0; w < n; w++) {
      for (let i = 0; i < PER_WINDOW; i++) {
        const res = await fetch(gw.url('/x'));
        expect(res.status).toBe(status);
        await res.text();
      }
      total += PER_WINDOW;
      await counted(gw, total);
      clock.advance(WINDOW_MS);
    }
  };

  clock.advance(WINDOW_MS); // the monitor's first window: it reads the totals to start from
  await windows(15);
  expect(anomalyLines(gw)).toEqual([]);
  expect(await gauge(gw)).toBeUndefined();

  status = 500;
  await windows(3); // deviating for 2 s: not yet `for`
  expect(anomalyLines(gw)).toEqual([]);
  await windows(1);
  const raised = anomalyLines(gw);
  expect(raised).toHaveLength(1);
  expect(raised[0]).toMatchObject({ level: 'warn', route: 'app', signal: 'http_5xx', value: PER_WINDOW, mean: 0, sigma: 0 });
  expect(typeof raised[0]!.since).toBe('string');
  expect(raised[0]!.cleared).toBeUndefined();
  expect(await gauge(gw)).toBe(1);
  expect(gw.gw.anomalies()).toEqual([{ route: 'app', signal: 'http_5xx' }]);

  await windows(5); // still failing: raised once only
  expect(anomalyLines(gw)).toHaveLength(1);

  status = 200;
  await windows(3);
  expect(anomalyLines(gw)).toHaveLength(1);
  await windows(1);
  const lines = anomalyLines(gw);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatchObject({ level: 'info', route: 'app', signal: 'http_5xx', value: 0, cleared: true, since: raised[0]!.since });
  expect(await gauge(gw)).toBe(0);
  expect(gw.gw.anomalies()).toEqual([]);
});

test('steady traffic past the warmup raises nothing', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const clock = new ManualClock(1000);
  const gw = await startGateway(proxyConfig(up.url, {}, { anomaly: { window: '1s', for: '3s', warmup: '5s' } }), undefined, { clock });
  let total = 0;
  clock.advance(WINDOW_MS);
  for (let w = 0; w < 20; w++) {
    // 20 to 24 a window: enough for the p99 signal to take samples too
    const n = 20 + (w % 5);
    for (let i = 0; i < n; i++) await (await fetch(gw.url('/x'))).text();
    total += n;
    await counted(gw, total);
    clock.advance(WINDOW_MS);
  }
  expect(anomalyLines(gw)).toEqual([]);
  expect(await gauge(gw)).toBeUndefined();
});

test('a connection storm raises new_connections, and it clears when the rate is back', async () => {
  const up = await startWsEcho();
  const clock = new ManualClock(1000);
  const gw = await startGateway(proxyConfig(up.url, {}, { anomaly: { window: '1s', for: '3s', warmup: '10s' } }), undefined, { clock });
  let total = 0;
  // `n` tunnels opened and closed normally, all counted, then the window ends.
  const windows = async (count: number, n: number): Promise<void> => {
    for (let w = 0; w < count; w++) {
      const sockets = await Promise.all(Array.from({ length: n }, () => openWs(gw.wsUrl('/ws'))));
      await Promise.all(sockets.map((ws) => {
        const done = closed(ws);
        ws.close(1000);
        return done;
      }));
      total += n;
      await wsClosed(gw, total);
      clock.advance(WINDOW_MS);
    }
  };
  clock.advance(WINDOW_MS);
  await windows(15, 1);
  expect(anomalyLines(gw)).toEqual([]);
  await windows(3, 10);
  expect(anomalyLines(gw)).toEqual([]);
  await windows(1, 10);
  const raised = anomalyLines(gw);
  expect(raised).toHaveLength(1);
  expect(raised[0]).toMatchObject({ level: 'warn', route: 'app', signal: 'new_connections', value: 10, mean: 1, sigma: 0 });
  expect(await gauge(gw, 'new_connections')).toBe(1);
  await windows(4, 1);
  const lines = anomalyLines(gw);
  expect(lines).toHaveLength(2);
  expect(lines[1]).toMatchObject({ route: 'app', signal: 'new_connections', value: 1, cleared: true });
  expect(await gauge(gw, 'new_connections')).toBe(0);
});

test('an upstream that keeps crashing its sockets raises abnormal_closes, and only that', async () => {
  let crashing = false;
  const up = await startWsEcho({}, (ws) => {
    ws.on('message', (data, isBinary) => {
      if (crashing) ws.terminate(); // gone without a close frame
      else ws.send(data, { binary: isBinary });
    });
  });
  const clock = new ManualClock(1000);
  const gw = await startGateway(proxyConfig(up.url, {}, { anomaly: { window: '1s', for: '3s', warmup: '10s' } }), undefined, { clock });
  let total = 0;
  // Two tunnels a window, each sends one message: echoed then closed by the client, or crashed.
  const windows = async (count: number): Promise<void> => {
    for (let w = 0; w < count; w++) {
      const sockets = await Promise.all([openWs(gw.wsUrl('/ws')), openWs(gw.wsUrl('/ws'))]);
      await Promise.all(sockets.map((ws) => {
        const done = closed(ws);
        if (crashing) ws.send('x');
        else ws.close(1000);
        return done;
      }));
      total += sockets.length;
      await wsClosed(gw, total);
      clock.advance(WINDOW_MS);
    }
  };
  clock.advance(WINDOW_MS);
  await windows(15);
  expect(anomalyLines(gw)).toEqual([]);
  crashing = true;
  await windows(4);
  const closes = gw.logs.filter((l) => l.event === 'ws_close').slice(-2);
  for (const c of closes) expect([1006, 1011, 1014]).toContain(c.code);
  const raised = anomalyLines(gw);
  expect(raised).toHaveLength(1);
  expect(raised[0]).toMatchObject({ level: 'warn', route: 'app', signal: 'abnormal_closes', value: 2 });
  expect(await gauge(gw, 'abnormal_closes')).toBe(1);
  expect(gw.gw.anomalies()).toEqual([{ route: 'app', signal: 'abnormal_closes' }]);
  crashing = false;
  await windows(4);
  expect(anomalyLines(gw).map((l) => [l.signal, l.cleared])).toEqual([['abnormal_closes', undefined], ['abnormal_closes', true]]);
  expect(await gauge(gw, 'abnormal_closes')).toBe(0);
});

test('anomaly.webhook gets each raise and clear as JSON, retried on the clock when it fails', async () => {
  let status = 200;
  const up = await startHttpUpstream((_req, res) => {
    res.statusCode = status;
    res.end('x');
  });
  const bodies: Record<string, unknown>[] = [];
  let failFirst = true;
  const hook = await startHttpUpstream((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      bodies.push({ ...(JSON.parse(body) as Record<string, unknown>), contentType: req.headers['content-type'], method: req.method });
      res.statusCode = failFirst ? 503 : 204;
      failFirst = false;
      res.end();
    });
  });
  const clock = new ManualClock(1000);
  const anomaly = { window: '1s', for: '2s', warmup: '5s', webhook: `${hook.url}/hooks/abc` };
  const gw = await startGateway(proxyConfig(up.url, {}, { anomaly }), undefined, { clock });
  let total = 0;
  const windows = async (n: number): Promise<void> => {
    for (let w = 0; w < n; w++) {
      for (let i = 0; i < PER_WINDOW; i++) await (await fetch(gw.url('/x'))).text();
      total += PER_WINDOW;
      await counted(gw, total);
      clock.advance(WINDOW_MS);
    }
  };
  // Advances the clock a second at a time until the hook has `n` bodies (each try gets its turns).
  const hookGets = async (n: number): Promise<void> => {
    for (let tries = 0; bodies.length < n; tries++) {
      expect(tries).toBeLessThan(20);
      for (let i = 0; i < 2000 && bodies.length < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      if (bodies.length < n) clock.advance(1000);
    }
  };
  clock.advance(WINDOW_MS);
  await windows(8);
  status = 500;
  await windows(3);
  expect(anomalyLines(gw)).toHaveLength(1);
  await hookGets(2); // the first answer is 503: sent again after the backoff
  expect(bodies[0]).toMatchObject({ event: 'anomaly', route: 'app', signal: 'http_5xx', cleared: false, value: PER_WINDOW, contentType: 'application/json', method: 'POST' });
  expect(bodies[1]).toEqual(bodies[0]);
  status = 200;
  await windows(3);
  expect(anomalyLines(gw).map((l) => l.cleared)).toEqual([undefined, true]);
  await hookGets(3);
  expect(bodies[2]).toMatchObject({ event: 'anomaly', route: 'app', signal: 'http_5xx', cleared: true, value: 0 });
  // The URL, which may hold a token, is in no log line.
  expect(JSON.stringify(gw.logs)).not.toContain('/hooks/abc');
});
