// unit: server/warmup's pure parts: the limits an option turns into, and the private gateway's config.
import { expect, test } from 'vitest';
import { parseConfig } from '../../../src/config/check.js';
import { compileConfig } from '../../../src/config/compile.js';
import { DEFAULT_WARMUP, MAX_WARMUP_MS, warmupConfig, warmupLimits } from '../../../src/server/warmup.js';

test('no option or false is no warm-up; true is the defaults', () => {
  expect(warmupLimits(undefined)).toBeNull();
  expect(warmupLimits(false)).toBeNull();
  expect(warmupLimits(true)).toEqual(DEFAULT_WARMUP);
});

test('given limits replace the defaults one by one; a negative or non-finite one falls back to its default', () => {
  expect(warmupLimits({ requests: 10, budgetMs: 50 })).toEqual({ ...DEFAULT_WARMUP, requests: 10, budgetMs: 50 });
  expect(warmupLimits({ messages: 0 })).toMatchObject({ messages: 0 });
  expect(warmupLimits({ handshakes: -1, requests: Number.NaN, messages: 2.7 })).toEqual({ ...DEFAULT_WARMUP, messages: 2 });
});

test('the default budget bounds start-up to well under a second, and no flag can make it longer than ten', () => {
  expect(DEFAULT_WARMUP.budgetMs).toBeLessThanOrEqual(500);
  expect(MAX_WARMUP_MS).toBe(10_000);
});

test('the private gateway listens on loopback port 0 with one route to the loopback upstream, at the real log level', () => {
  const c = compileConfig(parseConfig(warmupConfig(4321, { logLevel: 'warn', metricsEnabled: false })));
  expect(c.listeners).toEqual([expect.objectContaining({ host: '127.0.0.1', port: 0, tls: null })]);
  expect(c.routes.map((r) => [r.name, r.upstream, r.path])).toEqual([['warmup', 'warmup', '/*']]);
  expect([...c.upstreams.get('warmup')!.targets].map((t) => t.origin)).toEqual(['http://127.0.0.1:4321']);
  expect(c.log.level).toBe('warn');
  expect(c.metrics.enabled).toBe(false);
  expect(c.anomaly.enabled).toBe(false);
});
