// routing/matcher: host + path + method → one entry of a route table, compiled once per config.
// Knows nothing of config: entries are (host, path, methods, value) in file order.
//
// Order of search, most specific first:
//   host tiers   exact host → wildcard hosts, longest suffix first → entries without a host
//   within one   exact path → `:param` patterns (more static segments, then longer) → `/*` prefixes
//                (longer first); equal ranks keep file order.
// A method is part of the match: an entry whose path matches but whose methods do not is skipped, and the
// search goes on (to a less specific path, then to the next host tier). Only when nothing accepts the
// method but something matched the path is the answer METHOD_MISMATCH (405) rather than null (404).

import { normalizePath } from './normalize.js';

export interface RouteEntry<T> {
  host?: string | undefined;
  path: string;
  methods?: readonly string[] | undefined;
  value: T;
}

export interface Match<T> {
  value: T;
  params: Record<string, string>;
}

export const METHOD_MISMATCH: unique symbol = Symbol('METHOD_MISMATCH');

export interface Matcher<T> {
  match(host: string, path: string, method: string): Match<T> | typeof METHOD_MISMATCH | null;
  // Slow path, for the Allow header of a 405 (RFC 9110 §15.5.6): methods of the entries matching host+path.
  allowedMethods(host: string, path: string): string[];
  readonly size: number;
}

export type PathPattern =
  | { readonly kind: 'exact'; readonly path: string }
  | { readonly kind: 'prefix'; readonly prefix: string } // `/api/*` → `/api`; `/*` → ``
  | { readonly kind: 'params'; readonly segments: readonly string[]; readonly params: readonly string[] };

export type HostPattern =
  | { readonly kind: 'exact'; readonly host: string }
  | { readonly kind: 'wildcard'; readonly suffix: string }; // `*.example.com` → `.example.com`

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// A path pattern, or why it is invalid. Patterns are written normalized (as normalizePath leaves a
// request path), because matching runs on normalized paths: anything else could never match.
export function parsePattern(path: string): PathPattern | string {
  if (!path.startsWith('/')) return 'a path pattern starts with "/"';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return 'a path pattern is printable ASCII; percent-encode anything else (UTF-8)';
    if (c === 0x3f || c === 0x23) return 'a path pattern has no query or fragment';
  }
  const prefix = path.endsWith('/*');
  const body = prefix ? path.slice(0, -2) : path;
  if (body.includes('*')) {
    const suggestion = path.slice(0, path.indexOf('*')).replace(/\/?$/, '/*');
    return `"*" only ends a pattern, as a whole segment (did you mean "${suggestion}"?)`;
  }
  if (prefix && body.endsWith('/')) {
    return `a prefix pattern does not end in "//*" (did you mean "${body.replace(/\/+$/, '')}/*"?)`;
  }
  if (body !== '') {
    const normalized = normalizePath(body);
    if (normalized === null) return 'a path pattern has a malformed escape or climbs above the root';
    if (normalized !== body) return `write the pattern normalized: "${normalized}${prefix ? '/*' : ''}"`;
  }
  const segments = body.split('/').slice(1);
  const params: string[] = [];
  for (const segment of segments) {
    if (!segment.startsWith(':')) continue;
    const name = segment.slice(1);
    if (!PARAM_NAME.test(name)) return `"${segment}" is not a parameter name: use letters, digits and "_"`;
    if (name === '__proto__') return '"__proto__" is reserved';
    if (params.includes(name)) return `parameter "${name}" appears twice`;
    params.push(name);
  }
  if (params.length > 0 && prefix) return 'a pattern with ":params" cannot also end in "/*"';
  if (prefix) return { kind: 'prefix', prefix: body };
  if (params.length > 0) return { kind: 'params', segments, params };
  return { kind: 'exact', path };
}

// A host pattern, or why it is invalid. Lower-cased, like the Host values it is compared with.
export function parseHostPattern(host: string): HostPattern | string {
  const lower = host.toLowerCase();
  if (/^\[[0-9a-f:.]+\]$/.test(lower)) return { kind: 'exact', host: lower };
  if (lower.includes(':')) return 'a host pattern has no port';
  const wildcard = lower.startsWith('*.');
  const name = wildcard ? lower.slice(2) : lower;
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) {
    if (lower === '*') return 'leave out host to match any host';
    return 'a host pattern is a name like "api.example.com" or "*.example.com"';
  }
  return wildcard ? { kind: 'wildcard', suffix: lower.slice(1) } : { kind: 'exact', host: name };
}

const NO_PARAMS: Record<string, string> = Object.freeze({});
const SLASH = 0x2f;
const DOT = 0x2e;
const BRACKET_OPEN = 0x5b;
const ASCII = 128;
// Host values repeat, so each raw Host header is resolved to its tiers once. Bounded, because the
// header is client-controlled: the cache is emptied when full, and holds no value longer than a DNS
// name (253) with a port.
const HOST_CACHE_ENTRIES = 1024;
const HOST_CACHE_MAX_LENGTH = 260;

// Where the last paramsMatch() found each parameter: [start, end) pairs. Matching is synchronous, so
// one scratch array serves every matcher; it grows when a Route is compiled, never while matching.
// The strings are sliced only once the method is accepted.
let bounds = new Int32Array(16);

class Route<T> {
  readonly kind: PathPattern['kind'];
  readonly methods: readonly string[] | null;
  readonly fixed: Match<T>; // static routes hand this out: no allocation per match
  readonly key: string; // exact: the path; prefix: the prefix (`/api`, or `` for `/*`)
  readonly segments: readonly (string | null)[]; // params: one per segment, null for a parameter
  readonly names: readonly string[];
  readonly rank: number; // params: more static segments, then longer, is higher

  constructor(readonly value: T, methods: readonly string[] | undefined, pattern: PathPattern, readonly order: number) {
    // RFC 9110 §9.3.2: HEAD is GET without the body, so a GET route serves it.
    if (methods === undefined) this.methods = null;
    else this.methods = methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : [...methods];
    this.fixed = Object.freeze({ value, params: NO_PARAMS });
    this.kind = pattern.kind;
    if (pattern.kind === 'params') {
      this.key = '';
      this.segments = pattern.segments.map((s) => (s.startsWith(':') ? null : s));
      this.names = pattern.params;
      if (bounds.length < this.names.length * 2) bounds = new Int32Array(this.names.length * 2);
      const statics = pattern.segments.length - pattern.params.length;
      this.rank = statics * 1e6 + pattern.segments.join('/').length;
    } else {
      this.key = pattern.kind === 'exact' ? pattern.path : pattern.prefix;
      this.segments = [];
      this.names = [];
      this.rank = 0;
    }
  }
}

function bySpecificity<T>(a: Route<T>, b: Route<T>): number {
  return b.rank - a.rank || a.order - b.order;
}

function addTo<T>(map: Map<string, Route<T>[]>, key: string, route: Route<T>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else list.push(route);
}

// The routes of one host tier, indexed so that a lookup only touches routes that can match.
// Lists keep file order; params lists are sorted most specific first (a stable sort keeps ties in order).
class Tier<T> {
  readonly exact = new Map<string, Route<T>[]>();
  // params routes by the first char of the path after its '/': those whose first segment is that
  // static text, and those whose first segment is a parameter; `paramsElse` serves any other first char
  readonly params: (readonly Route<T>[])[] = [];
  readonly paramsElse: readonly Route<T>[];
  readonly hasParams: boolean;
  // prefix routes by prefix; a path is probed at each of its '/' positions, longest first, but only
  // at lengths some prefix has (prefixLengths[n] === 1), so a probe costs one slice and one hash
  readonly prefixes = new Map<string, Route<T>[]>();
  readonly prefixLengths: Uint8Array;
  readonly catchAll: Route<T>[] = []; // `/*`

  constructor(routes: readonly Route<T>[]) {
    let longest = -1;
    const params: Route<T>[] = [];
    for (const route of routes) {
      if (route.kind === 'exact') addTo(this.exact, route.key, route);
      else if (route.kind === 'params') params.push(route);
      else if (route.key === '') this.catchAll.push(route);
      else {
        addTo(this.prefixes, route.key, route);
        longest = Math.max(longest, route.key.length);
      }
    }
    params.sort(bySpecificity);
    this.paramsElse = params.filter((r) => r.segments[0] === null);
    for (let c = 0; c < ASCII; c++) {
      const char = String.fromCharCode(c);
      const own = params.filter((r) => r.segments[0] === null || r.segments[0]!.startsWith(char));
      this.params.push(own.length === this.paramsElse.length ? this.paramsElse : own);
    }
    this.hasParams = params.length > 0;
    this.prefixLengths = new Uint8Array(longest + 1);
    for (const prefix of this.prefixes.keys()) this.prefixLengths[prefix.length] = 1;
  }
}

// HOT: per request. One tier: exact, then params, then prefixes (longest first), then `/*`.
// `allow` is null on the hot path; allowedMethods() passes a set to collect what a 405 should list.
type Found<T> = Match<T> | typeof METHOD_MISMATCH | null;

function searchTier<T>(tier: Tier<T>, path: string, method: string, allow: Set<string> | null): Found<T> {
  let seen = false;
  if (tier.exact.size !== 0) {
    const list = tier.exact.get(path);
    if (list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        const route = list[i]!;
        if (accepts(route.methods, method)) return route.fixed;
        seen = true;
        if (allow !== null) collect(route, allow);
      }
    }
  }
  if (tier.hasParams) {
    const first = path.charCodeAt(1); // NaN for '/'
    const list = first < ASCII ? tier.params[first]! : tier.paramsElse;
    for (let i = 0; i < list.length; i++) {
      const route = list[i]!;
      if (!paramsMatch(route.segments, path)) continue;
      if (accepts(route.methods, method)) return { value: route.value, params: paramsOf(route.names, path) };
      seen = true;
      if (allow !== null) collect(route, allow);
    }
  }
  const lengths = tier.prefixLengths;
  // `/api/*` is `/api` and everything under `/api/`, never `/apix`: probe the whole path, then each
  // part of it that ends before a '/', longest first. Scans back by hand: lastIndexOf is a slow builtin.
  for (let end = Math.min(path.length, lengths.length - 1); end > 0; end--) {
    if (lengths[end] === 0 || (end !== path.length && path.charCodeAt(end) !== SLASH)) continue;
    const list = tier.prefixes.get(end === path.length ? path : path.slice(0, end));
    if (list === undefined) continue;
    for (let i = 0; i < list.length; i++) {
      const route = list[i]!;
      if (accepts(route.methods, method)) return route.fixed;
      seen = true;
      if (allow !== null) collect(route, allow);
    }
  }
  const list = tier.catchAll;
  for (let i = 0; i < list.length; i++) {
    const route = list[i]!;
    if (accepts(route.methods, method)) return route.fixed;
    seen = true;
    if (allow !== null) collect(route, allow);
  }
  return seen ? METHOD_MISMATCH : null;
}

function accepts(methods: readonly string[] | null, method: string): boolean {
  if (methods === null) return true;
  for (let i = 0; i < methods.length; i++) if (methods[i] === method) return true;
  return false;
}

function collect<T>(route: Route<T>, allow: Set<string>): void {
  for (const m of route.methods ?? []) allow.add(m);
}

// Walks `path` against a params pattern, noting parameter bounds in `bounds`.
function paramsMatch(segments: readonly (string | null)[], path: string): boolean {
  let at = 1;
  let param = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string | null; // `!` would also strip the null that marks a parameter
    if (i > 0) {
      if (path.charCodeAt(at) !== SLASH) return false;
      at++;
    }
    if (segment !== null) {
      if (!path.startsWith(segment, at)) return false;
      at += segment.length;
    } else {
      let end = path.indexOf('/', at);
      if (end < 0) end = path.length;
      if (end === at) return false; // a parameter is one non-empty segment
      bounds[param * 2] = at;
      bounds[param * 2 + 1] = end;
      param++;
      at = end;
    }
  }
  return at === path.length;
}

function paramsOf(names: readonly string[], path: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) params[names[i]!] = path.slice(bounds[i * 2], bounds[i * 2 + 1]);
  return params;
}

// The Host header as a host name: port removed (`host:8080`, `[::1]:8080`), a final dot removed
// (`example.com.` is the same name), lower case.
function hostName(raw: string): string {
  let host = raw;
  if (raw.charCodeAt(0) === BRACKET_OPEN) {
    const close = raw.indexOf(']');
    if (close > 0) host = raw.slice(0, close + 1);
  } else {
    const colon = raw.indexOf(':');
    if (colon >= 0) host = raw.slice(0, colon);
  }
  if (host.charCodeAt(host.length - 1) === DOT) host = host.slice(0, -1);
  return host.toLowerCase();
}

class CompiledMatcher<T> implements Matcher<T> {
  readonly size: number;
  private readonly byHost = new Map<string, Tier<T>>();
  private readonly wildcards: { readonly suffix: string; readonly tier: Tier<T> }[] = [];
  private readonly anyHost: readonly Tier<T>[]; // the tiers of a host no pattern names
  private readonly hostless: boolean; // no host patterns at all: the Host header is never read
  private readonly tiersByHost = new Map<string, readonly Tier<T>[]>(); // raw Host → tiers, in order

  constructor(entries: readonly RouteEntry<T>[]) {
    this.size = entries.length;
    const groups = new Map<string, Route<T>[]>(); // '' for any host, '=host' exact, '*.suffix' wildcard
    entries.forEach((entry, order) => {
      const pattern = parsePattern(entry.path);
      if (typeof pattern === 'string') throw new TypeError(`path pattern "${entry.path}": ${pattern}`);
      let group = '';
      if (entry.host !== undefined) {
        const host = parseHostPattern(entry.host);
        if (typeof host === 'string') throw new TypeError(`host pattern "${entry.host}": ${host}`);
        group = host.kind === 'exact' ? `=${host.host}` : `*${host.suffix}`;
      }
      addTo(groups, group, new Route(entry.value, entry.methods, pattern, order));
    });
    let anyHost = new Tier<T>([]);
    for (const [group, routes] of groups) {
      const tier = new Tier(routes);
      if (group === '') anyHost = tier;
      else if (group.startsWith('=')) this.byHost.set(group.slice(1), tier);
      else this.wildcards.push({ suffix: group.slice(1), tier });
    }
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    this.anyHost = [anyHost];
    this.hostless = groups.size === 0 || (groups.size === 1 && groups.has(''));
  }

  // HOT: per request. `path` is normalized (normalizePath); `host` is the raw Host header.
  match(host: string, path: string, method: string): Found<T> {
    return this.search(host, path, method, null);
  }

  allowedMethods(host: string, path: string): string[] {
    const allow = new Set<string>();
    this.search(host, path, '', allow);
    return [...allow].sort();
  }

  private search(host: string, path: string, method: string, allow: Set<string> | null): Found<T> {
    const tiers = this.hostless ? this.anyHost : (this.tiersByHost.get(host) ?? this.resolveHost(host));
    let mismatch = false;
    for (let i = 0; i < tiers.length; i++) {
      const found = searchTier(tiers[i]!, path, method, allow);
      if (found === METHOD_MISMATCH) mismatch = true;
      else if (found !== null) return found;
    }
    return mismatch ? METHOD_MISMATCH : null;
  }

  // Exact host, then wildcards (longest suffix first), then routes without a host: a request falls
  // through to the next tier when nothing in one accepts it.
  private resolveHost(raw: string): readonly Tier<T>[] {
    const name = hostName(raw);
    const tiers: Tier<T>[] = [];
    const exact = this.byHost.get(name);
    if (exact !== undefined) tiers.push(exact);
    for (const { suffix, tier } of this.wildcards) {
      // `*.example.com` is any depth of subdomain, never `example.com` itself
      if (name.length > suffix.length && name.endsWith(suffix)) tiers.push(tier);
    }
    const resolved = tiers.length === 0 ? this.anyHost : [...tiers, ...this.anyHost];
    if (raw.length <= HOST_CACHE_MAX_LENGTH) {
      if (this.tiersByHost.size >= HOST_CACHE_ENTRIES) this.tiersByHost.clear();
      this.tiersByHost.set(raw, resolved);
    }
    return resolved;
  }
}

export function createMatcher<T>(entries: readonly RouteEntry<T>[]): Matcher<T> {
  return new CompiledMatcher(entries);
}
