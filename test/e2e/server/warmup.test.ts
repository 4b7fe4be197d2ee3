// e2e: the start-up warm-up (issue 14, "fast from the first second"): a private gateway relays
// loopback traffic before the listeners accept; the real gateway's metrics, connection list and
// access log never show it, nothing of it outlives start-up, and a warm-up that fails only logs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { closed, nextMessage, openWs } from '../../helpers/clients.js';
import { ROOT, startCli, writeConfig, yamlConfig } from '../../helpers/cli.js';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { fetchText, occupiedPort } from '../../helpers/http.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';

// Counts small enough to finish well inside the budget, so the line's counts are exact.
const SMALL = { requests: 40, messages: 30, handshakes: 6, budgetMs: 20_000 };

function trafficLines(metrics: string): string[] {
  return metrics.split('\n').filter((l) => /^wsgate_(http_requests_total|ws_connections_total|ws_messages_total|ws_closes_total|upstream_requests_total)\{/.test(l));
}

test('logs one warmup line with its counts before listening, and the real gateway shows none of that traffic', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('real'));
  const gw = await startGateway(proxyConfig(up.url), undefined, { warmup: SMALL });

  const warmup = gw.logs.find((l) => l.event === 'warmup');
  expect(warmup).toMatchObject({ level: 'info', requests: 40, messages: 30, handshakes: 6 });
  expect(typeof warmup!.ms).toBe('number');
  expect(gw.logs.indexOf(warmup!)).toBeLessThan(gw.logs.findIndex((l) => l.event === 'listening'));

  // No request, tunnel, message or upstream exchange of the warm-up is counted or listed here.
  expect(trafficLines(await fetchText(gw.adminUrl('/metrics')).then((r) => r.body))).toEqual([]);
  expect(JSON.parse((await fetchText(gw.adminUrl('/api/connections'))).body)).toMatchObject({ total: 0, connections: [] });
  expect(gw.logs.filter((l) => l.event === 'http_request' || l.event === 'ws_open' || l.event === 'ws_close')).toEqual([]);
  expect(up.requests).toHaveLength(0); // the real upstream saw nothing either

  // The same scrape counts real traffic: the absence above is not a metric that never counts.
  expect((await fetchText(gw.url('/x'))).body).toBe('real');
  const after = trafficLines((await fetchText(gw.adminUrl('/metrics'))).body);
  expect(after).toContainEqual(expect.stringMatching(/^wsgate_http_requests_total\{route="app",method="GET",status="200"\} 1$/));
  expect(after.join('\n')).not.toMatch(/warmup/);
  expect(gw.logs.filter((l) => l.event === 'http_request')).toHaveLength(1);
});

test('a gateway that warmed up relays WebSocket messages as one that did not', async () => {
  const echo = await startWsEcho();
  const gw = await startGateway(proxyConfig(echo.url), undefined, { warmup: SMALL });
  const ws = await openWs(gw.wsUrl('/ws'));
  ws.send('after the warm-up');
  expect((await nextMessage(ws)).data.toString()).toBe('after the warm-up');
  ws.close(1000);
  await closed(ws);
  const list = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(list).toMatchObject({ route: 'app', code: 1000 });
  expect(gw.logs.filter((l) => l.event === 'ws_open')).toHaveLength(1);
});

test('a warm-up whose upstream cannot start only logs a warning, and the gateway starts cold', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('still serving'));
  const gw = await startGateway(proxyConfig(up.url), undefined, { warmup: { ...SMALL, upstreamPort: await occupiedPort() } });

  expect(gw.logs.find((l) => l.event === 'warmup')).toMatchObject({ level: 'warn', err: { code: 'EADDRINUSE' } });
  expect(gw.logs.some((l) => l.event === 'listening')).toBe(true);
  expect((await fetchText(gw.url('/'))).body).toBe('still serving');
});

test('leaves no socket or timer behind: a process that warmed up, listened and closed exits by itself', async () => {
  // No process.exit() in the child: it ends only when nothing holds its event loop.
  const gateway = pathToFileURL(join(ROOT, 'src/server/gateway.ts')).href;
  const script = `
    import { Gateway } from ${JSON.stringify(gateway)};
    const gw = new Gateway({ listen: [{ port: 0, host: '127.0.0.1' }], admin: { listen: '127.0.0.1:0' }, log: { level: 'warn' },
      upstreams: { app: { targets: [{ url: 'http://127.0.0.1:9' }] } }, routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }] },
      { warmup: ${JSON.stringify(SMALL)} });
    await gw.listen();
    await gw.close();
    process.stderr.write('closed\\n');
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(stderr).toBe('closed\n');
  expect(code).toBe(0);
});

test('wsgate start warms up before it listens; --no-warmup starts without', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const file = writeConfig('wsgate.yaml', yamlConfig({ upstreams: { app: up.url }, routes: '  - name: app\n    match: { path: /* }\n    upstream: app\n' }));

  const warm = startCli(['start', '-c', file]);
  const line = await warm.waitForEvent('warmup');
  expect(line).toMatchObject({ level: 'info' });
  expect(line.requests).toBeGreaterThan(0);
  expect(line.messages).toBeGreaterThan(0);
  expect(line.handshakes).toBeGreaterThan(0);
  await warm.waitForEvent('listening');
  warm.signal('SIGTERM');
  expect((await warm.exited).code).toBe(0);

  const cold = startCli(['start', '-c', file, '--no-warmup']);
  await cold.waitForEvent('listening');
  expect(cold.logs.some((l) => l.event === 'warmup')).toBe(false);
  cold.signal('SIGTERM');
  expect((await cold.exited).code).toBe(0);

  // --warmup sets the budget the line reports; 0s is the same as --no-warmup.
  const short = startCli(['start', '-c', file, '--warmup', '200ms']);
  expect(await short.waitForEvent('warmup')).toMatchObject({ budgetMs: 200 });
  await short.waitForEvent('listening');
  short.signal('SIGTERM');
  expect((await short.exited).code).toBe(0);
  const none = startCli(['start', '-c', file, '--warmup', '0s']);
  await none.waitForEvent('listening');
  expect(none.logs.some((l) => l.event === 'warmup')).toBe(false);
  none.signal('SIGTERM');
  expect((await none.exited).code).toBe(0);
});

test('wsgate start --warmup with something that is not a duration up to 10s exits 1 and says what to write', async () => {
  const bad = startCli(['start', '--warmup', '1m']);
  expect((await bad.closed).code).toBe(1);
  expect(bad.stderr()).toContain('--warmup 1m: write a duration from 0s to 10s');
});

test('every cluster worker warms up on its own listeners, and none of it reaches the shared port', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('from upstream'));
  const file = writeConfig('wsgate.yaml', yamlConfig({ upstreams: { app: up.url }, routes: '  - name: app\n    match: { path: /* }\n    upstream: app\n' }));
  const cli = startCli(['start', '-c', file, '--workers', '2']);
  const { listeners, admin } = await cli.ports();
  // Every answer on the shared port comes from the real upstream, none from a private warm-up one.
  for (let i = 0; i < 6; i++) expect((await fetchText(`http://127.0.0.1:${listeners[0]}/x`)).body).toBe('from upstream');
  const metrics = (await fetchText(`http://127.0.0.1:${admin}/metrics`)).body;
  expect(metrics).toMatch(/^wsgate_http_requests_total\{route="app",method="GET",status="200"\} 6$/m);
  expect(metrics).not.toMatch(/route="warmup"/);
  cli.signal('SIGTERM');
  expect((await cli.closed).code).toBe(0);
  // Read once the output is whole: workers write their lines through their own pipes' buffers.
  const lines = cli.logs.filter((l) => l.event === 'warmup');
  expect(lines.map((l) => l.worker).sort()).toEqual([1, 2]);
  for (const l of lines) expect(l).toMatchObject({ level: 'info' });
});
