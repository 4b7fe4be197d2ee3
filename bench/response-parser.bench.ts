// bench/response-parser: the h1 client's ResponseParser alone, ns per response, for the shapes the
// relay meets: a small JSON answer with Content-Length in one read (the common case), the same with
// a dozen headers, a chunked answer, and a head cut across two reads.
// Run: node --import tsx bench/response-parser.bench.ts
// Each case runs at least 500 ms (and 200,000 responses) after a warm-up.

import { ResponseParser, type ResponseSink } from '../src/upstream/h1/response-parser.js';
import { FAULT_NONE } from '../src/upstream/h1/response-faults.js';

const MIN_MS = 500;
const MIN_RESPONSES = 200_000;

const JSON_BODY = '{"ok":true,"service":"backend","message":"hello from the benchmark backend","padding":"xxxxxxxxx"}';

function response(headers: string[], body: string, chunked = false): Buffer {
  const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
  const payload = chunked ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
  return Buffer.from(`HTTP/1.1 200 OK\r\n${[framing, ...headers].join('\r\n')}\r\n\r\n${payload}`, 'latin1');
}

const GO_HEADERS = ['Content-Type: application/json', 'Date: Fri, 27 Nov 2026 07:55:00 GMT'];
const MANY_HEADERS = [
  ...GO_HEADERS,
  'Cache-Control: no-store',
  'Vary: Accept-Encoding, Origin',
  'X-Request-Id: 4bf92f3577b34da6a3ce929d0e0e4736',
  'X-Content-Type-Options: nosniff',
  'Strict-Transport-Security: max-age=63072000',
  'Server: upstream/1.0',
  'Set-Cookie: session=abc; Path=/; HttpOnly',
  'ETag: "33a64df551425fcc55e4d42a148795d9f25f89d4"',
  'Connection: keep-alive',
  'Keep-Alive: timeout=5',
];

class CountingSink implements ResponseSink {
  bytes = 0;
  completions = 0;
  onHead(parser: ResponseParser): void {
    this.bytes += parser.rawHeaders.length;
  }
  onBody(chunk: Buffer): void {
    this.bytes += chunk.length;
  }
  onComplete(): void {
    this.completions++;
  }
}

function run(label: string, pieces: Buffer[]): void {
  const parser = new ResponseParser(64 * 1024);
  const sink = new CountingSink();
  const once = (): void => {
    parser.reset(false);
    for (const piece of pieces) parser.execute(piece, sink);
    if (parser.fault !== FAULT_NONE) throw new Error(`${label}: fault ${parser.fault}`);
  };
  for (let i = 0; i < 50_000; i++) once(); // warm-up: let the JIT settle
  const before = sink.completions;
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0;
  while (n < MIN_RESPONSES || elapsedNs < MIN_MS * 1e6) {
    for (let i = 0; i < 10_000; i++) once();
    n += 10_000;
    elapsedNs = Number(process.hrtime.bigint() - start);
  }
  if (sink.completions - before !== n) throw new Error(`${label}: ${sink.completions - before} completions for ${n} responses`);
  process.stdout.write(`${label.padEnd(44)} ${(elapsedNs / n).toFixed(0).padStart(6)} ns/response\n`);
}

const small = response(GO_HEADERS, JSON_BODY);
process.stdout.write(`response-parser, node ${process.version}\n`);
run('JSON, Content-Length, 3 headers, one read', [small]);
run('JSON, Content-Length, 13 headers, one read', [response(MANY_HEADERS, JSON_BODY)]);
run('JSON, chunked, 3 headers, one read', [response(GO_HEADERS, JSON_BODY, true)]);
run('JSON, Content-Length, head cut in two reads', [small.subarray(0, 40), small.subarray(40)]);
