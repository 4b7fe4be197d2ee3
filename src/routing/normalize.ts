// routing/normalize: the request path as routes see it (RFC 3986 §6.2.2), and as the upstream sees
// it after the route's stripPrefix and rewrite.
// Rejection (null → 400) happens here, once, so nothing downstream can be fooled by `/%2e%2e/`.

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUERY = 0x3f;
const FRAGMENT = 0x23;
const DEL = 0x7f;
const HEX = '0123456789ABCDEF';

// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". Only these may be decoded without changing meaning.
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const digit = c >= 0x30 && c <= 0x39;
  UNRESERVED[c] = alpha || digit || c === 0x2d || c === DOT || c === 0x5f || c === 0x7e ? 1 : 0;
}

// HOT: per request. Returns the input itself when nothing needs doing (the common case: no allocation),
// the normalized path otherwise, or null for a 400: not starting with '/', a bad or control escape,
// a raw control char, or dot segments that climb above the root.
export function normalizePath(target: string): string | null {
  let end = target.length;
  if (end === 0 || target.charCodeAt(0) !== SLASH) return null;
  let clean = true;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === SLASH) {
      const next = i + 1 < end ? target.charCodeAt(i + 1) : -1;
      if (next === SLASH) clean = false;
      else if (next === DOT && isDotSegmentAt(target, i + 1, end)) clean = false;
    } else if (c === PERCENT) {
      clean = false;
    } else if (c === QUERY || c === FRAGMENT) {
      end = i; // robustness: the caller should have cut the query already
    } else if (c < 0x20 || c === DEL) {
      return null;
    }
  }
  if (clean) return end === target.length ? target : target.slice(0, end);
  const decoded = decodeUnreserved(target, end);
  return decoded === null ? null : removeDotSegments(decoded);
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
