// browser: the admin dashboard in headless Chromium, as an operator sees it (issue 10): it asks for
// the admin token, then updates live from the event stream while HTTP and WebSocket traffic flows:
// the counters and the charts move, a new WebSocket appears in the connection list, and its close
// button closes it with 1008. With a shared store (issue 11) the list switches to the cluster's
// connections, and closes one another instance holds. Skipped (with a reason) where no Chromium is installed.
import { existsSync } from 'node:fs';
import { expect, onTestFinished, test } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startRedis } from '../../helpers/redis.js';
import type { ClusterConnectionList } from '../../../src/admin/views.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { closed, nextMessage, openWs } from '../../helpers/clients.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const TOKEN = 'dashboard-token-9876';

async function launch(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  onTestFinished(() => browser.close());
  return browser;
}

test.skipIf(!hasChromium)('the dashboard shows live traffic, lists a new WebSocket and closes it with 1008 from its button', async () => {
  const api = await startHttpUpstream((_req, res) => res.end('ok'));
  const echo = await startWsEcho();
  const gw = await startGateway({
    admin: { listen: '127.0.0.1:0', token: TOKEN },
    upstreams: { api: { targets: [{ url: api.url }] }, realtime: { targets: [{ url: echo.url }] } },
    routes: [
      { name: 'chat', match: { path: '/ws/*' }, upstream: 'realtime' },
      { name: 'api', match: { path: '/*' }, upstream: 'api' },
    ],
  });

  const browser = await launch();
  const page = await browser.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(gw.adminUrl('/'));
  expect(await page.title()).toBe('wsgate dashboard');

  // The stream answers 401 without the token: the page asks for it, and then goes live.
  await page.locator('#token-form').waitFor();
  await page.fill('#token', TOKEN);
  await page.click('#token-form button');
  await page.locator('#status', { hasText: 'live' }).waitFor();
  await page.locator('#routes tr', { hasText: 'chat' }).waitFor();
  await page.locator('#upstreams tr', { hasText: echo.url }).getByText('healthy').waitFor();
  const rpsPointsBefore = await page.getAttribute('#c-rps polyline', 'points');
  // No shared store: no cluster switch.
  expect(await page.isHidden('#scope')).toBe(true);

  // Traffic that keeps flowing while the page is watched: WebSocket messages both ways and HTTP
  // requests, one of each at a time, so every snapshot in between sees some.
  const ws = await openWs(gw.wsUrl('/ws/lobby'));
  const traffic = { on: true, messages: 0 };
  const flowing = (async (): Promise<void> => {
    while (traffic.on) {
      const echoed = nextMessage(ws);
      ws.send(`message ${traffic.messages++}`);
      await echoed;
      expect((await fetch(gw.url(`/items/${traffic.messages}`))).status).toBe(200);
    }
  })();

  // The counters move, and so do the charts' data points.
  await page.waitForFunction(() => Number(document.getElementById('rps')!.textContent) > 0);
  await page.waitForFunction(() => Number(document.getElementById('n-conns')!.textContent) === 1);
  await page.waitForFunction(() => /^in [1-9]/.test(document.getElementById('n-msgs-in')!.textContent));
  expect(await page.getAttribute('#c-rps polyline', 'points')).not.toBe(rpsPointsBefore);
  expect(Number(await page.getAttribute('#c-rps svg', 'data-max'))).toBeGreaterThan(0);
  expect(Number(await page.getAttribute('#c-msgs svg', 'data-max'))).toBeGreaterThan(0);
  await expect.poll(async () => (await page.textContent('#routes tr:has-text("api") td:nth-child(6)'))?.trim()).not.toBe('–'); // p50
  traffic.on = false;
  await flowing;

  // The new connection is listed; a filter that excludes it hides it, clearing it brings it back.
  const row = page.locator('#conns tr', { hasText: '/ws/lobby' });
  await row.waitFor();
  expect(await row.textContent()).toContain('chat');
  await page.fill('#f-path', '/ws/other');
  await page.locator('#conns', { hasText: 'no live connections match the filter' }).waitFor();
  await page.fill('#f-path', '/ws/lo');
  await row.waitFor();

  // Its close button (after the confirmation) closes it with 1008.
  page.on('dialog', (d) => void d.accept());
  const clientSees = closed(ws);
  await row.getByRole('button', { name: 'close' }).click();
  expect(await clientSees).toEqual({ code: 1008, reason: 'closed by operator' });
  await page.locator('#closes tr[data-code="1008"]').waitFor();
  await page.locator('#conns', { hasText: 'no live connections' }).waitFor();

  // The token never went into a URL.
  expect(requested.some((u) => u.includes(TOKEN))).toBe(false);
}, 60_000);

test.skipIf(!hasChromium)("with a shared store, the cluster switch lists another instance's connection with its instance, and its close button closes it with 1008", async () => {
  const redis = await startRedis();
  const echo = await startWsEcho();
  const config = proxyConfig(echo.url, {}, { admin: { listen: '127.0.0.1:0' }, store: { redis: redis.url, timeout: '1s' } });
  const [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
  await Promise.all([a, b].map((g) => g.waitForLog((l) => l.event === 'store_up')));
  await openWs(a.wsUrl('/ws/on-a'));
  const onB = await openWs(b.wsUrl('/ws/on-b'));
  const instanceB = ((await (await fetch(b.adminUrl('/api/connections?scope=cluster'))).json()) as ClusterConnectionList).instances[0]!.instance;

  const page = await (await launch()).newPage();
  await page.goto(a.adminUrl('/'));
  // This instance first: only A's connection, no instance column.
  await page.locator('#conns tr', { hasText: '/ws/on-a' }).waitFor();
  expect(await page.isVisible('#scope')).toBe(true);
  expect(await page.isHidden('#th-instance')).toBe(true);
  expect(await page.locator('#conns tr', { hasText: '/ws/on-b' }).count()).toBe(0);

  await page.selectOption('#scope', 'cluster');
  const row = page.locator('#conns tr', { hasText: '/ws/on-b' });
  await row.waitFor();
  expect(await row.textContent()).toContain(instanceB);
  expect(await page.isVisible('#th-instance')).toBe(true);
  await page.locator('#conn-count', { hasText: 'on 2 instances' }).waitFor();
  expect(await page.isHidden('#conn-note')).toBe(true);

  page.on('dialog', (d) => void d.accept());
  const clientSees = closed(onB);
  await row.getByRole('button', { name: 'close' }).click();
  expect(await clientSees).toEqual({ code: 1008, reason: 'closed by operator' });
  await row.waitFor({ state: 'detached' });

  // The store gone: the list says it is incomplete.
  await redis.stop();
  await page.locator('#conn-note', { hasText: 'incomplete' }).waitFor();
}, 60_000);
