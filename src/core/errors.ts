// core/errors: the only place where error codes, HTTP statuses and WebSocket close codes are paired,
// and where foreign errors (node:net, undici, llhttp, our h1 client) become ours.
// A code is public API (SPEC section 3): it fixes the status a client sees and the close code of a tunnel.
// wsClose is null for codes that never end a tunnel (the admin API, config loading, workers).
// docs/errors.md documents every code; test/unit/core/errors.test.ts keeps the two in step.

export const ERRORS = {
  BAD_REQUEST:          { status: 400, wsClose: 1002, message: 'malformed request' },
  PATH_OUTSIDE_ROOT:    { status: 400, wsClose: 1002, message: 'path climbs above the root' },
  PATH_AMBIGUOUS:       { status: 400, wsClose: 1002, message: 'path could be decoded into another path upstream' },
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
  AUTH_MISSING:         { status: 401, wsClose: 1008, message: 'this route needs a credential and the request carries none' },
  AUTH_INVALID:         { status: 401, wsClose: 1008, message: 'the credential was refused' },
  AUTH_FORBIDDEN:       { status: 403, wsClose: 1008, message: 'the credential lacks a scope this route requires' },
  AUTH_UNAVAILABLE:     { status: 503, wsClose: 1013, message: 'an auth provider (JWKS, discovery or introspection endpoint) is down or slow' },
  WS_TOO_MANY_CONNECTIONS: { status: 429, wsClose: 1008, message: 'too many WebSocket connections from this client' },
  RATE_LIMITED:         { status: 429, wsClose: 1008, message: 'request rate limit exceeded' },
  WS_ORIGIN_FORBIDDEN:  { status: 403, wsClose: 1008, message: 'Origin not allowed for this WebSocket route' },
  WS_LIFETIME_REACHED:  { status: 500, wsClose: 1008, message: 'connection lifetime reached' },
  WS_TOKEN_EXPIRED:     { status: 401, wsClose: 1008, message: 'the credential that opened this WebSocket expired (closeOnExpiry)' },
  WS_IDLE_TIMEOUT:      { status: 500, wsClose: 1001, message: 'no data message within idleTimeout' },
  WS_HEARTBEAT_LOST:    { status: 500, wsClose: 1001, message: 'client did not answer the heartbeat in time' },
  WS_SEND_TIMEOUT:      { status: 500, wsClose: 1008, message: 'a peer stopped reading for longer than websocket.sendTimeout' },
  WS_OPERATOR_CLOSE:    { status: 500, wsClose: 1008, message: 'closed by operator' },
  WS_ROUTE_REMOVED:     { status: 500, wsClose: 1012, message: 'route or target removed by a config reload' },
  WS_TARGET_UNHEALTHY:  { status: 503, wsClose: 1012, message: 'the upstream target turned unhealthy (onUnhealthy: close)' },
  WS_UPSTREAM_LOST:     { status: 502, wsClose: 1014, message: 'upstream connection lost without a close frame' },
  UPSTREAM_UNAVAILABLE: { status: 502, wsClose: 1014, message: 'upstream refused or reset the connection' },
  UPSTREAM_BAD_RESPONSE:{ status: 502, wsClose: 1014, message: 'upstream sent an invalid response' },
  UPSTREAM_TIMEOUT:     { status: 504, wsClose: 1014, message: 'upstream did not answer in time' },
  UPSTREAM_TLS:         { status: 502, wsClose: 1014, message: 'TLS with the upstream failed: its certificate was not trusted, or the handshake was refused' },
  NO_HEALTHY_TARGET:    { status: 503, wsClose: 1013, message: 'no healthy target in the upstream' },
  OVER_CAPACITY:        { status: 503, wsClose: 1013, message: 'gateway is over a connection limit' },
  SHUTTING_DOWN:        { status: 503, wsClose: 1001, message: 'gateway is shutting down' },
  INTERNAL:             { status: 500, wsClose: 1011, message: 'internal gateway error' },
  // The admin API (SPEC section 6).
  UNAUTHORIZED:         { status: 401, wsClose: null, message: 'the admin API needs Authorization: Bearer <admin.token>' },
  NOT_FOUND:            { status: 404, wsClose: null, message: 'no such admin endpoint or live connection' },
  NO_CONFIG_SOURCE:     { status: 409, wsClose: null, message: 'this gateway has no config file to reload' },
  CONFIG_REJECTED:      { status: 400, wsClose: null, message: 'the new config was rejected; the running config is unchanged' },
  // Config loading and processes: CLI output and log lines; a status only if one reaches the admin API.
  CONFIG_INVALID:       { status: 400, wsClose: null, message: 'the config has problems' },
  CONFIG_UNREADABLE:    { status: 500, wsClose: null, message: 'a file the config names cannot be read' },
  WORKER_EXITED:        { status: 500, wsClose: null, message: 'a worker process exited without being asked' },
} as const satisfies Record<string, { status: number; wsClose: number | null; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly status: number;
  readonly wsClose: number | null;
  constructor(readonly code: ErrorCode, message?: string, options?: ErrorOptions) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'GatewayError';
    this.status = ERRORS[code].status;
    this.wsClose = ERRORS[code].wsClose;
  }
}

// Failures talking to an upstream, by code, never instanceof: undici, node:net and our h1 client share
// no class, but each keeps its codes stable.
const UPSTREAM_FAILURES: Record<string, ErrorCode> = {
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
  UND_ERR_HEADERS_OVERFLOW: 'UPSTREAM_BAD_RESPONSE',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'UPSTREAM_BAD_RESPONSE',
  H1_CONNECT_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_HEADERS_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_BODY_TIMEOUT: 'UPSTREAM_TIMEOUT',
  H1_SOCKET_CLOSED: 'UPSTREAM_UNAVAILABLE',
  H1_POOL_CLOSED: 'UPSTREAM_UNAVAILABLE',
  // OpenSSL's verification results as node:tls reports them (plus ERR_TLS_* and ERR_SSL_*, below).
  DEPTH_ZERO_SELF_SIGNED_CERT: 'UPSTREAM_TLS',
  SELF_SIGNED_CERT_IN_CHAIN: 'UPSTREAM_TLS',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'UPSTREAM_TLS',
  UNABLE_TO_GET_ISSUER_CERT: 'UPSTREAM_TLS',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'UPSTREAM_TLS',
  CERT_HAS_EXPIRED: 'UPSTREAM_TLS',
  CERT_NOT_YET_VALID: 'UPSTREAM_TLS',
  CERT_UNTRUSTED: 'UPSTREAM_TLS',
  CERT_REVOKED: 'UPSTREAM_TLS',
  CERT_SIGNATURE_FAILURE: 'UPSTREAM_TLS',
  INVALID_CA: 'UPSTREAM_TLS',
};

function codeOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function nameOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
}

/** Any error → a GatewayError, the original kept as cause; fallback when nothing names it. */
export function toGatewayError(err: unknown, fallback: ErrorCode = 'INTERNAL'): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = codeOf(err);
  let mapped = code === undefined ? undefined : UPSTREAM_FAILURES[code];
  // An upstream's response that llhttp refused. undici 7's HTTPParserError usually has no code (it looks
  // its llhttp error number up in a table keyed by name), so its name is the only sign.
  if (mapped === undefined && (code?.startsWith('HPE_') === true || nameOf(err) === 'HTTPParserError')) mapped = 'UPSTREAM_BAD_RESPONSE';
  // ERR_TLS_CERT_ALTNAME_INVALID (servername not in the certificate), ERR_SSL_* (an alert: a client
  // certificate the upstream wanted, no common protocol version).
  if (mapped === undefined && (code?.startsWith('ERR_TLS_') === true || code?.startsWith('ERR_SSL_') === true)) mapped = 'UPSTREAM_TLS';
  return new GatewayError(mapped ?? fallback, undefined, { cause: err });
}

// A client's request that Node's parser (llhttp) refused, on the server side: the same HPE_ codes as
// an upstream's, but here the client is at fault, so they become 4xx codes, never a 502.
const CLIENT_REFUSALS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'AMBIGUOUS_FRAMING',
  HPE_INVALID_CONTENT_LENGTH: 'AMBIGUOUS_FRAMING',
  HPE_INVALID_TRANSFER_ENCODING: 'AMBIGUOUS_FRAMING',
  HPE_INVALID_CHUNK_SIZE: 'AMBIGUOUS_FRAMING',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'AMBIGUOUS_FRAMING',
  HPE_STRICT: 'AMBIGUOUS_FRAMING',
  HPE_LF_EXPECTED: 'AMBIGUOUS_FRAMING',
  HPE_CR_EXPECTED: 'AMBIGUOUS_FRAMING',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/** A server 'clientError' → the GatewayError to answer with; null when there is nothing to answer (a reset). */
export function clientErrorToGatewayError(err: unknown): GatewayError | null {
  const code = codeOf(err);
  if (code === undefined) return null;
  const mapped = CLIENT_REFUSALS[code] ?? (code.startsWith('HPE_') ? 'BAD_REQUEST' : undefined);
  return mapped === undefined ? null : new GatewayError(mapped, undefined, { cause: err });
}
