// config/check-edge and the route `cors` / `rateLimit` schema: every mistake named with its path and fix.
import { expect, test } from 'vitest';
import { checkConfig } from '../../../src/config/check.js';
import { compileConfig } from '../../../src/config/compile.js';
import type { Problem } from '../../../src/config/load.js';

function withRoute(extra: Record<string, unknown>): unknown {
  return {
    upstreams: { app: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app', ...extra }],
  };
}

function problemsOf(extra: Record<string, unknown>): Problem[] {
  const result = checkConfig(withRoute(extra));
  expect(result.config).toBeNull();
  return result.problems;
}

test('credentials with origins ["*"] is refused on credentials, naming both fixes', () => {
  expect(problemsOf({ cors: { origins: ['*'], credentials: true } })).toEqual([
    { path: 'routes[0].cors.credentials', message: 'credentials: true cannot be used with origins ["*"] (browsers refuse it); list the allowed origins, or set credentials: false' },
  ]);
});

test('"*" mixed with listed origins, and "*" header lists with credentials, are refused', () => {
  expect(problemsOf({ cors: { origins: ['*', 'https://a.example'] } }).map((p) => p.path)).toEqual(['routes[0].cors.origins']);
  const problems = problemsOf({ cors: { origins: ['https://a.example'], credentials: true, headers: ['*'], exposeHeaders: ['*'] } });
  expect(problems.map((p) => p.path)).toEqual(['routes[0].cors.headers', 'routes[0].cors.exposeHeaders']);
  expect(problems[0]!.message).toContain('list the header names');
});

test('an origin with a path, no scheme or an empty list is refused with the expected form', () => {
  for (const bad of ['https://app.example.com/', 'app.example.com', 'https://app.example.com/path', 'https://*example.com']) {
    const problems = problemsOf({ cors: { origins: [bad] } });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('routes[0].cors.origins[0]');
    expect(problems[0]!.message).toContain('scheme://host[:port]');
  }
  expect(problemsOf({ cors: { origins: [] } })[0]!.path).toBe('routes[0].cors.origins');
});

test('rateLimit: the key must be ip, user, apiKey or header:NAME, per above 0, and unknown keys are named', () => {
  expect(problemsOf({ rateLimit: { requests: 10, per: '1s', key: 'cookie:x' } })).toEqual([{ path: 'routes[0].rateLimit.key', message: 'rateLimit.key is ip, user, apiKey or header:NAME' }]);
  expect(problemsOf({ rateLimit: { requests: 10, per: '0s' } })[0]!.path).toBe('routes[0].rateLimit.per');
  expect(problemsOf({ rateLimit: { requests: 0, per: '1s' } })[0]!.path).toBe('routes[0].rateLimit.requests');
  expect(problemsOf({ rateLimit: { requests: 1, per: '1s', window: '1s' } })[0]!.path).toBe('routes[0].rateLimit.window');
});

test('valid cors and rateLimit compile: defaults filled, origins lower-cased, websocket.origins taken from cors', () => {
  const { config, problems } = checkConfig(
    withRoute({
      match: { path: '/*', methods: ['GET', 'POST', 'OPTIONS'] },
      cors: { origins: ['https://App.example.com', 'https://*.example.org'], credentials: true, maxAge: '0s' },
      rateLimit: { requests: 600, per: '1m', key: 'header:X-Tenant' },
    }),
  );
  expect(problems).toEqual([]);
  const route = compileConfig(config!).routes[0]!;
  expect(route.cors).toMatchObject({ credentials: true, allowMethods: 'GET, POST', allowHeaders: null, exposeHeaders: null, maxAge: null });
  expect(route.cors!.origins!.includes('https://app.example.com')).toBe(true);
  expect(route.websocket.origins!.includes('https://chat.example.org')).toBe(true);
  expect(route.websocket.origins!.includes('https://evil.example')).toBe(false);
  expect(JSON.parse(JSON.stringify(route.websocket.origins))).toEqual(['https://app.example.com', 'https://*.example.org']);
  expect(route.rateLimit).toEqual({ requests: 600, perMs: 60_000, burst: 600, key: { from: 'header', name: 'x-tenant' }, keyText: 'header:X-Tenant' });
});
