// e2e: `metrics: { enabled: false }` (issue 10): traffic still relays, nothing is counted, GET
// /metrics answers valid Prometheus text without a sample, and the event stream says so (no rates)
// while its views (routes, live connections) stay; a wrong value is refused naming the key.
import { expect, test } from 'vitest';
import { Gateway } from '../../../src/index.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';
import { expectEcho, openWs } from '../../helpers/clients.js';
import { startRedis } from '../../helpers/redis.js';
import type { Snapshot } from '../../../src/admin/snapshot.js';

// The first `count` snapshots of a stream.
async function snapshots(url: string, count: number): Promise<Snapshot[]> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: Snapshot[] = [];
  let buf = '';
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    for (let at = buf.indexOf('\n\n'); at >= 0; at = buf.indexOf('\n\n')) {
      const data = /^event: snapshot\ndata: (.*)$/m.exec(buf.slice(0, at));
      if (data !== null) out.push(JSON.parse(data[1]!) as Snapshot);
      buf = buf.slice(at + 2);
    }
  }
  controller.abort();
  return out;
}

test('with metrics off the relay works, /metrics has no sample, and the stream shows connections but no rates', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { metrics: { enabled: false } }));
  const ws = await openWs(gw.wsUrl('/ws/x'));
  for (let i = 0; i < 3; i++) await expectEcho(ws, `m${i}`);
  expect((await fetch(gw.url('/plain'))).status).toBe(426);

  const res = await fetch(gw.adminUrl('/metrics'));
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toBe('# wsgate: metrics are turned off (metrics.enabled: false in the config)\n');

  const [first, second] = await snapshots(gw.adminUrl('/api/events'), 2);
  expect(first!.metrics).toBe(false);
  expect(first!.sharedStore).toBe(false);
  expect(second!.totals).toMatchObject({ connections: 1, requestsPerSec: 0, messagesInPerSec: 0, p50Ms: null });
  expect(second!.connections.connections[0]).toMatchObject({ path: '/ws/x', messagesIn: 3, messagesOut: 3 });
  expect(second!.routes.map((r) => r.name)).toEqual(['app']);
});

test('with metrics off and a shared store, the stream still says there is one (the dashboard offers the cluster view)', async () => {
  const redis = await startRedis();
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { metrics: { enabled: false }, store: { redis: redis.url, timeout: '1s' } }));
  await gw.waitForLog((l) => l.event === 'store_up');
  await openWs(gw.wsUrl('/ws/x'));
  const [first] = await snapshots(gw.adminUrl('/api/events?scope=cluster'), 1);
  expect(first).toMatchObject({ metrics: false, sharedStore: true, connections: { scope: 'cluster', total: 1, complete: true } });
});

test('with metrics on (the default) the same traffic is counted', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws/x'));
  await expectEcho(ws, 'm');
  const text = await (await fetch(gw.adminUrl('/metrics'))).text();
  expect(text).toContain('wsgate_ws_messages_total{route="app",direction="client_to_upstream"} 1');
});

test('metrics.enabled must be a boolean, and metrics takes no other key', () => {
  expect(() => new Gateway({ metrics: { enabled: 'no' } } as never)).toThrow(/metrics\.enabled/);
  expect(() => new Gateway({ metrics: { enable: false } } as never)).toThrow(/metrics/);
});
