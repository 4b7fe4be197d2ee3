// server/pending-upgrade: owns a client's socket from its upgrade request until a tunnel takes it
// over or the gateway refuses it. The only code that answers, logs, releases the per-client slot
// of, or ends a handshake socket.
//
//   NEW ──connect()──▶ CONNECTING ──upstream 101──▶ handOver() ──▶ TUNNEL (WsTunnel owns the socket)
//                      (with a shared store, CONNECTING first waits for the maxPerClient count
//                       across instances, at most store.timeout; a refusal goes to refuse())
//    │                    │    └──upstream's non-101──▶ RELAYING ──end()/abort()──▶ DONE
//    │                    └──fails, shutdown──▶ refuse()
//    └──refuse() / answer() (a check or middleware said no) ──▶ DONE: answered, socket ended
//   the client leaving in NEW or CONNECTING ──▶ DONE with status 499, socket destroyed
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { GatewayError } from '../core/errors.js';
import { rawErrorResponse } from '../http/error-response.js';
import { plainAddress } from '../http/forwarded.js';
import { EVENTS } from '../observability/events.js';
import { UNMATCHED_ROUTE } from '../observability/metrics.js';
import { rawHandshakeError, type HandshakeClient, type HandshakeResult } from '../ws/handshake.js';
import { causeCode, withoutQuery } from './http-ingress.js';
import { routeMetrics, type RouteRuntime } from './runtime.js';
import type { ServerState } from './state.js';

const NEW = 0;
const CONNECTING = 1;
const RELAYING = 2;
const DONE = 3;
const TUNNEL = 4;

// A refused client that never closes its side is destroyed after this (ws `abortHandshake` ends;
// reading on until the client's FIN lets a well-behaved client read the whole answer first).
const LINGER_MS = 5_000;

type Owned = Socket & { upgrade: PendingUpgrade };

export class PendingUpgrade implements HandshakeClient {
  private phase = NEW;
  private route: RouteRuntime | null = null;
  private clientKey: string | null = null;       // the per-client slot held, released unless a tunnel takes it
  private maxPerClient = 0;
  private sharedSlot: Promise<boolean> | null = null; // the count across instances (a shared store), awaited by connect()
  private upstream: { destroy(): void } | null = null;
  private clientLeft = false;
  private onSettled: ((status: number) => void) | null = null;
  // For the http_request line of a refusal: set by ws-ingress once known.
  target: string | null = null;
  user: string | null = null;

  constructor(
    readonly state: ServerState,
    readonly req: IncomingMessage,
    readonly socket: Socket,
    readonly head: Buffer,
    readonly requestId: string,
    readonly startedMs: number,
  ) {
    (socket as Owned).upgrade = this;
    // In the tick the socket arrives: a reset during the handshake never reaches the process.
    socket.on('error', pendingOnError);
    // The socket is not read during the handshake, but the client's FIN still arrives as 'end'.
    socket.once('end', pendingOnGone).once('close', pendingOnGone);
    state.pendingUpgrades.add(this);
  }

  /** Whether nothing has answered the client or contacted an upstream yet. */
  get isNew(): boolean {
    return this.phase === NEW;
  }

  get routeName(): string {
    return this.route === null ? '' : this.route.spec.name;
  }

  matched(route: RouteRuntime): void {
    this.route = route;
  }

  /** Takes a per-client slot (maxPerClient); false when the client holds `max` already. */
  // With a shared store, this instance's count is checked here and every instance's by connect().
  reserve(clientKey: string, max: number): boolean {
    if (!this.state.registry.reserve(clientKey, max)) return false;
    this.clientKey = clientKey;
    this.maxPerClient = max;
    this.sharedSlot = this.state.registry.reserveShared(clientKey, max);
    return true;
  }

  /** Resolves the middleware chain's `next()` with the status the client got. */
  whenSettled(fn: (status: number) => void): void {
    this.onSettled = fn;
  }

  /** True once the client closed or reset its side. */
  get gone(): boolean {
    return this.clientLeft || this.socket.destroyed;
  }

  /** The one refusal: the JSON error as a raw HTTP answer, the log line, the slot released, the socket ended. */
  refuse(err: GatewayError, extraHeaders = ''): void {
    if (this.phase !== NEW && this.phase !== CONNECTING) return;
    this.phase = DONE;
    this.settle(err.status, err.code, err.cause);
    this.finishSocket(rawErrorResponse(err, this.requestId, extraHeaders + rawHandshakeError(err)));
  }

  /** Middleware's ctx.respond() on a handshake: its own answer, as plain HTTP. */
  answer(status: number, body: Buffer, headers: readonly (readonly [string, string])[]): void {
    if (this.phase !== NEW) return;
    this.phase = DONE;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nconnection: close\r\nx-request-id: ${this.requestId}\r\ncontent-length: ${body.length}\r\n`;
    for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
    this.settle(status, null);
    this.finishSocket(Buffer.concat([Buffer.from(head + '\r\n'), body]));
  }

  /** The client left before an upstream was contacted: nothing to answer, status 499. */
  abandon(): void {
    if (this.phase !== NEW) return;
    this.phase = DONE;
    this.settle(499, null);
    this.socket.destroy();
  }

  /** The upstream handshake starts: `start` receives this as the client its answer goes to. */
  connect(start: (client: HandshakeClient) => { destroy(): void }): void {
    this.phase = CONNECTING;
    const shared = this.sharedSlot;
    if (shared === null) return this.startUpstream(start);
    // The store answers within its timeout (or the local count stands): then the upstream, or a 429.
    this.sharedSlot = null;
    shared.then((ok) => {
      if (this.phase !== CONNECTING) return;
      if (this.gone) {
        this.phase = DONE;
        this.settle(499, null);
        this.socket.destroy();
      } else if (this.state.draining) {
        this.refuse(new GatewayError('SHUTTING_DOWN'));
      } else if (!ok) {
        const route = this.route!;
        this.state.prom.wsConnectionsLimited(routeMetrics(this.state.prom, route));
        this.refuse(new GatewayError('WS_TOO_MANY_CONNECTIONS', `over maxPerClient (${this.maxPerClient}) on route ${route.spec.name}, counted across instances`), 'retry-after: 1\r\n');
      } else {
        this.startUpstream(start);
      }
    }, ignoreRejection);
  }

  private startUpstream(start: (client: HandshakeClient) => { destroy(): void }): void {
    const upstream = start(this);
    // A handshake that settled at once has nothing left to cancel.
    if (this.phase === CONNECTING) this.upstream = upstream;
  }

  /** A shutdown: an upstream handshake in flight is cut short (its result then refuses). */
  cancel(): void {
    if (this.phase === CONNECTING) this.upstream?.destroy();
  }

  /**
   * The upstream's answer. Returns true when it is a 101 the caller must hand over to a tunnel
   * (with handOver); every other outcome is settled here.
   */
  upstreamAnswered(result: HandshakeResult): boolean {
    this.upstream = null;
    if (this.gone || (result.socket !== null && this.socket.readableEnded)) {
      // The client left (FIN or reset) while we waited: no answer, no tunnel, status 499.
      result.socket?.destroy();
      this.phase = DONE;
      this.settle(499, null);
      this.socket.destroy();
      return false;
    }
    if (result.socket === null) {
      if (result.relayed) {
        // The upstream's own answer is on its way to the client (write/end below).
        this.phase = RELAYING;
        this.settle(result.status, result.error?.code ?? null, result.error?.cause);
        return false;
      }
      this.refuse(this.state.draining ? new GatewayError('SHUTTING_DOWN') : result.error ?? new GatewayError('UPSTREAM_BAD_RESPONSE'));
      return false;
    }
    if (this.state.draining) {
      // Shutdown began while the upstream answered: its tunnel would outlive the 1001 sweep.
      result.socket.destroy();
      this.refuse(new GatewayError('SHUTTING_DOWN'));
      return false;
    }
    return true;
  }

  /** The 101 is written; from here the tunnel owns the socket (and the per-client slot). */
  handOver(answer: string): Socket {
    this.phase = TUNNEL;
    this.clientKey = null;
    this.state.pendingUpgrades.delete(this);
    this.detach();
    this.socket.write(answer);
    this.onSettled?.(101);
    return this.socket;
  }

  // HandshakeClient: the upstream's non-101 answer, relayed as it arrives.
  get writable(): boolean {
    return (this.phase === CONNECTING || this.phase === RELAYING) && this.socket.writable;
  }

  write(chunk: string | Buffer): void {
    if (this.socket.writable) this.socket.write(chunk);
  }

  end(): void {
    if (this.phase !== RELAYING) return;
    this.phase = DONE;
    this.finishSocket(null);
  }

  abort(): void {
    this.phase = DONE;
    this.socket.destroy();
  }

  // In NEW, whoever runs next (a check, middleware, connect) finds `gone` and abandons.
  clientGone(): void {
    this.clientLeft = true;
    if (this.phase === CONNECTING) this.upstream?.destroy(); // its result settles with 499
  }

  // Logs, counts and releases once per upgrade; the socket's fate is the caller's.
  private settle(status: number, code: string | null, cause?: unknown): void {
    this.state.pendingUpgrades.delete(this);
    if (this.clientKey !== null) this.state.registry.release(this.clientKey);
    this.clientKey = null;
    const state = this.state;
    state.prom.wsRefused(this.route === null ? state.prom.route(UNMATCHED_ROUTE) : routeMetrics(state.prom, this.route), status);
    if (state.log.isLevelEnabled('info')) {
      const req = this.req;
      const userAgent = req.headers['user-agent'];
      const errno = causeCode(cause);
      state.log.info(
        {
          event: EVENTS.HTTP_REQUEST,
          route: this.routeName,
          method: this.req.method,
          path: withoutQuery(this.req.url),
          status,
          durationMs: Math.round((performance.now() - this.startedMs) * 1000) / 1000,
          requestId: this.requestId,
          client: plainAddress(this.socket.remoteAddress),
          websocket: true,
          ...(userAgent !== undefined ? { userAgent } : {}),
          ...(this.user !== null ? { user: this.user } : {}),
          ...(this.target !== null ? { target: this.target } : {}),
          ...(code !== null ? { code } : {}),
          ...(errno !== undefined ? { cause: errno } : {}),
        },
        'request',
      );
    }
    this.onSettled?.(status);
    this.onSettled = null;
  }

  // Ends the socket after `last` (if any); the client's FIN then closes it, or the linger timer does.
  private finishSocket(last: string | Buffer | null): void {
    const socket = this.socket;
    socket.off('end', pendingOnGone).off('close', pendingOnGone);
    if (!socket.writable || socket.destroyed) return void socket.destroy();
    if (last === null) socket.end();
    else socket.end(last);
    socket.resume(); // read and drop what the client still sends, so its FIN is seen
    socket.setTimeout(LINGER_MS, lingerOver);
  }

  private detach(): void {
    this.socket.off('error', pendingOnError).off('end', pendingOnGone).off('close', pendingOnGone);
  }
}

function pendingOnError(this: Owned): void {
  this.destroy();
}

function pendingOnGone(this: Owned): void {
  this.upgrade.clientGone();
}

function lingerOver(this: Socket): void {
  this.destroy();
}

// SharedCounts.reserve() never rejects; this only keeps a broken promise from becoming unhandled.
function ignoreRejection(): void {}
