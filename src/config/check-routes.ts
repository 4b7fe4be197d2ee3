// config/check-routes: cross-checks of each route: a unique name, exactly one of upstream or
// respond, an upstream that exists, path and host patterns the router accepts, and a stripPrefix that
// can apply to the route's path.
import { isIP } from 'node:net';
import type { Problem } from './load.js';
import { parseHostPattern, parsePattern } from '../routing/matcher.js';
import { isObj, list, type Obj } from './raw.js';
import { didYouMean, quoteList } from './suggest.js';

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()+,;=@%]*$/;

/** null when the pattern is one of `/exact`, `/prefix/*`, `/users/:id`; otherwise what is wrong and how to fix it. */
export function checkPathPattern(p: string): string | null {
  if (p === '/' || p === '/*') return null;
  if (/[?#]/.test(p)) return `"${p}" holds a query or fragment; a path pattern matches the path only, remove them`;
  const segments = p.slice(1).split('/');
  const params = new Set<string>();
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k]!;
    const last = k === segments.length - 1;
    if (seg === '') {
      return last
        ? `"${p}" ends with "/"; write "${p.slice(0, -1)}" for exactly that path or "${p}*" for everything under it`
        : `"${p}" has an empty segment ("//"); remove the extra "/"`;
    }
    if (seg === '*') {
      if (!last) return `"${p}": "*" may only be the whole last segment, as in "/api/*"`;
      continue;
    }
    if (seg.includes('*')) return `"${p}": "*" may only be the whole last segment, as in "/api/*"`;
    if (seg === '.' || seg === '..') return `"${p}" has a "${seg}" segment, which never matches a normalized path; write the path without it`;
    if (seg.startsWith(':')) {
      const name = seg.slice(1);
      if (!PARAM_NAME.test(name)) {
        return `"${p}": parameter "${seg}" must be a whole segment named with letters, digits and _ (not starting with a digit), as in "/users/:id"`;
      }
      if (params.has(name)) return `"${p}" uses ":${name}" twice; give each parameter its own name`;
      params.add(name);
      continue;
    }
    if (seg.includes(':')) return `"${p}": ":" starts a parameter and must begin a segment, as in "/users/:id"`;
    if (!PATH_CHARS.test(seg)) {
      // Code points, not UTF-16 units: the message quotes the whole character.
      // eslint-disable-next-line @typescript-eslint/no-misused-spread
      const bad = [...seg].find((ch) => !PATH_CHARS.test(ch)) ?? '';
      return `"${p}" contains ${JSON.stringify(bad)}; use letters, digits and -._~!$&'()+,;=@, percent-encode anything else`;
    }
  }
  // The router has the last word: a pattern it cannot compile must never pass the check.
  const parsed = parsePattern(p);
  return typeof parsed === 'string' ? `"${p}": ${parsed}` : null;
}

/** The literal start of a path pattern, up to its first parameter or "*": "/api/*" → "/api". */
function staticPart(p: string): string {
  const out: string[] = [];
  for (const seg of p.slice(1).split('/')) {
    if (seg === '*' || seg.startsWith(':')) break;
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** null when the pattern is a host name or `*.example.com`; otherwise what is wrong and how to fix it. */
export function checkHostPattern(h: string): string | null {
  if (h.includes('://')) return `"${h}" holds a scheme; write the host name only, e.g. "${h.replace(/^.*:\/\//, '').replace(/[/:].*$/, '')}"`;
  if (h.startsWith('[')) {
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(h);
    if (v6 !== null && isIP(v6[1]!) === 6) {
      return v6[2] === undefined ? null : `"${h}" has a port; match.host does not take a port (the listener decides it), write "[${v6[1]}]"`;
    }
    return `"${h}" is not a valid IPv6 host; write it like "[::1]"`;
  }
  const port = /^(.*):(\d*)$/.exec(h);
  if (port !== null) return `"${h}" has a port; match.host does not take a port (the listener decides it), write "${port[1]}"`;
  if (h === '*') return '"*" matches every host; remove match.host instead';
  const labels = h.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (rest.some((l) => l.includes('*'))) return `"${h}": only a whole leading "*." label is allowed, as in "*.example.com"`;
  if (h.length > 253 || !rest.every((l) => HOST_LABEL.test(l))) {
    return `"${h}" is not a valid host name; use letters, digits, "-" and dots, as in "api.example.com" or "*.example.com"`;
  }
  const parsed = parseHostPattern(h);
  return typeof parsed === 'string' ? `"${h}": ${parsed}` : null;
}

export function checkRoutes(raw: Obj, problems: Problem[]): void {
  const upstreamNames = isObj(raw.upstreams) ? Object.keys(raw.upstreams) : [];
  const names = new Map<string, number>();
  list(raw.routes).forEach((route, i) => {
    if (!isObj(route)) return;
    const at = `routes[${i}]`;

    if (typeof route.name === 'string' && route.name !== '') {
      const first = names.get(route.name);
      if (first !== undefined) {
        problems.push({ path: `${at}.name`, message: `duplicate route name "${route.name}" (also routes[${first}]); give each route its own name` });
      } else {
        names.set(route.name, i);
      }
    }

    const hasUpstream = route.upstream !== undefined;
    const hasRespond = route.respond !== undefined;
    if (hasUpstream && hasRespond) {
      problems.push({ path: at, message: 'a route needs exactly one of upstream or respond; remove one of them' });
    } else if (!hasUpstream && !hasRespond) {
      problems.push({ path: at, message: 'a route needs exactly one of upstream or respond; add upstream: NAME or respond: { status: 200 }' });
    }

    if (typeof route.upstream === 'string' && !upstreamNames.includes(route.upstream)) {
      const close = didYouMean(route.upstream, upstreamNames);
      problems.push({
        path: `${at}.upstream`,
        message: close !== ''
          ? `unknown upstream "${route.upstream}"${close}`
          : `unknown upstream "${route.upstream}"; define it under upstreams${upstreamNames.length > 0 ? ` or use one of: ${quoteList(upstreamNames)}` : ''}`,
      });
    }

    if (isObj(route.respond) && route.respond.json !== undefined && route.respond.body !== undefined) {
      problems.push({ path: `${at}.respond`, message: 'write either json or body, not both' });
    }

    const match = isObj(route.match) ? route.match : {};
    let pathOk = false;
    if (typeof match.path === 'string' && match.path.startsWith('/')) {
      const message = checkPathPattern(match.path);
      if (message !== null) problems.push({ path: `${at}.match.path`, message });
      pathOk = message === null;
    }
    if (typeof match.host === 'string') {
      const message = checkHostPattern(match.host);
      if (message !== null) problems.push({ path: `${at}.match.host`, message });
    }

    if (pathOk && typeof route.stripPrefix === 'string' && route.stripPrefix.startsWith('/')) {
      const pattern = match.path as string;
      const fixed = staticPart(pattern);
      const strip = route.stripPrefix.length > 1 ? route.stripPrefix.replace(/\/+$/, '') : '/';
      const applies = strip === '/' || fixed === strip || fixed.startsWith(`${strip}/`);
      if (!applies) {
        problems.push({
          path: `${at}.stripPrefix`,
          message: `"${route.stripPrefix}" is not a whole-segment prefix of the route path "${pattern}", so it would never apply; use "${fixed}" or a shorter prefix of it that ends at a "/"`,
        });
      }
    }
  });
}
