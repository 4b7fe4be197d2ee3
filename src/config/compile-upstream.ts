// config/compile-upstream: an `upstreams` entry compiled for the pools: targets, balancing, health
// checks, passive ejection, timeouts, and the TLS options its https:// and wss:// targets connect with.
import { createHash } from 'node:crypto';
import { parseDuration } from '../core/duration.js';
import { GatewayError } from '../core/errors.js';
import { readCa, readCertPair } from './check-tls.js';
import type { Problem } from './load.js';
import type { UpstreamConfig } from './schema.js';

// What node:tls (and undici's connector) takes to reach an https:// or wss:// target; spread into
// the connect options as is. Keys are present only when configured.
export interface TlsClientOptions {
  readonly ca?: Buffer;
  readonly servername?: string;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized: boolean;
}

export interface TargetSpec {
  readonly url: string;        // origin only: http(s)://host:port
  readonly origin: string;
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  readonly weight: number;
  readonly backup: boolean;
  readonly tls: TlsClientOptions | null;  // secure targets only (null for http://)
  // Opaque and stable: names the target in a sticky cookie without giving its address away.
  readonly id: string;
}

// Where `balance: hash` reads a request's key.
export type HashOn =
  | { readonly from: 'ip' }
  | { readonly from: 'header' | 'cookie' | 'query'; readonly name: string }; // header names lower-cased

export interface HealthCheckSpec {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyAfter: number;
  readonly healthyAfter: number;
  readonly expectStatus: readonly (readonly [min: number, max: number])[]; // inclusive ranges
}

export interface PassiveSpec {
  readonly consecutiveFailures: number;
  readonly ejectForMs: number;
  readonly maxEjectForMs: number;
  readonly ejectLast: boolean;
}

export type BalancePolicy = 'round_robin' | 'least_conn' | 'random' | 'hash';

export interface UpstreamSpec {
  readonly name: string;
  readonly targets: readonly TargetSpec[];
  readonly balance: BalancePolicy;
  readonly hashOn: HashOn;                         // read only with balance: hash
  readonly stickyCookie: string | null;
  readonly healthCheck: HealthCheckSpec | null;
  readonly passive: PassiveSpec | null;
  readonly slowStartMs: number;                    // 0 = off
  readonly onUnhealthy: 'keep' | 'close';
  readonly closeSpreadMs: number;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly retries: number;
  readonly maxConnectionsPerTarget: number;
}

function compileTarget(upstream: string, t: UpstreamConfig['targets'][number], index: number, tls: TlsClientOptions): TargetSpec {
  const u = new URL(t.url);
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
  const origin = `${secure ? 'https' : 'http'}://${u.host}`;
  // The same upstream, address and place give the same id across restarts and instances.
  const id = createHash('sha256').update(`${upstream}\0${origin}\0${index}`).digest('base64url').slice(0, 12);
  return { url: origin, origin, hostname: u.hostname.replace(/^\[|\]$/g, ''), port, secure, weight: t.weight, backup: t.backup, tls: secure ? tls : null, id };
}

function compileHashOn(text: string | undefined): HashOn {
  if (text === undefined || text === 'ip') return { from: 'ip' };
  const colon = text.indexOf(':');
  const from = text.slice(0, colon) as 'header' | 'cookie' | 'query';
  const name = text.slice(colon + 1);
  return { from, name: from === 'header' ? name.toLowerCase() : name };
}

function compileStatusRanges(expect: number | string | (number | string)[]): [number, number][] {
  return (Array.isArray(expect) ? expect : [expect]).map((e): [number, number] => {
    if (typeof e === 'number') return [e, e];
    if (e.endsWith('xx')) return [Number(e[0]) * 100, Number(e[0]) * 100 + 99];
    const [lo, hi] = e.split('-');
    return [Number(lo), Number(hi ?? lo)];
  });
}

function compileHealthCheck(h: NonNullable<UpstreamConfig['healthCheck']>): HealthCheckSpec {
  return {
    path: h.path,
    intervalMs: parseDuration(h.interval),
    timeoutMs: parseDuration(h.timeout),
    unhealthyAfter: h.unhealthyAfter,
    healthyAfter: h.healthyAfter,
    expectStatus: compileStatusRanges(h.expectStatus),
  };
}

export function compileUpstream(name: string, u: UpstreamConfig): UpstreamSpec {
  const tls = compileUpstreamTls(name, u.tls);
  return {
    name,
    targets: u.targets.map((t, i) => compileTarget(name, t, i, tls)),
    balance: u.balance,
    hashOn: compileHashOn(u.hashOn),
    stickyCookie: u.sticky?.cookie ?? null,
    healthCheck: u.healthCheck === undefined ? null : compileHealthCheck(u.healthCheck),
    passive:
      u.passive === undefined
        ? null
        : { consecutiveFailures: u.passive.consecutiveFailures, ejectForMs: parseDuration(u.passive.ejectFor), maxEjectForMs: parseDuration(u.passive.maxEjectFor), ejectLast: u.passive.ejectLast },
    slowStartMs: parseDuration(u.slowStart),
    onUnhealthy: u.onUnhealthy,
    closeSpreadMs: parseDuration(u.closeSpread),
    connectTimeoutMs: parseDuration(u.timeouts.connect),
    responseTimeoutMs: parseDuration(u.timeouts.response),
    idleTimeoutMs: parseDuration(u.timeouts.idle),
    retries: u.retries,
    maxConnectionsPerTarget: u.maxConnectionsPerTarget,
  };
}

// TLS files are read here, at start and on every reload (so a renewed certificate is picked up);
// a problem throws CONFIG_UNREADABLE naming the key (the CLI maps it to exit 2).
export function throwTlsProblems(problems: readonly Problem[]): void {
  if (problems.length === 0) return;
  throw new GatewayError('CONFIG_UNREADABLE', problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
}

function compileUpstreamTls(name: string, tls: UpstreamConfig['tls']): TlsClientOptions {
  if (tls === undefined) return { rejectUnauthorized: true };
  const problems: Problem[] = [];
  const at = `upstreams.${name}.tls`;
  const ca = tls.ca === undefined ? null : readCa(tls.ca, `${at}.ca`, problems);
  const pair = tls.cert !== undefined && tls.key !== undefined ? readCertPair(tls.cert, tls.key, at, problems) : null;
  throwTlsProblems(problems);
  return {
    ...(ca !== null ? { ca } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    ...(pair !== null ? { cert: pair.cert, key: pair.key } : {}),
    rejectUnauthorized: !tls.insecureSkipVerify,
  };
}
