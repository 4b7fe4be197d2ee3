// store/redis-connection: the gateway's two connections to Redis (commands, and one subscribed for
// pub/sub), built from `store.redis`; whether the store answers (wsgate_store_up, one
// store_degraded line going down and one store_up line coming up or back); and the breaker that
// keeps a down or slow Redis off the request path: while down, callers count locally at once and
// a PING every second decides when to trust Redis again.
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/log.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { RedisTarget } from './redis-url.js';

type Client = Redis | Cluster;

export interface ConnectionSpec {
  readonly target: RedisTarget;
  readonly timeoutMs: number; // commandTimeout: the longest a request may wait on Redis
}

// A Lua script, run by its sha1 (EVALSHA) and loaded on the first NOSCRIPT.
export interface Script {
  readonly lua: string;
  readonly sha: string;
  readonly keys: number;
}

export function script(lua: string, keys: number): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex'), keys };
}

const STARTING = 0;
const UP = 1;
const DOWN = 2;

// Reconnect backoff: 100 ms, 200 ms, … capped at 2 s, forever (ioredis calls it per attempt).
function reconnectDelay(times: number): number {
  return Math.min(times * 100, 2_000);
}

export class StoreConnection {
  private client: Client | null = null;
  private subscriber: Client | null = null;
  private state = STARTING;
  private probing = false;
  private subscribed = false;
  private closed = false;
  private onMessage: ((channel: string, message: string) => void) | null = null;

  constructor(
    private readonly spec: ConnectionSpec,
    private readonly log: Logger,
    private readonly prom: GatewayMetrics,
  ) {
    prom.storeUp(false); // until the first answer
  }

  /** True while Redis answers: callers skip it entirely otherwise. */
  get up(): boolean {
    return this.state === UP;
  }

  /**
   * Loads ioredis and starts connecting; never waits for Redis, never throws because it is down
   * (the gateway starts degraded and recovers by itself). `channels` are subscribed on the second connection.
   */
  async open(channels: readonly string[], onMessage: (channel: string, message: string) => void): Promise<void> {
    const ioredis = await import('ioredis');
    if (this.closed) return;
    this.onMessage = onMessage;
    const client = createClient(ioredis, this.spec, false);
    this.client = client;
    client.on('error', (err: Error) => this.failed(err));
    client.on('ready', () => this.probe());
    client.on('close', () => this.failed(new Error('connection closed')));
    // The subscriber queues SUBSCRIBE until it is connected and resubscribes after a reconnect.
    const sub = createClient(ioredis, this.spec, true);
    this.subscriber = sub;
    sub.on('error', ignore); // the command connection reports the state
    sub.on('message', (channel: string, message: string) => this.onMessage?.(channel, message));
    // Up waits for the first SUBSCRIBE, so an instance that says store_up hears asks at once. A
    // refused one (an ACL without channel rights) still lets commands through: kicks then time out.
    const subscribed = (): void => {
      this.subscribed = true;
      this.probe();
    };
    sub.subscribe(...channels).then(subscribed, subscribed);
    client.connect().catch((err: unknown) => this.failed(err as Error));
    sub.connect().catch(ignore);
  }

  /** Runs a script; rejects (and marks the store down) when Redis fails or is slower than the timeout. */
  async run(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const client = this.client;
    if (client === null) throw new Error('store not open');
    try {
      try {
        return await client.evalsha(s.sha, s.keys, ...keys, ...args);
      } catch (err) {
        if (!(err as Error).message.startsWith('NOSCRIPT')) throw err;
        return await client.eval(s.lua, s.keys, ...keys, ...args);
      }
    } catch (err) {
      this.failed(err as Error);
      throw err;
    }
  }

  /** A plain command on the command connection, with the same failure handling as run(). */
  async command<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = this.client;
    if (client === null) throw new Error('store not open');
    try {
      return await fn(client);
    } catch (err) {
      this.failed(err as Error);
      throw err;
    }
  }

  /** A command failed or timed out: requests count locally until a probe succeeds. */
  failed(err: Error): void {
    if (this.closed || this.state === DOWN) return;
    this.state = DOWN;
    this.prom.storeUp(false);
    // The reason names the error, never the URL (it may hold a password).
    this.log.warn({ event: EVENTS.STORE_DEGRADED, reason: (err as { code?: string }).code ?? err.message }, 'shared store unreachable: limits count per instance until it answers');
  }

  /** Once a second while down (the gateway clock), and on each (re)connect: a PING that answers in time brings the store back. */
  probe(): void {
    const client = this.client;
    if (this.closed || this.probing || client === null || this.state === UP || !this.subscribed) return;
    if (client.status !== 'ready') return;
    this.probing = true;
    client.ping().then(
      () => {
        this.probing = false;
        if (this.closed || this.state === UP) return;
        const recovered = this.state === DOWN;
        this.state = UP;
        this.prom.storeUp(true);
        this.log.info({ event: EVENTS.STORE_UP, recovered }, recovered ? 'shared store answers again: limits are shared again' : 'shared store connected');
      },
      (err: unknown) => {
        this.probing = false;
        this.failed(err as Error);
      },
    );
  }

  /** Disconnects both connections; what is in flight fails (and its callers count locally). */
  close(): void {
    this.closed = true;
    this.client?.disconnect();
    this.subscriber?.disconnect();
  }
}

function createClient(ioredis: typeof import('ioredis'), spec: ConnectionSpec, subscriber: boolean): Client {
  const common = {
    lazyConnect: true,
    // A subscriber waits; a command never queues: a request must not wait for a reconnect.
    enableOfflineQueue: subscriber,
    maxRetriesPerRequest: subscriber ? null : 0,
    commandTimeout: subscriber ? undefined : spec.timeoutMs,
    connectTimeout: 2_000,
    retryStrategy: reconnectDelay,
  };
  const t = spec.target;
  if (t.mode === 'single') return new ioredis.Redis(t.url, common);
  const auth = { ...(t.username !== null ? { username: t.username } : {}), ...(t.password !== null ? { password: t.password } : {}) };
  if (t.mode === 'sentinel') {
    return new ioredis.Redis({
      ...common,
      ...auth,
      sentinels: t.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: t.name,
      db: t.db,
      ...(t.password !== null ? { sentinelPassword: t.password } : {}),
      ...(t.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: reconnectDelay,
    });
  }
  return new ioredis.Cluster(
    t.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      lazyConnect: true,
      enableOfflineQueue: subscriber,
      maxRedirections: 4,
      clusterRetryStrategy: reconnectDelay,
      redisOptions: { ...auth, commandTimeout: common.commandTimeout, connectTimeout: common.connectTimeout, maxRetriesPerRequest: common.maxRetriesPerRequest, ...(t.tls ? { tls: {} } : {}) },
    },
  );
}

function ignore(): void {}
