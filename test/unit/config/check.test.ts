import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { ConfigError, checkConfig, formatProblems, parseConfig } from '../../../src/config/check.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { base, problemsOf } from './check-cases.js';

// Cases change the deliberately ill-typed fixture of check-cases.ts.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call */

test('fills in every default and keeps durations and sizes as strings', () => {
  const { config, problems } = checkConfig(base());
  expect(problems).toEqual([]);
  expect(config).toEqual({
    listen: [{ port: 8080, host: '0.0.0.0' }],
    admin: { listen: '127.0.0.1:9901', token: '' },
    workers: 1,
    trustedProxies: [],
    log: { level: 'info', format: 'json' },
    limits: {
      maxHeaderBytes: '16kb',
      maxBodyBytes: '10mb',
      maxConnections: 100_000,
      headersTimeout: '15s',
      requestTimeout: '5m',
      keepAliveTimeout: '75s',
      drainTimeout: '30s',
    },
    anomaly: { enabled: true, sigma: 4, for: '30s', warmup: '5m', window: '5s' },
    metrics: { enabled: true },
    store: 'memory',
    upstreams: {
      chat: {
        targets: [{ url: 'http://127.0.0.1:3001', weight: 1, backup: false }],
        balance: 'round_robin',
        slowStart: '0s',
        onUnhealthy: 'keep',
        closeSpread: '10s',
        timeouts: { connect: '5s', response: '30s', idle: '60s' },
        retries: 1,
        maxConnectionsPerTarget: 10_000,
      },
    },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { status: 200, json: { message: 'pong' } } },
      { name: 'chat', match: { path: '/ws/*' }, upstream: 'chat' },
    ],
  });
});

test('accepts a full config that uses every kind of pattern and address', () => {
  const { problems } = checkConfig({
    listen: [{ port: 8080 }, { port: 8443, host: '127.0.0.1', tls: { cert: 'c.pem', key: 'k.pem' } }, { port: 0 }, { port: 0 }],
    admin: { listen: '10.0.0.5:9901', token: 'secret' },
    trustedProxies: ['127.0.0.1/8', '10.0.0.0/8', '192.168.1.10', '::1', 'fd00::/8'],
    log: { level: 'debug', format: 'pretty' },
    limits: { maxBodyBytes: 1024, headersTimeout: '500ms' },
    upstreams: {
      chat: {
        targets: [{ url: 'ws://127.0.0.1:3001', weight: 2 }, { url: 'https://chat.internal:443/', backup: true }],
        timeouts: { connect: '1s' },
      },
      'api.v1': { targets: [{ url: 'http://[::1]:3002' }] },
    },
    routes: [
      { name: 'root', match: { path: '/' }, respond: { status: 204 } },
      { name: 'all', match: { path: '/*', host: '*.example.com' }, upstream: 'chat' },
      { name: 'user', match: { path: '/users/:id/posts/:post_id', methods: ['GET'] }, upstream: 'api.v1', stripPrefix: '/users' },
      { name: 'api', match: { path: '/api/*', host: 'API.example.com' }, upstream: 'api.v1', stripPrefix: '/api/' },
      { name: 'v6', match: { path: '/v6', host: '[::1]' }, respond: { body: 'hi', headers: { 'content-type': 'text/plain' } } },
    ],
  });
  expect(problems).toEqual([]);
});

test('collects schema problems and cross-check problems from one run', () => {
  const config = base();
  config.upstreams.chat.timeouts = { connect: '5 s' };
  config.routes[1].upstream = 'chta';
  config.routes.push({ name: 'ping', match: { path: '/x', host: 'a.com:1' }, upstream: 'chat', respond: { status: 200 } });
  config.limits = { maxBodyBytes: 'lots' };
  const { config: out, problems } = checkConfig(config);
  expect(out).toBeNull();
  expect(problems.map((p) => p.path).sort()).toEqual([
    'limits.maxBodyBytes',
    'routes[1].upstream',
    'routes[2]',
    'routes[2].match.host',
    'routes[2].name',
    'upstreams.chat.timeouts.connect',
  ]);
});

test('does not repeat a schema problem as a cross-check problem at the same path', () => {
  const problems = problemsOf((c) => { c.routes[1].match.path = 'ws/*'; });
  expect(problems).toEqual([{ path: 'routes[1].match.path', message: 'a path pattern starts with "/"' }]);
});

test('formatProblems writes one "path: message" per line', () => {
  expect(formatProblems([
    { path: 'routes[0].upstream', message: 'unknown upstream "x"' },
    { path: '', message: 'the file is empty' },
  ])).toBe('routes[0].upstream: unknown upstream "x"\nthe file is empty');
});

test('parseConfig returns the config or throws a ConfigError listing every problem', () => {
  expect(parseConfig(base()).routes).toHaveLength(2);
  const config = base();
  config.routes[1].upstream = 'chta';
  config.routes[0].name = 'chat';
  let thrown: unknown;
  try {
    parseConfig(config);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const err = thrown as ConfigError;
  expect(err.name).toBe('ConfigError');
  expect(err.problems).toHaveLength(2);
  expect(err.message).toBe([
    'routes[1].name: duplicate route name "chat" (also routes[0]); give each route its own name',
    'routes[1].upstream: unknown upstream "chta" (did you mean "chat"?)',
  ].join('\n'));
});

test('a configured header whose name is not a token or whose value breaks the line is named with the fix', () => {
  const problems = problemsOf((c) => {
    c.routes[1].headers = { request: { set: { 'x bad': '1', 'x-ok': 'a\nb' } }, response: { remove: ['x:y'] } };
  });
  const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
  expect(byPath['routes[1].headers.request.set["x bad"]']).toMatch(/invalid header name/);
  expect(byPath['routes[1].headers.request.set.x-ok']).toMatch(/invalid header value: no line breaks/);
  expect(byPath['routes[1].headers.response.remove[0]']).toMatch(/invalid header name/);
});

test('a rewrite with a space or a non-ASCII character is refused: it would break the upstream request line', () => {
  for (const rewrite of ['/a b', '/caf\u00e9']) {
    const problems = problemsOf((c) => {
      c.routes[1].rewrite = rewrite;
    });
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([expect.stringMatching(/^routes\[1\]\.rewrite: invalid path: printable ASCII/)]);
  }
});

test('wsgate.example.yaml, the commented example of every key, passes every check', () => {
  const file = fileURLToPath(new URL('../../../wsgate.example.yaml', import.meta.url));
  const { raw, problems } = loadConfigFile(file, {});
  expect(problems).toEqual([]);
  const { config, problems: checked } = checkConfig(raw);
  expect(checked).toEqual([]);
  expect(config?.upstreams.app?.healthCheck).toMatchObject({ path: '/healthz', unhealthyAfter: 3 });
});
