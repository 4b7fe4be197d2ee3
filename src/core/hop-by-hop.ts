// core/hop-by-hop: RFC 9110 §7.6.1 connection-specific headers, never forwarded in either direction;
// shared by the HTTP relay (http/) and the WebSocket handshake (ws/).

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

// The extra names a Connection header lists ("Connection: close, X-Foo" drops X-Foo too).
// Returns null in the common case (absent, or only keep-alive/close/upgrade) so callers skip the lookup.
export function connectionTokens(value: string | undefined): Set<string> | null {
  if (value === undefined || value === '') return null;
  let names: Set<string> | null = null;
  for (const raw of value.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
    (names ??= new Set()).add(name);
  }
  return names;
}

// The lengths of a set of header names, as a table: a name of any other length cannot be one of
// them, so the hot paths copy it without making a lower-cased copy to look up.
export function nameLengths(names: Iterable<string>): Uint8Array {
  let max = 0;
  for (const name of names) max = Math.max(max, name.length);
  const table = new Uint8Array(max + 1);
  for (const name of names) table[name.length] = 1;
  return table;
}
