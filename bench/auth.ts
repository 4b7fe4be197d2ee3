// bench/auth: what a JWT route costs against an open route on the same gateway and upstream (issue 9
// item 4): keep-alive HTTP GETs on each, the JWT route's clients resending one valid HS256 token, so
// after the first request each is a verified-token cache hit (a hash and a lookup, no signature).
//
//   node --import tsx bench/auth.ts [--duration 5s] [--connections 50]
//
// wsgate runs from the built dist/ (rebuilt when src/ is newer) at log level warn, with bench/upstream.ts
// behind it; the load comes from `wsgate bench` (src/cli/bench) inside this process. Each route gets a
// 1 s warm-up (after one unrecorded pass over both), then its measured window; the gateway's CPU time over the window comes from /proc.
// Prints requests/s, latency and gateway CPU µs per request for both routes, and the JWT/open ratio;
// then, in this process, what JwtProvider.verify() costs on a cache hit and on a signature check.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { JwtProvider } from '../src/auth/jwt-provider.js';
import { compileProvider, type JwtProviderSpec } from '../src/auth/spec.js';
import { Clock } from '../src/core/clock.js';
import { parseBenchArgs } from '../src/cli/bench/options.js';
import type { BenchResult } from '../src/cli/bench/report.js';
import { runBench as runLoad } from '../src/cli/bench/run-bench.js';
import { CLK_TCK, choosePinning, ensureBuilt, hasProc, procStat, runBench, startGateway, startUpstream, stopAllChildren } from './lib.js';

const SECRET = 'bench-secret-of-a-reasonable-length-0123456789';

interface Row {
  route: string;
  result: BenchResult;
  cpuUsPerReq: number;
}

// The shared bench gateway (lib.ts) with two routes on the same upstream: one open, one behind a jwt provider.
async function startAuthGateway(cpu: number | null, upstreamPort: number, dir: string): Promise<{ pid: number; port: number }> {
  const open = { name: 'open', match: { path: '/open' }, upstream: 'bench' };
  const gw = await startGateway(cpu, upstreamPort, dir, 'auth-bench.json', open, {
    config: {
      auth: { users: { type: 'jwt', secret: SECRET, algorithms: ['HS256'], audience: 'bench' } },
      routes: [open, { name: 'jwt', match: { path: '/jwt' }, upstream: 'bench', auth: { use: 'users', scopes: ['read'] } }],
    },
  });
  return { pid: gw.child.pid!, port: gw.port };
}

async function measure(route: string, url: string, headers: string[], connections: number, duration: string, gatewayPid: number): Promise<Row> {
  const parsed = parseBenchArgs(['http', url, '-c', String(connections), '-d', duration, '--warmup', '1s', ...headers.flatMap((h) => ['-H', h])]);
  if ('error' in parsed) throw new Error(parsed.error);
  if (parsed.help) throw new Error('unexpected --help');
  let startTicks = 0;
  const result = await runLoad(parsed.options, { onMeasuring: () => (startTicks = hasProc ? procStat(gatewayPid).cpuTicks : 0) });
  const ticks = hasProc ? procStat(gatewayPid).cpuTicks - startTicks : Number.NaN;
  if (result.errors > 0) throw new Error(`${route}: ${result.errors} errors (${result.firstError ?? ''})`);
  return { route, result, cpuUsPerReq: (ticks * (1e6 / CLK_TCK)) / Math.max(1, result.ops) };
}

// In process, no network: what one verify() costs on a cache hit against a signature check, per algorithm.
async function verifyCost(alg: 'HS256' | 'RS256' | 'ES256', n: number): Promise<{ hitUs: number; checkUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-auth-verify-'));
  try {
    let key: Uint8Array | CryptoKey;
    let provider: Record<string, unknown>;
    if (alg === 'HS256') {
      key = new TextEncoder().encode(SECRET);
      provider = { secret: SECRET, algorithms: ['HS256'] };
    } else {
      const pair = await generateKeyPair(alg, { extractable: true });
      key = pair.privateKey;
      const file = join(dir, 'key.pem');
      writeFileSync(file, await exportSPKI(pair.publicKey));
      provider = { publicKey: file, algorithms: [alg] };
    }
    const spec = compileProvider('bench', { type: 'jwt', clockSkew: '0s', tokenFrom: ['header'], closeOnExpiry: false, forwardToken: false, timeout: '5s', ...provider } as never) as JwtProviderSpec;
    const jwt = new JwtProvider(spec, { log: pino({ level: 'silent' }), clock: new Clock(1000) });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push(await new SignJWT({ sub: `u${i}`, exp }).setProtectedHeader({ alg }).sign(key));
    const now = Date.now();
    let t = performance.now();
    for (const token of tokens) await jwt.verify(token, now);
    const checkUs = ((performance.now() - t) * 1000) / n;
    t = performance.now();
    for (let round = 0; round < 10; round++) for (const token of tokens) void jwt.verify(token, now);
    const hitUs = ((performance.now() - t) * 1000) / (10 * n);
    return { hitUs, checkUs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '5s' }, connections: { type: 'string', default: '50' } } });
  const built = ensureBuilt();
  const pin = choosePinning('the load generator');
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-auth-bench-'));
  try {
    const upstream = await startUpstream(pin.load);
    const gw = await startAuthGateway(pin.gateway, upstream.port, dir);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: 'bench', aud: 'bench', scope: 'read' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(SECRET));
    const base = `http://127.0.0.1:${gw.port}`;
    const connections = Number(values.connections);
    // One unrecorded pass over both routes first, so neither is measured while the gateway still compiles.
    await measure('open', `${base}/open`, [], connections, '1s', gw.pid);
    await measure('jwt', `${base}/jwt`, [`Authorization: Bearer ${token}`], connections, '1s', gw.pid);
    const open = await measure('open', `${base}/open`, [], connections, values.duration, gw.pid);
    const jwt = await measure('jwt', `${base}/jwt`, [`Authorization: Bearer ${token}`], connections, values.duration, gw.pid);
    const line = (r: Row): string =>
      `| ${r.route} | ${Math.round(r.result.opsPerSec)} | ${(1e6 / r.result.opsPerSec).toFixed(1)} | ${r.result.latencyUs.p50} | ${r.result.latencyUs.p99} | ${r.cpuUsPerReq.toFixed(1)} |`;
    process.stdout.write(
      [
        `auth bench: ${connections} keep-alive connections, ${values.duration} per route; ${built}; ${pin.note}`,
        '',
        '| route | requests/s | µs per request (1/rate) | p50 µs | p99 µs | gateway CPU µs/request |',
        '|---|---|---|---|---|---|',
        line(open),
        line(jwt),
        '',
        `jwt/open: requests/s ${(jwt.result.opsPerSec / open.result.opsPerSec).toFixed(3)}, gateway CPU per request ${(jwt.cpuUsPerReq / open.cpuUsPerReq).toFixed(3)}`,
        '',
      ].join('\n'),
    );
    await stopAllChildren();
    const rows: string[] = ['| algorithm | verify, cache hit µs | verify, signature check µs |', '|---|---|---|'];
    for (const alg of ['HS256', 'RS256', 'ES256'] as const) {
      const c = await verifyCost(alg, 2000);
      rows.push(`| ${alg} | ${c.hitUs.toFixed(2)} | ${c.checkUs.toFixed(1)} |`);
    }
    process.stdout.write(`\nJwtProvider.verify() in process (2000 distinct tokens, then each again 10 times):\n\n${rows.join('\n')}\n`);
    return 0;
  } finally {
    await stopAllChildren();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench('bench/auth', main);
