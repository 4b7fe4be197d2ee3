// server/connections: client connections before Node's HTTP server turns them into requests:
// admission over every listener (limits.maxConnections) and the answer to a request head Node's
// parser refused. Each connection carries one phase, so no connection is answered twice.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError, clientErrorToGatewayError } from '../core/errors.js';
import { rawErrorResponse } from '../http/error-response.js';
import { createRequestId, plainAddress } from '../http/forwarded.js';
import { EVENTS } from '../observability/events.js';
import type { ServerState } from './state.js';

// A connection's phase: open, over the connection limit (answered 503, closing), or answered with
// a final error by the request path (closing; Node's parser may still fail on what follows).
const CONN_OPEN = 0;
const CONN_OVER_LIMIT = 1;
const CONN_ANSWERED = 2;

type ClientSocket = Socket & { state: ServerState; phase: number };

// limits.maxConnections over all listeners: the connection over it gets a 503 and is closed
// (SPEC section 2), rather than the silent drop of Node's server.maxConnections.
export function acceptConnection(state: ServerState, socket: Socket): void {
  const s = socket as ClientSocket;
  s.state = state;
  s.phase = CONN_OPEN;
  state.openConnections++;
  socket.once('close', connectionOnClose);
  const max = state.runtime.config.limits.maxConnections;
  if (state.openConnections <= max) return;
  s.phase = CONN_OVER_LIMIT;
  socket.on('error', connectionOnError);
  if (!socket.writable) return void socket.destroy();
  socket.end(rawErrorResponse(new GatewayError('OVER_CAPACITY', `the gateway holds limits.maxConnections (${max}) connections`), createRequestId()));
}

/** True for a connection over the limit: its requests and upgrades are dropped unread. */
export function isOverLimit(socket: Socket | Duplex): boolean {
  return (socket as ClientSocket).phase === CONN_OVER_LIMIT;
}

/** The request path answered this connection with a final error and `connection: close`. */
export function markAnswered(socket: Socket): void {
  (socket as ClientSocket).phase = CONN_ANSWERED;
}

export function handleClientError(state: ServerState, err: Error & { code?: string }, socket: Duplex): void {
  const phase = (socket as ClientSocket).phase;
  if (phase === CONN_ANSWERED) {
    // Answered (and logged) by the request path: a second answer would follow the first on the wire.
    socket.end();
    return;
  }
  const gwErr = phase === CONN_OVER_LIMIT ? null : clientErrorToGatewayError(err);
  if (gwErr === null || !socket.writable) {
    socket.destroy();
    return;
  }
  (socket as ClientSocket).phase = CONN_ANSWERED;
  const requestId = createRequestId();
  socket.end(rawErrorResponse(gwErr, requestId));
  state.log.info({ event: EVENTS.HTTP_REQUEST, status: gwErr.status, code: gwErr.code, requestId, client: plainAddress((socket as Socket).remoteAddress) }, 'rejected');
}

function connectionOnClose(this: ClientSocket): void {
  this.state.openConnections--;
}

function connectionOnError(this: Socket): void {
  this.destroy();
}
