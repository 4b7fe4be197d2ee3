// server/listener: one bound port (http or https) with the request-level limits of SPEC section 2.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { CompiledConfig, ListenerSpec } from '../config/compile.js';

export interface ListenerHandlers {
  readonly request: (req: IncomingMessage, res: ServerResponse) => void;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly clientError: (err: Error, socket: Duplex) => void;
  readonly connection: (socket: Socket) => void;
}

export function createListener(spec: ListenerSpec, limits: CompiledConfig['limits'], handlers: ListenerHandlers): Server {
  const options = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // The slowloris check runs on this interval; keep it below the smallest timeout we enforce.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 2))),
    noDelay: true,
    requireHostHeader: false,
  };
  const server = spec.tls === null
    ? createHttpServer(options)
    : createHttpsServer({ ...options, cert: spec.tls.cert, key: spec.tls.key });
  server.on('request', handlers.request);
  server.on('upgrade', handlers.upgrade);
  server.on('clientError', handlers.clientError);
  // Before Node's own listener: an over-limit socket is answered and ended before it is parsed.
  // Over TLS, after the handshake, so the 503 is readable (and the flag sits on the socket requests see).
  server.prependListener(spec.tls === null ? 'connection' : 'secureConnection', handlers.connection);
  return server;
}

// Limits a reload may change on a listener that stays bound (new connections see them).
export function applyLimits(server: Server, limits: CompiledConfig['limits']): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
}

export interface ListenerDiff {
  readonly kept: ReadonlySet<number>;          // indices into `current` that stay bound
  readonly toOpen: readonly ListenerSpec[];    // specs of `next` no current listener serves
}

// Which listeners a reload keeps, opens and closes (Envoy's LDS): matched by host, port and TLS or
// not, one to one, so two `port: 0` listeners on one host are two listeners.
export function diffListeners(current: readonly ListenerSpec[], next: readonly ListenerSpec[]): ListenerDiff {
  const unmatched = current.map((spec, i) => ({ key: listenerKey(spec), i }));
  const kept = new Set<number>();
  const toOpen: ListenerSpec[] = [];
  for (const spec of next) {
    const at = unmatched.findIndex((u) => u.key === listenerKey(spec));
    if (at === -1) toOpen.push(spec);
    else kept.add(unmatched.splice(at, 1)[0]!.i);
  }
  return { kept, toOpen };
}

function listenerKey(l: ListenerSpec): string {
  return `${l.host}|${l.port}|${l.tls === null ? '' : 'tls'}`;
}

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

// The one line `wsgate start` prints when a listener cannot bind (SPEC section 1: exit 2, what and where).
export function describeListenError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = e.address !== undefined ? ` on ${e.address}:${e.port}` : '';
  return `could not listen${where}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`;
}
