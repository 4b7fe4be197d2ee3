// config/check-addresses: cross-checks of the addresses a config binds and trusts: listeners that
// clash, the admin address (its form, a token off loopback, a port a listener holds), and each
// trustedProxies entry as an IP or CIDR.
import { isIP } from 'node:net';
import type { Problem } from './load.js';
import { isObj, list, type Obj } from './raw.js';

export function checkAddresses(raw: Obj, problems: Problem[]): void {
  checkListeners(raw, problems);
  checkAdmin(raw, problems);
  checkTrustedProxies(raw, problems);
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
