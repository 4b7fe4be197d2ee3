import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { escapeRegExp, runCli, tempDir, writeConfig } from '../../helpers/cli.js';

const VALID = `
upstreams:
  chat:
    targets:
      - url: http://127.0.0.1:3001
routes:
  - name: ping
    match: { path: /ping }
    respond: { status: 200, json: { message: pong } }
  - name: chat
    match: { path: /ws/* }
    upstream: chat
`;

test('exits 0 and prints a summary for a valid config', async () => {
  const file = writeConfig('wsgate.yaml', VALID);
  const run = await runCli(['validate', '-c', file]);
  expect(run).toEqual({ code: 0, signal: null, stdout: `ok: ${file} (2 routes, 1 upstream)\n`, stderr: '' });
});

test('exits 1 and prints every problem with its path', async () => {
  const file = writeConfig('wsgate.yaml', VALID.replace('upstream: chat', 'upstream: chta').replace('/ping }', '/ping }\n    bogus: 1') +
    '    stripPrefix: /api\n');
  const run = await runCli(['validate', '-c', file]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trim().split('\n');
  expect(lines).toContain(`${file}: routes[1].upstream: unknown upstream "chta" (did you mean "chat"?)`);
  expect(lines).toContainEqual(expect.stringContaining(`${file}: routes[0].bogus: unknown key "bogus"`));
  expect(lines).toContainEqual(expect.stringContaining(`${file}: routes[1].stripPrefix: "/api" is not a whole-segment prefix`));
  expect(lines.at(-1)).toBe(`${file}: 3 problems`);
});

test('exits 1 for an unset environment variable and a bad duration in one run', async () => {
  const file = writeConfig('wsgate.json', JSON.stringify({
    admin: { token: '${WSGATE_TEST_SURELY_UNSET}' },
    upstreams: { chat: { targets: [{ url: 'http://127.0.0.1:1' }], timeouts: { connect: '5 s' } } },
  }));
  const run = await runCli(['validate', '-c', file]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(
    'admin.token: environment variable WSGATE_TEST_SURELY_UNSET is not set; export it or write ${WSGATE_TEST_SURELY_UNSET:-default}',
  );
  expect(run.stderr).toContain('upstreams.chat.timeouts.connect: invalid duration');
});

test('exits 1 with the line and column of a YAML syntax error', async () => {
  const file = writeConfig('wsgate.yaml', 'routes:\n  - name: a\n   match: {}\n');
  const run = await runCli(['validate', '-c', file]);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(new RegExp(`^${escapeRegExp(file)}: line 3, column \\d+: YAML syntax: `));
});

test('exits 2 with one line naming a file that cannot be read', async () => {
  const file = join(tempDir(), 'missing.yaml');
  const run = await runCli(['validate', '-c', file]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`wsgate validate: cannot read config file ${file}: no such file\n`);
});

test('uses ./wsgate.yaml when no file is given', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'wsgate.yaml'), VALID);
  const run = await runCli(['validate'], { cwd: dir });
  expect(run).toEqual({ code: 0, signal: null, stdout: 'ok: wsgate.yaml (2 routes, 1 upstream)\n', stderr: '' });
});

test('exits 1 with usage when no file is given and there is no ./wsgate.yaml', async () => {
  const run = await runCli(['validate'], { cwd: tempDir() });
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^usage: wsgate validate -c FILE\n/);
});
