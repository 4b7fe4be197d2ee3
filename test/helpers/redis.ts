// test/helpers/redis: a real redis-server (the Debian package) on a free port, started for one test
// and killed when it finishes (stop() and start() again on the same port simulate an outage); and a
// StoreConnection to it whose log lines a test can wait for.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { onTestFinished } from 'vitest';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { StoreConnection } from '../../src/store/redis-connection.js';
import { parseRedisUrl } from '../../src/store/redis-url.js';
import { captureLogs } from './log-capture.js';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL: no goodbye to its clients) and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and waits for "Ready to accept connections". */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if (seen.includes('Ready to accept connections')) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.resume();
    child.once('error', reject); // redis-server is not installed (apt-get install redis-server)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${seen}`)));
  });
  return child;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | null = await spawnRedis(port);
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGKILL');
    await exited;
  };
  onTestFinished(stop);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start: async () => {
      if (child === null) child = await spawnRedis(port);
    },
  };
}

export interface TestConnection {
  readonly conn: StoreConnection;
  readonly prom: GatewayMetrics;
  readonly logs: Record<string, unknown>[];
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** A StoreConnection to `url` with its log lines captured; resolves once it is up (unless `waitUp` is false). */
export async function openStoreConnection(url: string, options: { timeoutMs?: number; waitUp?: boolean; channels?: string[]; onMessage?: (channel: string, message: string) => void } = {}): Promise<TestConnection> {
  const { sink, logs, waitForLog } = captureLogs();
  const prom = new GatewayMetrics({ defaultMetrics: false, upstreams: () => [], tunnels: () => [], wsRoutes: () => [] });
  const target = parseRedisUrl(url);
  if (typeof target === 'string') throw new Error(target);
  const conn = new StoreConnection({ target, timeoutMs: options.timeoutMs ?? 1000 }, pino({ level: 'info' }, sink), prom);
  onTestFinished(() => conn.close());
  await conn.open(options.channels ?? [], options.onMessage ?? (() => undefined));
  if (options.waitUp !== false) await waitForLog((l) => l.event === 'store_up');
  return { conn, prom, logs, waitForLog };
}
