// `wsgate token` and `wsgate hash-key` (issue 9 item 9): what they print works against a running
// gateway's jwt and apiKey providers.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { test, expect } from 'vitest';
import { decodeJwt } from 'jose';
import { ROOT, runCli, startCli } from '../../helpers/cli.js';
import { startGateway } from '../../helpers/gateway.js';
import { send, startEchoUpstream } from '../../helpers/http.js';

test('wsgate token mints a token the jwt provider with that secret accepts, with sub, scope and exp from the options', async () => {
  const secret = 'cli-secret-for-a-local-try';
  const before = Math.floor(Date.now() / 1000);
  const out = await runCli(['token', '--secret', secret, '--sub', 'alice', '--scope', 'chat', '--scope', 'read write', '--ttl', '15m', '--aud', 'chat']);
  expect(out.code).toBe(0);
  const token = out.stdout.trim();
  const claims = decodeJwt(token);
  expect(claims).toMatchObject({ sub: 'alice', scope: 'chat read write', aud: 'chat' });
  expect(claims.exp! - claims.iat!).toBe(900);
  expect(claims.iat).toBeGreaterThanOrEqual(before);

  const up = await startEchoUpstream();
  const gw = await startGateway({
    upstreams: { app: { targets: [{ url: up.url }] } },
    auth: { users: { type: 'jwt', secret, audience: 'chat' } },
    routes: [{ name: 'api', match: { path: '/*' }, upstream: 'app', auth: { use: 'users', scopes: ['chat'] } }],
  });
  expect((await send(gw.url('/me'), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
});

test('wsgate token without a secret, or with a bad ttl or algorithm, exits 1 naming the fix', async () => {
  // JWT_SECRET emptied, in case the environment running the tests sets it.
  const cli = startCli(['token', '--sub', 'x'], { env: { JWT_SECRET: '' } });
  const none = { ...(await cli.closed), stderr: cli.stderr() };
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('--secret S or the JWT_SECRET environment variable');
  const ttl = await runCli(['token', '--secret', 's', '--ttl', 'soon']);
  expect(ttl.code).toBe(1);
  expect(ttl.stderr).toContain('--ttl must be a duration');
  const alg = await runCli(['token', '--secret', 's', '--alg', 'RS256']);
  expect(alg.code).toBe(1);
  expect(alg.stderr).toContain('HS256, HS384 or HS512');
});

test('wsgate token --help and wsgate hash-key --help print their usage', async () => {
  const token = await runCli(['token', '--help']);
  expect(token.code).toBe(0);
  expect(token.stdout).toMatch(/^usage: wsgate token --secret S/);
  const hash = await runCli(['hash-key', '--help']);
  expect(hash.code).toBe(0);
  expect(hash.stdout).toMatch(/^usage: wsgate hash-key/);
});

test('wsgate hash-key prints the sha256 line, or the whole keys entry with --id', async () => {
  const sha = createHash('sha256').update('password').digest('hex');
  expect(sha).toBe('5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8');
  const plain = await runCli(['hash-key', 'password']);
  expect(plain.code).toBe(0);
  expect(plain.stdout).toBe(`sha256: ${sha}\n`);
  const entry = await runCli(['hash-key', '--id', 'acme', 'password']);
  expect(entry.stdout).toBe(`- { id: acme, sha256: ${sha} }\n`);
});

test('wsgate hash-key reads the key from stdin when none is given', async () => {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, join(ROOT, 'src/cli/main.ts'), 'hash-key'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stdin.end('password\n');
  const [code] = (await once(child, 'close')) as [number];
  expect(code).toBe(0);
  expect(stdout).toBe('sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\n');
});
