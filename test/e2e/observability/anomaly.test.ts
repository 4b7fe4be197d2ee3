// Built-in anomaly detection through a real gateway (issue 10, item 5): steady traffic raises
// nothing, an upstream that starts answering 500 raises http_5xx, and its recovery clears it.
import { expect, test } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { proxyConfig, startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startHttpUpstream } from '../../helpers/servers.js';

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

function anomalyLines(gw: TestGateway): Record<string, unknown>[] {
  return gw.logs.filter((l) => l.event === 'anomaly');
}

async function gauge(gw: TestGateway): Promise<number | undefined> {
  const line = (await gw.gw.metrics()).split('\n').find((l) => l.startsWith('wsgate_anomaly_active{route="app",signal="http_5xx"} '));
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
