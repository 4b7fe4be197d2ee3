import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { ConfigError, checkConfig, formatProblems, parseConfig } from '../../../src/config/check.js';
import { loadConfigFile, type Problem } from '../../../src/config/load.js';

// Fixtures are deliberately ill-typed (the point is to feed the checker wrong shapes), hence `any` here
// only, and the unchecked reads and calls the cases below make on it.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = Record<string, any>;

// A small valid config; each case below changes one thing in a fresh copy.
function base(): Raw {
  return {
    upstreams: { chat: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { json: { message: 'pong' } } },
      { name: 'chat', match: { path: '/ws/*' }, upstream: 'chat' },
    ],
  };
}

function problemsOf(change: (c: Raw) => void): Problem[] {
  const config = base();
  change(config);
  const result = checkConfig(config);
  expect(result.config).toBeNull();
  return result.problems;
}

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

test.each<{ name: string; change: (c: Raw) => void; path: string; message: string | RegExp }>([
  // schema
  { name: 'a duration with a space', change: (c) => { c.upstreams.chat.timeouts = { connect: '5 s' }; },
    path: 'upstreams.chat.timeouts.connect', message: /^invalid duration: write a number and a unit with no space/ },
  { name: 'an invalid size', change: (c) => { c.limits = { maxBodyBytes: '10 megabytes' }; },
    path: 'limits.maxBodyBytes', message: /^invalid size/ },
  { name: 'a size of the wrong type', change: (c) => { c.limits = { maxBodyBytes: true }; },
    path: 'limits.maxBodyBytes', message: 'expected a string or a number, got true or false' },
  { name: 'a quoted port', change: (c) => { c.listen = [{ port: '8080' }]; },
    path: 'listen[0].port', message: 'expected a number, got the string "8080"; remove the quotes' },
  { name: 'a missing route name', change: (c) => { delete c.routes[0].name; },
    path: 'routes[0].name', message: 'missing; add a string' },
  { name: 'an empty section', change: (c) => { c.admin = null; },
    path: 'admin', message: 'is empty; write an object (key: value pairs) here, or remove the key' },
  { name: 'a string where a list belongs', change: (c) => { c.trustedProxies = '10.0.0.0/8'; },
    path: 'trustedProxies', message: /^expected a list, got a string; write \[a, b\]/ },
  { name: 'an unknown log level', change: (c) => { c.log = { level: 'inf' }; },
    path: 'log.level', message: /^"inf" is not allowed \(did you mean "info"\?\); use one of: "trace", "debug", "info"/ },
  { name: 'an upstream without targets', change: (c) => { c.upstreams.chat.targets = []; },
    path: 'upstreams.chat.targets', message: 'an upstream needs at least one target' },
  { name: 'a path without a leading slash', change: (c) => { c.routes[0].match.path = 'ping'; },
    path: 'routes[0].match.path', message: 'a path pattern starts with "/"' },
  { name: 'a port out of range', change: (c) => { c.listen = [{ port: 70000 }]; },
    path: 'listen[0].port', message: 'must be at most 65535' },
  { name: 'an unknown key close to a known one', change: (c) => { c.routes[1].upsteam = 'chat'; },
    path: 'routes[1].upsteam', message: 'unknown key "upsteam" (did you mean "upstream"?)' },
  { name: 'an unknown key in a nested object', change: (c) => { c.routes[0].respond.bdy = 'x'; },
    path: 'routes[0].respond.bdy', message: 'unknown key "bdy" (did you mean "body"?)' },
  { name: 'an unknown key inside a record value', change: (c) => { c.upstreams.chat.timeout = {}; },
    path: 'upstreams.chat.timeout', message: 'unknown key "timeout" (did you mean "timeouts"?)' },
  { name: 'an unknown key with nothing close', change: (c) => { c.routes[0].bogus = 1; },
    path: 'routes[0].bogus', message: 'unknown key "bogus"; remove it (allowed here: name, match, upstream, respond, stripPrefix, rewrite, headers, websocket, auth, cors, rateLimit, log)' },
  { name: 'an unknown top-level key', change: (c) => { c.rotues = []; },
    path: 'rotues', message: 'unknown key "rotues" (did you mean "routes"?)' },

  // references and route shape
  { name: 'an unknown upstream close to a known one', change: (c) => { c.routes[1].upstream = 'chta'; },
    path: 'routes[1].upstream', message: 'unknown upstream "chta" (did you mean "chat"?)' },
  { name: 'an unknown upstream with nothing close', change: (c) => { c.routes[1].upstream = 'billing'; },
    path: 'routes[1].upstream', message: 'unknown upstream "billing"; define it under upstreams or use one of: "chat"' },
  { name: 'a duplicate route name', change: (c) => { c.routes.push({ name: 'ping', match: { path: '/p' }, upstream: 'chat' }); },
    path: 'routes[2].name', message: 'duplicate route name "ping" (also routes[0]); give each route its own name' },
  { name: 'a route with upstream and respond', change: (c) => { c.routes[1].respond = { status: 200 }; },
    path: 'routes[1]', message: 'a route needs exactly one of upstream or respond; remove one of them' },
  { name: 'a route with neither upstream nor respond', change: (c) => { delete c.routes[1].upstream; },
    path: 'routes[1]', message: 'a route needs exactly one of upstream or respond; add upstream: NAME or respond: { status: 200 }' },
  { name: 'respond with json and body', change: (c) => { c.routes[0].respond.body = 'pong'; },
    path: 'routes[0].respond', message: 'write either json or body, not both' },

  // target URLs
  { name: 'an invalid target URL', change: (c) => { c.upstreams.chat.targets[0].url = 'http://exa mple:80'; },
    path: 'upstreams.chat.targets[0].url', message: /is not a valid URL; write it like http:\/\/127\.0\.0\.1:3001$/ },
  { name: 'a target URL without a scheme', change: (c) => { c.upstreams.chat.targets[0].url = 'localhost:3001'; },
    path: 'upstreams.chat.targets[0].url', message: '"localhost:3001" has no scheme; write it like http://localhost:3001' },
  { name: 'a target URL with another scheme', change: (c) => { c.upstreams.chat.targets[0].url = 'ftp://files:21'; },
    path: 'upstreams.chat.targets[0].url', message: /^unsupported scheme "ftp:"; use http: or https:/ },
  { name: 'a target URL with a path', change: (c) => { c.upstreams.chat.targets[0].url = 'http://127.0.0.1:3001/v1'; },
    path: 'upstreams.chat.targets[0].url', message: /has a path, query or fragment; .*put path changes in the route \(stripPrefix\/rewrite\)$/ },
  { name: 'a target URL with a query', change: (c) => { c.upstreams.chat.targets[0].url = 'http://127.0.0.1:3001?x=1'; },
    path: 'upstreams.chat.targets[0].url', message: /has a path, query or fragment/ },
  { name: 'a target URL with credentials, never echoed', change: (c) => { c.upstreams.chat.targets[0].url = 'http://user:hunter2@host:1'; },
    path: 'upstreams.chat.targets[0].url', message: /^a target URL cannot hold credentials; remove them/ },
  { name: 'an upstream whose targets are all backups', change: (c) => { c.upstreams.chat.targets[0].backup = true; },
    path: 'upstreams.chat.targets', message: /every target is a backup.*remove backup: true from at least one/ },
  { name: 'hashOn without balance: hash', change: (c) => { c.upstreams.chat.hashOn = 'header:X-User'; },
    path: 'upstreams.chat.hashOn', message: 'hashOn is only used with balance: hash, and this upstream balances by round_robin; add balance: hash or remove hashOn' },
  { name: 'hashOn beside another balance policy', change: (c) => { c.upstreams.chat.balance = 'least_conn'; c.upstreams.chat.hashOn = 'ip'; },
    path: 'upstreams.chat.hashOn', message: /this upstream balances by least_conn; add balance: hash or remove hashOn$/ },
  { name: 'an odd upstream name in a path', change: (c) => { c.upstreams['a.b'] = { targets: [{ url: 'x' }] }; },
    path: 'upstreams["a.b"].targets[0].url', message: /has no scheme/ },

  // path patterns
  { name: 'a star inside a segment', change: (c) => { c.routes[1].match.path = '/ws*'; },
    path: 'routes[1].match.path', message: '"/ws*": "*" may only be the whole last segment, as in "/api/*"' },
  { name: 'a star before the last segment', change: (c) => { c.routes[1].match.path = '/ws/*/x'; },
    path: 'routes[1].match.path', message: '"/ws/*/x": "*" may only be the whole last segment, as in "/api/*"' },
  { name: 'a trailing slash', change: (c) => { c.routes[1].match.path = '/ws/'; },
    path: 'routes[1].match.path', message: '"/ws/" ends with "/"; write "/ws" for exactly that path or "/ws/*" for everything under it' },
  { name: 'an empty segment', change: (c) => { c.routes[1].match.path = '/a//b'; },
    path: 'routes[1].match.path', message: '"/a//b" has an empty segment ("//"); remove the extra "/"' },
  { name: 'a parameter with a bad name', change: (c) => { c.routes[1].match.path = '/users/:1d'; },
    path: 'routes[1].match.path', message: /^"\/users\/:1d": parameter ":1d" must be a whole segment named with letters, digits and _/ },
  { name: 'a parameter inside a segment', change: (c) => { c.routes[1].match.path = '/users/x:id'; },
    path: 'routes[1].match.path', message: '"/users/x:id": ":" starts a parameter and must begin a segment, as in "/users/:id"' },
  { name: 'a repeated parameter', change: (c) => { c.routes[1].match.path = '/a/:id/b/:id'; },
    path: 'routes[1].match.path', message: '"/a/:id/b/:id" uses ":id" twice; give each parameter its own name' },
  { name: 'a dot segment', change: (c) => { c.routes[1].match.path = '/a/../b'; },
    path: 'routes[1].match.path', message: /^"\/a\/\.\.\/b" has a "\.\." segment/ },
  { name: 'a query in a path pattern', change: (c) => { c.routes[1].match.path = '/search?q=1'; },
    path: 'routes[1].match.path', message: /holds a query or fragment/ },
  { name: 'a space in a path pattern', change: (c) => { c.routes[1].match.path = '/a b'; },
    path: 'routes[1].match.path', message: /^"\/a b" contains " "; .*percent-encode anything else$/ },

  // host patterns
  { name: 'a host with a port', change: (c) => { c.routes[1].match.host = 'chat.example.com:8080'; },
    path: 'routes[1].match.host', message: '"chat.example.com:8080" has a port; match.host does not take a port (the listener decides it), write "chat.example.com"' },
  { name: 'a wildcard that is not the leading label', change: (c) => { c.routes[1].match.host = 'chat.*.com'; },
    path: 'routes[1].match.host', message: '"chat.*.com": only a whole leading "*." label is allowed, as in "*.example.com"' },
  { name: 'a partial wildcard label', change: (c) => { c.routes[1].match.host = '*chat.example.com'; },
    path: 'routes[1].match.host', message: /only a whole leading "\*\." label/ },
  { name: 'a lone star host', change: (c) => { c.routes[1].match.host = '*'; },
    path: 'routes[1].match.host', message: '"*" matches every host; remove match.host instead' },
  { name: 'a host with a scheme', change: (c) => { c.routes[1].match.host = 'https://chat.example.com/'; },
    path: 'routes[1].match.host', message: /holds a scheme; write the host name only, e.g. "chat\.example\.com"/ },
  { name: 'an invalid host name', change: (c) => { c.routes[1].match.host = 'chat_.-bad'; },
    path: 'routes[1].match.host', message: /is not a valid host name/ },

  // stripPrefix
  { name: 'a stripPrefix outside the path', change: (c) => { c.routes[1].stripPrefix = '/api'; },
    path: 'routes[1].stripPrefix', message: /^"\/api" is not a whole-segment prefix of the route path "\/ws\/\*", so it would never apply; use "\/ws"/ },
  { name: 'a stripPrefix that cuts a segment', change: (c) => { c.routes[1].stripPrefix = '/w'; },
    path: 'routes[1].stripPrefix', message: /is not a whole-segment prefix/ },
  { name: 'a stripPrefix past the static part', change: (c) => { c.routes[1].stripPrefix = '/ws/x'; },
    path: 'routes[1].stripPrefix', message: /is not a whole-segment prefix/ },

  // listeners, admin, proxies
  { name: 'two listeners on one port and host', change: (c) => { c.listen = [{ port: 8080, host: '127.0.0.1' }, { port: 8080, host: '127.0.0.1' }]; },
    path: 'listen[1].port', message: 'port 8080 on 127.0.0.1 is already used by listen[0] (127.0.0.1); use another port or host' },
  { name: 'a listener overlapping a wildcard listener', change: (c) => { c.listen = [{ port: 8080 }, { port: 8080, host: '127.0.0.1' }]; },
    path: 'listen[1].port', message: /already used by listen\[0\] \(0\.0\.0\.0\)/ },
  { name: 'a bracketed listener host', change: (c) => { c.listen = [{ port: 8080, host: '[::1]' }]; },
    path: 'listen[0].host', message: 'write an IPv6 address without brackets, e.g. "::1"' },
  { name: 'an admin address without a port', change: (c) => { c.admin = { listen: '127.0.0.1' }; },
    path: 'admin.listen', message: '"127.0.0.1" is not host:port; write it like 127.0.0.1:9901 (IPv6 as [::1]:9901)' },
  { name: 'an IPv6 admin address without brackets', change: (c) => { c.admin = { listen: '::1:9901' }; },
    path: 'admin.listen', message: '"::1:9901" needs brackets around the IPv6 address, e.g. "[::1]:9901"' },
  { name: 'a public admin address without a token', change: (c) => { c.admin = { listen: '0.0.0.0:9901' }; },
    path: 'admin.listen', message: /^refusing a non-loopback admin address without admin\.token; set admin\.token/ },
  { name: 'a public IPv6 admin address without a token', change: (c) => { c.admin = { listen: '[::]:9901', token: '' }; },
    path: 'admin.listen', message: /^refusing a non-loopback admin address without admin\.token/ },
  { name: 'an admin port used by a listener', change: (c) => { c.listen = [{ port: 9901 }]; },
    path: 'admin.listen', message: 'port 9901 is also used by listen[0]; give the admin listener another port' },
  { name: 'a trusted proxy that is not an IP', change: (c) => { c.trustedProxies = ['10.0.0.0/8', 'proxy.local']; },
    path: 'trustedProxies[1]', message: '"proxy.local" is not an IP address or CIDR; write it like 10.0.0.0/8, 192.168.1.10 or ::1' },
  { name: 'an IPv4 prefix over 32', change: (c) => { c.trustedProxies = ['10.0.0.0/33']; },
    path: 'trustedProxies[0]', message: /^"10\.0\.0\.0\/33" has an invalid prefix length; an IPv4 prefix is 0 to 32/ },
  { name: 'an IPv6 prefix over 128', change: (c) => { c.trustedProxies = ['fd00::/129']; },
    path: 'trustedProxies[0]', message: /an IPv6 prefix is 0 to 128/ },
  { name: 'a non-numeric prefix', change: (c) => { c.trustedProxies = ['10.0.0.0/x']; },
    path: 'trustedProxies[0]', message: /has an invalid prefix length/ },
])('reports $name', ({ change, path, message }) => {
  const problems = problemsOf(change);
  const found = problems.filter((p) => p.path === path);
  expect(found, formatProblems(problems)).toHaveLength(1);
  if (typeof message === 'string') expect(found[0]!.message).toBe(message);
  else expect(found[0]!.message).toMatch(message);
});

test.each(['http://127.0.0.1:3001', 'https://a.example.com', 'ws://127.0.0.1:1/', 'wss://[::1]:443'])('accepts the target URL %s', (url) => {
  const config = base();
  config.upstreams.chat.targets[0].url = url;
  expect(checkConfig(config).problems).toEqual([]);
});

test('balance: hash takes hashOn, and sticky beside it (the cookie wins, the hash places the rest)', () => {
  for (const upstream of [{ balance: 'hash' }, { balance: 'hash', hashOn: 'cookie:uid' }, { balance: 'hash', hashOn: 'query:room', sticky: { cookie: 'sid' } }]) {
    const config = base();
    Object.assign(config.upstreams.chat, upstream);
    expect(checkConfig(config).problems, JSON.stringify(upstream)).toEqual([]);
  }
});

test('hashOn beside a misspelt balance is reported once, as the misspelling', () => {
  const problems = problemsOf((c) => { c.upstreams.chat.balance = 'hsah'; c.upstreams.chat.hashOn = 'ip'; });
  expect(problems.map((p) => p.path)).toEqual(['upstreams.chat.balance']);
});

test('admin on a loopback address needs no token', () => {
  for (const listen of ['127.0.0.1:9901', '127.1.2.3:0', 'localhost:9901', '[::1]:9901']) {
    const config = base();
    config.admin = { listen };
    expect(checkConfig(config).problems, listen).toEqual([]);
  }
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

test('reports a config that is not an object', () => {
  expect(checkConfig([]).problems).toEqual([{ path: '', message: expect.stringMatching(/^expected an object, got a list/) as unknown }]);
  expect(checkConfig(null).problems).toEqual([{ path: '', message: expect.stringMatching(/^is empty/) as unknown }]);
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
