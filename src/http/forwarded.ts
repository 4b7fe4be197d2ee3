// http/forwarded: who the client is (trustedProxies) and the X-Forwarded-* / X-Request-Id /
// traceparent values the gateway sends upstream (SPEC section 3).
import type { BlockList } from 'node:net';
import { randomHex } from '../core/random.js';

export function createRequestId(): string {
  return randomHex(16);
}

// W3C Trace Context §3.2: version-traceid-parentid-flags; all-zero ids are invalid.
const TRACEPARENT = /^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

export function isValidTraceparent(value: string): boolean {
  return value.length === 55 && TRACEPARENT.test(value);
}

export function createTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

export function isTraceId(value: string): boolean {
  return value.length === 32 && TRACE_ID.test(value);
}

// A new trace for a request whose id we made: the trace id is the request id (both are 16 random
// bytes in hex), so one value finds the request in our logs and in the upstream's traces.
export function traceparentFor(requestId: string): string {
  return `00-${requestId}-${randomHex(8)}-01`;
}

// A request id a trusted peer sent is kept only when it is short printable ASCII (it lands in logs).
const SAFE_ID = /^[\x21-\x7e]{1,200}$/;

export function isSafeRequestId(value: string): boolean {
  return SAFE_ID.test(value);
}

// Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d.
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function isTrustedPeer(address: string, trusted: BlockList, trustedCount: number): boolean {
  if (trustedCount === 0 || address === '') return false;
  return trusted.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

// The client's address as seen by trusted proxies: walk X-Forwarded-For right to left and take the
// first hop we do not trust (what nginx's real_ip_recursive does).
export function clientAddress(peer: string, peerTrusted: boolean, xff: string | undefined, trusted: BlockList, trustedCount: number): string {
  if (!peerTrusted || xff === undefined || xff === '') return peer;
  const hops = xff.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i]!.trim());
    if (hop !== '' && !isTrustedPeer(hop, trusted, trustedCount)) return hop;
  }
  return plainAddress(hops[0]!.trim()) || peer;
}
