import { expect, test } from 'vitest';
import { queryWithout } from '../../../src/server/exchange.js';

test('queryWithout removes every occurrence of the named parameters, decoded names included', () => {
  expect(queryWithout('?a=1&token=x&b=2&token=y', ['token'])).toBe('?a=1&b=2');
  expect(queryWithout('?to%6Ben=x&a=1', ['token'])).toBe('?a=1');
  expect(queryWithout('?access+token=x&a', ['access token'])).toBe('?a');
  expect(queryWithout('?token', ['token'])).toBe('');
  expect(queryWithout('?token=x', ['token'])).toBe('');
  expect(queryWithout('', ['token'])).toBe('');
  expect(queryWithout('?%zz=1&token=2', ['token'])).toBe('?%zz=1'); // a malformed name is kept as is, never thrown on
});
