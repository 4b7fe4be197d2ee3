// e2e: `wsgate validate` and `wsgate start` on a config whose TLS files are wrong: one line per problem with its key; start exits 2 for an unreadable file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { tlsDir } from '../../helpers/tls.js';

test('validate fails with exit 1 and names the key of a missing file and of a key that does not match', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const b = await dir.leaf('b', ['b.example.test']);
  const file = join(dir.dir, 'wsgate.yaml');
  writeFileSync(file, `listen:
  - port: 8443
    tls: { certs: [{ cert: "${a.cert}", key: "${b.key}" }, { cert: "${join(dir.dir, 'gone.pem')}", key: "${b.key}" }] }
`);
  const out = await runCli(['validate', '-c', file]);
  expect(out.code).toBe(1);
  expect(out.stderr).toContain(`listen[0].tls.certs[0].key: the key in ${b.key} does not match the certificate in ${a.cert}`);
  expect(out.stderr).toContain(`listen[0].tls.certs[1].cert: cannot read ${join(dir.dir, 'gone.pem')} (no such file)`);

  writeFileSync(file, `listen:\n  - port: 8443\n    tls: { certs: [{ cert: "${a.cert}", key: "${a.key}" }, { cert: "${b.cert}", key: "${b.key}" }] }\n`);
  expect((await runCli(['validate', '-c', file])).code).toBe(0);
});

test('start exits 2 when a certificate file cannot be read (could not start), 1 when a readable pair does not match', async () => {
  const dir = tlsDir();
  const a = await dir.leaf('a', ['a.example.test']);
  const b = await dir.leaf('b', ['b.example.test']);
  const file = join(dir.dir, 'wsgate.yaml');
  writeFileSync(file, `listen:\n  - port: 0\n    tls: { cert: "${join(dir.dir, 'gone.pem')}", key: "${a.key}" }\nadmin: { listen: "127.0.0.1:0" }\n`);
  const missing = await runCli(['start', '-c', file]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('listen[0].tls.cert: cannot read');
  writeFileSync(file, `listen:\n  - port: 0\n    tls: { cert: "${a.cert}", key: "${b.key}" }\nadmin: { listen: "127.0.0.1:0" }\n`);
  expect((await runCli(['start', '-c', file])).code).toBe(1);
});
