import { describe, test, expect } from 'vitest';
import { ResponseParser, type ResponseSink } from '../../../../src/upstream/h1/response-parser.js';
import {
  FAULT_BAD_CHUNK,
  FAULT_BAD_HEADER,
  FAULT_BAD_LENGTH,
  FAULT_BAD_STATUS,
  FAULT_HEAD_TOO_LARGE,
  FAULT_NONE,
  FAULT_UNEXPECTED_UPGRADE,
  faultReason,
} from '../../../../src/upstream/h1/response-faults.js';
import { prng, randomBytes } from '../../../helpers/random.js';

// What a sink saw of one response, plus what the parser said about the connection afterwards.
interface Outcome {
  heads: number;
  status: number;
  statusText: string;
  headers: string[];
  body: string;
  completions: number;
  keepAlive: boolean;
  fault: number;
  used: number; // bytes execute() reported as used, over all pieces fed
}

class RecordingSink implements ResponseSink {
  heads = 0;
  status = 0;
  statusText = '';
  headers: string[] = [];
  chunks: Buffer[] = [];
  completions = 0;
  order: string[] = [];

  onHead(parser: ResponseParser): void {
    this.heads++;
    this.status = parser.status;
    this.statusText = parser.statusText;
    this.headers = [...parser.rawHeaders]; // the parser reuses its array
    this.order.push('head');
  }

  lasts: boolean[] = [];

  onBody(chunk: Buffer, last: boolean): void {
    this.chunks.push(Buffer.from(chunk)); // a view into the caller's chunk: copied
    this.lasts.push(last);
    this.order.push('body');
  }

  onComplete(): void {
    this.completions++;
    this.order.push('complete');
  }
}

interface FeedOptions {
  noBody?: boolean;
  maxHeadBytes?: number;
  close?: boolean; // the connection ends after the last piece (finishOnClose)
}

function feed(pieces: readonly Buffer[], options: FeedOptions = {}): Outcome {
  const parser = new ResponseParser(options.maxHeadBytes ?? 64 * 1024);
  parser.reset(options.noBody ?? false);
  const sink = new RecordingSink();
  let used = 0;
  for (const piece of pieces) {
    used += parser.execute(piece, sink);
    if (parser.fault !== FAULT_NONE) break;
  }
  if (options.close === true && parser.fault === FAULT_NONE) parser.finishOnClose(sink);
  return {
    heads: sink.heads,
    status: sink.status,
    statusText: sink.statusText,
    headers: sink.headers,
    body: Buffer.concat(sink.chunks).toString('latin1'),
    completions: sink.completions,
    keepAlive: parser.keepAlive,
    fault: parser.fault,
    used,
  };
}

function parseWhole(text: string, options: FeedOptions = {}): Outcome {
  return feed([Buffer.from(text, 'latin1')], options);
}

function splitAt(bytes: Buffer, at: number): Buffer[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

function byteByByte(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
  return out;
}

describe('framing of the body', () => {
  test('reads a Content-Length body and stops at its end', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world';
    const out = parseWhole(text);
    expect(out).toMatchObject({ heads: 1, status: 200, statusText: 'OK', body: 'hello world', completions: 1, keepAlive: true, fault: FAULT_NONE, used: text.length });
    expect(out.headers).toEqual(['Content-Type', 'text/plain', 'Content-Length', '11']);
  });

  test('completes a Content-Length: 0 response with its head, without a body', () => {
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const sink = new RecordingSink();
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(parser.execute(bytes, sink)).toBe(bytes.length);
    expect(sink.order).toEqual(['head', 'complete']);
    expect(parser.done).toBe(true);
    expect(parser.keepAlive).toBe(true);
  });

  test('decodes a chunked body with chunk extensions and trailers: the body comes without chunk syntax', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;name=value\r\nhello\r\n' +
      '1 ; a="quoted;ext" ;b\r\n \r\n' +
      'A\r\n0123456789\r\n' +
      '0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n';
    const out = parseWhole(text);
    expect(out).toMatchObject({ status: 200, body: 'hello 0123456789', completions: 1, keepAlive: true, fault: FAULT_NONE, used: text.length });
    expect(out.headers).toEqual(['Transfer-Encoding', 'chunked']); // trailers are not headers
  });

  test('accepts upper- and lower-case hex chunk sizes', () => {
    const out = parseWhole(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n${'x'.repeat(26)}\r\n1A\r\n${'y'.repeat(26)}\r\n0\r\n\r\n`);
    expect(out.body).toBe('x'.repeat(26) + 'y'.repeat(26));
    expect(out.completions).toBe(1);
  });

  test('reads a body without framing until the connection closes, and marks the connection single-use', () => {
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const sink = new RecordingSink();
    parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst '), sink);
    parser.execute(Buffer.from('second'), sink);
    expect(parser.readingUntilClose).toBe(true);
    expect(parser.keepAlive).toBe(false);
    expect(sink.completions).toBe(0);
    expect(parser.finishOnClose(sink)).toBe(true);
    expect(sink.completions).toBe(1);
    expect(parser.done).toBe(true);
    expect(Buffer.concat(sink.chunks).toString()).toBe('first second');
  });

  test('finishOnClose does not complete a Content-Length body cut short, nor a head', () => {
    const short = new ResponseParser(1024);
    short.reset(false);
    const sink = new RecordingSink();
    short.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), sink);
    expect(short.finishOnClose(sink)).toBe(false);
    expect(sink.completions).toBe(0);

    const head = new ResponseParser(1024);
    head.reset(false);
    const sink2 = new RecordingSink();
    head.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), sink2);
    expect(head.headComplete).toBe(false);
    expect(head.finishOnClose(sink2)).toBe(false);
    expect(sink2.heads).toBe(0);
  });

  test('an answer to HEAD has no body even with a Content-Length', () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    const parser = new ResponseParser(1024);
    parser.reset(true);
    const sink = new RecordingSink();
    expect(parser.execute(Buffer.concat([bytes, Buffer.from('HTTP/1.1 200 OK\r\n')]), sink)).toBe(bytes.length);
    expect(sink.order).toEqual(['head', 'complete']);
    expect(parser.keepAlive).toBe(true);
  });

  test('an answer to HEAD has no body with Transfer-Encoding: chunked either', () => {
    const out = parseWhole('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', { noBody: true });
    expect(out).toMatchObject({ completions: 1, body: '', keepAlive: true });
  });

  test.each([
    ['204', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n'],
    ['304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: "x"\r\n\r\n'],
    ['304 with Transfer-Encoding', 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ])('a %s has no body: it completes at the end of its head', (_name, text) => {
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const sink = new RecordingSink();
    const next = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    expect(parser.execute(Buffer.from(text + next), sink)).toBe(text.length);
    expect(sink.order).toEqual(['head', 'complete']);
    expect(parser.keepAlive).toBe(true);
  });

  test('Transfer-Encoding and Content-Length together: chunked wins and the connection is not reused', () => {
    const out = parseWhole('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    expect(out).toMatchObject({ body: 'hello', completions: 1, keepAlive: false, fault: FAULT_NONE });
  });

  test.each([
    ['gzip', 'gzip'],
    ['chunked, gzip', 'chunked, gzip'],
    ['xchunked', 'xchunked'],
  ])('Transfer-Encoding: %s (not ending in chunked) is read until close', (_name, te) => {
    const body = '5\r\nhello\r\n0\r\n\r\n'; // not chunk syntax here: raw bytes
    const out = parseWhole(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${te}\r\n\r\n${body}`, { close: true });
    expect(out).toMatchObject({ body, completions: 1, keepAlive: false, fault: FAULT_NONE });
  });

  test('the last Transfer-Encoding line decides: gzip then chunked is chunked', () => {
    const out = parseWhole('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n');
    expect(out).toMatchObject({ body: 'hi', completions: 1, keepAlive: true });
  });
});

test('the chunk that ends a Content-Length body is flagged last, at every split; chunked and close-delimited never are', () => {
  const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789', 'latin1');
  for (let at = 1; at < bytes.length; at++) {
    const parser = new ResponseParser(64 * 1024);
    parser.reset(false);
    const sink = new RecordingSink();
    for (const piece of splitAt(bytes, at)) parser.execute(piece, sink);
    expect(sink.lasts.at(-1)).toBe(true);
    expect(sink.lasts.slice(0, -1).every((l) => !l)).toBe(true);
    expect(sink.order.at(-1)).toBe('complete');
  }
  const chunked = new RecordingSink();
  const p1 = new ResponseParser(64 * 1024);
  p1.reset(false);
  p1.execute(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'latin1'), chunked);
  expect(chunked.lasts).toEqual([false]);
  expect(chunked.completions).toBe(1);
});

test('Keep-Alive: timeout=N is read as a hint in ms; absent or without timeout it is -1', () => {
  const hint = (extra: string): number => {
    const parser = new ResponseParser(64 * 1024);
    parser.reset(false);
    parser.execute(Buffer.from(`HTTP/1.1 204 No Content\r\n${extra}\r\n`, 'latin1'), new RecordingSink());
    return parser.keepAliveHintMs;
  };
  expect(hint('Keep-Alive: timeout=5, max=1000\r\n')).toBe(5000);
  expect(hint('keep-alive: max=10;Timeout = 2\r\n')).toBe(2000);
  expect(hint('Keep-Alive: max=10\r\n')).toBe(-1);
  expect(hint('')).toBe(-1);
});

describe('1xx answers', () => {
  test('skips 100 Continue and 103 Early Hints: the sink only sees the final response', () => {
    const text =
      'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
      'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
    const out = parseWhole(text);
    expect(out).toMatchObject({ heads: 1, status: 201, statusText: 'Created', body: 'ok', completions: 1, used: text.length });
    expect(out.headers).toEqual(['Content-Length', '2']);
  });

  test('a 1xx split from the final answer across reads is still skipped', () => {
    const out = feed([Buffer.from('HTTP/1.1 100 Continue\r\n\r'), Buffer.from('\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx')]);
    expect(out).toMatchObject({ heads: 1, status: 200, body: 'x', completions: 1 });
  });

  test('101 Switching Protocols on a plain request is a fault', () => {
    const out = parseWhole('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    expect(out).toMatchObject({ heads: 0, completions: 0, fault: FAULT_UNEXPECTED_UPGRADE, keepAlive: false });
    expect(faultReason(out.fault)).toContain('switched protocols');
  });
});

describe('connection reuse', () => {
  test.each([
    ['HTTP/1.0 without Connection', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false],
    ['HTTP/1.0 with Connection: keep-alive', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true],
    ['HTTP/1.0 with Connection: Keep-Alive', 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n', true],
    ['HTTP/1.1 without Connection', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', true],
    ['HTTP/1.1 with Connection: close', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', false],
    ['HTTP/1.1 with Connection: Close', 'HTTP/1.1 200 OK\r\nconnection: Close\r\nContent-Length: 0\r\n\r\n', false],
    ['HTTP/1.1 with close among other tokens', 'HTTP/1.1 200 OK\r\nConnection: x-foo, close\r\nContent-Length: 0\r\n\r\n', false],
    ['HTTP/1.1 with Connection: keep-alive', 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', true],
  ])('%s → keepAlive %s', (_name, text, keepAlive) => {
    const out = parseWhole(text);
    expect(out.completions).toBe(1);
    expect(out.keepAlive).toBe(keepAlive);
  });

  test('HTTP/1.0 with Transfer-Encoding is never reused, even with Connection: keep-alive', () => {
    const out = parseWhole('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    expect(out).toMatchObject({ body: 'ok', completions: 1 });
    expect(out.keepAlive).toBe(false);
  });

  test('HTTP/1.0: Connection: close on one line and keep-alive on a later one → not reused', () => {
    const out = parseWhole('HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n');
    expect(out.completions).toBe(1);
    expect(out.keepAlive).toBe(false);
  });

  test('two responses in one read: execute returns where the first ends, and the rest parses as the second', () => {
    const first = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst';
    const second = 'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n';
    const both = Buffer.from(first + second);
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const a = new RecordingSink();
    const used = parser.execute(both, a);
    expect(used).toBe(first.length);
    expect(a.status).toBe(200);
    expect(Buffer.concat(a.chunks).toString()).toBe('first');
    expect(a.completions).toBe(1);
    // Done: more bytes are not taken.
    expect(parser.execute(both.subarray(used), a)).toBe(0);

    parser.reset(false);
    const b = new RecordingSink();
    expect(parser.execute(both.subarray(used), b)).toBe(second.length);
    expect(b.status).toBe(404);
    expect(b.statusText).toBe('Not Found');
    expect(b.headers).toEqual(['Transfer-Encoding', 'chunked']);
    expect(Buffer.concat(b.chunks).toString()).toBe('second');
    expect(b.completions).toBe(1);
  });

  test('a chunked response followed by another: execute stops after the last CRLF of the trailer section', () => {
    const first = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n';
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const sink = new RecordingSink();
    expect(parser.execute(Buffer.from(first + 'HTTP/1.1 200 OK\r\n\r\n'), sink)).toBe(first.length);
    expect(sink.completions).toBe(1);
  });

  test('reset() after a response clears status, headers and reuse', () => {
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const sink = new RecordingSink();
    parser.execute(Buffer.from('HTTP/1.1 500 Oops\r\nConnection: close\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n'), sink);
    expect(parser.keepAlive).toBe(false);
    parser.reset(false);
    expect(parser.status).toBe(0);
    expect(parser.statusText).toBe('');
    expect(parser.rawHeaders).toEqual([]);
    expect(parser.keepAlive).toBe(true);
    expect(parser.headComplete).toBe(false);
  });
});

describe('header fields', () => {
  test('trims optional whitespace around a value and keeps spelling, order and repeats', () => {
    const out = parseWhole('HTTP/1.1 200 OK\r\nX-A:  spaced \t\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\nX-Tab: a\tb\r\nContent-Length: 0\r\n\r\n');
    expect(out.fault).toBe(FAULT_NONE);
    expect(out.headers).toEqual(['X-A', 'spaced', 'set-cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Empty', '', 'X-Tab', 'a\tb', 'Content-Length', '0']);
  });

  test('accepts obs-text (bytes over 0x7f) in a value and in the reason phrase, as latin1', () => {
    const out = feed([Buffer.concat([Buffer.from('HTTP/1.1 200 \xe9t\xe9\r\nX-A: caf', 'latin1'), Buffer.from([0xe9]), Buffer.from('\r\nContent-Length: 0\r\n\r\n')])]);
    expect(out.fault).toBe(FAULT_NONE);
    expect(out.statusText).toBe('\xe9t\xe9');
    expect(out.headers.slice(0, 2)).toEqual(['X-A', 'caf\xe9']);
  });

  test('an empty reason phrase is allowed, with or without the space', () => {
    expect(parseWhole('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ status: 200, statusText: '', completions: 1 });
    expect(parseWhole('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n')).toMatchObject({ status: 200, statusText: '', completions: 1 });
  });

  test('identical repeated Content-Length values are accepted, as lines and as a list', () => {
    expect(parseWhole('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello')).toMatchObject({ body: 'hello', completions: 1, fault: FAULT_NONE });
    expect(parseWhole('HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello')).toMatchObject({ body: 'hello', completions: 1, fault: FAULT_NONE });
  });
});

describe('faults', () => {
  // Each of these, fed whole, is a fault before the sink hears of a head; the connection is unusable.
  test.each([
    ['an obs-fold continuation line', 'HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['an obs-fold line with a colon in it', 'HTTP/1.1 200 OK\r\nX-A: a\r\n\tX-B: b\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a tab before the colon', 'HTTP/1.1 200 OK\r\nX-A\t: 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a space inside a name', 'HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a non-token character in a name', 'HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['an @ in a name', 'HTTP/1.1 200 OK\r\nX@A: 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['an empty name', 'HTTP/1.1 200 OK\r\n: 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a line without a colon', 'HTTP/1.1 200 OK\r\nX-A 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a bare LF inside a header line', 'HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a bare LF in a name', 'HTTP/1.1 200 OK\r\nX-\nA: 1\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['header lines ended by bare LF', 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a bare CR in a value', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a control character in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a vertical tab in a value', 'HTTP/1.1 200 OK\r\nX-A: \x0bb\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['a DEL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['conflicting Content-Length lines', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', FAULT_BAD_LENGTH],
    ['a conflicting Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!', FAULT_BAD_LENGTH],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', FAULT_BAD_LENGTH],
    ['a signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', FAULT_BAD_LENGTH],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', FAULT_BAD_LENGTH],
    ['a hex Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello', FAULT_BAD_LENGTH],
    ['a fractional Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5.0\r\n\r\nhello', FAULT_BAD_LENGTH],
    ['an empty Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n', FAULT_BAD_LENGTH],
    ['a Content-Length list with an empty member', 'HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\nhello', FAULT_BAD_LENGTH],
    ['a Content-Length of 16 digits', 'HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n', FAULT_BAD_LENGTH],
    ['an invalid Content-Length beside Transfer-Encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n', FAULT_BAD_LENGTH],
    ['HTTP/2.0', 'HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['HTTP/1.2', 'HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a lower-case version', 'http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a two-digit status', 'HTTP/1.1 20\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a two-digit status with a reason', 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a four-digit status', 'HTTP/1.1 2000\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a four-digit status with a reason', 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a status under 100', 'HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a non-numeric status', 'HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['two spaces before the status', 'HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a tab after the status', 'HTTP/1.1 200\tOK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a control character in the reason', 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['a status line ended by bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
    ['something else than HTTP', 'HELLO\r\n\r\n', FAULT_BAD_STATUS],
    ['leading CRLF before the status line', '\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_STATUS],
  ])('%s', (_name, text, fault) => {
    const bytes = Buffer.from(text, 'latin1');
    const out = feed([bytes]);
    expect(out.fault).toBe(fault);
    expect(out.heads).toBe(0);
    expect(out.completions).toBe(0);
    expect(out.keepAlive).toBe(false);
    expect(out.used).toBe(bytes.length);
    expect(faultReason(out.fault)).not.toBe('');
  });

  // Chunked framing faults come after the head: the sink has the head (and maybe some body), never completion.
  test.each([
    ['a non-hex chunk size', 'zz\r\nhello\r\n0\r\n\r\n', ''],
    ['an empty chunk-size line', '\r\nhello\r\n0\r\n\r\n', ''],
    ['a chunk extension without a size', ';ext\r\nhello\r\n0\r\n\r\n', ''],
    ['a negative chunk size', '-5\r\nhello\r\n0\r\n\r\n', ''],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', ''],
    ['13 hex digits', '0000000000005\r\nhello\r\n0\r\n\r\n', ''],
    ['a chunk size over 2^48', 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n', ''],
    ['a size line ended by bare LF', '5\nhello\r\n0\r\n\r\n', ''],
    ['a bare LF in a chunk extension', '5;a\nb\r\nhello\r\n0\r\n\r\n', ''],
    ['a control character in a chunk extension', '5;a\x01\r\nhello\r\n0\r\n\r\n', ''],
    ['no CRLF after the chunk data', '5\r\nhelloX\r\n0\r\n\r\n', 'hello'],
    ['a CR without LF after the chunk data', '5\r\nhello\rX0\r\n\r\n', 'hello'],
    ['bare LF after the chunk data', '5\r\nhello\n0\r\n\r\n', 'hello'],
    ['a bare LF in the trailer section', '5\r\nhello\r\n0\r\nX-T: 1\n\r\n', 'hello'],
    ['a bare CR in a trailer', '5\r\nhello\r\n0\r\nX-T: a\rb\r\n\r\n', 'hello'],
  ])('chunked framing: %s', (_name, body, delivered) => {
    const out = parseWhole(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    expect(out.fault).toBe(FAULT_BAD_CHUNK);
    expect(out.heads).toBe(1);
    expect(out.body).toBe(delivered);
    expect(out.completions).toBe(0);
    expect(out.keepAlive).toBe(false);
  });

  test('12 hex digits are still a valid chunk size', () => {
    const out = parseWhole('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000000000005\r\nhello\r\n0\r\n\r\n');
    expect(out).toMatchObject({ fault: FAULT_NONE, body: 'hello', completions: 1 });
  });

  test('a trailer section over maxHeadBytes is a fault', () => {
    const out = parseWhole(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${'t'.repeat(300)}\r\n\r\n`, { maxHeadBytes: 256 });
    expect(out).toMatchObject({ fault: FAULT_BAD_CHUNK, completions: 0 });
  });

  test('a head larger than maxHeadBytes in one read is a fault', () => {
    const text = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300)}\r\nContent-Length: 0\r\n\r\n`;
    expect(parseWhole(text, { maxHeadBytes: 256 })).toMatchObject({ fault: FAULT_HEAD_TOO_LARGE, heads: 0, keepAlive: false, used: text.length });
    // The same head fits a larger limit.
    expect(parseWhole(text, { maxHeadBytes: 512 })).toMatchObject({ fault: FAULT_NONE, heads: 1, completions: 1 });
  });

  test('a head without its end is a fault as soon as it grows over maxHeadBytes, across reads', () => {
    const parser = new ResponseParser(256);
    parser.reset(false);
    const sink = new RecordingSink();
    const piece = Buffer.from(`X-Filler: ${'f'.repeat(40)}\r\n`); // 52 bytes
    expect(parser.execute(Buffer.from('HTTP/1.1 200 OK\r\n'), sink)).toBe(17);
    let reads = 1;
    while (parser.fault === FAULT_NONE && reads < 100) {
      expect(parser.execute(piece, sink)).toBe(piece.length);
      reads++;
    }
    expect(parser.fault).toBe(FAULT_HEAD_TOO_LARGE);
    expect(reads).toBe(1 + 5); // 17 + 5 × 52 = 277 > 256, while 17 + 4 × 52 = 225 was still waiting
    expect(sink.heads).toBe(0);
    expect(parser.keepAlive).toBe(false);
  });

  test('a head accumulated across reads whose end arrives over maxHeadBytes is a fault', () => {
    const text = `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(120)}\r\nX-B: ${'b'.repeat(120)}\r\n\r\n`;
    const bytes = Buffer.from(text);
    expect(bytes.length).toBe(273); // the first 200 bytes fit the limit, the whole head does not
    expect(feed([bytes.subarray(0, 200), bytes.subarray(200)], { maxHeadBytes: 256 })).toMatchObject({ fault: FAULT_HEAD_TOO_LARGE, heads: 0 });
    expect(feed(byteByByte(bytes), { maxHeadBytes: 256 })).toMatchObject({ fault: FAULT_HEAD_TOO_LARGE, heads: 0 });
  });

  test('execute after a fault takes nothing more and reports nothing', () => {
    const parser = new ResponseParser(1024);
    parser.reset(false);
    const sink = new RecordingSink();
    const bad = Buffer.from('HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n');
    expect(parser.execute(bad, sink)).toBe(bad.length);
    expect(parser.fault).toBe(FAULT_BAD_HEADER);
    parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), sink);
    expect(sink.order).toEqual([]);
    expect(parser.fault).toBe(FAULT_BAD_HEADER);
  });
});

describe('split points: the same result however the bytes are cut', () => {
  const manyHeaders = Array.from({ length: 40 }, (_, i) => `X-Header-${i}: value-${i}-${'v'.repeat(i)}\r\n`).join('');
  const cases: [string, string, FeedOptions][] = [
    ['a Content-Length body', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz', {}],
    [
      'a chunked body with extensions and trailers',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n' +
        '5;name="v;x"\r\nhello\r\n' +
        '1 ;e\r\n \r\n' +
        '10\r\n0123456789abcdef\r\n' +
        '0;end\r\nX-Trailer: t\r\nX-Other: o\r\n\r\n',
      {},
    ],
    ['a head with many headers and a short body', `HTTP/1.1 404 Not Found\r\n${manyHeaders}Content-Length: 3\r\n\r\nnop`, {}],
    ['100 Continue before the answer', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', {}],
    ['a close-delimited body', 'HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil the end', { close: true }],
    ['an answer to HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-A: 1\r\n\r\n', { noBody: true }],
  ];

  for (const [name, text, options] of cases) {
    const bytes = Buffer.from(text, 'latin1');
    const whole = feed([bytes], options);

    test(`${name}: fed whole`, () => {
      expect(whole.fault).toBe(FAULT_NONE);
      expect(whole.heads).toBe(1);
      expect(whole.completions).toBe(1);
      expect(whole.used).toBe(bytes.length);
    });

    test(`${name}: split in two at every offset`, () => {
      for (let at = 1; at < bytes.length; at++) {
        const out = feed(splitAt(bytes, at), options);
        expect(out, `split at ${at}`).toEqual(whole);
      }
    });

    test(`${name}: one byte at a time`, () => {
      expect(feed(byteByByte(bytes), options)).toEqual(whole);
    });
  }

  test('two responses back to back, split at every offset: the first ends at the same byte', () => {
    const first = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n';
    const both = Buffer.from(first + 'HTTP/1.1 204 No Content\r\n\r\n');
    for (let at = 1; at < both.length; at++) {
      const parser = new ResponseParser(1024);
      parser.reset(false);
      const sink = new RecordingSink();
      let used = parser.execute(both.subarray(0, at), sink);
      if (!parser.done) used += parser.execute(both.subarray(at), sink);
      expect(used, `split at ${at}`).toBe(first.length);
      expect(Buffer.concat(sink.chunks).toString(), `split at ${at}`).toBe('abc');
      expect(sink.completions).toBe(1);
    }
  });

  test.each([
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n', FAULT_BAD_HEADER],
    ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', FAULT_BAD_LENGTH],
    ['missing CRLF after chunk data', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n', FAULT_BAD_CHUNK],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\ng\r\n0\r\n\r\n', FAULT_BAD_CHUNK],
  ])('a fault (%s) is found at every split point', (_name, text, fault) => {
    const bytes = Buffer.from(text);
    for (let at = 1; at < bytes.length; at++) expect(feed(splitAt(bytes, at)).fault, `split at ${at}`).toBe(fault);
    expect(feed(byteByByte(bytes)).fault).toBe(fault);
  });

  test('a head of exactly maxHeadBytes is accepted at every split point', () => {
    const head = `HTTP/1.1 200 OK\r\nX-Pad: `;
    const text = head + 'p'.repeat(200 - head.length) + '\r\n\r\n';
    const bytes = Buffer.from(text);
    const whole = feed([bytes], { maxHeadBytes: 200 });
    expect(whole).toMatchObject({ fault: FAULT_NONE, heads: 1, completions: 0 }); // close-delimited, no body yet
    for (let at = 1; at < bytes.length; at++) expect(feed(splitAt(bytes, at), { maxHeadBytes: 200 }), `split at ${at}`).toEqual(whole);
  });
});

describe('garbage', () => {
  const VALID = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n',
    'HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
  ];

  test('random bytes and mutated responses, cut at random points: never a throw, never more used than given, a fault or a sane state', () => {
    const next = prng(0x5eed);
    for (let round = 0; round < 3000; round++) {
      let bytes: Buffer;
      if (round % 2 === 0) {
        bytes = randomBytes(next, 1 + Math.floor(next() * 300));
        if (round % 4 === 0) bytes = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), bytes]);
      } else {
        bytes = Buffer.from(VALID[round % VALID.length]!, 'latin1');
        for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      }
      const parser = new ResponseParser(1024);
      parser.reset(next() < 0.1);
      const sink = new RecordingSink();
      for (let at = 0; at < bytes.length && parser.fault === FAULT_NONE && !parser.done; ) {
        const size = 1 + Math.floor(next() * (bytes.length - at));
        const piece = bytes.subarray(at, at + size);
        const used = parser.execute(piece, sink);
        expect(used).toBeGreaterThanOrEqual(0);
        expect(used).toBeLessThanOrEqual(piece.length);
        at += size;
      }
      if (parser.fault !== FAULT_NONE) expect(parser.keepAlive).toBe(false);
      expect(sink.heads).toBeLessThanOrEqual(1);
      expect(sink.completions).toBeLessThanOrEqual(1);
      if (sink.completions === 1) expect(sink.heads).toBe(1);
    }
  });
});
