// routing/normalize: the request path as routes see it (RFC 3986 §6.2.2), and as the upstream sees
// it after the route's stripPrefix and rewrite.
// Rejection (a fault → 400) happens here, once, so nothing downstream can be fooled by `/%2e%2e/`,
// and no upstream that decodes more than we do (`%2F` as `/`, `\` as `/`, `%25` twice, overlong
// UTF-8) can read a dot segment we did not see. The rule is written out in docs/security.md (## Paths).
import { GatewayError } from '../core/errors.js';

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const SEMICOLON = 0x3b;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUERY = 0x3f;
const FRAGMENT = 0x23;
const DEL = 0x7f;
const HEX = '0123456789ABCDEF';

// Why a path is refused. Numeric, like the frame scanner's faults: the hot path never allocates one.
export const PATH_ABOVE_ROOT = 1;  // not an absolute path, or `..` passes the root → PATH_OUTSIDE_ROOT
export const PATH_AMBIGUOUS = 2;   // an upstream may decode it into something else → PATH_AMBIGUOUS
export type PathFault = typeof PATH_ABOVE_ROOT | typeof PATH_AMBIGUOUS;

// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". Only these may be decoded without changing meaning.
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const digit = c >= 0x30 && c <= 0x39;
  UNRESERVED[c] = alpha || digit || c === 0x2d || c === DOT || c === 0x5f || c === 0x7e ? 1 : 0;
}

// What the scan does with each character code below 256: most are plain (0).
const PLAIN = 0;
const K_SLASH = 1;
const K_DIRTY = 2;  // '%', '\', ';' or a byte ≥ 0x80: the slow path looks at the segment
const K_END = 3;    // '?' or '#'
const K_CONTROL = 4;
const KIND = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  if (c < 0x20 || c === DEL) KIND[c] = K_CONTROL;
  else if (c === SLASH) KIND[c] = K_SLASH;
  else if (c === PERCENT || c === BACKSLASH || c === SEMICOLON || c >= 0x80) KIND[c] = K_DIRTY;
  else if (c === QUERY || c === FRAGMENT) KIND[c] = K_END;
}

/** The normalized path, or null when it is refused (either fault); for patterns and callers that need no reason. */
export function normalizePath(target: string): string | null {
  const out = normalizeRequestPath(target);
  return typeof out === 'string' ? out : null;
}

// HOT: per request. Returns the input itself when nothing needs doing (the common case: no allocation,
// one table lookup per character), the normalized path otherwise, or a fault for a 400.
export function normalizeRequestPath(target: string): string | PathFault {
  let end = target.length;
  if (end === 0 || target.charCodeAt(0) !== SLASH) return PATH_ABOVE_ROOT;
  let clean = true;
  let firstDirty = -1; // where the first '%', '\', ';' or byte ≥ 0x80 is
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    const kind = c < 256 ? KIND[c]! : K_DIRTY;
    if (kind === PLAIN) continue;
    if (kind === K_SLASH) {
      const next = i + 1 < end ? target.charCodeAt(i + 1) : -1;
      if (next === SLASH) clean = false;
      else if (next === DOT && isDotSegmentAt(target, i + 1, end)) clean = false;
    } else if (kind === K_DIRTY) {
      clean = false;
      if (firstDirty < 0) firstDirty = i;
    } else if (kind === K_END) {
      end = i; // robustness: the caller should have cut the query already
    } else {
      return PATH_AMBIGUOUS; // a raw control character (Node's parser already refuses most)
    }
  }
  if (clean) return end === target.length ? target : target.slice(0, end);
  if (firstDirty >= 0 && hasAmbiguousSegment(target, target.lastIndexOf('/', firstDirty) + 1, end)) return PATH_AMBIGUOUS;
  const decoded = decodeUnreserved(target, end);
  if (decoded === null) return PATH_AMBIGUOUS;
  return removeDotSegments(decoded) ?? PATH_ABOVE_ROOT;
}

/** The error a refused path is answered with (HTTP 400, or the handshake's 400). */
export function pathError(fault: PathFault): GatewayError {
  return fault === PATH_AMBIGUOUS
    ? new GatewayError('PATH_AMBIGUOUS', 'path holds an encoding an upstream could read as another path (an encoded or double-encoded dot segment or separator, a backslash dot segment, NUL, overlong UTF-8 or a bad escape)')
    : new GatewayError('PATH_OUTSIDE_ROOT', 'path is not absolute or climbs above the root');
}

// ---- the ambiguity rule (docs/security.md, ## Paths) ----
// Each raw segment (between raw '/') holding '%', '\', ';' or a byte ≥ 0x80 is decoded the way the most
// generous upstream would: escapes decoded again and again (so `%252e` is a '.'), '\' and an encoded
// '/' or '\' taken as separators. The segment is refused when that reading
//  - holds a piece `.` or `..` that our own single decoding would not see as a dot segment
//    (`..%2f`, `%2e%2e%5c`, `..\`, `%252e%252e`, `foo%2f..`), or one followed by path parameters
//    (`..;x`, which servlet containers read as `..`),
//  - holds a control character (`%00`, `%250a`), or overlong UTF-8 (`%c0%ae`, `%e0%80%ae`, `%c0%af`),
//  - or, on the wire, a '%' not followed by two hex digits.
// `%2F` and `\` elsewhere stay data (`/files/a%2Fb` passes), as Envoy's default KEEP_UNCHANGED does.
function hasAmbiguousSegment(s: string, from: number, end: number): boolean {
  let start = from;
  while (start <= end) {
    let stop = s.indexOf('/', start);
    if (stop < 0 || stop > end) stop = end;
    for (let i = start; i < stop; i++) {
      const c = s.charCodeAt(i);
      if (c === PERCENT || c === BACKSLASH || c === SEMICOLON || c >= 0x80) {
        if (isAmbiguousSegment(s, start, stop)) return true;
        break;
      }
    }
    start = stop + 1;
  }
  return false;
}

// One pass over the bytes on the wire, no allocation: escapes checked and decoded once, pieces split
// at '\' and encoded separators. A decoded '%' (double encoding) hands over to the general reading.
function isAmbiguousSegment(s: string, start: number, stop: number): boolean {
  let prev = -1;        // the previous decoded byte, for overlong sequences
  let pieceLength = 0;
  let pieceDots = 0;    // pieceLength === pieceDots: the piece so far is only dots
  let separated = false;
  let dotPiece = false;
  for (let i = start; i < stop; i++) {
    let b = s.charCodeAt(i);
    if (b === PERCENT) {
      b = escapeAt(s, i);
      if (b < 0) return true;
      if (b === PERCENT) return isAmbiguousDecoded(s.slice(start, stop));
      i += 2;
    }
    if (b < 0x20 || b === DEL) return true;
    if (b === 0xc0 || b === 0xc1) return true;
    if ((prev === 0xe0 && b >= 0x80 && b <= 0x9f) || (prev === 0xf0 && b >= 0x80 && b <= 0x8f)) return true;
    prev = b;
    // Servlet containers cut path parameters before resolving dots: `..;x` is `..` to Tomcat.
    if (b === SEMICOLON && pieceLength === pieceDots && pieceDots > 0 && pieceDots <= 2) return true;
    if (b === SLASH || b === BACKSLASH) {
      if (pieceLength === pieceDots && pieceDots > 0 && pieceDots <= 2) dotPiece = true;
      separated = true;
      pieceLength = pieceDots = 0;
    } else {
      pieceLength++;
      if (b === DOT) pieceDots++;
    }
  }
  if (pieceLength === pieceDots && pieceDots > 0 && pieceDots <= 2) dotPiece = true;
  // Without a separator the segment is one piece, and our own decoding sees `%2e%2e` as `..` too.
  return separated && dotPiece;
}

const MAX_DECODE_ROUNDS = 8;

// The general reading, for a segment with `%25` in it: decoded until nothing changes.
function isAmbiguousDecoded(raw: string): boolean {
  let text = raw;
  let rounds = 0;
  for (;;) {
    const next = decodeAll(text, rounds === 0);
    if (next === null) return true;
    if (next === text) break;
    if (++rounds > MAX_DECODE_ROUNDS || hasOverlongUtf8(next)) return true;
    text = next;
  }
  if (hasOverlongUtf8(raw)) return true;
  for (const piece of text.split(/[/\\]/)) {
    const name = piece.split(';', 1)[0];
    if (name === '.' || name === '..') return true;
  }
  return false;
}

// One round of percent-decoding into byte-per-char text. `strict` (the bytes on the wire): a bad
// escape is null. Later rounds leave a '%' that starts no escape alone: it is data (`100%25` → `100%`).
// A control character in any round is null.
function decodeAll(s: string, strict: boolean): string | null {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== PERCENT) continue;
    const byte = escapeAt(s, i);
    if (byte < 0) {
      if (strict) return null;
      continue;
    }
    if (byte < 0x20 || byte === DEL) return null;
    out += s.slice(from, i) + String.fromCharCode(byte);
    from = i + 3;
    i += 2;
  }
  return out + s.slice(from);
}

// Bytes (one per char) or escapes no UTF-8 decoder may accept but lenient ones map onto ASCII:
// C0 and C1 lead bytes (`%c0%ae` is '.', `%c0%af` is '/'), E0 followed by 80–9F, F0 by 80–8F.
function hasOverlongUtf8(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    let b = s.charCodeAt(i);
    let at = i + 1;
    if (b === PERCENT) {
      const v = escapeAt(s, i);
      if (v < 0) continue;
      b = v;
      at = i + 3;
    }
    if (b < 0xc0) continue;
    if (b === 0xc0 || b === 0xc1) return true;
    if (b !== 0xe0 && b !== 0xf0) continue;
    const next = s.charCodeAt(at) === PERCENT ? escapeAt(s, at) : s.charCodeAt(at);
    if (b === 0xe0 && next >= 0x80 && next <= 0x9f) return true;
    if (b === 0xf0 && next >= 0x80 && next <= 0x8f) return true;
  }
  return false;
}

// The byte `%XX` at `i` stands for, or -1 (past the end, charCodeAt is NaN and hexValue -1).
function escapeAt(s: string, i: number): number {
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

// `.` or `..` running from `at` to the next '/', '?', '#' or `end`.
function isDotSegmentAt(s: string, at: number, end: number): boolean {
  let i = at;
  while (i < end && i - at < 2 && s.charCodeAt(i) === DOT) i++;
  if (i === at) return false;
  const c = i < end ? s.charCodeAt(i) : SLASH;
  return c === SLASH || c === QUERY || c === FRAGMENT;
}

// Decodes %XX of unreserved characters; keeps every other escape with upper-case hex (%2f → %2F, an
// encoded slash stays data, never a separator). null for a malformed escape or a decoded control char.
function decodeUnreserved(s: string, end: number): string | null {
  let out = '';
  let from = 0;
  for (let i = 0; i < end; i++) {
    if (s.charCodeAt(i) !== PERCENT) continue;
    const hi = i + 2 < end ? hexValue(s.charCodeAt(i + 1)) : -1;
    const lo = i + 2 < end ? hexValue(s.charCodeAt(i + 2)) : -1;
    if (hi < 0 || lo < 0) return null;
    const byte = (hi << 4) | lo;
    if (byte < 0x20 || byte === DEL) return null;
    out += s.slice(from, i);
    out += byte < 128 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : '%' + HEX[hi]! + HEX[lo]!;
    from = i + 3;
    i += 2;
  }
  return out + s.slice(from, end);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

// RFC 3986 §5.2.4 on an absolute path, with empty segments merged as nginx's merge_slashes does.
// A trailing '/', '.' or '..' leaves a trailing slash (`/a/b/..` → `/a/`). null when `..` passes the root.
function removeDotSegments(path: string): string | null {
  const segments: string[] = [];
  let trailingSlash = false;
  let start = 1;
  while (start <= path.length) {
    let stop = path.indexOf('/', start);
    if (stop < 0) stop = path.length;
    const last = stop === path.length;
    const segment = path.slice(start, stop);
    if (segment === '..') {
      if (segments.pop() === undefined) return null;
      trailingSlash = last;
    } else if (segment === '' || segment === '.') {
      if (last) trailingSlash = true;
    } else {
      segments.push(segment);
      trailingSlash = false;
    }
    start = stop + 1;
  }
  if (segments.length === 0) return '/';
  const joined = '/' + segments.join('/');
  return trailingSlash ? joined + '/' : joined;
}

// Per request on routes with stripPrefix. `prefix` is a path like `/api` or `/api/`; it must end at a
// segment boundary of `path` (`/apix` keeps its path). What remains always starts with '/'.
export function stripPrefix(path: string, prefix: string): string {
  const trailingSlash = prefix.length > 1 && prefix.charCodeAt(prefix.length - 1) === SLASH;
  const length = trailingSlash ? prefix.length - 1 : prefix.length;
  if (length <= 1 || path.length < length) return path; // '' and '/' strip nothing
  for (let i = 0; i < length; i++) if (path.charCodeAt(i) !== prefix.charCodeAt(i)) return path;
  if (path.length === length) return '/';
  return path.charCodeAt(length) === SLASH ? path.slice(length) : path;
}

// The path the upstream sees: normalized, then stripPrefix, then rewrite's prefix in its place.
export function upstreamPath(path: string, prefix: string | null, rewrite: string | null): string {
  const out = prefix === null ? path : stripPrefix(path, prefix);
  if (rewrite === null || rewrite === '/') return out;
  return out === '/' ? rewrite : rewrite.replace(/\/$/, '') + out;
}
