import { describe, expect, test } from 'vitest';
import { normalizePath, stripPrefix } from '../../../src/routing/normalize.js';

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
    { name: 'never splits a segment at an encoded slash', input: '/a%2f..%2fb/../c', output: '/c' },
    { name: 'decodes an unreserved tilde', input: '/%7Euser', output: '/~user' },
    { name: 'decodes unreserved letters and marks', input: '/%41%62/x%2Dy%5F%2E', output: '/Ab/x-y_.' },
    { name: 'keeps a reserved escape', input: '/a%20b%3a', output: '/a%20b%3A' },
    { name: 'keeps UTF-8 escapes upper-cased', input: '/caf%c3%a9', output: '/caf%C3%A9' },
    { name: 'does not decode twice', input: '/%252e%252e/x', output: '/%252e%252e/x' },
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
    const target = '/api/v1/users/42/';
    expect(normalizePath(target)).toBe(target);
  });
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
