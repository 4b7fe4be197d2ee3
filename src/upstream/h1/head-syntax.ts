// upstream/h1/head-syntax: the lexical rules of a response head the parser applies byte by byte:
// which characters a header name or value may hold, a status code, a Content-Length value, a
// Keep-Alive timeout, a chunk size's hex digit. Pure functions and tables, no state.

// What each latin1 char may be in a head: CHAR_TOKEN in names (RFC 9110 §5.6.2) and values,
// CHAR_VALUE in values only (SP, HTAB, VCHAR, obs-text; §5.5), 0 nowhere: CTLs, and CR or LF
// outside the CRLF that ends a line (RFC 9112 §2.2: no bare line ends).
export const CHAR_TOKEN = 1;
export const CHAR_VALUE = 2;
export const CHAR_CLASS = new Uint8Array(256);
for (let c = 0x20; c < 0x7f; c++) CHAR_CLASS[c] = CHAR_VALUE;
for (let c = 0x80; c < 0x100; c++) CHAR_CLASS[c] = CHAR_VALUE;
CHAR_CLASS[0x09] = CHAR_VALUE;
for (const ch of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") CHAR_CLASS[ch.charCodeAt(0)] = CHAR_TOKEN;
const DIGITS = /^\d{1,15}$/;
// Keep-Alive: timeout=N (RFC 2068 §19.7.1), in seconds.
export const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})/i;

// A chunk size's hex digit (RFC 9112 §7.1), either case; -1 for anything else.
export function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

// The three digits after "HTTP/1.x " (RFC 9112 §4) as a number from 100, or -1.
export function statusCode(text: string): number {
  let n = 0;
  for (let i = 9; i < 12; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n >= 100 ? n : -1;
}

// Case-insensitive name check without a lower-cased copy; `lower` is lower case, same length.
export function isNamed(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

// "42", or a list of one repeated value ("42, 42", RFC 9110 §8.6); -1 when invalid or conflicting.
export function parseLength(value: string): number {
  if (value.length > 0 && value.length <= 15) {
    let n = 0;
    let i = 0;
    for (; i < value.length; i++) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    if (i === value.length) return n;
  }
  let n = -1;
  for (const part of value.split(',')) {
    const p = part.trim();
    if (!DIGITS.test(p)) return -1;
    const v = Number(p);
    if (n !== -1 && v !== n) return -1;
    n = v;
  }
  return n;
}
