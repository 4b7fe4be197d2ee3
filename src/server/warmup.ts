// server/warmup: the start-up warm-up (issue 14): before the public listeners accept, a private
// gateway relays a bounded burst of loopback traffic (HTTP exchanges, WebSocket handshakes, small
// messages both ways, closes) to an in-process upstream, so the request paths have run (and V8 has
// started compiling them) before the first real clients arrive. Not the gateway it warms: that
// one's metrics, connection list and logs never see this traffic (the private gateway has its own
// registry, logger and state).
// The traffic itself (loopback upstream, client lanes, framing) is warmup-traffic.ts.
import type { GatewayConfigInput } from '../config/schema.js';
import { EVENTS } from '../observability/events.js';
import { createLogger, type Logger } from '../observability/log.js';
import { Drive, startLoopbackUpstream, type LoopbackUpstream } from './warmup-traffic.js';

export interface WarmupLimits {
  /** HTTP exchanges through the private gateway (keep-alive, GET and a few small POSTs). */
  requests: number;
  /** 64-byte WebSocket messages echoed through long-lived tunnels (each crosses twice). */
  messages: number;
  /** WebSocket handshakes, each followed by one message and a close. */
  handshakes: number;
  /** Whichever comes first: the counts, or this much wall time. */
  budgetMs: number;
  /** Where the loopback upstream binds on 127.0.0.1 (0: any free port). */
  upstreamPort: number;
}

// The budget bounds start-up; the counts bound a fast machine. V8 optimizes a function only after
// hundreds to thousands of calls, and the private gateway, its client and its upstream all start cold
// in one thread: on the reference machine 300 ms relays about 125 requests, 120 messages and 36
// handshakes. That is enough for reloads and small messages; for the first seconds of HTTP and
// handshakes a 1 s budget measured no better than 300 ms (docs/performance.md, "Cold start").
// `wsgate start --warmup D` sets it.
export const DEFAULT_WARMUP: WarmupLimits = { requests: 20_000, messages: 20_000, handshakes: 2000, budgetMs: 300, upstreamPort: 0 };
export const MAX_WARMUP_MS = 10_000;

/** What a Gateway's `warmup` option takes: on with the defaults, off, or some limits changed. */
export type WarmupOption = boolean | Partial<WarmupLimits>;

// What the warm-up needs of a Gateway (injected: gateway.ts calls this module, not the reverse).
export interface WarmupGateway {
  listen(): Promise<void>;
  close(): Promise<void>;
  addresses(): readonly { readonly port: number }[];
}
export type WarmupGatewayFactory = (config: GatewayConfigInput, logger: Logger) => WarmupGateway;

export interface WarmupResult {
  requests: number;
  messages: number;
  handshakes: number;
  ms: number;
}

// Fills unset limits with the defaults; a negative or non-finite one falls back to its default, 0 skips that path.
export function warmupLimits(input: Partial<WarmupLimits> | boolean | undefined): WarmupLimits | null {
  if (input === undefined || input === false) return null;
  const given = input === true ? {} : input;
  const pick = (key: keyof WarmupLimits): number => {
    const v = given[key];
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : DEFAULT_WARMUP[key];
  };
  return { requests: pick('requests'), messages: pick('messages'), handshakes: pick('handshakes'), budgetMs: pick('budgetMs'), upstreamPort: pick('upstreamPort') };
}

// The private gateway's config: one route to the loopback upstream, on 127.0.0.1:0, with the real
// one's log level (so the access-log path is the one real traffic takes) and metrics switch.
export function warmupConfig(upstreamPort: number, real: { logLevel: string; metricsEnabled: boolean }): GatewayConfigInput {
  return {
    listen: [{ port: 0, host: '127.0.0.1' }],
    log: { level: real.logLevel as 'info', format: 'json' },
    metrics: { enabled: real.metricsEnabled },
    anomaly: { enabled: false },
    limits: { drainTimeout: '1s' },
    upstreams: { warmup: { targets: [{ url: `http://127.0.0.1:${upstreamPort}` }] } },
    routes: [{ name: 'warmup', match: { path: '/*' }, upstream: 'warmup' }],
  };
}

/**
 * Runs the warm-up and logs one `warmup` line. Never throws: a failure logs a warning and start-up
 * goes on (cold, as without it). Leaves no socket or timer behind.
 */
export async function runWarmup(limits: WarmupLimits, create: WarmupGatewayFactory, log: Logger, real: { logLevel: string; metricsEnabled: boolean }): Promise<WarmupResult | null> {
  const started = performance.now();
  let upstream: LoopbackUpstream | null = null;
  let gateway: WarmupGateway | null = null;
  let drive: Drive | null = null;
  try {
    upstream = await startLoopbackUpstream(limits.upstreamPort);
    // Its lines go nowhere: the real log shows the one summary line below.
    const silent = createLogger({ level: real.logLevel, format: 'json' }, { write: discard });
    gateway = create(warmupConfig(upstream.port, real), silent);
    await gateway.listen();
    drive = new Drive(gateway.addresses()[0]!.port, limits, started);
    await drive.run();
    const result: WarmupResult = { requests: drive.requests, messages: drive.messages, handshakes: drive.handshakes, ms: Math.round(performance.now() - started) };
    log.info({ event: EVENTS.WARMUP, ...result, budgetMs: limits.budgetMs }, 'warm-up done');
    return result;
  } catch (err) {
    log.warn({ event: EVENTS.WARMUP, err: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code }, ms: Math.round(performance.now() - started) }, 'warm-up skipped; starting cold');
    return null;
  } finally {
    drive?.destroy();
    await gateway?.close().catch(discard);
    await upstream?.close();
  }
}

function discard(): void {}
