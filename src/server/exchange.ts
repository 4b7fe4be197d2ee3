// server/exchange: one HTTP request or WebSocket handshake as middleware sees it (the Context of
// SPEC section 5). Created only for routes that have middleware; the fast path never builds one.
import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Context, Identity, WsCloseInfo, WsOpenInfo } from '../middleware/chain.js';


export class Exchange implements Context {
  identity: Identity | null = null;
  status = 0;
  readonly state: Record<string, unknown> = {};
  upstreamHeaders: (readonly [string, string])[] = [];
  openHooks: ((info: WsOpenInfo) => void)[] | null = null;
  closeHooks: ((info: WsCloseInfo) => void)[] | null = null;
  responded = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse | null,
    readonly websocket: boolean,
    readonly route: { readonly name: string; readonly upstream: string | null },
    readonly params: Readonly<Record<string, string>>,
    readonly requestId: string,
    readonly clientAddress: string,
    private readonly answer: (ex: Exchange, status: number, body: Buffer, headers: [string, string][]) => void,
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
    this.answer(this, status, payload, out);
  }

  setUpstreamHeader(name: string, value: string): void {
    // Throws (the middleware fails with 500) rather than let CR/LF split the upstream request head.
    validateHeaderName(name);
    validateHeaderValue(name, value);
    const lower = name.toLowerCase();
    this.upstreamHeaders = this.upstreamHeaders.filter(([k]) => k !== lower);
    this.upstreamHeaders.push([lower, value]);
  }

  onOpen(fn: (info: WsOpenInfo) => void): void {
    (this.openHooks ??= []).push(fn);
  }

  onClose(fn: (info: WsCloseInfo) => void): void {
    (this.closeHooks ??= []).push(fn);
  }
}
