// http/relay: one exchange relayed to an upstream, streaming both ways with backpressure. Owns the
// exchange's response until it ends; the target's client owns the upstream socket (upstream/h1 for
// plain TCP, undici for https://). It sees targets only through core/exchange's interfaces.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorKind, failureKind, type Affinity, type ExchangeControl, type ExchangeHandler, type ExchangeTarget, type TargetChooser } from '../core/exchange.js';
import { GatewayError, toGatewayError } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import type { HeaderOps } from '../config/compile.js';
import { connectionTokens } from '../core/hop-by-hop.js';
import { sendError } from './error-response.js';
import { RESPONSE_DROP, copyHeaders, text } from './header-filter.js';

type OwnedRes = ServerResponse & { relay: HttpRelay };
type OwnedReq = IncomingMessage & { relay: HttpRelay };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
// Failures that happen before the upstream could have acted on the request: safe to retry elsewhere.
const RETRYABLE = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'ECONNRESET', 'EHOSTUNREACH', 'H1_CONNECT_TIMEOUT', 'H1_SOCKET_CLOSED']);
// Which configured timeout a timeout error stands for (the error message names it).
const CONNECT_TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'H1_CONNECT_TIMEOUT']);
const BODY_TIMEOUTS = new Set(['UND_ERR_BODY_TIMEOUT', 'H1_BODY_TIMEOUT']);

export interface RelayDone {
  (relay: HttpRelay): void;
}

// Uses undici's native (legacy) handler interface: it receives raw header buffers, where the
// newer controller API parses every response head into an object first. Pinned to undici 7.
// Our h1 client calls the same methods, with header strings and onStart instead of onConnect.
export class HttpRelay implements ExchangeHandler {
  target: ExchangeTarget | null = null;
  status = 0;
  bytesOut = 0;
  error: GatewayError | null = null;
  // The access log's upstreamMs (dispatch to response head); set only when http-ingress sets
  // `timed` (the log is at info).
  timed = false;
  upstreamMs = -1;
  lastFailed: ExchangeTarget | null = null; // the target a retry left: the access log names it when no other answered
  private control: ExchangeControl | null = null; // from the h1 client, or wrapping undici's callbacks
  private headersReceived = false;
  private drainListened = false;
  private lastChunk: Buffer | null = null;
  private finished = false;
  private aborted = false; // we cut the exchange short (client gone, body too large): not the target's fault
  private attemptsLeft: number;
  bodyBytes = 0; // a chunked request body's bytes so far (Content-Length bodies are not counted)
  private dispatchedMs = 0; // performance.now() when the current attempt went to its target (its metrics)

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly pool: TargetChooser,
    readonly path: string,
    readonly headers: string[],
    readonly responseOps: HeaderOps | null,
    readonly requestId: string,
    private readonly hasBody: boolean,
    private readonly maxBodyBytes: number,
    private readonly done: RelayDone | null,
    private readonly affinity: Affinity | null = null, // null: the upstream hashes nothing and pins nothing
  ) {
    this.attemptsLeft = hasBody || !IDEMPOTENT.has(req.method ?? '') ? 0 : pool.retries;
    (res as OwnedRes).relay = this;
    // The response's 'close' reaches clientClosed() through the gateway's own listener; 'drain'
    // is listened to only once a write has filled the client's socket.
    if (hasBody && maxBodyBytes > 0 && req.headers['content-length'] === undefined) {
      (req as OwnedReq).relay = this;
      // A 'data' listener alone would start the flow now, before the upstream client reads the
      // body: the chunks would be counted and dropped. Paused, they wait for the client's resume()
      // (h1 or undici) and both listeners see each one.
      req.pause();
      req.on('data', reqOnData);
    }
  }

  // `failure`: why the previous attempt failed; it is the answer when no other target is left to try.
  start(exclude: ExchangeTarget | null = null, failure: GatewayError | null = null): void {
    const target = this.pool.pick(exclude, this.affinity);
    if (target === null) {
      this.fail(failure ?? new GatewayError('NO_HEALTHY_TARGET', `upstream ${this.pool.name} has no healthy target with room (health checks, ejections, maxConnectionsPerTarget)`));
      return;
    }
    this.target = target;
    target.inFlight++;
    this.dispatchedMs = performance.now();
    target.dispatch({ path: this.path, method: this.req.method!, headers: this.headers, body: this.hasBody ? this.req : null }, this);
  }

  // undici (https targets): its abort now, its resume with the head; both behind one control.
  onConnect(abort: (err?: Error) => void): void {
    this.control = new UndiciControl(abort);
  }

  onStart(control: ExchangeControl): void {
    this.control = control;
  }

  // HOT: per response head. Header names and values come as strings (h1) or buffers (undici).
  onHeaders(statusCode: number, rawHeaders: readonly (Buffer | string)[], resume: (() => void) | null, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx informational: not relayed
    this.headersReceived = true;
    if (this.timed) this.upstreamMs = Math.round((performance.now() - this.dispatchedMs) * 1000) / 1000;
    this.target?.report?.(statusCode >= 500 ? `status ${statusCode}` : null);
    this.target?.answered?.(statusCode, (performance.now() - this.dispatchedMs) / 1000);
    if (resume !== null && this.control instanceof UndiciControl) this.control.resumeUndici = resume;
    const res = this.res;
    if (res.destroyed) return false;
    let dropped: Set<string> | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.length === 10 && text(rawHeaders[i]!).toLowerCase() === 'connection') {
        dropped = connectionTokens(text(rawHeaders[i + 1]!));
      }
    }
    const ops = this.responseOps;
    const out: string[] = [];
    copyHeaders(out, rawHeaders, RESPONSE_DROP, dropped, ops);
    // The client gets the id our logs and error bodies carry, not one the upstream made up.
    if (ops === null || !ops.drop.has('x-request-id')) out.push('x-request-id', this.requestId);
    if (ops !== null) for (const [k, v] of ops.set) out.push(k, v);
    const cookie = this.pool.stickyCookie;
    if (cookie !== null && this.target !== null && this.affinity?.stickyId !== this.target.id) out.push('set-cookie', stickyCookieLine(cookie, this.target.id, this.req));
    if (this.done !== null) preferMiddlewareHeaders(res, out);
    this.status = statusCode;
    try {
      res.writeHead(statusCode, statusText, out);
    } catch (err) {
      // The upstream sent a header Node refuses to write (bad characters): not the client's fault.
      this.headersReceived = false;
      this.control?.abort(new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream sent an invalid header', { cause: err }));
      return false;
    }
    return true;
  }

  // HOT: per response chunk. Returning false pauses the upstream until the client drains. The h1
  // client flags the chunk that ends the body: it goes out with end(), one call instead of two.
  onData(chunk: Buffer, last?: boolean): boolean {
    this.bytesOut += chunk.length;
    if (last === true) {
      this.lastChunk = chunk;
      return true;
    }
    if (this.res.write(chunk)) return true;
    if (!this.drainListened) {
      this.drainListened = true;
      this.res.on('drain', resOnDrain);
    }
    return false;
  }

  onComplete(): void {
    this.release();
    const last = this.lastChunk;
    if (last === null) {
      this.res.end();
      return;
    }
    this.lastChunk = null;
    this.res.end(last);
  }

  onError(err: Error): void {
    this.release();
    if (!this.headersReceived && !this.aborted) this.target?.report?.(failureKind(err));
    if (!this.aborted) {
      const kind = errorKind(err);
      if (kind !== null) this.target?.failed?.(kind);
    }
    const gwErr = toGatewayError(err, 'UPSTREAM_UNAVAILABLE');
    if (!this.headersReceived && this.attemptsLeft > 0 && RETRYABLE.has(String((err as { code?: unknown }).code)) && !this.res.destroyed) {
      this.attemptsLeft--;
      const failed = this.target;
      this.lastFailed = failed;
      this.target = null;
      this.finished = false; // the next attempt counts on its own target until it ends
      this.start(failed, gwErr);
      return;
    }
    if (gwErr.code === 'UPSTREAM_TIMEOUT' && this.target !== null) {
      const code = String((err as { code?: unknown }).code);
      const limit = CONNECT_TIMEOUTS.has(code) ? this.pool.connectTimeoutMs : BODY_TIMEOUTS.has(code) ? this.pool.idleTimeoutMs : this.pool.responseTimeoutMs;
      this.fail(new GatewayError('UPSTREAM_TIMEOUT', `upstream ${this.pool.name} did not answer within ${formatDuration(limit)}`, { cause: err }));
      return;
    }
    this.fail(gwErr);
  }

  // Ends the exchange with an error: a JSON answer if nothing was sent yet, else a reset.
  fail(err: GatewayError): void {
    if (this.error === null) this.error = err;
    if (this.headersReceived || this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.status = err.status;
    if (this.hasBody) this.res.setHeader('connection', 'close'); // the unread body makes the connection unusable
    sendError(this.res, err, this.requestId, err.code === 'NO_HEALTHY_TARGET' ? [['retry-after', String(this.pool.retryAfterS)]] : undefined);
  }

  abort(err: GatewayError): void {
    this.aborted = true;
    if (this.control !== null && !this.finished) this.control.abort(err);
    else this.fail(err);
  }

  private release(): void {
    if (this.target !== null && !this.finished) this.target.inFlight--;
    this.finished = true;
  }

  finish(): void {
    this.done?.(this);
  }

  // The client's socket drained: the upstream may be read again.
  clientDrained(): void {
    this.control?.resume();
  }

  // The response closed, finished or not; a client that left early aborts the upstream request.
  clientClosed(): void {
    if (!this.res.writableFinished && !this.finished) this.abort(new GatewayError('UPSTREAM_UNAVAILABLE', 'client went away'));
    this.finish();
  }

  // A chunked request body grew by n bytes; true (and a 413) once it is over limits.maxBodyBytes.
  countBody(n: number): boolean {
    this.bodyBytes += n;
    if (this.bodyBytes <= this.maxBodyBytes) return false;
    this.abort(new GatewayError('BODY_TOO_LARGE'));
    return true;
  }
}

// undici's abort and resume callbacks as the h1 client's ExchangeControl.
class UndiciControl implements ExchangeControl {
  resumeUndici: (() => void) | null = null;
  constructor(private readonly abortUndici: (err?: Error) => void) {}

  abort(err: Error): void {
    this.abortUndici(err);
  }

  resume(): void {
    this.resumeUndici?.();
  }
}

// The cookie that pins a client to a target (sticky sessions): the target's opaque id, for the
// whole site, out of reach of scripts; Secure when the client came over TLS.
export function stickyCookieLine(name: string, id: string, req: IncomingMessage): string {
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true ? '; Secure' : '';
  return `${name}=${id}; Path=/; HttpOnly; SameSite=Lax${secure}`;
}

function resOnDrain(this: OwnedRes): void {
  this.relay.clientDrained();
}

function reqOnData(this: OwnedReq, chunk: Buffer): void {
  if (this.relay.countBody(chunk.length)) this.off('data', reqOnData);
}

// Headers middleware put on the answer (ctx.setResponseHeader: CORS, RateLimit-*) replace the
// upstream's of the same name, as Context promises; writeHead would otherwise let the upstream's win.
// Vary is a list: the upstream's entries join ours, so a cache varies on both (RFC 9110 §12.5.5).
function preferMiddlewareHeaders(res: ServerResponse, out: string[]): void {
  const names = res.getHeaderNames();
  if (names.length === 0) return;
  for (let i = 0; i < out.length; ) {
    const lower = out[i]!.toLowerCase();
    if (!names.includes(lower)) {
      i += 2;
      continue;
    }
    if (lower === 'vary') {
      const ours = String(res.getHeader('vary'));
      const theirs = out[i + 1]!.split(',').map((v) => v.trim()).filter((v) => v !== '' && !ours.toLowerCase().split(/\s*,\s*/).includes(v.toLowerCase()));
      if (theirs.length > 0) res.setHeader('vary', `${ours}, ${theirs.join(', ')}`);
    }
    out.splice(i, 2);
  }
}
