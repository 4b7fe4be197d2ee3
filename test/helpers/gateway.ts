// test/helpers/gateway: a real Gateway on 127.0.0.1:0 whose log lines the test can read.
import { onTestFinished } from 'vitest';
import { pino } from 'pino';
import { Gateway, type GatewayConfig, type GatewayOptions } from '../../src/index.js';
import type { Clock } from '../../src/core/clock.js';
import { captureLogs } from './log-capture.js';

export interface TestGateway {
  gw: Gateway;
  port: number;
  url(path?: string): string;
  wsUrl(path?: string): string;
  adminUrl(path?: string): string;
  logs: Record<string, unknown>[];
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

// `options.clock`: a ManualClock, for tests that advance the WebSocket deadlines by hand;
// `options.warmup`: the start-up warm-up (off unless given).
export async function startGateway(config: GatewayConfig, setup?: (gw: Gateway) => void, options: { clock?: Clock; warmup?: GatewayOptions['warmup'] } = {}): Promise<TestGateway> {
  const { sink, logs, waitForLog } = captureLogs();
  const logger = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, sink);
  const gw = new Gateway(
    {
      listen: [{ port: 0, host: '127.0.0.1' }],
      admin: { listen: '127.0.0.1:0' },
      ...config,
    },
    { logger, clock: options.clock, warmup: options.warmup },
  );
  setup?.(gw);
  await gw.listen();
  const port = gw.addresses()[0]!.port;
  const admin = gw.adminAddress()!;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await gw.close();
  };
  onTestFinished(close);
  return {
    gw,
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path = '/') => `ws://127.0.0.1:${port}${path}`,
    adminUrl: (path = '/') => `http://127.0.0.1:${admin.port}${path}`,
    logs,
    waitForLog,
    close,
  };
}

// One upstream `app` and one route `/*` to it, the shape most relay tests need.
export function proxyConfig(upstreamUrl: string, route: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): GatewayConfig {
  return {
    upstreams: { app: { targets: [{ url: upstreamUrl }] } },
    routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app', ...route }],
    ...extra,
  };
}
