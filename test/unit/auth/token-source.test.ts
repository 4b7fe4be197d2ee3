import type { IncomingMessage } from 'node:http';
import { test, expect } from 'vitest';
import { findToken, queryValue } from '../../../src/auth/token-source.js';
import { parseTokenSource } from '../../../src/auth/spec.js';

function req(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers } as unknown as IncomingMessage;
}
const sources = (...names: string[]) => names.map(parseTokenSource);

test('header reads Authorization: Bearer, case-insensitively, and ignores other schemes', () => {
  expect(findToken(req('/', { authorization: 'Bearer abc.def' }), sources('header'))?.token).toBe('abc.def');
  expect(findToken(req('/', { authorization: 'bearer   abc' }), sources('header'))?.token).toBe('abc');
  expect(findToken(req('/', { authorization: 'Basic YTpi' }), sources('header'))).toBeNull();
  expect(findToken(req('/', { authorization: 'Bearer' }), sources('header'))).toBeNull();
});

test('header:NAME reads a raw value, dropping a Bearer prefix', () => {
  expect(findToken(req('/', { 'x-api-key': ' k1 ' }), sources('header:X-API-Key'))?.token).toBe('k1');
  expect(findToken(req('/', { 'x-token': 'Bearer t' }), sources('header:X-Token'))?.token).toBe('t');
});

test('query:NAME decodes the value and names compare decoded', () => {
  expect(findToken(req('/a?x=1&access_token=a%2Bb&y'), sources('query:access_token'))?.token).toBe('a+b');
  expect(queryValue('/a?access%5Ftoken=z', 'access_token')).toBe('z');
  expect(queryValue('/a?access_token=%zz', 'access_token')).toBeNull();
  expect(queryValue('/a', 'access_token')).toBeNull();
});

test('cookie:NAME reads that cookie only', () => {
  expect(findToken(req('/', { cookie: 'a=1; token=t0k; b=2' }), sources('cookie:token'))?.token).toBe('t0k');
  expect(findToken(req('/', { cookie: 'xtoken=no' }), sources('cookie:token'))).toBeNull();
});

test('protocol finds the bearer.<token> entry and names the whole entry to strip', () => {
  const found = findToken(req('/', { 'sec-websocket-protocol': 'chat, bearer.abc.def.ghi' }), sources('protocol'));
  expect(found).toEqual({ token: 'abc.def.ghi', source: { from: 'protocol' }, protocolEntry: 'bearer.abc.def.ghi' });
  expect(findToken(req('/', { 'sec-websocket-protocol': 'chat' }), sources('protocol'))).toBeNull();
});

test('sources are tried in order and an empty value does not count', () => {
  const r = req('/?access_token=', { authorization: 'Bearer from-header', cookie: 'token=from-cookie' });
  expect(findToken(r, sources('query:access_token', 'cookie:token', 'header'))?.token).toBe('from-cookie');
});
