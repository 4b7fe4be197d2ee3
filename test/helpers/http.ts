// test/helpers/http: HTTP clients and upstreams with exact header control, answer readers, id patterns and spare ports.
import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { once } from 'node:events';
import { onTestFinished } from 'vitest';
import { startHttpUpstream, type Upstream } from './servers.js';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface SendOptions {
  method?: string;
  // An array keeps the order and spelling of names, and allows repeats: ['X-A', '1', 'X-A', '2'].
  headers?: Record<string, string | string[]> | string[];
  body?: string | Buffer;
}

// One request on a fresh connection (no agent), the whole answer read.
export async function send(url: string, options: SendOptions = {}): Promise<HttpResult> {
  const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false });
  req.end(options.body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) };
}

// One GET through fetch, the body read as text.
export async function fetchText(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

// The body of an answer as JSON: from send(), or rawHttp() (whose body is already a string).
export function jsonOf(result: { body: Buffer | string }): unknown {
  return JSON.parse(result.body.toString());
}

// The `error.code` of SPEC's JSON error body.
export function errorCodeOf(result: { body: Buffer | string }): string | undefined {
  return (jsonOf(result) as { error?: { code?: string } }).error?.code;
}

// A request id the gateway made up: 32 lower-case hex digits.
export const REQUEST_ID = /^[0-9a-f]{32}$/;

// A W3C traceparent the gateway started: version 00, trace id, parent id, sampled.
export const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

// The request as an upstream saw it, sent back as JSON by startEchoUpstream.
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

// An upstream that answers every request with what it received (method, url, headers, body).
export async function startEchoUpstream(name = 'echo', extra?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  return startHttpUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen & { upstream: string } = {
        upstream: name,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      extra?.(req, res);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
  });
}

export function seenOf(result: HttpResult): Seen & { upstream: string } {
  return jsonOf(result) as Seen & { upstream: string };
}

// The names of rawHeaders, lower-cased.
export function headerNames(rawHeaders: readonly string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

async function bindAnyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

// A port that refuses connections: bound once, then closed.
export async function closedPort(): Promise<number> {
  const { server, port } = await bindAnyPort();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// A port nobody else can listen on: held by a server until the test finishes.
export async function occupiedPort(): Promise<number> {
  const { server, port } = await bindAnyPort();
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return port;
}
