// e2e: `wsgate bench` (SPEC section 1) against small servers on 127.0.0.1: what it counts, what it prints,
// its exit codes. Most tests call the run directly (no process start); a few run the CLI for the output and
// exit codes. Durations are a few hundred ms; timing is only ever bounded from above.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { parseBenchArgs, type BenchOptions } from '../../../src/cli/bench/options.js';
import { FAULT_NONE, HttpResponseParser } from '../../../src/cli/bench/http-response-parser.js';
import { benchExitCode, formatBenchReport, type BenchResult } from '../../../src/cli/bench/report.js';
import { runBench } from '../../../src/cli/bench/run-bench.js';
import { ROOT, runCli } from '../../helpers/cli.js';
import { closedPort } from '../../helpers/http.js';
import { startHttpUpstream, startRawUpstream, startWsEcho } from '../../helpers/servers.js';

const SHORT = ['--duration', '300ms', '--warmup', '0s'];

function options(args: string[]): BenchOptions {
  const parsed = parseBenchArgs(args);
  if (parsed.help || 'error' in parsed) throw new Error(`bad bench arguments: ${args.join(' ')}`);
  return parsed.options;
}

function bench(args: string[]): Promise<BenchResult> {
  return runBench(options(args));
}

test('counts as many requests as the server saw, give or take those in flight at the end', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const result = await bench(['http', `${up.url}/items?page=2`, '--connections', '4', ...SHORT]);
  expect(result.errors).toBe(0);
  expect(result.ops).toBeGreaterThan(0);
  expect(up.requests.length - result.ops).toBeGreaterThanOrEqual(0);
  expect(up.requests.length - result.ops).toBeLessThanOrEqual(4);
  expect(up.requests[0]?.url).toBe('/items?page=2');
  expect(result.bytes).toBe(result.ops * 2);
  expect(result.latencyUs.p50).toBeGreaterThan(0);
  expect(result.latencyUs.max).toBeGreaterThanOrEqual(result.latencyUs.p999);
  expect(result.generatorCpuUsPerOp).toBeGreaterThan(0);
});

test('--json prints one object with the documented fields, and exit 0 without errors', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const out = await runCli(['bench', 'http', `${up.url}/`, '--connections', '2', ...SHORT, '--json']);
  expect(out.code).toBe(0);
  const lines = out.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const result = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(Object.keys(result).sort()).toEqual(
    [
      'mode', 'connectOnly', 'url', 'connections', 'openConnections', 'rate', 'coordinatedOmissionCorrected',
      'warmupMs', 'durationMs', 'elapsedMs', 'stoppedBy', 'ops', 'opsPerSec', 'bytes', 'bytesPerSec', 'latencyUs',
      'errors', 'errorsByKind', 'firstError', 'generatorCpuUs', 'generatorCpuUsPerOp', 'connect',
    ].sort(),
  );
  expect(result).toMatchObject({ mode: 'http', connections: 2, openConnections: 2, rate: null, errors: 0, stoppedBy: 'duration', connect: null });
  expect(Object.keys(result.latencyUs as object).sort()).toEqual(['max', 'mean', 'p50', 'p90', 'p99', 'p999']);
  expect(result.ops).toBeGreaterThan(0);
  // Progress goes to a terminal only: not to this pipe.
  expect(out.stderr).toBe('');
});

test('prints a summary with ops/s, MB/s, latency percentiles and the generator CPU per op', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const out = await runCli(['bench', 'http', `${up.url}/`, '--connections', '2', ...SHORT]);
  expect(out.code).toBe(0);
  expect(out.stdout).toMatch(/ops\/s +[\d,.]+/);
  expect(out.stdout).toMatch(/MB\/s +[\d.]+/);
  expect(out.stdout).toMatch(/latency +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +p99\.9 [\d.]+ +max [\d.]+ ms/);
  expect(out.stdout).toMatch(/generator CPU µs\/op +[\d.]+/);
});

test('finds the end of chunked responses, trailers included', async () => {
  const up = await startHttpUpstream((_req, res) => {
    res.writeHead(200, { trailer: 'x-checksum' });
    res.write('hello');
    res.write(' world');
    res.addTrailers({ 'x-checksum': '42' });
    res.end();
  });
  const result = await bench(['http', `${up.url}/`, '--connections', '2', ...SHORT]);
  expect(result.errors).toBe(0);
  expect(result.ops).toBeGreaterThan(0);
  expect(result.bytes).toBe(result.ops * 11);
});

test('the response parser gives the same answers at every split point', () => {
  const wire = Buffer.from(
    'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n' +
      'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnah' +
      'HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n' +
      'HTTP/1.0 200 OK\r\n\r\nuntil close',
    'latin1',
  );
  const expected = ['200:15:false', '404:3:false', '204:0:true', '200:11:true'];
  for (let split = 0; split <= wire.length; split++) {
    const seen: string[] = [];
    const parser = new HttpResponseParser({ onResponse: (status, bytes, close) => seen.push(`${status}:${bytes}:${close}`) });
    expect(parser.execute(wire.subarray(0, split))).toBe(FAULT_NONE);
    expect(parser.execute(wire.subarray(split))).toBe(FAULT_NONE);
    expect(parser.finishAtClose()).toBe(true);
    expect(seen, `split at ${split}`).toEqual(expected);
  }
  const bad = new HttpResponseParser({ onResponse: () => undefined });
  expect(bad.execute(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).not.toBe(FAULT_NONE);
});

test('counts a non-2xx status as an error of its own kind, and exits 1', async () => {
  const up = await startHttpUpstream((_req, res) => {
    res.statusCode = 503;
    res.end('busy');
  });
  const result = await bench(['http', `${up.url}/`, '--connections', '2', ...SHORT]);
  expect(result.ops).toBe(0);
  expect(result.errors).toBeGreaterThan(0);
  expect(result.errorsByKind).toEqual({ status_503: result.errors });
  expect(benchExitCode(result)).toBe(1);
  expect(formatBenchReport(result)).toContain('bad status 503');
});

test('exits 2 with one line saying so when nothing listens on the port', async () => {
  const port = await closedPort();
  const out = await runCli(['bench', 'http', `http://127.0.0.1:${port}/`, '--connections', '3', ...SHORT]);
  expect(out.code).toBe(2);
  expect(out.stdout).toContain('could not be reached');
  expect(out.stdout).toContain('connect refused ×3');
});

test('exits 1 with the option named when the arguments are wrong', async () => {
  const out = await runCli(['bench', 'http', 'http://127.0.0.1:1/', '--duration', 'soon']);
  expect(out.code).toBe(1);
  expect(out.stderr).toContain('--duration soon');
});

test('counts a request with no answer within --timeout as a timeout', async () => {
  const up = await startHttpUpstream(() => undefined);
  const result = await bench(['http', `${up.url}/`, '--connections', '2', '--timeout', '50ms', ...SHORT]);
  expect(result.ops).toBe(0);
  expect(result.errorsByKind.timeout).toBeGreaterThan(0);
});

test('sends --method, --header and a body of --size bytes', async () => {
  const bodies: number[] = [];
  const up = await startHttpUpstream((req, res) => {
    let n = 0;
    req.on('data', (chunk: Buffer) => (n += chunk.length));
    req.on('end', () => {
      bodies.push(n);
      res.end();
    });
  });
  const result = await bench(['http', `${up.url}/`, '--connections', '1', '--method', 'POST', '--header', 'X-Bench: yes', '--size', '1kb', '--max-ops', '5', ...SHORT]);
  expect(result).toMatchObject({ ops: 5, errors: 0, stoppedBy: 'max-ops' });
  expect(up.requests[0]).toMatchObject({ method: 'POST', headers: expect.objectContaining({ 'x-bench': 'yes' }) as unknown });
  expect(bodies[0]).toBe(1024);
});

test('--rate keeps to the rate in an open loop and says latency is corrected for coordinated omission', async () => {
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  const result = await bench(['http', `${up.url}/`, '--connections', '5', '--rate', '100', ...SHORT]);
  expect(result.errors).toBe(0);
  expect(result.ops).toBeGreaterThan(0);
  expect(result.ops).toBeLessThanOrEqual(100 * 0.3 * 1.5);
  expect(result.coordinatedOmissionCorrected).toBe(true);
  expect(formatBenchReport(result)).toContain('coordinated omission corrected');
});

test('closes every socket it opened before it returns', async () => {
  const sockets: Socket[] = [];
  const up = await startHttpUpstream((_req, res) => res.end('ok'));
  up.server.on('connection', (s: Socket) => sockets.push(s));
  await bench(['http', `${up.url}/`, '--connections', '8', ...SHORT]);
  expect(sockets).toHaveLength(8);
  await Promise.all(sockets.filter((s) => !s.closed).map((s) => once(s, 'close')));
});

test('ws mode echoes messages of --size bytes and reports ops', async () => {
  const echo = await startWsEcho();
  const result = await bench(['ws', `ws://127.0.0.1:${echo.port}/echo`, '--connections', '4', '--size', '100b', ...SHORT]);
  expect(result.errors).toBe(0);
  expect(result.ops).toBeGreaterThan(0);
  expect(result.bytes).toBe(result.ops * 100);
  expect(echo.handshakes[0]?.url).toBe('/echo');
});

test('ws mode handles messages with 64-bit lengths', async () => {
  const echo = await startWsEcho();
  const result = await bench(['ws', `ws://127.0.0.1:${echo.port}/`, '--connections', '2', '--size', '70kb', ...SHORT]);
  expect(result.errors).toBe(0);
  expect(result.ops).toBeGreaterThan(0);
  expect(result.bytes).toBe(result.ops * 70 * 1024);
});

test('ws mode counts a wrong Sec-WebSocket-Accept as a protocol error', async () => {
  const raw = await startRawUpstream((socket) => {
    socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n'));
  });
  const result = await bench(['ws', `ws://127.0.0.1:${raw.port}/`, '--connections', '2', ...SHORT]);
  expect(result).toMatchObject({ ops: 0, openConnections: 0, stoppedBy: 'no-connection', errorsByKind: { protocol: 2 } });
  expect(benchExitCode(result)).toBe(1);
});

test('--connect-only opens 50 connections, answers pings, and reports none dropped', async () => {
  let pongs = 0;
  const echo = await startWsEcho({}, (ws) => {
    ws.on('pong', () => pongs++);
    ws.ping('are you there');
  });
  const result = await bench(['ws', `ws://127.0.0.1:${echo.port}/`, '--connect-only', '--connections', '50', '--duration', '300ms']);
  expect(result.connect).toMatchObject({ opened: 50, failed: 0, dropped: 0 });
  expect(result.ops).toBe(50);
  expect(result.errors).toBe(0);
  expect(result.connect!.handshakesPerSec).toBeGreaterThan(0);
  expect(pongs).toBe(50);
  expect(formatBenchReport(result)).toContain('opened     50 of 50');
});

test('--connect-only reports the connections the server drops while they are held', async () => {
  let n = 0;
  const echo = await startWsEcho({}, (ws) => {
    if (n++ % 5 === 0) ws.close(1001, 'going away');
  });
  const result = await bench(['ws', `ws://127.0.0.1:${echo.port}/`, '--connect-only', '--connections', '20', '--duration', '300ms']);
  expect(result.connect).toMatchObject({ opened: 20, dropped: 4 });
  expect(result.errorsByKind).toEqual({ closed: 4 });
  expect(benchExitCode(result)).toBe(1);
});

test('https: --insecure accepts a self-signed certificate, and without it the TLS error is counted', async () => {
  const server = createHttpsServer(
    { cert: readFileSync(join(ROOT, 'test/fixtures/tls-cert.pem')), key: readFileSync(join(ROOT, 'test/fixtures/tls-key.pem')) },
    (_req, res) => res.end('ok'),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const trusted = await bench(['http', url, '--connections', '2', '--insecure', ...SHORT]);
  expect(trusted.errors).toBe(0);
  expect(trusted.ops).toBeGreaterThan(0);
  const strict = await bench(['http', url, '--connections', '2', ...SHORT]);
  expect(strict).toMatchObject({ ops: 0, stoppedBy: 'no-connection', errorsByKind: { tls: 2 } });
});

test('reconnects without counting an error when the server closes the connection after each response', async () => {
  const up = await startHttpUpstream((_req, res) => {
    res.setHeader('connection', 'close');
    res.end('bye');
  });
  const result = await bench(['http', `${up.url}/`, '--connections', '2', ...SHORT]);
  expect(result.errors).toBe(0);
  expect(result.ops).toBeGreaterThan(2);
});
