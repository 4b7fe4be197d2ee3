// config/check-upstreams: target URLs, backups, hashOn beside its balance policy.
import { expect, test } from 'vitest';
import { checkConfig } from '../../../src/config/check.js';
import { base, expectReported, problemsOf, type ProblemCase } from './check-cases.js';

// Cases change the deliberately ill-typed fixture of check-cases.ts.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

test.each<ProblemCase>([
  // target URLs
  { name: 'an invalid target URL', change: (c) => { c.upstreams.chat.targets[0].url = 'http://exa mple:80'; },
    path: 'upstreams.chat.targets[0].url', message: /is not a valid URL; write it like http:\/\/127\.0\.0\.1:3001$/ },
  { name: 'a target URL without a scheme', change: (c) => { c.upstreams.chat.targets[0].url = 'localhost:3001'; },
    path: 'upstreams.chat.targets[0].url', message: '"localhost:3001" has no scheme; write it like http://localhost:3001' },
  { name: 'a target URL with another scheme', change: (c) => { c.upstreams.chat.targets[0].url = 'ftp://files:21'; },
    path: 'upstreams.chat.targets[0].url', message: /^unsupported scheme "ftp:"; use http: or https:/ },
  { name: 'a target URL with a path', change: (c) => { c.upstreams.chat.targets[0].url = 'http://127.0.0.1:3001/v1'; },
    path: 'upstreams.chat.targets[0].url', message: /has a path, query or fragment; .*put path changes in the route \(stripPrefix\/rewrite\)$/ },
  { name: 'a target URL with a query', change: (c) => { c.upstreams.chat.targets[0].url = 'http://127.0.0.1:3001?x=1'; },
    path: 'upstreams.chat.targets[0].url', message: /has a path, query or fragment/ },
  { name: 'a target URL with credentials, never echoed', change: (c) => { c.upstreams.chat.targets[0].url = 'http://user:hunter2@host:1'; },
    path: 'upstreams.chat.targets[0].url', message: /^a target URL cannot hold credentials; remove them/ },
  { name: 'an upstream whose targets are all backups', change: (c) => { c.upstreams.chat.targets[0].backup = true; },
    path: 'upstreams.chat.targets', message: /every target is a backup.*remove backup: true from at least one/ },
  { name: 'hashOn without balance: hash', change: (c) => { c.upstreams.chat.hashOn = 'header:X-User'; },
    path: 'upstreams.chat.hashOn', message: 'hashOn is only used with balance: hash, and this upstream balances by round_robin; add balance: hash or remove hashOn' },
  { name: 'hashOn beside another balance policy', change: (c) => { c.upstreams.chat.balance = 'least_conn'; c.upstreams.chat.hashOn = 'ip'; },
    path: 'upstreams.chat.hashOn', message: /this upstream balances by least_conn; add balance: hash or remove hashOn$/ },
  { name: 'an odd upstream name in a path', change: (c) => { c.upstreams['a.b'] = { targets: [{ url: 'x' }] }; },
    path: 'upstreams["a.b"].targets[0].url', message: /has no scheme/ },
])('reports $name', expectReported);

test.each(['http://127.0.0.1:3001', 'https://a.example.com', 'ws://127.0.0.1:1/', 'wss://[::1]:443'])('accepts the target URL %s', (url) => {
  const config = base();
  config.upstreams.chat.targets[0].url = url;
  expect(checkConfig(config).problems).toEqual([]);
});

test('balance: hash takes hashOn, and sticky beside it (the cookie wins, the hash places the rest)', () => {
  for (const upstream of [{ balance: 'hash' }, { balance: 'hash', hashOn: 'cookie:uid' }, { balance: 'hash', hashOn: 'query:room', sticky: { cookie: 'sid' } }]) {
    const config = base();
    Object.assign(config.upstreams.chat, upstream);
    expect(checkConfig(config).problems, JSON.stringify(upstream)).toEqual([]);
  }
});

test('hashOn beside a misspelt balance is reported once, as the misspelling', () => {
  const problems = problemsOf((c) => { c.upstreams.chat.balance = 'hsah'; c.upstreams.chat.hashOn = 'ip'; });
  expect(problems.map((p) => p.path)).toEqual(['upstreams.chat.balance']);
});
