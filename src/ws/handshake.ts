// ws/handshake: RFC 6455 §4 on both sides of the gateway: validating the client's upgrade request,
// performing our own handshake with a TLS upstream (node:https; plain TCP is upstream-socket.ts),
// and the 101 we answer with. The client's socket belongs to server/pending-upgrade.ts: an upstream
// answer other than a 101 is written to it only through the HandshakeClient it passes in.
import { hash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ClientRequest, STATUS_CODES } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { GatewayError, toGatewayError } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import { HOP_BY_HOP } from '../core/hop-by-hop.js';
import type { TlsClientOptions } from '../config/compile.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
// RFC 6455 §4.1: the key is 16 random bytes, base64: 22 characters and "==".
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

export function acceptKey(key: string): string {
  return hash('sha1', key + WS_GUID, 'base64'); // one call, no Hash object (Node >= 20.12)
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

// null when the request is a valid RFC 6455 opening handshake; else the error to answer with.
export function checkClientHandshake(req: IncomingMessage): GatewayError | null {
  const h = req.headers;
  if (req.method !== 'GET') return new GatewayError('WS_BAD_HANDSHAKE', 'a WebSocket handshake must use GET');
  if (req.httpVersion !== '1.1') return new GatewayError('WS_BAD_HANDSHAKE', 'a WebSocket handshake must use HTTP/1.1');
  if (h.upgrade === undefined || h.upgrade.toLowerCase() !== 'websocket') return new GatewayError('WS_BAD_HANDSHAKE', 'Upgrade must be "websocket"');
  if (!hasToken(h.connection, 'upgrade')) return new GatewayError('WS_BAD_HANDSHAKE', 'Connection must contain "upgrade"');
  const key = h['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) return new GatewayError('WS_BAD_HANDSHAKE', 'Sec-WebSocket-Key must be 16 bytes in base64');
  if (h['sec-websocket-version'] !== '13') return new GatewayError('WS_BAD_VERSION');
  return null;
}

export function rawHandshakeError(err: GatewayError): string {
  return err.code === 'WS_BAD_VERSION' ? 'sec-websocket-version: 13\r\n' : '';
}

export interface UpstreamTarget {
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  readonly tls?: TlsClientOptions | null; // the upstream's `tls` (CA, servername, client certificate)
}

export interface HandshakeResult {
  // set on success
  socket: Socket | null;
  head: Buffer;
  protocol: string;
  extensions: string;
  // set when the upstream answered something else or failed
  error: GatewayError | null;
  status: number;
  // true: the upstream's non-101 answer is being relayed to the client through HandshakeClient
  relayed: boolean;
}

// The owner of the client's socket as the handshake code sees it: an upstream's non-101 answer
// goes to the client through these calls, and nothing here ends or destroys that socket.
export interface HandshakeClient {
  readonly writable: boolean;
  write(chunk: string | Buffer): void;
  end(): void;   // the relayed answer is complete
  abort(): void; // the relayed answer broke off: drop the connection
}

export function failedHandshake(err: GatewayError): HandshakeResult {
  return { socket: null, head: EMPTY, protocol: '', extensions: '', error: err, status: err.status, relayed: false };
}

// Opens the upstream connection and sends our handshake. Node's HTTP client parses the answer
// (llhttp): a 101 arrives as 'upgrade', anything else as 'response'.
export function upstreamHandshake(
  target: UpstreamTarget,
  path: string,
  headers: readonly string[], // name, value, … without hop-by-hop ones; the upgrade pair is added here
  expectedAccept: string,
  offeredProtocols: string | undefined,
  timeoutMs: number,
  client: HandshakeClient,
  done: (result: HandshakeResult) => void,
): ClientRequest {
  const options = {
    host: target.hostname,
    port: target.port,
    path,
    method: 'GET',
    headers: [...headers, 'connection', 'Upgrade', 'upgrade', 'websocket'],
    agent: false as const,
    setHost: false,
    timeout: timeoutMs,
  };
  const req = target.secure ? httpsRequest({ ...options, ...target.tls }) : httpRequest(options);
  let settled = false;
  const finish = (result: HandshakeResult): void => {
    if (settled) return;
    settled = true;
    done(result);
  };
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    const err = checkUpstreamAnswer(res, expectedAccept, offeredProtocols);
    if (err !== null) {
      socket.destroy();
      finish(failedHandshake(err));
      return;
    }
    const protocol = res.headers['sec-websocket-protocol'] ?? '';
    const extensions = res.headers['sec-websocket-extensions'] ?? '';
    finish({ socket, head, protocol, extensions, error: null, status: 101, relayed: false });
  });
  req.on('response', (res: IncomingMessage) => {
    // Not a 101: relay the answer to the client as plain HTTP and never open a tunnel.
    const err = new GatewayError('UPSTREAM_BAD_RESPONSE', `upstream answered the WebSocket handshake with ${res.statusCode}`);
    const relayed = relayPlainResponse(res, client);
    finish({ socket: null, head: EMPTY, protocol: '', extensions: '', error: err, status: res.statusCode ?? 502, relayed });
  });
  req.on('timeout', () => {
    req.destroy(new GatewayError('UPSTREAM_TIMEOUT', `upstream did not answer the WebSocket handshake within ${formatDuration(timeoutMs)}`));
  });
  req.on('error', (err: Error) => {
    finish(failedHandshake(toGatewayError(err, 'UPSTREAM_UNAVAILABLE')));
  });
  req.end();
  return req;
}

const EMPTY = Buffer.alloc(0);

function checkUpstreamAnswer(res: IncomingMessage, expectedAccept: string, offered: string | undefined): GatewayError | null {
  if (res.statusCode !== 101) return new GatewayError('UPSTREAM_BAD_RESPONSE', `upstream answered ${res.statusCode} to the upgrade`);
  return checkSwitchingProtocols((name) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }, expectedAccept, offered);
}

// The headers of an upstream's 101, however they were parsed: Upgrade, the accept hash of our key,
// and a subprotocol the client offered (RFC 6455 §4.1: one of those, or none).
export function checkSwitchingProtocols(header: (name: string) => string | undefined, expectedAccept: string, offered: string | undefined): GatewayError | null {
  const upgrade = header('upgrade');
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream 101 without Upgrade: websocket');
  if (header('sec-websocket-accept') !== expectedAccept) return new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream sent a wrong Sec-WebSocket-Accept');
  const chosen = header('sec-websocket-protocol');
  if (chosen !== undefined && (offered === undefined || !offered.split(',').some((p) => p.trim() === chosen))) {
    return new GatewayError('UPSTREAM_BAD_RESPONSE', 'upstream chose a subprotocol the client did not offer');
  }
  return null;
}

// llhttp has decoded the body's framing, so Transfer-Encoding goes with the other hop-by-hop fields.
function relayPlainResponse(res: IncomingMessage, client: HandshakeClient): boolean {
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage || STATUS_CODES[res.statusCode ?? 502] || ''}\r\n`;
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  head += 'connection: close\r\n\r\n';
  if (!client.writable) {
    res.resume();
    return false;
  }
  client.write(head);
  // The body is delimited by the connection's end (no Transfer-Encoding in our answer). A refusal
  // is a short answer: it is not paced by the client's reads.
  res.on('data', (chunk: Buffer) => client.write(chunk));
  res.on('end', () => client.end());
  res.on('error', () => client.abort());
  return true;
}

// The 101 we send the client: the upstream's choice of subprotocol and extensions, unchanged.
// `extraLines`: header lines of the gateway's own, each ending in CRLF (a sticky session's cookie).
export function switchingProtocols(accept: string, protocol: string, extensions: string, extraLines = ''): string {
  let out = `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n`;
  if (protocol !== '') out += `sec-websocket-protocol: ${protocol}\r\n`;
  if (extensions !== '') out += `sec-websocket-extensions: ${extensions}\r\n`;
  return out + extraLines + '\r\n';
}
