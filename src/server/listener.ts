// server/listener: one bound port (http or https) with the request-level limits of SPEC section 2,
// and for https the certificates it presents: chosen by SNI, swapped by a reload without a restart.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CompiledConfig, ListenerSpec, ServerCert } from '../config/compile.js';

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
  const server = spec.tls === null ? createHttpServer(options) : createTlsServer(options, spec.tls.certs);
  server.on('request', handlers.request);
  server.on('upgrade', handlers.upgrade);
  server.on('clientError', handlers.clientError);
  // Before Node's own listener: an over-limit socket is answered and ended before it is parsed.
  // Over TLS, after the handshake, so the 503 is readable (and the flag sits on the socket requests see).
  server.prependListener(spec.tls === null ? 'connection' : 'secureConnection', handlers.connection);
  return server;
}

// ---- TLS ----

// TLS 1.2 at least (1.0 and 1.1 are deprecated, RFC 8996); ALPN offers http/1.1 only, so a client
// never believes it may speak h2 here.
const MIN_VERSION = 'TLSv1.2';
const ALPN = ['http/1.1'];

// The certificates of one listener by name: exact names, then `*.suffix` wildcards (one label, as
// RFC 6125 §6.4.3), then the first certificate. Built whole and swapped whole by a reload.
class CertTable {
  private readonly exact = new Map<string, SecureContext>();
  private readonly wildcard = new Map<string, SecureContext>();
  readonly fallback: SecureContext;

  constructor(certs: readonly ServerCert[]) {
    const contexts = certs.map((c) => createSecureContext({ cert: c.cert, key: c.key, minVersion: MIN_VERSION }));
    this.fallback = contexts[0]!;
    certs.forEach((c, i) => {
      for (const name of c.names) {
        const map = name.startsWith('*.') ? this.wildcard : this.exact;
        const key = name.startsWith('*.') ? name.slice(1) : name; // '.example.com'
        if (!map.has(key)) map.set(key, contexts[i]!); // the first certificate naming it wins
      }
    });
  }

  pick(servername: string): SecureContext {
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 ? this.wildcard.get(name.slice(dot)) : undefined) ?? this.fallback;
  }
}

// The table each TLS listener reads at every handshake; a reload replaces the entry.
const certTables = new WeakMap<Server, CertTable>();

function createTlsServer(options: Record<string, unknown>, certs: readonly ServerCert[]): HttpsServer {
  const first = certs[0]!;
  // SNICallback runs once per handshake that names a host; a client without SNI gets the server's
  // own context (the first certificate), which setSecureContext replaces on reload.
  const server: HttpsServer = createHttpsServer({
    ...options,
    cert: first.cert,
    key: first.key,
    minVersion: MIN_VERSION,
    ALPNProtocols: ALPN,
    SNICallback: (servername, cb) => cb(null, certTables.get(server)?.pick(servername)),
  });
  certTables.set(server, new CertTable(certs));
  return server;
}

/**
 * A reload's new certificates, in two steps so that several listeners change together or not at all:
 * the contexts are built now (this throws if a pair is unusable), the returned commit swaps them in.
 * New handshakes then get the new certificates; established connections keep theirs.
 */
export function prepareTls(server: Server, spec: ListenerSpec): () => void {
  const tls = spec.tls;
  if (tls === null || !certTables.has(server)) return () => undefined;
  const table = new CertTable(tls.certs);
  return () => {
    (server as HttpsServer).setSecureContext({ cert: tls.certs[0]!.cert, key: tls.certs[0]!.key, minVersion: MIN_VERSION });
    certTables.set(server, table);
  };
}

// Limits a reload may change on a listener that stays bound (new connections see them).
export function applyLimits(server: Server, limits: CompiledConfig['limits']): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
}

export interface ListenerDiff {
  readonly kept: ReadonlyMap<number, ListenerSpec>; // indices into `current` that stay bound → their spec in `next`
  readonly toOpen: readonly ListenerSpec[];    // specs of `next` no current listener serves
}

// Which listeners a reload keeps, opens and closes (Envoy's LDS): matched by host, port and TLS or
// not, one to one, so two `port: 0` listeners on one host are two listeners.
export function diffListeners(current: readonly ListenerSpec[], next: readonly ListenerSpec[]): ListenerDiff {
  const unmatched = current.map((spec, i) => ({ key: listenerKey(spec), i }));
  const kept = new Map<number, ListenerSpec>();
  const toOpen: ListenerSpec[] = [];
  for (const spec of next) {
    const at = unmatched.findIndex((u) => u.key === listenerKey(spec));
    if (at === -1) toOpen.push(spec);
    else kept.set(unmatched.splice(at, 1)[0]!.i, spec);
  }
  return { kept, toOpen };
}

function listenerKey(l: ListenerSpec): string {
  return `${l.host}|${l.port}|${l.tls === null ? '' : 'tls'}`;
}

// `exclusive`: bind in this process even in a cluster worker, instead of sharing the primary's
// handle for the same host and port (the warm-up's private listener on port 0 must not be shared).
export function listen(server: Server, host: string, port: number, exclusive = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port, host, exclusive }, () => {
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
