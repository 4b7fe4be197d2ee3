// core/exchange: the contract between the HTTP relay (http/relay.ts) and the upstream clients that
// carry its exchanges (upstream/h1 for http:// targets, undici for https://). It lives in core/ so
// that neither side imports the other; server/ wires a pool's targets into the relay.
import type { IncomingMessage } from 'node:http';

// Written into the request head as given: names and values were checked where they came from
// (Node's parser for the client's, config/schema.ts for configured ones, Exchange for middleware's).
export interface DispatchOptions {
  readonly path: string;
  readonly method: string;
  readonly headers: readonly string[];   // name, value, name, value …
  readonly body: IncomingMessage | null; // streamed; Content-Length as given, else chunked
}

// How the relay steers an exchange in flight: abort it, or resume a body it paused.
export interface ExchangeControl {
  abort(err: Error): void;
  resume(): void;
}

// The relay's side of an exchange: undici's legacy handler methods. Our h1 client calls onStart
// with its control and passes header strings; undici calls onConnect and passes header buffers.
export interface ExchangeHandler {
  onConnect(abort: (err?: Error) => void): void;
  onStart(control: ExchangeControl): void;
  onHeaders(status: number, rawHeaders: readonly (Buffer | string)[], resume: (() => void) | null, statusText: string): boolean;
  onData(chunk: Buffer, last?: boolean): boolean; // last: onComplete follows before any other call
  onComplete(trailers: unknown): void;
  onError(err: Error): void;
}

// One upstream server as the relay sees it: where to send an exchange, and its in-flight count.
export interface ExchangeTarget {
  inFlight: number;
  readonly origin: string;
  readonly id: string; // opaque; what a sticky cookie holds
  dispatch(options: DispatchOptions, handler: ExchangeHandler): void;
  // The outcome of one attempt, for passive health (upstream/passive.ts): null when the upstream
  // answered below 500, else what went wrong ('status 502', 'timeout', 'refused', 'reset'). Optional:
  // a target without passive health (a test's scripted one) need not judge outcomes.
  report?(failure: string | null): void;
  // Per-target metrics (optional, like report): a response head's status and the seconds since the
  // attempt was sent (negative: not timed), and an attempt that failed, by errorKind().
  answered?(status: number, seconds: number): void;
  failed?(kind: ErrorKind): void;
}

// What wsgate_upstream_errors_total counts an upstream failure as: could not connect (refused or
// unreachable), no connection or answer in time, the connection cut, or an answer we cannot relay. null: not the target's doing (our own abort, a pool closed at shutdown).
export type ErrorKind = 'refused' | 'timeout' | 'reset' | 'bad_response';

export function errorKind(err: unknown): ErrorKind | null {
  const kind = failureKind(err);
  if (kind === 'unreachable') return 'refused';
  if (kind !== null) return kind as ErrorKind;
  for (let e = err; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === 'UPSTREAM_BAD_RESPONSE') return 'bad_response';
  }
  return null;
}

// What passive health counts against a target, by error code (the deepest cause that names one):
// connect errors, resets and timeouts. Anything else (a malformed answer, our own abort) is null.
const FAILURE_KINDS: Record<string, string> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  H1_SOCKET_CLOSED: 'reset',
  UPSTREAM_UNAVAILABLE: 'reset',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  H1_CONNECT_TIMEOUT: 'timeout',
  H1_HEADERS_TIMEOUT: 'timeout',
  H1_BODY_TIMEOUT: 'timeout',
  UPSTREAM_TIMEOUT: 'timeout',
};

export function failureKind(err: unknown): string | null {
  let kind: string | null = null;
  for (let e = err; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') kind = FAILURE_KINDS[code] ?? kind;
  }
  return kind;
}

// What ties a request to a target: the key `balance: hash` hashes, the target a sticky cookie
// names. Worked out once per request by server/, and only for upstreams that use them.
export interface Affinity {
  readonly hashKey: string | null;
  readonly stickyId: string | null;
}

// The named pool the relay picks a target from; `exclude` lets a retry avoid the one that failed.
export interface TargetChooser {
  readonly name: string;
  readonly retries: number;
  readonly stickyCookie: string | null; // set: the answer names the chosen target in this cookie
  readonly retryAfterS: number;         // the Retry-After of a 503 when no target is available
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly idleTimeoutMs: number;
  pick(exclude: ExchangeTarget | null, affinity: Affinity | null): ExchangeTarget | null;
}
