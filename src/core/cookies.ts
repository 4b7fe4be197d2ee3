// core/cookies: reading one named cookie from a request's Cookie header (RFC 6265 §4.2.1), for the
// sticky cookie (server/) and `hashOn: cookie:NAME` (upstream/balancers/hash.ts). Not
// Set-Cookie (the gateway writes only its sticky cookie, in http/relay.ts) and no percent-decoding:
// the cookies the gateway reads hold values it wrote itself or ids it compares as they are.

const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;

// The value of the first cookie called `name` (names are case-sensitive), null when there is none.
// Browsers send the cookie with the longest Path first (RFC 6265 §5.4), so the first one wins.
// Lenient where browsers and hand-made clients differ: spaces around `;` and `=`, a quoted value.
// HOT: per request on upstreams with a sticky cookie: indexOf scans and one slice, no split().
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined || name === '') return null;
  const length = header.length;
  let at = 0;
  while (at < length) {
    let end = header.indexOf(';', at);
    if (end === -1) end = length;
    let start = at;
    while (start < end && isSpace(header.charCodeAt(start))) start++;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      let nameEnd = eq;
      while (nameEnd > start && isSpace(header.charCodeAt(nameEnd - 1))) nameEnd--;
      if (nameEnd - start === name.length && header.startsWith(name, start)) return valueOf(header, eq + 1, end);
    }
    at = end + 1;
  }
  return null;
}

function valueOf(header: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && isSpace(header.charCodeAt(start))) start++;
  while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
  // RFC 6265 §4.1.1: cookie-value may be wrapped in DQUOTEs, which are not part of the value.
  if (end - start >= 2 && header.charCodeAt(start) === DQUOTE && header.charCodeAt(end - 1) === DQUOTE) {
    start++;
    end--;
  }
  return header.slice(start, end);
}

function isSpace(code: number): boolean {
  return code === SP || code === HTAB;
}
