// middleware/chain: the Gin-like `use(...)` chain (SPEC section 5): global middleware, then the
// route's, in order, each awaiting `next()`. Routes without middleware never reach this module:
// the gateway keeps `chain === null` and calls the terminal handler directly.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayError } from '../core/errors.js';

export interface Identity {
  readonly id: string;
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Set by the built-in auth: the `auth` provider's name and type that authenticated the request. */
  readonly provider?: string;
  readonly type?: 'jwt' | 'introspection' | 'apiKey';
}

// What onOpen/onClose hooks receive for a WebSocket (SPEC section 5).
export interface WsOpenInfo {
  readonly id: string;
  readonly route: string;
  readonly clientAddress: string;
  readonly target: string;
  readonly protocol: string;
  readonly openedAt: Date;
}

export interface WsCloseInfo extends WsOpenInfo {
  readonly code: number;
  readonly reason: string;
  readonly initiator: 'client' | 'upstream' | 'gateway';
  readonly durationMs: number;
  readonly messagesIn: number;   // client → upstream
  readonly messagesOut: number;  // upstream → client
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface Context {
  readonly req: IncomingMessage;
  /** null for a WebSocket handshake: the socket is raw until the 101. */
  readonly res: ServerResponse | null;
  readonly websocket: boolean;
  readonly route: { readonly name: string; readonly upstream: string | null };
  readonly params: Readonly<Record<string, string>>;
  readonly requestId: string;
  readonly clientAddress: string;
  identity: Identity | null;
  /** After `next()`: the status the client got (101 for an opened WebSocket). */
  readonly status: number;
  /** Free-form per-request state shared between middleware. */
  readonly state: Record<string, unknown>;
  /** Answer now instead of calling `next()`: a JSON body, or a string/Buffer as is. */
  respond(status: number, body?: unknown, headers?: Record<string, string>): void;
  /** Adds or replaces a header sent to the upstream. */
  setUpstreamHeader(name: string, value: string): void;
  /** Removes a header the client sent before the request goes upstream (e.g. a forged claim header). */
  removeUpstreamHeader(name: string): void;
  /** Adds or replaces a header on the client's answer: the relayed response, the gateway's own, or the 101. */
  setResponseHeader(name: string, value: string): void;
  /** Removes a query parameter (every occurrence) from the URL sent upstream, e.g. a credential. */
  removeQueryParam(name: string): void;
  onOpen(fn: (info: WsOpenInfo) => void): void;
  onClose(fn: (info: WsCloseInfo) => void): void;
}

// What the built-in middleware (auth, CORS, rate limits) needs beyond Context: refusals with the
// stable JSON error, and the handshake's credential-bearing subprotocol and token expiry.
export interface GatewayContext extends Context {
  /** Answers with `err`'s status and the JSON error shape (a WebSocket handshake is refused as plain HTTP). */
  refuse(err: GatewayError, headers?: readonly (readonly [string, string])[]): void;
  /** Removes an entry from the Sec-WebSocket-Protocol list offered to the upstream. */
  removeProtocol(entry: string): void;
  /** Epoch ms after which a WebSocket opened by this handshake is closed with 1008 (0: never). */
  expiresAt: number;
}

export type Next = () => Promise<void>;
export type Middleware = (ctx: Context, next: Next) => unknown;

// Runs middleware[0..n) then `terminal`; each `next()` may be awaited at most once.
export function runChain(middleware: readonly Middleware[], ctx: Context, terminal: (ctx: Context) => Promise<void>): Promise<void> {
  let last = -1;
  const dispatch = (i: number): Promise<void> => {
    if (i <= last) return Promise.reject(new Error('next() called more than once'));
    last = i;
    if (i === middleware.length) return terminal(ctx);
    try {
      return Promise.resolve(middleware[i]!(ctx, () => dispatch(i + 1))).then(() => undefined);
    } catch (err) {
      // What the middleware threw, as is: the gateway logs it as the cause of its 500.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(err);
    }
  };
  return dispatch(0);
}
