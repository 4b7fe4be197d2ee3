// auth/token-source: finds a request's credential where its provider looks (tokenFrom, or `in` for
// API keys), first source first; not what the credential proves (providers) nor its removal before
// the upstream (middleware.ts).
import type { IncomingMessage } from 'node:http';
import { cookieValue } from '../core/cookies.js';
import type { TokenSource } from './spec.js';

// The Sec-WebSocket-Protocol entry that carries a token: `bearer.<token>` (a JWT's characters are all
// valid in a subprotocol token, RFC 6455 §4.1).
export const PROTOCOL_PREFIX = 'bearer.';

export interface FoundToken {
  readonly token: string;
  readonly source: TokenSource;
  readonly protocolEntry: string | null; // the whole `bearer.<token>` entry, to strip from the offered list
}

// RFC 6750 §2.1: `Bearer` is case-insensitive, then one or more spaces, then the token.
const BEARER = /^bearer +(\S+) *$/i;

// HOT: per request on an authenticated route.
export function findToken(req: IncomingMessage, sources: readonly TokenSource[]): FoundToken | null {
  for (const source of sources) {
    const token = read(req, source);
    if (token === null || token === '') continue;
    return { token, source, protocolEntry: source.from === 'protocol' ? PROTOCOL_PREFIX + token : null };
  }
  return null;
}

function read(req: IncomingMessage, source: TokenSource): string | null {
  switch (source.from) {
    case 'bearer': {
      const h = req.headers.authorization;
      if (h === undefined) return null;
      return BEARER.exec(h)?.[1] ?? null;
    }
    case 'header': {
      const h = req.headers[source.name];
      const v = (Array.isArray(h) ? h[0] : h)?.trim();
      if (v === undefined) return null;
      return BEARER.exec(v)?.[1] ?? v;
    }
    case 'cookie':
      return cookieValue(req.headers.cookie, source.name);
    case 'query':
      return queryValue(req.url ?? '', source.name);
    case 'protocol': {
      const h = req.headers['sec-websocket-protocol'];
      if (h === undefined) return null;
      for (const entry of h.split(',')) {
        const p = entry.trim();
        if (p.startsWith(PROTOCOL_PREFIX)) return p.slice(PROTOCOL_PREFIX.length);
      }
      return null;
    }
  }
}

// The first value of a query parameter, decoded as a form value; null when absent or malformed.
export function queryValue(url: string, name: string): string | null {
  const q = url.indexOf('?');
  if (q === -1) return null;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const key = decodeFormComponent(eq === -1 ? pair : pair.slice(0, eq));
    if (key !== name) continue;
    return eq === -1 ? '' : decodeFormComponent(pair.slice(eq + 1));
  }
  return null;
}

function decodeFormComponent(text: string): string | null {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
