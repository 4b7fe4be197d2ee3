// config/check-addresses: listeners that clash, the admin address, trustedProxies entries.
import { expect, test } from 'vitest';
import { checkConfig } from '../../../src/config/check.js';
import { base, expectReported, type ProblemCase } from './check-cases.js';

// Cases change the deliberately ill-typed fixture of check-cases.ts.

test.each<ProblemCase>([
  // listeners, admin, proxies
  { name: 'two listeners on one port and host', change: (c) => { c.listen = [{ port: 8080, host: '127.0.0.1' }, { port: 8080, host: '127.0.0.1' }]; },
    path: 'listen[1].port', message: 'port 8080 on 127.0.0.1 is already used by listen[0] (127.0.0.1); use another port or host' },
  { name: 'a listener overlapping a wildcard listener', change: (c) => { c.listen = [{ port: 8080 }, { port: 8080, host: '127.0.0.1' }]; },
    path: 'listen[1].port', message: /already used by listen\[0\] \(0\.0\.0\.0\)/ },
  { name: 'a bracketed listener host', change: (c) => { c.listen = [{ port: 8080, host: '[::1]' }]; },
    path: 'listen[0].host', message: 'write an IPv6 address without brackets, e.g. "::1"' },
  { name: 'an admin address without a port', change: (c) => { c.admin = { listen: '127.0.0.1' }; },
    path: 'admin.listen', message: '"127.0.0.1" is not host:port; write it like 127.0.0.1:9901 (IPv6 as [::1]:9901)' },
  { name: 'an IPv6 admin address without brackets', change: (c) => { c.admin = { listen: '::1:9901' }; },
    path: 'admin.listen', message: '"::1:9901" needs brackets around the IPv6 address, e.g. "[::1]:9901"' },
  { name: 'a public admin address without a token', change: (c) => { c.admin = { listen: '0.0.0.0:9901' }; },
    path: 'admin.listen', message: /^refusing a non-loopback admin address without admin\.token; set admin\.token/ },
  { name: 'a public IPv6 admin address without a token', change: (c) => { c.admin = { listen: '[::]:9901', token: '' }; },
    path: 'admin.listen', message: /^refusing a non-loopback admin address without admin\.token/ },
  { name: 'an admin port used by a listener', change: (c) => { c.listen = [{ port: 9901 }]; },
    path: 'admin.listen', message: 'port 9901 is also used by listen[0]; give the admin listener another port' },
  { name: 'a trusted proxy that is not an IP', change: (c) => { c.trustedProxies = ['10.0.0.0/8', 'proxy.local']; },
    path: 'trustedProxies[1]', message: '"proxy.local" is not an IP address or CIDR; write it like 10.0.0.0/8, 192.168.1.10 or ::1' },
  { name: 'an IPv4 prefix over 32', change: (c) => { c.trustedProxies = ['10.0.0.0/33']; },
    path: 'trustedProxies[0]', message: /^"10\.0\.0\.0\/33" has an invalid prefix length; an IPv4 prefix is 0 to 32/ },
  { name: 'an IPv6 prefix over 128', change: (c) => { c.trustedProxies = ['fd00::/129']; },
    path: 'trustedProxies[0]', message: /an IPv6 prefix is 0 to 128/ },
  { name: 'a non-numeric prefix', change: (c) => { c.trustedProxies = ['10.0.0.0/x']; },
    path: 'trustedProxies[0]', message: /has an invalid prefix length/ },
])('reports $name', expectReported);

test('admin on a loopback address needs no token', () => {
  for (const listen of ['127.0.0.1:9901', '127.1.2.3:0', 'localhost:9901', '[::1]:9901']) {
    const config = base();
    config.admin = { listen };
    expect(checkConfig(config).problems, listen).toEqual([]);
  }
});
