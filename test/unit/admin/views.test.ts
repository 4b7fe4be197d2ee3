// admin/views: secrets redacted from the config view, and how a cluster primary merges its workers'
// views (the cluster itself: e2e/cli/workers).
import { expect, test } from 'vitest';
import { mergeConnections, mergeUpstreams, redactConfig, type ConnectionView, type TargetView } from '../../../src/admin/views.js';

function target(url: string, activeConnections: number, inFlightRequests: number, healthy = true): TargetView {
  return { url, weight: 1, backup: false, healthy, healthReason: healthy ? 'ok' : 'status 500', lastCheck: null, ejectedUntil: null, effectiveWeight: 1, activeConnections, inFlightRequests };
}

// A live connection as a worker reports it (admin/views ConnectionView).
function conn(id: string, openedAt: string): ConnectionView {
  return { id, route: 'chat', path: '/ws/chat', host: 'gw.example', client: '10.0.0.1', clientPort: 50000, userAgent: 'test', user: null, target: 'http://a:1', protocol: '', openedAt, lastActivity: openedAt, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
}

test('mergeUpstreams sums each target over the workers and calls it healthy only if every worker does', () => {
  const merged = mergeUpstreams([
    [{ name: 'chat', balance: 'round_robin', targets: [target('http://a:1', 2, 1), target('http://b:1', 0, 0)] }],
    [{ name: 'chat', balance: 'round_robin', targets: [target('http://a:1', 3, 0), target('http://b:1', 1, 4, false)] }],
  ]);
  expect(merged).toEqual([{ name: 'chat', balance: 'round_robin', targets: [target('http://a:1', 5, 1), target('http://b:1', 1, 4, false)] }]);
});

test('mergeUpstreams keeps the latest check and ejection and the lowest slow-start weight over the workers', () => {
  const early = { at: '2026-01-01T00:00:01.000Z', result: 'ok' };
  const late = { at: '2026-01-01T00:00:02.000Z', result: 'timeout' };
  const merged = mergeUpstreams([
    [{ name: 'chat', balance: 'round_robin', targets: [{ ...target('http://a:1', 0, 0), lastCheck: late, effectiveWeight: 0.4 }] }],
    [{ name: 'chat', balance: 'round_robin', targets: [{ ...target('http://a:1', 0, 0, false), lastCheck: early, ejectedUntil: '2026-01-01T00:00:30.000Z' }] }],
  ]);
  expect(merged[0]!.targets).toEqual([
    { ...target('http://a:1', 0, 0, false), lastCheck: late, ejectedUntil: '2026-01-01T00:00:30.000Z', effectiveWeight: 0.4 },
  ]);
});

test('mergeUpstreams keeps a URL listed twice in one upstream as two targets, and upstreams only one worker has', () => {
  const merged = mergeUpstreams([
    [{ name: 'api', balance: 'round_robin', targets: [target('http://a:1', 1, 0), target('http://a:1', 2, 0)] }],
    [
      { name: 'api', balance: 'round_robin', targets: [target('http://a:1', 10, 0), target('http://a:1', 20, 0)] },
      { name: 'new', balance: 'round_robin', targets: [target('http://n:1', 1, 1)] },
    ],
  ]);
  expect(merged).toEqual([
    { name: 'api', balance: 'round_robin', targets: [target('http://a:1', 11, 0), target('http://a:1', 22, 0)] },
    { name: 'new', balance: 'round_robin', targets: [target('http://n:1', 1, 1)] },
  ]);
});

test('mergeConnections tags each connection with its worker, sorts oldest first, and applies the limit after merging', () => {
  const at = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const merged = mergeConnections(
    [
      { worker: 1, list: { connections: [conn('a', at(1)), conn('c', at(3))], total: 5 } },
      { worker: 2, list: { connections: [conn('b', at(2)), conn('d', at(4))], total: 2 } },
    ],
    3,
  );
  expect(merged).toEqual({
    connections: [
      { ...conn('a', at(1)), worker: 1 },
      { ...conn('b', at(2)), worker: 2 },
      { ...conn('c', at(3)), worker: 1 },
    ],
    total: 7,
  });
});

test('redactConfig hides secret values at any depth and keeps the rest', () => {
  const config = {
    admin: { listen: '127.0.0.1:9901', token: 'sekret' },
    auth: { users: { type: 'jwt', secret: 'hs-key', apiKey: '' }, partners: { keys: [{ id: 'acme', sha256: 'ab12' }] } },
    store: { redis: { password: 'pw', host: 'r' } },
    anomaly: { webhook: 'https://hooks.example.com/T0/B0/secret' },
  };
  expect(redactConfig(config)).toEqual({
    admin: { listen: '127.0.0.1:9901', token: '[redacted]' },
    auth: { users: { type: 'jwt', secret: '[redacted]', apiKey: '' }, partners: { keys: [{ id: 'acme', sha256: '[redacted]' }] } },
    store: { redis: { password: '[redacted]', host: 'r' } },
    anomaly: { webhook: '[redacted]' },
  });
  expect(config.admin.token).toBe('sekret');
});
