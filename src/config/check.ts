// config/check: a raw config (from a file or `new Gateway({...})`) → GatewayConfig, or every problem in it,
// each as { path, message } with a message that names the fix. Runs the schema, then all cross-checks
// (references, patterns, addresses); never stops at the first problem.
import { isIP } from 'node:net';
import { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';
import { checkEdge } from './check-edge.js';
import { formatPath, loadConfigFile, type Problem } from './load.js';
import { parseHostPattern, parsePattern } from '../routing/matcher.js';
import { GatewayError } from '../core/errors.js';
import { checkTlsFiles, checkTlsShape } from './check-tls.js';
import { checkAuth } from './check-auth.js';

// A GatewayError with a table code (CONFIG_INVALID), so whoever catches it reports it like any other error.
export class ConfigError extends GatewayError {
  constructor(readonly problems: Problem[]) {
    super('CONFIG_INVALID', formatProblems(problems));
    this.name = 'ConfigError';
  }
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('\n');
}

/** The library path: throws a ConfigError listing every problem. */
export function parseConfig(raw: unknown): GatewayConfig {
  const { config, problems } = checkConfig(raw);
  if (config === null) throw new ConfigError(problems);
  return config;
}

/** The file path: load (YAML, ${ENV}) then check. Throws only when the file cannot be read. */
export function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { config: GatewayConfig | null; problems: Problem[] } {
  const loaded = loadConfigFile(file, env);
  if (loaded.raw === undefined) return { config: null, problems: loaded.problems };
  const checked = checkConfig(loaded.raw);
  // An unset variable became ''; the schema's complaint about that '' would repeat the same problem.
  const envPaths = new Set(loaded.problems.map((p) => p.path));
  const problems = [...loaded.problems, ...checked.problems.filter((p) => !envPaths.has(p.path))];
  // The files TLS keys name are read here, not in checkConfig: a config built in code is checked
  // without touching the disk, and compile reads them anyway.
  if (isObj(loaded.raw)) checkTlsFiles(loaded.raw, problems);
  return { config: problems.length === 0 ? checked.config : null, problems };
}

export function checkConfig(raw: unknown): { config: GatewayConfig | null; problems: Problem[] } {
  const parsed = configSchema.safeParse(raw, { error: issueMessage });
  const problems: Problem[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const allowed = allowedKeys(issue.path);
        for (const key of issue.keys) problems.push({ path: formatPath([...issue.path, key]), message: unknownKey(key, allowed) });
      } else {
        problems.push({ path: formatPath(issue.path), message: issue.message });
      }
    }
  }
  // Cross-checks read the raw input defensively, so they run even when the schema failed: one run shows all.
  if (isObj(raw)) {
    const schemaPaths = new Set(problems.map((p) => p.path));
    const cross: Problem[] = [];
    checkListeners(raw, cross);
    checkAdmin(raw, cross);
    checkTrustedProxies(raw, cross);
    checkUpstreams(raw, cross);
    checkRoutes(raw, cross);
    checkTlsShape(raw, cross);
    checkEdge(raw, cross);
    checkAuth(raw, cross, didYouMean);
    for (const p of cross) if (!schemaPaths.has(p.path)) problems.push(p);
  }
  return { config: parsed.success && problems.length === 0 ? parsed.data : null, problems };
}

// ---- schema issues → messages that name the fix ----

function article(expected: string): string {
  switch (expected) {
    case 'object': return 'an object (key: value pairs)';
    case 'array': return 'a list';
    case 'boolean': return 'true or false';
    case 'integer': case 'int': return 'a whole number';
    default: return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

function describe(input: unknown): string {
  if (input === null) return 'an empty value';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'an object';
  if (typeof input === 'number' && !Number.isInteger(input)) return `the number ${input}`;
  return article(typeof input);
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      const want = article(iss.expected);
      if (iss.input === undefined) return `missing; add ${want}`;
      if (iss.input === null) return `is empty; write ${want} here, or remove the key`;
      if (iss.expected === 'number' && typeof iss.input === 'string' && iss.input.trim() !== '' && !Number.isNaN(Number(iss.input))) {
        return `expected a number, got the string ${JSON.stringify(iss.input)}; remove the quotes`;
      }
      if (iss.expected === 'boolean' && typeof iss.input === 'string') return 'expected true or false, got a string; write true or false without quotes';
      if (iss.expected === 'array') return `expected a list, got ${describe(iss.input)}; write [a, b] or one "- item" per line`;
      if (iss.expected === 'object') return `expected an object, got ${describe(iss.input)}; write key: value pairs under it`;
      return `expected ${want}, got ${describe(iss.input)}`;
    }
    case 'invalid_value': {
      const close = typeof iss.input === 'string' ? didYouMean(iss.input, iss.values.filter((v): v is string => typeof v === 'string')) : '';
      const shown = typeof iss.input === 'string' || typeof iss.input === 'number' ? `${JSON.stringify(iss.input)} is not allowed` : 'not allowed';
      return `${shown}${close}; use ${iss.values.length === 1 ? '' : 'one of: '}${quoteList(iss.values)}`;
    }
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'array') return `needs at least ${min} item${min === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return min === 1 ? 'must not be empty' : `needs at least ${min} characters`;
      return `must be ${iss.inclusive === false ? 'greater than' : 'at least'} ${min}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'array') return `allows at most ${max} item${max === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return `allows at most ${max} characters`;
      return `must be ${iss.inclusive === false ? 'less than' : 'at most'} ${max}`;
    }
    case 'invalid_format': {
      const prefix = (iss as { prefix?: unknown }).prefix;
      if (iss.format === 'starts_with' && typeof prefix === 'string') return `must start with ${JSON.stringify(prefix)}`;
      if (iss.format === 'regex' && iss.pattern !== undefined) return `must match ${iss.pattern}`;
      return `is not a valid ${iss.format}`;
    }
    case 'invalid_union': {
      const expected = iss.errors.flat().map((e) => (e.code === 'invalid_type' ? article(e.expected) : null));
      if (expected.length > 0 && expected.every((e) => e !== null)) {
        return `expected ${[...new Set(expected)].join(' or ')}, got ${describe(iss.input)}`;
      }
      return 'does not match any allowed form';
    }
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}`;
    case 'invalid_key': {
      // The key's own complaint (a header name's, say) says more than that it is invalid.
      const inner = iss.issues[0];
      return inner !== undefined && typeof inner.message === 'string' && inner.message !== '' ? inner.message : 'has an invalid key';
    }
    case 'invalid_element':
      return 'has an invalid element';
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length === 1 ? '' : 's'} ${quoteList(iss.keys)}`;
    default:
      return undefined;
  }
}

function unknownKey(key: string, allowed: string[]): string {
  const close = didYouMean(key, allowed);
  if (close !== '') return `unknown key "${key}"${close}`;
  return allowed.length > 0 ? `unknown key "${key}"; remove it (allowed here: ${allowed.join(', ')})` : `unknown key "${key}"; remove it`;
}

// Walks the schema along an issue path to the strict object there; its shape lists the allowed keys.
interface SchemaDef {
  type: string;
  shape?: Record<string, SchemaNode>;
  element?: SchemaNode;
  valueType?: SchemaNode;
  innerType?: SchemaNode;
  in?: SchemaNode;
}
interface SchemaNode {
  _zod: { def: SchemaDef };
}
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch']);

function unwrap(node: SchemaNode): SchemaNode {
  for (;;) {
    const def = node._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) node = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) node = def.in;
    else return node;
  }
}

function allowedKeys(path: readonly PropertyKey[]): string[] {
  let node: SchemaNode | undefined = unwrap(configSchema);
  for (const seg of path) {
    const def: SchemaDef = node._zod.def;
    const next: SchemaNode | undefined =
      def.type === 'object' && typeof seg === 'string' ? def.shape?.[seg] :
      def.type === 'array' ? def.element :
      def.type === 'record' ? def.valueType :
      undefined;
    if (next === undefined) return [];
    node = unwrap(next);
  }
  const shape = node._zod.def.type === 'object' ? node._zod.def.shape : undefined;
  return shape === undefined ? [] : Object.keys(shape);
}

// ---- did you mean ----

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("chta" → "chat" is 1).
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) { row.push(j); continue; }
      const prev = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** ` (did you mean "chat"?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const limit = word.length <= 3 ? 1 : 2;
  let best = '';
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  return best === '' ? '' : ` (did you mean "${best}"?)`;
}

// ---- cross-checks, over the raw input ----

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);
function hostsOverlap(a: string, b: string): boolean {
  return a === b || WILDCARD_HOSTS.has(a) || WILDCARD_HOSTS.has(b);
}

function checkListeners(raw: Obj, problems: Problem[]): void {
  const seen: { port: number; host: string; index: number }[] = [];
  list(raw.listen).forEach((l, i) => {
    if (!isObj(l)) return;
    const host = typeof l.host === 'string' ? l.host : '0.0.0.0';
    if (typeof l.host === 'string' && l.host.startsWith('[')) {
      problems.push({ path: `listen[${i}].host`, message: `write an IPv6 address without brackets, e.g. "${l.host.replace(/^\[|\]$/g, '')}"` });
    }
    if (typeof l.port !== 'number' || l.port === 0) return; // port 0 asks the OS for a free port: never a clash
    const other = seen.find((s) => s.port === l.port && hostsOverlap(s.host, host));
    if (other !== undefined) {
      problems.push({
        path: `listen[${i}].port`,
        message: `port ${l.port} on ${host} is already used by listen[${other.index}] (${other.host}); use another port or host`,
      });
    }
    seen.push({ port: l.port, host, index: i });
  });
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const v = isIP(host);
  if (v === 4) return host.startsWith('127.');
  if (v === 6) {
    const h = host.toLowerCase();
    return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
  }
  return false;
}

const HOST_PORT = /^([^:[\]]+):(\d{1,5})$/;
const V6_PORT = /^\[([^\]]+)\]:(\d{1,5})$/;

function checkAdmin(raw: Obj, problems: Problem[]): void {
  const admin = isObj(raw.admin) ? raw.admin : {};
  const listen = admin.listen ?? '127.0.0.1:9901';
  if (typeof listen !== 'string') return; // the schema reports the type
  const m = V6_PORT.exec(listen) ?? HOST_PORT.exec(listen);
  const host = m?.[1] ?? '';
  const port = Number(m?.[2] ?? NaN);
  if (m === null || (listen.startsWith('[') && isIP(host) !== 6) || port > 65535) {
    const bareV6 = m === null && isIP(listen.slice(0, listen.lastIndexOf(':'))) === 6;
    problems.push({
      path: 'admin.listen',
      message: bareV6
        ? `"${listen}" needs brackets around the IPv6 address, e.g. "[::1]:9901"`
        : `"${listen}" is not host:port; write it like 127.0.0.1:9901 (IPv6 as [::1]:9901)`,
    });
    return;
  }
  const token = admin.token ?? '';
  if (!isLoopback(host) && token === '') {
    problems.push({
      path: 'admin.listen',
      message: 'refusing a non-loopback admin address without admin.token; set admin.token (e.g. token: ${WSGATE_ADMIN_TOKEN}) or listen on 127.0.0.1',
    });
  }
  if (port === 0) return;
  list(raw.listen).forEach((l, i) => {
    if (!isObj(l) || l.port !== port) return;
    const lhost = typeof l.host === 'string' ? l.host : '0.0.0.0';
    if (hostsOverlap(lhost, host)) {
      problems.push({ path: 'admin.listen', message: `port ${port} is also used by listen[${i}]; give the admin listener another port` });
    }
  });
}

function checkTrustedProxies(raw: Obj, problems: Problem[]): void {
  list(raw.trustedProxies).forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const slash = entry.indexOf('/');
    const addr = slash === -1 ? entry : entry.slice(0, slash);
    const version = isIP(addr);
    const path = `trustedProxies[${i}]`;
    if (version === 0) {
      problems.push({ path, message: `"${entry}" is not an IP address or CIDR; write it like 10.0.0.0/8, 192.168.1.10 or ::1` });
      return;
    }
    if (slash === -1) return;
    const prefix = entry.slice(slash + 1);
    const max = version === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
      problems.push({ path, message: `"${entry}" has an invalid prefix length; an IPv${version} prefix is 0 to ${max}, e.g. ${addr}/${max === 32 ? 24 : 64}` });
    }
  });
}

const TARGET_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

function checkTargetUrl(text: string): string | null {
  // Never echo a URL that may hold credentials.
  const shown = text.includes('@') ? 'the URL' : `"${text}"`;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) {
    return `${shown} has no scheme; write it like http://${text.includes('@') ? '127.0.0.1:3001' : text.replace(/^\/+/, '')}`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${shown} is not a valid URL; write it like http://127.0.0.1:3001`;
  }
  if (!TARGET_SCHEMES.has(url.protocol)) {
    return `unsupported scheme "${url.protocol}"; use http: or https: (ws: and wss: are accepted as http: and https:)`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'a target URL cannot hold credentials; remove them and send them with the route\'s headers.request.set';
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) {
    return `${shown} has a path, query or fragment; a target is scheme://host:port only, put path changes in the route (stripPrefix/rewrite)`;
  }
  return null;
}

const NOT_HASH = new Set(['round_robin', 'least_conn', 'random']);

function checkUpstreams(raw: Obj, problems: Problem[]): void {
  if (!isObj(raw.upstreams)) return;
  for (const [name, up] of Object.entries(raw.upstreams)) {
    if (!isObj(up)) continue;
    const targets = list(up.targets);
    targets.forEach((t, j) => {
      if (!isObj(t) || typeof t.url !== 'string') return;
      const message = checkTargetUrl(t.url);
      if (message !== null) problems.push({ path: formatPath(['upstreams', name, 'targets', j, 'url']), message });
    });
    if (targets.length > 0 && targets.every((t) => isObj(t) && t.backup === true)) {
      problems.push({
        path: formatPath(['upstreams', name, 'targets']),
        message: 'every target is a backup, so none would ever be used first; remove backup: true from at least one',
      });
    }
    // hashOn is read by the hash balancer alone: elsewhere it would be silently ignored. `sticky` with
    // `balance: hash` is allowed: the cookie's target wins, the hash places a client without one.
    // A misspelt balance is the schema's problem already; this one is about a valid other policy.
    const balance = up.balance ?? 'round_robin';
    if (up.hashOn !== undefined && typeof balance === 'string' && NOT_HASH.has(balance)) {
      problems.push({
        path: formatPath(['upstreams', name, 'hashOn']),
        message: `hashOn is only used with balance: hash, and this upstream balances by ${balance}; add balance: hash or remove hashOn`,
      });
    }
  }
}

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

function checkRoutes(raw: Obj, problems: Problem[]): void {
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
