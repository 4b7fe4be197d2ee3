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
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly idleTimeoutMs: number;
  pick(exclude: ExchangeTarget | null, affinity: Affinity | null): ExchangeTarget | null;
}
