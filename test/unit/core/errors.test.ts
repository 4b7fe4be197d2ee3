import { readFileSync } from 'node:fs';
import { errors as undiciErrors } from 'undici';
import { expect, test } from 'vitest';
import { ERRORS, GatewayError, clientErrorToGatewayError, toGatewayError, type ErrorCode } from '../../../src/core/errors.js';
import { CLOSE_CODES, isValidWireCloseCode } from '../../../src/ws/close-codes.js';
import type { H1Error } from '../../../src/upstream/h1/exchange.js';
import { ConfigError, parseConfig } from '../../../src/config/check.js';
import { loadConfigFile } from '../../../src/config/load.js';

const DOC = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const CODES = Object.keys(ERRORS) as ErrorCode[];

// `| `CODE` | 502 | 1014 | when | what to do |`; `—` where the code never closes a tunnel.
const documented = [...DOC.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| (\d{3}) \| (\d{4}|—) \|/gm)].map((m) => ({
  code: m[1]!,
  status: Number(m[2]),
  wsClose: m[3] === '—' ? null : Number(m[3]),
}));
// `| 1001 | going away | when |`
const documentedCloseCodes = [...DOC.matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1]));

test('docs/errors.md documents every code of ERRORS', () => {
  const inDoc = new Set(documented.map((d) => d.code));
  expect(CODES.filter((c) => !inDoc.has(c))).toEqual([]);
});

test('docs/errors.md documents no code that ERRORS lacks, and each code once', () => {
  const known = new Set<string>(CODES);
  expect(documented.map((d) => d.code).filter((c) => !known.has(c))).toEqual([]);
  expect(documented.length).toBe(new Set(documented.map((d) => d.code)).size);
});

test('docs/errors.md gives each code the status and close code of ERRORS', () => {
  const wanted = documented.map((d) => {
    const row = ERRORS[d.code as ErrorCode];
    return { code: d.code, status: row.status, wsClose: row.wsClose };
  });
  expect(documented).toEqual(wanted);
});

test('docs/errors.md lists every close code of ERRORS, and only close codes the gateway may send', () => {
  const inDoc = new Set(documentedCloseCodes);
  const fromTable = new Set(CODES.map((c) => ERRORS[c].wsClose).filter((c) => c !== null));
  expect([...fromTable].filter((c) => !inDoc.has(c))).toEqual([]);
  const named = new Set<number>(Object.values(CLOSE_CODES));
  expect(documentedCloseCodes.filter((c) => !named.has(c) || !isValidWireCloseCode(c))).toEqual([]);
});

test('every close code in ERRORS may travel in a close frame', () => {
  for (const code of CODES) {
    const wsClose = ERRORS[code].wsClose;
    if (wsClose !== null) expect(isValidWireCloseCode(wsClose), code).toBe(true);
  }
});

test('a GatewayError takes its status, close code and default message from its row', () => {
  const err = new GatewayError('UPSTREAM_TIMEOUT');
  expect(err).toMatchObject({ name: 'GatewayError', code: 'UPSTREAM_TIMEOUT', status: 504, wsClose: 1014, message: ERRORS.UPSTREAM_TIMEOUT.message });
  expect(new GatewayError('NOT_FOUND', 'no live connection x')).toMatchObject({ status: 404, wsClose: null, message: 'no live connection x' });
});

function withCode(code: string): Error {
  return Object.assign(new Error(`failed with ${code}`), { code });
}

test.each([
  { code: 'ECONNREFUSED', want: 'UPSTREAM_UNAVAILABLE' },
  { code: 'ECONNRESET', want: 'UPSTREAM_UNAVAILABLE' },
  { code: 'ENOTFOUND', want: 'UPSTREAM_UNAVAILABLE' },
  { code: 'ETIMEDOUT', want: 'UPSTREAM_TIMEOUT' },
  { code: 'UND_ERR_CONNECT_TIMEOUT', want: 'UPSTREAM_TIMEOUT' },
  { code: 'UND_ERR_HEADERS_TIMEOUT', want: 'UPSTREAM_TIMEOUT' },
  { code: 'UND_ERR_BODY_TIMEOUT', want: 'UPSTREAM_TIMEOUT' },
  { code: 'UND_ERR_SOCKET', want: 'UPSTREAM_UNAVAILABLE' },
  { code: 'UND_ERR_HEADERS_OVERFLOW', want: 'UPSTREAM_BAD_RESPONSE' },
  { code: 'HPE_INVALID_CONSTANT', want: 'UPSTREAM_BAD_RESPONSE' },
  { code: 'HPE_INVALID_STATUS', want: 'UPSTREAM_BAD_RESPONSE' },
  { code: 'HPE_HEADER_OVERFLOW', want: 'UPSTREAM_BAD_RESPONSE' },
] as const)('toGatewayError maps $code to $want and keeps the original as cause', ({ code, want }) => {
  const original = withCode(code);
  const err = toGatewayError(original, 'INTERNAL');
  expect(err).toBeInstanceOf(GatewayError);
  expect(err.code).toBe(want);
  expect(err.status).toBe(ERRORS[want].status);
  expect(err.cause).toBe(original);
});

// Exhaustive over H1Error's codes: a new H1_* code does not compile until it is mapped here and in core.
const H1_CODES = {
  H1_CONNECT_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_HEADERS_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_BODY_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_SOCKET_CLOSED: 'UPSTREAM_UNAVAILABLE',
  H1_POOL_CLOSED: 'UPSTREAM_UNAVAILABLE',
} as const satisfies Record<H1Error['code'], ErrorCode>;

test.each(Object.entries(H1_CODES))('toGatewayError maps the h1 client code %s to %s', (code, want) => {
  expect(toGatewayError(withCode(code), 'INTERNAL').code).toBe(want);
});

test("toGatewayError maps undici's HTTPParserError by its name, though it has no code", () => {
  const parserError = new undiciErrors.HTTPParserError('Response does not match the HTTP/1.1 protocol');
  expect((parserError as { code?: unknown }).code).toBeUndefined();
  expect(toGatewayError(parserError, 'UPSTREAM_UNAVAILABLE')).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', cause: parserError });
  // By name, not instanceof: any object so named, from whichever copy of undici.
  const lookalike = Object.assign(new Error('bad response'), { name: 'HTTPParserError' });
  expect(toGatewayError(lookalike, 'UPSTREAM_UNAVAILABLE').code).toBe('UPSTREAM_BAD_RESPONSE');
});

test('toGatewayError falls back for an error nothing names, keeping it as cause', () => {
  const odd = withCode('ESOMETHINGELSE');
  expect(toGatewayError(odd)).toMatchObject({ code: 'INTERNAL', status: 500, wsClose: 1011, cause: odd });
  expect(toGatewayError(odd, 'UPSTREAM_UNAVAILABLE').code).toBe('UPSTREAM_UNAVAILABLE');
  expect(toGatewayError(new Error('no code')).code).toBe('INTERNAL');
  expect(toGatewayError('a string').cause).toBe('a string');
  expect(toGatewayError(null).code).toBe('INTERNAL');
});

test('toGatewayError passes a GatewayError through unchanged', () => {
  const err = new GatewayError('WS_MESSAGE_TOO_BIG', 'upstream: message exceeds maxMessageBytes');
  expect(toGatewayError(err, 'UPSTREAM_UNAVAILABLE')).toBe(err);
});

test.each([
  { code: 'HPE_HEADER_OVERFLOW', want: 'HEADERS_TOO_LARGE' },
  { code: 'HPE_UNEXPECTED_CONTENT_LENGTH', want: 'AMBIGUOUS_FRAMING' },
  { code: 'HPE_INVALID_TRANSFER_ENCODING', want: 'AMBIGUOUS_FRAMING' },
  { code: 'HPE_INVALID_CHUNK_SIZE', want: 'AMBIGUOUS_FRAMING' },
  { code: 'HPE_INVALID_METHOD', want: 'BAD_REQUEST' },
  { code: 'ERR_HTTP_REQUEST_TIMEOUT', want: 'REQUEST_TIMEOUT' },
] as const)("a client's request refused with $code is answered $want, never as the upstream's fault", ({ code, want }) => {
  const original = withCode(code);
  expect(clientErrorToGatewayError(original)).toMatchObject({ code: want, status: ERRORS[want].status, cause: original });
});

test.each(['ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED', 'ESOMETHINGELSE'])('a client error %s gets no answer', (code) => {
  expect(clientErrorToGatewayError(withCode(code))).toBeNull();
});

test('an invalid config throws a ConfigError with code CONFIG_INVALID and its { path, message } problems', () => {
  let thrown: unknown;
  try {
    parseConfig({ listen: [{ port: 8080 }], upstreams: {}, routes: [{ name: 'r', match: { path: '/x' }, upstream: 'nope' }] });
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  expect(thrown).toBeInstanceOf(GatewayError);
  const err = thrown as ConfigError;
  expect(err).toMatchObject({ name: 'ConfigError', code: 'CONFIG_INVALID', status: 400, wsClose: null });
  expect(err.problems.length).toBeGreaterThan(0);
  for (const p of err.problems) expect(Object.keys(p).sort()).toEqual(['message', 'path']);
  expect(toGatewayError(err)).toBe(err);
});

test('an unreadable config file is a GatewayError with code CONFIG_UNREADABLE', () => {
  let thrown: unknown;
  try {
    loadConfigFile('/nonexistent/wsgate.yaml');
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(GatewayError);
  expect(thrown).toMatchObject({ code: 'CONFIG_UNREADABLE', message: 'cannot read config file /nonexistent/wsgate.yaml: no such file' });
  expect((thrown as GatewayError).cause).toMatchObject({ code: 'ENOENT' });
});
