// upstream/h1/head-syntax: the character table and value grammars ResponseParser applies (the parser's
// own tests feed them through whole responses; these pin each rule alone).
import { describe, expect, test } from 'vitest';
import { CHAR_CLASS, CHAR_TOKEN, CHAR_VALUE, KEEP_ALIVE_TIMEOUT, hexValue, isNamed, parseLength, statusCode } from '../../../../src/upstream/h1/head-syntax.js';

describe('CHAR_CLASS', () => {
  test('token characters (RFC 9110 §5.6.2) may stand in names and values', () => {
    for (const ch of "!#$%&'*+-.^_`|~09azAZ") expect(CHAR_CLASS[ch.charCodeAt(0)], ch).toBe(CHAR_TOKEN);
  });

  test('SP, HTAB, other VCHARs and obs-text may stand in values only', () => {
    for (const c of [0x20, 0x09, 0x22, 0x28, 0x2c, 0x3a, 0x40, 0x7b, 0x80, 0xe9, 0xff]) expect(CHAR_CLASS[c], c.toString(16)).toBe(CHAR_VALUE);
  });

  test('CR, LF, NUL, other controls and DEL may stand nowhere', () => {
    for (const c of [0x00, 0x01, 0x0a, 0x0b, 0x0d, 0x1f, 0x7f]) expect(CHAR_CLASS[c], c.toString(16)).toBe(0);
  });
});

test('hexValue reads a hex digit of either case and refuses anything else', () => {
  expect(['0', '9', 'a', 'f', 'A', 'F'].map((ch) => hexValue(ch.charCodeAt(0)))).toEqual([0, 9, 10, 15, 10, 15]);
  for (const ch of 'gG/:@` x-') expect(hexValue(ch.charCodeAt(0)), ch).toBe(-1);
});

test('statusCode reads the three digits after "HTTP/1.x " from 100 up, else -1', () => {
  expect(statusCode('HTTP/1.1 200 OK')).toBe(200);
  expect(statusCode('HTTP/1.0 999')).toBe(999);
  expect(statusCode('HTTP/1.1 099')).toBe(-1);
  expect(statusCode('HTTP/1.1 2x0')).toBe(-1);
});

test('isNamed compares a name case-insensitively with a lower-case name of the same length', () => {
  expect(isNamed('Content-Length', 'content-length')).toBe(true);
  expect(isNamed('CONTENT-LENGTH', 'content-length')).toBe(true);
  expect(isNamed('Content-Lengtx', 'content-length')).toBe(false);
});

test('parseLength takes digits, or a list of one repeated value; -1 otherwise', () => {
  expect(parseLength('0')).toBe(0);
  expect(parseLength('42')).toBe(42);
  expect(parseLength('999999999999999')).toBe(999_999_999_999_999);
  expect(parseLength('42, 42')).toBe(42);
  expect(parseLength('42,42 ,42')).toBe(42);
  for (const bad of ['', '42, 43', '+1', '-1', '0x5', '5.0', '5,', '1000000000000000', ' ']) expect(parseLength(bad), bad).toBe(-1);
});

test('KEEP_ALIVE_TIMEOUT finds timeout=N among the parameters, whatever their order and case', () => {
  expect(KEEP_ALIVE_TIMEOUT.exec('timeout=5')?.[1]).toBe('5');
  expect(KEEP_ALIVE_TIMEOUT.exec('max=100, Timeout = 30')?.[1]).toBe('30');
  expect(KEEP_ALIVE_TIMEOUT.exec('max=100;timeout=7')?.[1]).toBe('7');
  expect(KEEP_ALIVE_TIMEOUT.exec('xtimeout=5')).toBeNull();
});
