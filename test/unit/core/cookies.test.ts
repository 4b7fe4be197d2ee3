import { expect, test } from 'vitest';
import { cookieValue } from '../../../src/core/cookies.js';

test.each<{ name: string; header: string | undefined; cookie: string; value: string | null }>([
  { name: 'no Cookie header', header: undefined, cookie: 'sid', value: null },
  { name: 'an empty header', header: '', cookie: 'sid', value: null },
  { name: 'the only cookie', header: 'sid=abc', cookie: 'sid', value: 'abc' },
  { name: 'a cookie among others', header: 'a=1; sid=abc; b=2', cookie: 'sid', value: 'abc' },
  { name: 'the last cookie', header: 'a=1; sid=abc', cookie: 'sid', value: 'abc' },
  { name: 'pairs joined without a space', header: 'a=1;sid=abc;b=2', cookie: 'sid', value: 'abc' },
  { name: 'spaces and tabs around the pair and the "="', header: 'a=1;\t sid = abc \t; b=2', cookie: 'sid', value: 'abc' },
  { name: 'a quoted value, without its quotes', header: 'sid="abc"', cookie: 'sid', value: 'abc' },
  { name: 'a lone quote, kept as it came', header: 'sid="', cookie: 'sid', value: '"' },
  { name: 'an empty value', header: 'sid=; b=2', cookie: 'sid', value: '' },
  { name: 'a value holding "="', header: 'sid=a=b==', cookie: 'sid', value: 'a=b==' },
  { name: 'the first of two (longest Path first, RFC 6265 §5.4)', header: 'sid=first; sid=second', cookie: 'sid', value: 'first' },
  { name: 'a name that only ends with the wanted one', header: 'xsid=1; sid=2', cookie: 'sid', value: '2' },
  { name: 'a name that only starts with the wanted one', header: 'sidx=1', cookie: 'sid', value: null },
  { name: 'another case (names are case-sensitive)', header: 'SID=1', cookie: 'sid', value: null },
  { name: 'a pair without "="', header: 'sid; a=1', cookie: 'sid', value: null },
  { name: 'a "=" that belongs to the next pair', header: 'sid; x=sid=1', cookie: 'sid', value: null },
  { name: 'a trailing ";"', header: 'sid=abc;', cookie: 'sid', value: 'abc' },
  { name: 'an empty wanted name', header: '=abc', cookie: '', value: null },
])('reads $name', ({ header, cookie, value }) => {
  expect(cookieValue(header, cookie)).toBe(value);
});
