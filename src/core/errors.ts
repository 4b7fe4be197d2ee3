// core/errors: the only place where error codes, HTTP statuses and WebSocket close codes are paired.
// A code is public API (SPEC section 3): it fixes the status a client sees and the close code of a tunnel.

export const ERRORS = {
  BAD_REQUEST:          { status: 400, wsClose: 1002, message: 'malformed request' },
  PATH_OUTSIDE_ROOT:    { status: 400, wsClose: 1002, message: 'path climbs above the root' },
  AMBIGUOUS_FRAMING:    { status: 400, wsClose: 1002, message: 'ambiguous or malformed message framing' },
  ROUTE_NOT_FOUND:      { status: 404, wsClose: 1008, message: 'no route matches this request' },
  METHOD_NOT_ALLOWED:   { status: 405, wsClose: 1008, message: 'method not allowed on this route' },
  REQUEST_TIMEOUT:      { status: 408, wsClose: 1008, message: 'request head or body did not arrive in time' },
  BODY_TOO_LARGE:       { status: 413, wsClose: 1009, message: 'request body exceeds limits.maxBodyBytes' },
  HEADERS_TOO_LARGE:    { status: 431, wsClose: 1008, message: 'request headers exceed limits.maxHeaderBytes' },
  WS_BAD_HANDSHAKE:     { status: 400, wsClose: 1002, message: 'invalid WebSocket handshake' },
  WS_BAD_VERSION:       { status: 426, wsClose: 1002, message: 'unsupported WebSocket version, use 13' },
  WS_PROTOCOL_ERROR:    { status: 400, wsClose: 1002, message: 'WebSocket protocol violation' },
  WS_MESSAGE_TOO_BIG:   { status: 413, wsClose: 1009, message: 'message exceeds maxMessageBytes' },
  WS_RATE_LIMITED:      { status: 429, wsClose: 1008, message: 'message rate limit exceeded' },
  WS_TOO_MANY_CONNECTIONS: { status: 429, wsClose: 1008, message: 'too many WebSocket connections from this client' },
  WS_ORIGIN_FORBIDDEN:  { status: 403, wsClose: 1008, message: 'Origin not allowed for this WebSocket route' },
  WS_LIFETIME_REACHED:  { status: 500, wsClose: 1008, message: 'connection lifetime reached' },
  WS_IDLE_TIMEOUT:      { status: 500, wsClose: 1001, message: 'no data message within idleTimeout' },
  WS_HEARTBEAT_LOST:    { status: 500, wsClose: 1001, message: 'client did not answer the heartbeat in time' },
  WS_OPERATOR_CLOSE:    { status: 500, wsClose: 1008, message: 'closed by operator' },
  WS_ROUTE_REMOVED:     { status: 500, wsClose: 1012, message: 'route or target removed by a config reload' },
  WS_UPSTREAM_LOST:     { status: 502, wsClose: 1014, message: 'upstream connection lost without a close frame' },
  UPSTREAM_UNAVAILABLE: { status: 502, wsClose: 1014, message: 'upstream refused or reset the connection' },
  UPSTREAM_BAD_RESPONSE:{ status: 502, wsClose: 1014, message: 'upstream sent an invalid response' },
  UPSTREAM_TIMEOUT:     { status: 504, wsClose: 1014, message: 'upstream did not answer in time' },
  NO_HEALTHY_TARGET:    { status: 503, wsClose: 1013, message: 'no healthy target in the upstream' },
  OVER_CAPACITY:        { status: 503, wsClose: 1013, message: 'gateway is over a connection limit' },
  SHUTTING_DOWN:        { status: 503, wsClose: 1001, message: 'gateway is shutting down' },
  INTERNAL:             { status: 500, wsClose: 1011, message: 'internal gateway error' },
} as const satisfies Record<string, { status: number; wsClose: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly status: number;
  readonly wsClose: number;
  constructor(readonly code: ErrorCode, message?: string, options?: ErrorOptions) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'GatewayError';
    this.status = ERRORS[code].status;
    this.wsClose = ERRORS[code].wsClose;
  }
}

// Foreign error codes (undici, node:net, llhttp) mapped once, at the boundary. By code, never instanceof.
const FOREIGN: Record<string, ErrorCode> = {
  ECONNREFUSED: 'UPSTREAM_UNAVAILABLE',
  ECONNRESET: 'UPSTREAM_UNAVAILABLE',
  EPIPE: 'UPSTREAM_UNAVAILABLE',
  EHOSTUNREACH: 'UPSTREAM_UNAVAILABLE',
  ENETUNREACH: 'UPSTREAM_UNAVAILABLE',
  ENOTFOUND: 'UPSTREAM_UNAVAILABLE',
  EAI_AGAIN: 'UPSTREAM_UNAVAILABLE',
  ETIMEDOUT: 'UPSTREAM_TIMEOUT',
  UND_ERR_CONNECT_TIMEOUT: 'UPSTREAM_TIMEOUT',
  UND_ERR_HEADERS_TIMEOUT: 'UPSTREAM_TIMEOUT',
  UND_ERR_BODY_TIMEOUT: 'UPSTREAM_TIMEOUT',
  UND_ERR_SOCKET: 'UPSTREAM_UNAVAILABLE',
  UND_ERR_CLOSED: 'UPSTREAM_UNAVAILABLE',
  UND_ERR_INFO: 'UPSTREAM_BAD_RESPONSE',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'UPSTREAM_BAD_RESPONSE',
  H1_CONNECT_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_HEADERS_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_BODY_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_SOCKET_CLOSED: 'UPSTREAM_UNAVAILABLE',
  H1_POOL_CLOSED: 'UPSTREAM_UNAVAILABLE',
  HPE_INVALID_CONSTANT: 'UPSTREAM_BAD_RESPONSE',
  HPE_INVALID_VERSION: 'UPSTREAM_BAD_RESPONSE',
  HPE_INVALID_STATUS: 'UPSTREAM_BAD_RESPONSE',
  HPE_INVALID_HEADER_TOKEN: 'UPSTREAM_BAD_RESPONSE',
};

export function toGatewayError(err: unknown, fallback: ErrorCode = 'INTERNAL'): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const mapped = typeof code === 'string' ? FOREIGN[code] : undefined;
  return new GatewayError(mapped ?? fallback, undefined, { cause: err });
}
