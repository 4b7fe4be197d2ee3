// http/error-response: the one JSON error body of SPEC section 3, for a ServerResponse or as raw bytes.
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { GatewayError } from '../core/errors.js';

export function errorBody(err: GatewayError, requestId: string): string {
  return JSON.stringify({ error: { code: err.code, message: err.message, requestId } });
}

export function sendError(res: ServerResponse, err: GatewayError, requestId: string, extraHeaders?: readonly (readonly [string, string])[]): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = errorBody(err, requestId);
  res.statusCode = err.status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('x-request-id', requestId);
  if (extraHeaders !== undefined) for (const [k, v] of extraHeaders) res.setHeader(k, v);
  res.end(body);
}

// For sockets outside Node's response machinery (parse errors, refused WebSocket handshakes): the
// whole answer as one string. The socket's owner writes it and ends the socket (ws `abortHandshake`).
export function rawErrorResponse(err: GatewayError, requestId: string, extraHeaders = ''): string {
  const body = errorBody(err, requestId);
  return (
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
    'connection: close\r\ncontent-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n${extraHeaders}\r\n${body}`
  );
}
