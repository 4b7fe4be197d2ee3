import { describe, expect, test } from 'vitest';
import { METHOD_MISMATCH, createMatcher, parseHostPattern, parsePattern, type Matcher, type RouteEntry } from '../../../src/routing/matcher.js';

type Outcome = string | null | typeof METHOD_MISMATCH;

function outcome(matcher: Matcher<string>, host: string, path: string, method: string): Outcome {
  const found = matcher.match(host, path, method);
  return found === null || found === METHOD_MISMATCH ? found : found.value;
}

const table: RouteEntry<string>[] = [
  { path: '/ping', value: 'ping' },
  { path: '/api/*', value: 'api' },
  { path: '/api/v2/*', value: 'api-v2' },
  { path: '/api/health', value: 'api-health' },
  { path: '/users/:id', value: 'user' },
  { path: '/users/:id/posts/:pid', value: 'user-post' },
  { path: '/users/me', value: 'me' },
  { path: '/users/:id/posts/latest', value: 'user-latest' },
  { path: '/users/*', value: 'users' },
  { path: '/dup', value: 'dup-first' },
  { path: '/dup', value: 'dup-second' },
  { path: '/both/*', value: 'both-first' },
  { path: '/both/*', value: 'both-second' },
  { path: '/admin', methods: ['POST'], value: 'admin-post' },
  { path: '/admin', methods: ['DELETE'], value: 'admin-delete' },
  { path: '/read', methods: ['GET'], value: 'read' },
  { path: '/mixed/x', methods: ['POST'], value: 'mixed-post' },
  { path: '/mixed/*', methods: ['GET'], value: 'mixed-get' },
  { path: '/orders/:id', methods: ['PUT'], value: 'order-put' },
  { host: 'chat.example.com', path: '/ws/*', value: 'chat-ws' },
  { host: 'chat.example.com', path: '/only-chat', methods: ['GET'], value: 'chat-only' },
  { host: '*.example.com', path: '/ws/*', value: 'wild-ws' },
  { host: '*.eu.example.com', path: '/ws/*', value: 'eu-ws' },
  { host: '*.example.com', path: '/wild', value: 'wild' },
  { host: '[::1]', path: '/local', value: 'v6' },
  { path: '/ws/*', value: 'any-ws' },
];

const cases: { name: string; host?: string; path: string; method?: string; expected: Outcome }[] = [
  { name: 'an exact path wins over a prefix listed before it', path: '/api/health', expected: 'api-health' },
  { name: 'a longer prefix wins over a shorter one', path: '/api/v2/items', expected: 'api-v2' },
  { name: 'a prefix pattern matches its bare prefix', path: '/api', expected: 'api' },
  { name: 'a prefix pattern matches its prefix with a slash', path: '/api/', expected: 'api' },
  { name: 'a prefix pattern matches everything under it', path: '/api/x/y', expected: 'api' },
  { name: 'a longer prefix pattern matches its bare prefix', path: '/api/v2', expected: 'api-v2' },
  { name: 'a prefix pattern does not match a longer segment', path: '/apix', expected: null },
  { name: 'an exact pattern matches only its path', path: '/ping/', expected: null },
  { name: 'a parameter takes one segment', path: '/users/42', expected: 'user' },
  { name: 'several parameters match several segments', path: '/users/42/posts/7', expected: 'user-post' },
  { name: 'an exact path wins over a parameter', path: '/users/me', expected: 'me' },
  { name: 'more static segments win among parameter patterns', path: '/users/42/posts/latest', expected: 'user-latest' },
  { name: 'a parameter never matches an empty segment', path: '/users/', expected: 'users' },
  { name: 'a parameter pattern wins over a prefix', path: '/users/7', expected: 'user' },
  { name: 'a prefix takes what parameter patterns cannot', path: '/users/42/friends', expected: 'users' },
  { name: 'a trailing slash is not part of a parameter', path: '/users/42/', expected: 'users' },
  { name: 'the first in file order wins between equal exact paths', path: '/dup', expected: 'dup-first' },
  { name: 'the first in file order wins between equal prefixes', path: '/both/x', expected: 'both-first' },
  { name: 'a route listing the method matches', path: '/admin', method: 'POST', expected: 'admin-post' },
  { name: 'a later route with the same path serves another method', path: '/admin', method: 'DELETE', expected: 'admin-delete' },
  { name: 'a path matched with no route for the method is a method mismatch', path: '/admin', method: 'GET', expected: METHOD_MISMATCH },
  { name: 'a path matched by nothing is no match', path: '/nothing', method: 'GET', expected: null },
  { name: 'HEAD is accepted where GET is', path: '/read', method: 'HEAD', expected: 'read' },
  { name: 'HEAD is not accepted where GET is not', path: '/admin', method: 'HEAD', expected: METHOD_MISMATCH },
  { name: 'another method on a GET route is a method mismatch', path: '/read', method: 'POST', expected: METHOD_MISMATCH },
  { name: 'a route without methods accepts any method', path: '/ping', method: 'PATCH', expected: 'ping' },
  { name: 'a method skipped by an exact path reaches a matching prefix', path: '/mixed/x', method: 'GET', expected: 'mixed-get' },
  { name: 'the exact path still serves its own method', path: '/mixed/x', method: 'POST', expected: 'mixed-post' },
  { name: 'a method no candidate accepts is a method mismatch', path: '/mixed/x', method: 'PUT', expected: METHOD_MISMATCH },
  { name: 'a parameter pattern serves the method it lists', path: '/orders/9', method: 'PUT', expected: 'order-put' },
  { name: 'a parameter pattern refusing the method is a method mismatch', path: '/orders/9', method: 'GET', expected: METHOD_MISMATCH },
  { name: 'an exact host wins over a wildcard and over no host', host: 'chat.example.com', path: '/ws/room', expected: 'chat-ws' },
  { name: 'a wildcard host matches a subdomain', host: 'a.example.com', path: '/ws/room', expected: 'wild-ws' },
  { name: 'a wildcard host matches a deeper subdomain', host: 'a.b.example.com', path: '/ws/room', expected: 'wild-ws' },
  { name: 'a longer wildcard suffix wins', host: 'paris.eu.example.com', path: '/ws/room', expected: 'eu-ws' },
  { name: 'a wildcard host does not match the bare domain', host: 'example.com', path: '/ws/room', expected: 'any-ws' },
  { name: 'an unknown host gets the routes without a host', host: 'other.org', path: '/ws/room', expected: 'any-ws' },
  { name: 'an empty Host gets the routes without a host', host: '', path: '/ping', expected: 'ping' },
  { name: 'the Host port is ignored and case does not matter', host: 'CHAT.Example.COM:8080', path: '/ws/room', expected: 'chat-ws' },
  { name: 'a Host with a final dot is the same name', host: 'chat.example.com.', path: '/ws/room', expected: 'chat-ws' },
  { name: 'an IPv6 Host matches with its port removed', host: '[::1]:8080', path: '/local', expected: 'v6' },
  { name: 'an IPv6 Host matches without a port', host: '[::1]', path: '/local', expected: 'v6' },
  { name: 'an exact host falls through to wildcard routes when its own paths miss', host: 'chat.example.com', path: '/wild', expected: 'wild' },
  { name: 'an exact host falls through to routes without a host', host: 'chat.example.com', path: '/ping', expected: 'ping' },
  { name: 'host routes are invisible to other hosts', host: 'example.com', path: '/wild', expected: null },
  { name: 'a method mismatch applies within a host tier', host: 'chat.example.com', path: '/only-chat', method: 'POST', expected: METHOD_MISMATCH },
  { name: 'HEAD reaches a GET route in a host tier', host: 'chat.example.com', path: '/only-chat', method: 'HEAD', expected: 'chat-only' },
];

describe('match', () => {
  const matcher = createMatcher(table);

  for (const { name, host = 'gw.test', path, method = 'GET', expected } of cases) {
    test(name, () => {
      expect(outcome(matcher, host, path, method)).toBe(expected);
    });
  }

  test('returns the values of parameters', () => {
    expect(matcher.match('', '/users/42/posts/a%20b', 'GET')).toEqual({ value: 'user-post', params: { id: '42', pid: 'a%20b' } });
  });

  test('returns every parameter of a long pattern', () => {
    const names = 'abcdefghijkl'.split('');
    const long = createMatcher([{ path: names.map((n) => `/:${n}`).join(''), value: 'long' }]);
    const found = long.match('', names.map((n) => `/${n.toUpperCase()}`).join(''), 'GET');
    expect(found).toEqual({ value: 'long', params: Object.fromEntries(names.map((n) => [n, n.toUpperCase()])) });
  });

  test('shares one frozen empty params object between routes without parameters', () => {
    const a = matcher.match('', '/ping', 'GET');
    const b = matcher.match('x.example.com', '/ws/1', 'GET');
    if (a === null || a === METHOD_MISMATCH || b === null || b === METHOD_MISMATCH) throw new Error('expected matches');
    expect(a.params).toEqual({});
    expect(a.params).toBe(b.params);
    expect(Object.isFrozen(a.params)).toBe(true);
  });

  test('counts its entries', () => {
    expect(matcher.size).toBe(table.length);
  });

  test('lists the methods a 405 should allow', () => {
    expect(matcher.allowedMethods('', '/admin')).toEqual(['DELETE', 'POST']);
    expect(matcher.allowedMethods('', '/read')).toEqual(['GET', 'HEAD']);
  });
});

describe('match with a catch-all', () => {
  const matcher = createMatcher<string>([
    { path: '/*', value: 'fallback' },
    { host: 'api.example.com', path: '/items', methods: ['GET'], value: 'items' },
    { path: '/a/*', value: 'a' },
    { path: '/:tenant/dashboard', value: 'dashboard' },
  ]);
  const cases: { name: string; host?: string; path: string; method?: string; expected: Outcome }[] = [
    { name: '"/*" matches the root', path: '/', expected: 'fallback' },
    { name: '"/*" matches any path', path: '/x/y/z', expected: 'fallback' },
    { name: '"/*" matches a path that starts with a non-ASCII byte', path: '/\u00c3\u00a9', expected: 'fallback' },
    { name: 'a longer prefix wins over "/*" listed before it', path: '/a/b', expected: 'a' },
    { name: '"/*" takes a path that shares only a first letter', path: '/ab', expected: 'fallback' },
    { name: 'a method a host tier refuses falls through to a tier that accepts it', host: 'api.example.com', path: '/items', method: 'POST', expected: 'fallback' },
    { name: 'the host tier serves the method it accepts', host: 'api.example.com', path: '/items', expected: 'items' },
    { name: 'a pattern that starts with a parameter matches any first segment', path: '/acme/dashboard', expected: 'dashboard' },
    { name: 'a leading parameter matches a non-ASCII first segment', path: '/\u00c3\u00a9/dashboard', expected: 'dashboard' },
    { name: 'a leading parameter wins over a prefix', path: '/a/dashboard', expected: 'dashboard' },
  ];

  for (const { name, host = 'gw.test', path, method = 'GET', expected } of cases) {
    test(name, () => {
      expect(outcome(matcher, host, path, method)).toBe(expected);
    });
  }
});

test('keeps routing by host after more distinct Host values than it remembers', () => {
  const matcher = createMatcher<string>([
    { host: '*.example.com', path: '/*', value: 'wild' },
    { path: '/*', value: 'any' },
  ]);
  for (let i = 0; i < 3000; i++) {
    expect(outcome(matcher, `h${i}.example.com:${i}`, '/', 'GET')).toBe('wild');
    expect(outcome(matcher, `h${i}.example.org`, '/', 'GET')).toBe('any');
  }
});

describe('parsePattern', () => {
  for (const { name, input, expected } of [
    { name: 'an exact path', input: '/ping', expected: { kind: 'exact', path: '/ping' } },
    { name: 'the root as an exact path', input: '/', expected: { kind: 'exact', path: '/' } },
    { name: 'a prefix', input: '/api/*', expected: { kind: 'prefix', prefix: '/api' } },
    { name: 'the catch-all prefix', input: '/*', expected: { kind: 'prefix', prefix: '' } },
    { name: 'parameters', input: '/users/:id/posts/:pid', expected: { kind: 'params', segments: ['users', ':id', 'posts', ':pid'], params: ['id', 'pid'] } },
  ]) {
    test(`describes ${name}`, () => {
      expect(parsePattern(input)).toEqual(expected);
    });
  }

  for (const { name, input, error } of [
    { name: 'a pattern without a leading slash', input: 'api/*', error: 'starts with "/"' },
    { name: 'a star glued to a segment', input: '/api*', error: 'did you mean "/api/*"?' },
    { name: 'a star in the middle', input: '/a/*/b', error: 'did you mean "/a/*"?' },
    { name: 'a prefix with a double slash', input: '/api//*', error: 'did you mean "/api/*"?' },
    { name: 'repeated slashes', input: '/a//b', error: '"/a/b"' },
    { name: 'an escaped unreserved character', input: '/%7euser', error: '"/~user"' },
    { name: 'a lower-case escape', input: '/a%2fb', error: '"/a%2Fb"' },
    { name: 'a climb above the root', input: '/../x', error: 'climbs above the root' },
    { name: 'a malformed escape', input: '/%zz', error: 'malformed escape' },
    { name: 'an empty parameter name', input: '/users/:', error: 'not a parameter name' },
    { name: 'a repeated parameter', input: '/:a/x/:a', error: 'appears twice' },
    { name: 'a reserved parameter name', input: '/:__proto__', error: 'reserved' },
    { name: 'parameters with a prefix', input: '/t/:tenant/*', error: 'cannot also end in "/*"' },
    { name: 'a non-ASCII character', input: '/caf\u00e9', error: 'percent-encode' },
    { name: 'a query', input: '/a?b=1', error: 'no query' },
  ]) {
    test(`rejects ${name}`, () => {
      const parsed = parsePattern(input);
      expect(typeof parsed).toBe('string');
      expect(parsed).toContain(error);
    });
  }
});

describe('parseHostPattern', () => {
  for (const { name, input, expected } of [
    { name: 'an exact host, lower-cased', input: 'API.Example.com', expected: { kind: 'exact', host: 'api.example.com' } },
    { name: 'a wildcard host', input: '*.example.com', expected: { kind: 'wildcard', suffix: '.example.com' } },
    { name: 'an IPv6 literal', input: '[::1]', expected: { kind: 'exact', host: '[::1]' } },
  ]) {
    test(`describes ${name}`, () => {
      expect(parseHostPattern(input)).toEqual(expected);
    });
  }

  for (const { name, input, error } of [
    { name: 'a port', input: 'example.com:8080', error: 'no port' },
    { name: 'a bare star', input: '*', error: 'leave out host' },
    { name: 'an empty label', input: 'a..example.com', error: 'a name like' },
    { name: 'a star inside a name', input: 'a*.example.com', error: 'a name like' },
  ]) {
    test(`rejects ${name}`, () => {
      expect(parseHostPattern(input)).toContain(error);
    });
  }
});

test('createMatcher refuses an invalid pattern and names it', () => {
  expect(() => createMatcher([{ path: '/api*', value: 1 }])).toThrow(/"\/api\*"/);
  expect(() => createMatcher([{ host: 'a:1', path: '/', value: 1 }])).toThrow(/no port/);
});
