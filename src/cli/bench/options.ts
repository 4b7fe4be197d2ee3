// cli/bench/options: the arguments of `wsgate bench http|ws URL [options]`, checked and turned into numbers
// once; every problem is reported as one line that names the option and what to write instead.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../core/duration.js';
import { parseSize } from '../../core/size.js';

export const BENCH_USAGE = `usage: wsgate bench http|ws URL [options]

  -c, --connections N   connections to open (default 50)
      --rate R          open loop: R requests or messages per second in total, spread over the
                        connections; latency is measured from the intended send time (coordinated
                        omission corrected). Without it: closed loop, 1 in flight per connection
  -d, --duration 10s    measured time; with --connect-only, how long to hold the connections
      --warmup 1s       unmeasured time before the measurement (0s to skip)
      --size 64b        ws: message payload (default 64b); http: request body (default none)
      --method GET      http: request method
  -H, --header 'K: V'   extra request or handshake header (repeatable)
      --connect-only    ws: open the connections as fast as possible (256 handshakes at a time),
                        report handshakes/s, then hold them --duration and report drops
      --timeout 10s     limit for a connect, a handshake, and each request or echo
      --max-ops N       stop after N successful operations (default 100000000)
  -k, --insecure        https/wss: accept any certificate
      --json            print one JSON object instead of the summary

The path and query come from URL. Progress is shown on stderr when it is a terminal; the first
Ctrl-C ends the run early and prints what was measured. Exit 0 without errors, 1 with errors,
2 if no connection to the target could be made.
`;

export type BenchMode = 'http' | 'ws';

export interface BenchTarget {
  /** For net.connect: an IPv6 address without brackets. */
  host: string;
  port: number;
  tls: boolean;
  /** The Host header: host[:port] as written in the URL. */
  authority: string;
  /** Path and query, sent in the request line. */
  path: string;
  insecure: boolean;
}

export interface BenchOptions {
  mode: BenchMode;
  /** The URL as given, for the report. */
  url: string;
  target: BenchTarget;
  connections: number;
  /** Operations per second in total (open loop), or null (closed loop). */
  rate: number | null;
  durationMs: number;
  warmupMs: number;
  /** ws: payload bytes of each message; http: request body bytes (0: no body). */
  sizeBytes: number;
  method: string;
  /** Extra header lines, each `Name: value`, in the order given. */
  headers: string[];
  connectOnly: boolean;
  timeoutMs: number;
  maxOps: number;
  json: boolean;
}

export type ParsedBenchArgs = { help: true } | { help: false; options: BenchOptions } | { help: false; error: string };

const MAX_CONNECTIONS = 100_000;
const MAX_SIZE_BYTES = 64 * 1024 * 1024;
const MAX_DURATION_MS = 24 * 3_600_000;
const DEFAULT_MAX_OPS = 100_000_000;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 §5.6.2
const FORBIDDEN_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'upgrade']);

function duration(name: string, text: string, min: number): number | string {
  const ms = parseDuration(text);
  if (Number.isNaN(ms)) return `--${name} ${text}: write a duration such as 500ms, 10s or 1m`;
  if (ms < min || ms > MAX_DURATION_MS) return `--${name} ${text}: must be between ${min}ms and 24h`;
  return ms;
}

function wholeNumber(name: string, text: string, max: number): number | string {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) return `--${name} ${text}: write a whole number from 1 to ${max}`;
  return n;
}

function target(mode: BenchMode, text: string, insecure: boolean): BenchTarget | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${text}: not a URL; write e.g. ${mode === 'http' ? 'http://127.0.0.1:8080/' : 'ws://127.0.0.1:8080/ws'}`;
  }
  const schemes = mode === 'http' ? ['http:', 'https:'] : ['ws:', 'wss:', 'http:', 'https:'];
  if (!schemes.includes(url.protocol)) return `${text}: bench ${mode} takes ${schemes.map((s) => `${s}//`).join(' or ')} URLs`;
  if (url.username !== '' || url.password !== '') return `${text}: credentials in the URL are not sent; use --header 'Authorization: ...'`;
  const tls = url.protocol === 'https:' || url.protocol === 'wss:';
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port, tls, authority: url.host, path: `${url.pathname}${url.search}`, insecure };
}

/** Parses the arguments after `bench`; never throws. */
export function parseBenchArgs(argv: string[]): ParsedBenchArgs {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    return { help: false, error: (err as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { help: true };
  const fail = (error: string): ParsedBenchArgs => ({ help: false, error });
  const [mode, url, ...extra] = positionals;
  if (mode !== 'http' && mode !== 'ws') return fail(mode === undefined ? 'say which load: bench http URL or bench ws URL' : `unknown load "${mode}": use http or ws`);
  if (url === undefined) return fail(`bench ${mode}: the URL is missing`);
  if (extra.length > 0) return fail(`unexpected argument "${extra[0]}"`);

  const insecure = values.insecure === true;
  const to = target(mode, url, insecure);
  if (typeof to === 'string') return fail(to);
  const connectOnly = values['connect-only'] === true;
  if (connectOnly && mode !== 'ws') return fail('--connect-only is for bench ws');
  if (values.method !== undefined && mode !== 'http') return fail('--method is for bench http');
  if (connectOnly && values.rate !== undefined) return fail('--rate has no meaning with --connect-only');

  const connections = values.connections === undefined ? 50 : wholeNumber('connections', values.connections, MAX_CONNECTIONS);
  if (typeof connections === 'string') return fail(connections);
  let rate: number | null = null;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
    if (!Number.isFinite(rate) || rate <= 0 || rate > 10_000_000) return fail(`--rate ${values.rate}: write operations per second, e.g. 1000`);
  }
  const durationMs = duration('duration', values.duration ?? '10s', 1);
  if (typeof durationMs === 'string') return fail(durationMs);
  const warmupMs = duration('warmup', values.warmup ?? '1s', 0);
  if (typeof warmupMs === 'string') return fail(warmupMs);
  const timeoutMs = duration('timeout', values.timeout ?? '10s', 10);
  if (typeof timeoutMs === 'string') return fail(timeoutMs);
  const maxOps = values['max-ops'] === undefined ? DEFAULT_MAX_OPS : wholeNumber('max-ops', values['max-ops'], Number.MAX_SAFE_INTEGER);
  if (typeof maxOps === 'string') return fail(maxOps);

  const sizeText = values.size ?? (mode === 'ws' ? '64b' : '0b');
  const sizeBytes = parseSize(/^\d+$/.test(sizeText) ? Number(sizeText) : sizeText);
  if (Number.isNaN(sizeBytes) || sizeBytes > MAX_SIZE_BYTES) return fail(`--size ${sizeText}: write a size up to 64mb, such as 64b, 16kb or 1mb`);

  const method = values.method ?? 'GET';
  if (!TOKEN.test(method)) return fail(`--method ${method}: not an HTTP method`);
  const headers: string[] = [];
  for (const line of values.header ?? []) {
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon).trim();
    const value = colon === -1 ? '' : line.slice(colon + 1).trim();
    if (!TOKEN.test(name) || /[\r\n\0]/.test(value)) return fail(`--header ${JSON.stringify(line)}: write 'Name: value'`);
    if (FORBIDDEN_HEADERS.has(name.toLowerCase())) return fail(`--header ${name}: set by bench itself`);
    headers.push(`${name}: ${value}`);
  }

  return {
    help: false,
    options: {
      mode,
      url,
      target: to,
      connections,
      rate,
      durationMs,
      warmupMs: connectOnly ? 0 : warmupMs,
      sizeBytes,
      method,
      headers,
      connectOnly,
      timeoutMs,
      maxOps,
      json: values.json === true,
    },
  };
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', short: 'c' },
      rate: { type: 'string' },
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string' },
      size: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      'connect-only': { type: 'boolean' },
      timeout: { type: 'string' },
      'max-ops': { type: 'string' },
      insecure: { type: 'boolean', short: 'k' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
}
