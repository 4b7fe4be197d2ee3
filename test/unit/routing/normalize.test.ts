import { describe, expect, test } from 'vitest';
import { PATH_ABOVE_ROOT, PATH_AMBIGUOUS, normalizePath, normalizeRequestPath, pathError, stripPrefix } from '../../../src/routing/normalize.js';

describe('normalizePath', () => {
  const cases: { name: string; input: string; output: string | null }[] = [
    { name: 'leaves the root alone', input: '/', output: '/' },
    { name: 'leaves a clean path alone', input: '/a/b', output: '/a/b' },
    { name: 'keeps a trailing slash', input: '/a/b/', output: '/a/b/' },
    { name: 'treats dots inside a segment as data', input: '/.well-known/a.b/c..d/...', output: '/.well-known/a.b/c..d/...' },
    { name: 'keeps non-ASCII bytes as they came', input: '/caf\u00c3\u00a9', output: '/caf\u00c3\u00a9' },
    { name: 'cuts a query the caller left on', input: '/a/b?x=/../y', output: '/a/b' },
    { name: 'cuts a fragment', input: '/a#top', output: '/a' },
    { name: 'removes a dot segment before a query', input: '/a/.?x', output: '/a/' },
    { name: 'removes "." segments', input: '/a/./b/.', output: '/a/b/' },
    { name: 'removes ".." with the segment before it', input: '/a/b/../c', output: '/a/c' },
    { name: 'ends with a slash after a final ".."', input: '/a/b/..', output: '/a/' },
    { name: 'may climb back to the root', input: '/a/..', output: '/' },
    { name: 'removes encoded dot segments', input: '/a/%2e/b/%2E%2e/c', output: '/a/c' },
    { name: 'removes half-encoded dot segments', input: '/a/b/.%2e/c', output: '/a/c' },
    { name: 'rejects ".." at the root', input: '/..', output: null },
    { name: 'rejects a path that climbs above the root', input: '/../x', output: null },
    { name: 'rejects a path that climbs above the root later', input: '/a/../../x', output: null },
    { name: 'rejects an encoded climb', input: '/%2e%2e/x', output: null },
    { name: 'rejects an encoded climb with mixed case', input: '/%2E%2e/', output: null },
    { name: 'rejects a climb hidden behind merged slashes', input: '/a/..//../x', output: null },
    { name: 'keeps an encoded slash and upper-cases its hex', input: '/a%2fb', output: '/a%2Fb' },
    { name: 'keeps an encoded slash and backslash away from dots as data', input: '/files/a%2Fb%5cc/x', output: '/files/a%2Fb%5Cc/x' },
    { name: 'decodes an unreserved tilde', input: '/%7Euser', output: '/~user' },
    { name: 'decodes unreserved letters and marks', input: '/%41%62/x%2Dy%5F%2E', output: '/Ab/x-y_.' },
    { name: 'keeps a reserved escape', input: '/a%20b%3a', output: '/a%20b%3A' },
    { name: 'keeps UTF-8 escapes upper-cased', input: '/caf%c3%a9', output: '/caf%C3%A9' },
    { name: 'does not decode twice', input: '/100%25/%2541', output: '/100%25/%2541' },
    { name: 'keeps a raw backslash away from dots as data', input: '/a\\b', output: '/a\\b' },
    { name: 'keeps valid UTF-8 escapes', input: '/%e0%a4%85/%f0%9f%98%80', output: '/%E0%A4%85/%F0%9F%98%80' },
    { name: 'rejects a non-hex escape', input: '/%zz', output: null },
    { name: 'rejects a short escape', input: '/%4', output: null },
    { name: 'rejects a bare percent', input: '/a%', output: null },
    { name: 'rejects an encoded NUL', input: '/a%00b', output: null },
    { name: 'rejects an encoded control char', input: '/a%0Ab', output: null },
    { name: 'rejects an encoded DEL', input: '/a%7f', output: null },
    { name: 'rejects a raw control char', input: '/a\tb', output: null },
    { name: 'rejects an empty target', input: '', output: null },
    { name: 'rejects a relative path', input: 'a/b', output: null },
    { name: 'rejects the asterisk form', input: '*', output: null },
    { name: 'rejects the absolute form', input: 'http://example.com/a', output: null },
    { name: 'merges repeated slashes', input: '//a///b', output: '/a/b' },
    { name: 'merges a repeated trailing slash', input: '/a//', output: '/a/' },
    { name: 'merges slashes down to the root', input: '//', output: '/' },
  ];

  for (const { name, input, output } of cases) {
    test(name, () => {
      expect(normalizePath(input)).toBe(output);
    });
  }

  test('returns the very string it was given when the path is already normal', () => {
    expect(normalizeRequestPath('/api/v1/users/42/')).toBe('/api/v1/users/42/');
    const target = '/api/v1/users/42/';
    expect(normalizePath(target)).toBe(target);
  });
});

// Issue 9, item 7: paths an upstream that decodes more than we do would read as another path.
describe('normalizeRequestPath refuses ambiguous paths', () => {
  const ambiguous: [name: string, input: string][] = [
    ['a dot segment joined to an encoded slash', '/api/..%2fadmin/x'],
    ['an upper-case encoded slash after dots', '/api/..%2Fadmin/x'],
    ['encoded dots and an encoded slash', '/api/%2E%2E%2Fadmin/x'],
    ['encoded dots and an encoded backslash', '/api/%2e%2e%5cadmin'],
    ['a dot segment joined to an encoded backslash', '/api/..%5Cadmin'],
    ['an encoded slash before dots', '/api/x%2f..'],
    ['dots between encoded slashes', '/api/x%2f..%2fy'],
    ['a single encoded-dot segment with an encoded slash', '/api/%2e%2fadmin'],
    ['a trailing encoded slash after a dot segment', '/api/..%2f'],
    ['a raw backslash dot segment', '/api/..\\admin'],
    ['a raw backslash before dots', '/api/x\\..\\y'],
    ['a half-encoded dot with a backslash', '/api/.%2e\\admin'],
    ['double-encoded dots', '/api/%252e%252e/admin'],
    ['double-encoded dots and slash', '/api/%252e%252e%252fadmin'],
    ['double-encoded slash after dots', '/api/..%252fadmin'],
    ['double-encoded backslash after dots', '/api/..%255cadmin'],
    ['triple-encoded dots', '/api/%25252e%25252e/admin'],
    ['mixed single and double encoding', '/api/%2e%252e%2fadmin'],
    ['an encoded NUL', '/api/a%00.txt'],
    ['a double-encoded NUL', '/api/a%2500.txt'],
    ['an encoded line feed', '/api/a%0ab'],
    ['an encoded DEL', '/api/a%7f'],
    ['a raw NUL', '/api/a\u0000b'],
    ['overlong dot (two bytes)', '/api/%c0%ae%c0%ae/admin'],
    ['overlong dot (three bytes)', '/api/%e0%80%ae%e0%80%ae/admin'],
    ['overlong slash', '/api/..%c0%afadmin'],
    ['overlong backslash', '/api/..%c1%9cadmin'],
    ['overlong dot, upper case', '/api/%C0%AE'],
    ['overlong four-byte form', '/api/%f0%80%80%ae'],
    ['double-encoded overlong dot', '/api/%25c0%25ae%25c0%25ae/admin'],
    ['raw overlong bytes', '/api/\u00c0\u00ae\u00c0\u00ae/admin'],
    ['a non-hex escape', '/api/%zz'],
    ['a short escape', '/api/%4'],
    ['a bare percent', '/api/a%'],
    ['a bare percent before a slash', '/api/a%/b'],
    ['path parameters on a dot segment (servlet containers read `..;x` as `..`)', '/api/..;x/admin'],
    ['an empty path parameter on a dot segment', '/api/..;/admin'],
    ['path parameters on a single dot', '/api/.;a/x'],
    ['path parameters on an encoded dot segment', '/api/%2e%2e;x/admin'],
    ['an encoded semicolon after a dot segment', '/api/..%3bx/admin'],
    ['path parameters on a double-encoded dot segment', '/api/%252e%252e;x/admin'],
  ];
  for (const [name, input] of ambiguous) {
    test(`refuses ${name} (${JSON.stringify(input)}) as PATH_AMBIGUOUS`, () => {
      expect(normalizeRequestPath(input)).toBe(PATH_AMBIGUOUS);
      expect(normalizePath(input)).toBeNull();
    });
  }

  test('answers a climb above the root as PATH_OUTSIDE_ROOT, not as ambiguous', () => {
    expect(normalizeRequestPath('/%2e%2e/x')).toBe(PATH_ABOVE_ROOT);
    expect(normalizeRequestPath('/a/../../x')).toBe(PATH_ABOVE_ROOT);
    expect(normalizeRequestPath('http://example.com/a')).toBe(PATH_ABOVE_ROOT);
  });

  test('pairs each fault with its public code and a 400', () => {
    expect(pathError(PATH_AMBIGUOUS)).toMatchObject({ code: 'PATH_AMBIGUOUS', status: 400 });
    expect(pathError(PATH_ABOVE_ROOT)).toMatchObject({ code: 'PATH_OUTSIDE_ROOT', status: 400 });
  });

  const allowed: [name: string, input: string, output: string][] = [
    ['dots inside a segment with an encoded slash', '/api/v1.2%2Fx', '/api/v1.2%2Fx'],
    ['three dots next to an encoded slash', '/api/...%2fx', '/api/...%2Fx'],
    ['a literal percent sign', '/api/100%25', '/api/100%25'],
    ['a double-encoded slash away from dots', '/api/a%252fb', '/api/a%252fb'],
    ['encoded dots alone, as a plain dot segment', '/api/%2e%2e/x', '/x'],
    ['Latin-1 style escapes', '/caf%e9', '/caf%E9'],
    ['path parameters on an ordinary segment', '/api/a;jsessionid=1/b;v=2', '/api/a;jsessionid=1/b;v=2'],
    ['a semicolon after three dots', '/api/...;x', '/api/...;x'],
  ];
  for (const [name, input, output] of allowed) {
    test(`forwards ${name} (${JSON.stringify(input)})`, () => {
      expect(normalizeRequestPath(input)).toBe(output);
    });
  }
});

describe('stripPrefix', () => {
  const cases: { name: string; path: string; prefix: string; output: string }[] = [
    { name: 'strips the prefix and keeps the rest', path: '/api/users', prefix: '/api', output: '/users' },
    { name: 'leaves the root when the path is the prefix', path: '/api', prefix: '/api', output: '/' },
    { name: 'leaves the root when the path is the prefix and a slash', path: '/api/', prefix: '/api', output: '/' },
    { name: 'accepts a prefix with a trailing slash', path: '/api/users', prefix: '/api/', output: '/users' },
    { name: 'accepts a prefix with a trailing slash on the bare path', path: '/api', prefix: '/api/', output: '/' },
    { name: 'strips a multi-segment prefix', path: '/v1/api/x', prefix: '/v1/api', output: '/x' },
    { name: 'strips only at a segment boundary', path: '/apix', prefix: '/api', output: '/apix' },
    { name: 'leaves a path outside the prefix alone', path: '/v1/x', prefix: '/api', output: '/v1/x' },
    { name: 'leaves a path shorter than the prefix alone', path: '/ap', prefix: '/api', output: '/ap' },
    { name: 'strips nothing for the root prefix', path: '/x', prefix: '/', output: '/x' },
  ];

  for (const { name, path, prefix, output } of cases) {
    test(name, () => {
      expect(stripPrefix(path, prefix)).toBe(output);
    });
  }
});
