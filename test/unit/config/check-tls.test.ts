// config/check-tls: the form of the TLS keys (checkConfig) and the files they name (loadConfig, which
// `wsgate validate`, `start` and every reload of a file use).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { certNames } from '../../../src/config/check-tls.js';
import { checkConfig, loadConfig } from '../../../src/config/check.js';
import { tlsDir, type CertFiles } from '../../helpers/tls.js';

function problemsOf(raw: unknown): { path: string; message: string }[] {
  return checkConfig(raw).problems;
}

// A config file with one https listener and one upstream, as `validate` reads it.
function fileWith(dir: string, listenTls: string, upstreamTls = ''): string {
  const file = join(dir, 'wsgate.yaml');
  writeFileSync(file, `listen:\n  - port: 8443\n    tls: ${listenTls}\nupstreams:\n  api:\n    targets: [{ url: "https://api.internal:443" }]\n${upstreamTls === '' ? '' : `    tls: ${upstreamTls}\n`}routes:\n  - { name: api, match: { path: /* }, upstream: api }\n`);
  return file;
}

function pair(c: CertFiles): string {
  return `{ cert: "${c.cert}", key: "${c.key}" }`;
}

test('a listener tls needs cert and key, or certs, and not both', () => {
  expect(problemsOf({ listen: [{ port: 1, tls: {} }] })).toContainEqual({ path: 'listen[0].tls', message: expect.stringMatching(/needs cert and key .* or certs/) as unknown });
  expect(problemsOf({ listen: [{ port: 1, tls: { cert: 'c.pem' } }] })).toContainEqual({ path: 'listen[0].tls.key', message: expect.stringMatching(/^cert needs its key/) as unknown });
  expect(problemsOf({ listen: [{ port: 1, tls: { key: 'k.pem' } }] })).toContainEqual({ path: 'listen[0].tls.cert', message: expect.stringMatching(/^key needs its cert/) as unknown });
  expect(problemsOf({ listen: [{ port: 1, tls: { cert: 'c.pem', key: 'k.pem', certs: [{ cert: 'c.pem', key: 'k.pem' }] } }] })).toContainEqual({ path: 'listen[0].tls', message: expect.stringMatching(/not both/) as unknown });
  expect(problemsOf({ listen: [{ port: 1, tls: { certs: [] } }] })).toContainEqual({ path: 'listen[0].tls.certs', message: expect.stringMatching(/at least one/) as unknown });
  expect(problemsOf({ listen: [{ port: 1, tls: { certs: [{ cert: 'a.pem', key: 'a-key.pem' }, { cert: 'b.pem', key: 'b-key.pem' }] } }] })).toEqual([]);
});

test('an upstream tls takes ca, servername, cert with key, insecureSkipVerify, only for https targets', () => {
  const upstream = (tls: unknown, url = 'https://api.internal'): unknown => ({ upstreams: { api: { targets: [{ url }], tls } } });
  expect(problemsOf(upstream({ ca: 'ca.pem', servername: 'api.internal', cert: 'c.pem', key: 'k.pem', insecureSkipVerify: false }))).toEqual([]);
  expect(problemsOf(upstream({ cert: 'c.pem' }))).toContainEqual({ path: 'upstreams.api.tls.key', message: expect.stringMatching(/needs its key/) as unknown });
  expect(problemsOf(upstream({ key: 'k.pem' }))).toContainEqual({ path: 'upstreams.api.tls.cert', message: expect.stringMatching(/needs its certificate/) as unknown });
  expect(problemsOf(upstream({ ca: 'ca.pem' }, 'http://api.internal'))).toContainEqual({ path: 'upstreams.api.tls', message: expect.stringMatching(/no target of this upstream is https:\/\/ or wss:\/\//) as unknown });
  expect(problemsOf(upstream({ ca: 'ca.pem' }, 'wss://api.internal'))).toEqual([]);
  expect(problemsOf(upstream({ servername: '10.0.0.7' }))).toContainEqual({ path: 'upstreams.api.tls.servername', message: expect.stringMatching(/^an IP address cannot be sent as SNI/) as unknown });
  expect(problemsOf(upstream({ verify: false }))).toContainEqual({ path: 'upstreams.api.tls.verify', message: expect.stringMatching(/unknown key/) as unknown });
  expect(problemsOf(upstream({ insecureSkipVerify: 'yes' }))).toContainEqual(expect.objectContaining({ path: 'upstreams.api.tls.insecureSkipVerify' }));
});

test('validate accepts readable, parsable, matching files', async () => {
  const dir = tlsDir();
  const ca = await dir.ca('ca');
  const a = await dir.leaf('a', ['a.example.test'], { ca });
  const b = await dir.leaf('b', ['*.b.example.test'], { ca });
  const client = await dir.leaf('client', ['gw'], { ca, clientAuth: true });
  const file = fileWith(dir.dir, `{ certs: [${pair(a)}, ${pair(b)}] }`, `{ ca: "${ca.cert}", servername: api.internal, cert: "${client.cert}", key: "${client.key}" }`);
  expect(loadConfig(file).problems).toEqual([]);
});

test('validate names the key of a missing certificate or key file', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const missing = join(dir.dir, 'missing.pem');
  const { config, problems } = loadConfig(fileWith(dir.dir, `{ cert: "${missing}", key: "${a.key}" }`, `{ ca: "${missing}" }`));
  expect(config).toBeNull();
  expect(problems).toContainEqual({ path: 'listen[0].tls.cert', unreadable: true, message: `cannot read ${missing} (no such file)` });
  expect(problems).toContainEqual({ path: 'upstreams.api.tls.ca', unreadable: true, message: `cannot read ${missing} (no such file)` });
});

test('validate names an unreadable file', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  // A directory where a file is expected fails to read for root too (chmod would not).
  const { problems } = loadConfig(fileWith(dir.dir, `{ cert: "${a.cert}", key: "${dir.dir}" }`));
  expect(problems).toContainEqual({ path: 'listen[0].tls.key', unreadable: true, message: `cannot read ${dir.dir} (it is a directory)` });
});

test('validate names files that hold no certificate or no key', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const junk = join(dir.dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const { problems } = loadConfig(fileWith(dir.dir, `{ certs: [{ cert: "${junk}", key: "${a.key}" }, { cert: "${a.cert}", key: "${junk}" }] }`, `{ ca: "${junk}" }`));
  expect(problems).toContainEqual({ path: 'listen[0].tls.certs[0].cert', message: expect.stringMatching(/junk\.pem holds no certificate/) as unknown });
  expect(problems).toContainEqual({ path: 'listen[0].tls.certs[1].key', message: expect.stringMatching(/junk\.pem holds no private key/) as unknown });
  expect(problems).toContainEqual({ path: 'upstreams.api.tls.ca', message: expect.stringMatching(/junk\.pem holds no certificate/) as unknown });
});

test('validate refuses a key that does not belong to its certificate', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const b = await dir.leaf('b', ['b.example.test']);
  const { problems } = loadConfig(fileWith(dir.dir, `{ cert: "${a.cert}", key: "${b.key}" }`, `{ cert: "${b.cert}", key: "${a.key}" }`));
  expect(problems).toContainEqual({ path: 'listen[0].tls.key', message: `the key in ${b.key} does not match the certificate in ${a.cert}: give the key the certificate was issued for` });
  expect(problems).toContainEqual({ path: 'upstreams.api.tls.key', message: expect.stringMatching(/does not match the certificate/) as unknown });
});

test('a config built in code is checked without reading files; compiling it reads them and names the key', async () => {
  const { Gateway } = await import('../../../src/index.js');
  expect(checkConfig({ listen: [{ port: 0, tls: { cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem' } }] }).problems).toEqual([]);
  expect(() => new Gateway({ upstreams: { api: { targets: [{ url: 'https://x' }], tls: { ca: '/nonexistent/ca.pem' } } } })).toThrow(/upstreams\.api\.tls\.ca: cannot read \/nonexistent\/ca\.pem \(no such file\)/);
});

test('a certificate answers for its DNS subjectAltNames, lower-cased, or for its CN when it has none', async () => {
  const dir = tlsDir();
  const withSan = await dir.leaf('san', ['API.Example.test', '*.ws.example.test', '10.0.0.1']);
  const cnOnly = await dir.leaf('cn', ['Legacy.Example.test'], { cnOnly: true });
  expect(certNames(new X509Certificate(withSan.pem))).toEqual(['api.example.test', '*.ws.example.test']);
  expect(certNames(new X509Certificate(cnOnly.pem))).toEqual(['legacy.example.test']);
});

test('an unset ${VAR} naming a TLS file is reported once, as the unset variable', () => {
  const dir = tlsDir();
  const file = join(dir.dir, 'wsgate.yaml');
  writeFileSync(file, 'listen:\n  - port: 8443\n    tls: { cert: "${WSGATE_TEST_UNSET_CERT}", key: "${WSGATE_TEST_UNSET_KEY}" }\n');
  const { problems } = loadConfig(file, {});
  expect(problems.filter((p) => p.path === 'listen[0].tls.cert')).toHaveLength(1);
  expect(problems.find((p) => p.path === 'listen[0].tls.cert')?.message).toMatch(/WSGATE_TEST_UNSET_CERT/);
});
