import { expect, test } from 'vitest';
import { OriginList } from '../../../src/cors/origins.js';

test('exact origins match whole, in any case; scheme and port are part of the origin', () => {
  const list = new OriginList(['https://app.example.com', 'http://localhost:3000']);
  expect(list.includes('https://app.example.com')).toBe(true);
  expect(list.includes('HTTPS://APP.EXAMPLE.COM')).toBe(true);
  expect(list.includes('http://app.example.com')).toBe(false);
  expect(list.includes('https://app.example.com:443')).toBe(false);
  expect(list.includes('http://localhost:3000')).toBe(true);
  expect(list.includes('http://localhost:3001')).toBe(false);
  expect(list.includes('null')).toBe(false);
});

test('a *. pattern matches one or more labels before the domain, never the domain itself or a look-alike', () => {
  const list = new OriginList(['https://*.example.com', 'https://*.example.net:8443']);
  expect(list.includes('https://a.example.com')).toBe(true);
  expect(list.includes('https://a.b.example.com')).toBe(true);
  expect(list.includes('https://example.com')).toBe(false);
  expect(list.includes('https://.example.com')).toBe(false);
  expect(list.includes('https://evilexample.com')).toBe(false);
  expect(list.includes('https://a.example.com.evil.test')).toBe(false);
  expect(list.includes('https://evil.test/.example.com')).toBe(false);
  expect(list.includes('https://evil.test@a.example.com')).toBe(false);
  expect(list.includes('http://a.example.com')).toBe(false);
  expect(list.includes('https://a.example.net:8443')).toBe(true);
  expect(list.includes('https://a.example.net')).toBe(false);
});
