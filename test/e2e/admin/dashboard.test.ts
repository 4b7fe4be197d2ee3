import { test, expect } from 'vitest';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startWsEcho } from '../../helpers/servers.js';

test('the admin listener serves the dashboard page at / without the token, and its script parses', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url, {}, { admin: { listen: '127.0.0.1:0', token: 'sekret-token-1234' } }));
  const res = await fetch(gw.adminUrl('/'));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const html = await res.text();
  expect(html).toContain('<title>wsgate dashboard</title>');
  expect(html).not.toContain('sekret-token-1234');
  // Self-contained: nothing loaded from elsewhere, and it reads the event stream, not polling.
  expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
  expect(html).not.toMatch(/@import|url\(/i);
  expect(html).toContain("fetch('/api/events'");
  const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
  // Compiled, never run: a syntax check of the page's script.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  expect(() => new Function(script)).not.toThrow();
  // The data behind it still needs the token.
  expect((await fetch(gw.adminUrl('/api/connections'))).status).toBe(401);
});

test('POST /api/reload on a gateway built in code (no config file) answers 409 NO_CONFIG_SOURCE', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const res = await fetch(gw.adminUrl('/api/reload'), { method: 'POST' });
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NO_CONFIG_SOURCE');
});
