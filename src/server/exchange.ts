// server/exchange: one HTTP request or WebSocket handshake as middleware sees it (the Context of
// SPEC section 5, and the GatewayContext the built-in auth, CORS and rate limits use). Created only
// for routes that have middleware; the fast path never builds one.
import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import type { GatewayError } from '../core/errors.js';
import type { GatewayContext, Identity, WsCloseInfo, WsOpenInfo } from '../middleware/chain.js';

// How the ingress answers for the exchange: middleware's own answer, or a refusal with the JSON error.
export interface ExchangeAnswers {
  answer(ex: Exchange, status: number, body: Buffer, headers: [string, string][]): void;
  refuse(ex: Exchange, err: GatewayError, headers: readonly (readonly [string, string])[]): void;
}

export class Exchange implements GatewayContext {
  identity: Identity | null = null;
  status = 0;
  expiresAt = 0;
  readonly state: Record<string, unknown> = {};
  // A null value removes the client's copy (ctx.removeUpstreamHeader).
  upstreamHeaders: (readonly [string, string | null])[] = [];
  // What a handshake's 101 (or refusal) adds; an HTTP answer takes them on `res` at once.
  responseHeaders: [string, string][] | null = null;
  droppedQuery: string[] | null = null;
  droppedProtocols: string[] | null = null;
  openHooks: ((info: WsOpenInfo) => void)[] | null = null;
  closeHooks: ((info: WsCloseInfo) => void)[] | null = null;
  responded = false;
  // What refuse() answered with: the access log's `code`.
  refusal: GatewayError | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse | null,
    readonly websocket: boolean,
    readonly route: { readonly name: string; readonly upstream: string | null },
    readonly params: Readonly<Record<string, string>>,
    readonly requestId: string,
    readonly clientAddress: string,
    private readonly answers: ExchangeAnswers,
  ) {}

  respond(status: number, body?: unknown, headers?: Record<string, string>): void {
    if (this.responded) throw new Error('respond() called twice');
    this.responded = true;
    this.status = status;
    const out: [string, string][] = Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]);
    let payload: Buffer;
    if (body === undefined || body === null) payload = Buffer.alloc(0);
    else if (typeof body === 'string' || Buffer.isBuffer(body)) payload = Buffer.from(body);
    else {
      payload = Buffer.from(JSON.stringify(body));
      if (!out.some(([k]) => k === 'content-type')) out.push(['content-type', 'application/json']);
    }
    if (this.responseHeaders !== null) out.push(...this.responseHeaders);
    this.answers.answer(this, status, payload, out);
  }

  refuse(err: GatewayError, headers: readonly (readonly [string, string])[] = []): void {
    if (this.responded) throw new Error('refuse() after the exchange was answered');
    this.responded = true;
    this.status = err.status;
    this.answers.refuse(this, err, this.responseHeaders === null ? headers : [...this.responseHeaders, ...headers]);
  }

  setUpstreamHeader(name: string, value: string): void {
    // Throws (the middleware fails with 500) rather than let CR/LF split the upstream request head.
    validateHeaderName(name);
    validateHeaderValue(name, value);
    this.putUpstream(name.toLowerCase(), value);
  }

  removeUpstreamHeader(name: string): void {
    validateHeaderName(name);
    this.putUpstream(name.toLowerCase(), null);
  }

  setResponseHeader(name: string, value: string): void {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    const lower = name.toLowerCase();
    if (this.res !== null) {
      // Node merges headers set here with those the relay or an error answer writes later.
      this.res.setHeader(lower, value);
      return;
    }
    const list = (this.responseHeaders ??= []);
    const i = list.findIndex(([k]) => k === lower);
    if (i === -1) list.push([lower, value]);
    else list[i] = [lower, value];
  }

  removeQueryParam(name: string): void {
    (this.droppedQuery ??= []).push(name);
  }

  removeProtocol(entry: string): void {
    (this.droppedProtocols ??= []).push(entry);
  }

  onOpen(fn: (info: WsOpenInfo) => void): void {
    (this.openHooks ??= []).push(fn);
  }

  onClose(fn: (info: WsCloseInfo) => void): void {
    (this.closeHooks ??= []).push(fn);
  }

  private putUpstream(lower: string, value: string | null): void {
    this.upstreamHeaders = this.upstreamHeaders.filter(([k]) => k !== lower);
    this.upstreamHeaders.push([lower, value]);
  }
}

// The query string without the parameters named in `drop` (every occurrence), '' when none is left.
// Names compare after decoding, so `?access%5Ftoken=` cannot slip past `access_token`.
export function queryWithout(query: string, drop: readonly string[]): string {
  if (query === '' || query === '?') return '';
  const kept: string[] = [];
  for (const pair of query.slice(1).split('&')) {
    const eq = pair.indexOf('=');
    const raw = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      name = raw;
    }
    if (!drop.includes(name)) kept.push(pair);
  }
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}
