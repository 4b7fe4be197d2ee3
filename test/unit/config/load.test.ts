import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { formatPath, isConfigUnreadable, loadConfigFile, substituteEnv } from '../../../src/config/load.js';

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-load-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const ENV = { SET: 'value', EMPTY: '', PORT: '9000', QUOTED: 'say "hi": ok' };

test.each([
  { text: 'a ${SET} b', out: 'a value b' },
  { text: '${SET}${SET}', out: 'valuevalue' },
  { text: '${UNSET:-fallback}', out: 'fallback' },
  { text: '${UNSET:-}', out: '' },
  { text: '${SET:-fallback}', out: 'value' },
  { text: '${EMPTY}', out: '' },
  { text: '${EMPTY:-fallback}', out: 'fallback' },
  { text: 'http://${UNSET:-127.0.0.1}:${PORT}', out: 'http://127.0.0.1:9000' },
  { text: 'no references', out: 'no references' },
  { text: 'literal $${SET}', out: 'literal ${SET}' },
  { text: 'cost $5', out: 'cost $5' },
])('substitutes $text as "$out"', ({ text, out }) => {
  expect(substituteEnv(text, ENV)).toEqual({ text: out, problems: [] });
});

test('reports an unset variable without a default and names the fix', () => {
  const { text, problems } = substituteEnv('Bearer ${JWT_SECRET}', {}, 'auth.secret');
  expect(text).toBe('Bearer ');
  expect(problems).toEqual([
    { path: 'auth.secret', message: 'environment variable JWT_SECRET is not set; export it or write ${JWT_SECRET:-default}' },
  ]);
});

test.each(['${1BAD}', '${A B}', '${UNCLOSED', '${A-default}'])('reports the malformed reference %s', (text) => {
  const { problems } = substituteEnv(text, ENV);
  expect(problems).toHaveLength(1);
  expect(problems[0]!.message).toMatch(/^malformed variable reference .*; write \$\{NAME\} or \$\{NAME:-default\}/);
});

test.each([
  { path: ['routes', 2, 'upstream'], out: 'routes[2].upstream' },
  { path: ['upstreams', 'chat', 'timeouts', 'connect'], out: 'upstreams.chat.timeouts.connect' },
  { path: ['upstreams', 'a.b', 'targets', 0], out: 'upstreams["a.b"].targets[0]' },
  { path: ['upstreams', 'chat-v2'], out: 'upstreams.chat-v2' },
  { path: ['upstreams', '1st'], out: 'upstreams["1st"]' },
  { path: [], out: '' },
])('formats the path $out', ({ path, out }) => {
  expect(formatPath(path)).toBe(out);
});

test('loads YAML and substitutes string values from the environment', () => {
  const file = tempFile('wsgate.yaml', [
    'admin:',
    '  token: ${TOKEN:-}',
    'listen:',
    '  - port: ${PORT}',
    '  - port: "${PORT}"',
    'log: { level: "${LEVEL:-debug}" }',
    'routes:',
    '  - name: ${QUOTED}',
    '    flag: ${FLAG:-true}',
  ].join('\n'));
  const { raw, problems } = loadConfigFile(file, { ...ENV, TOKEN: undefined });
  expect(problems).toEqual([]);
  expect(raw).toEqual({
    admin: { token: '' },
    // A plain scalar takes the type its text has in YAML; a quoted one stays a string.
    listen: [{ port: 9000 }, { port: '9000' }],
    log: { level: 'debug' },
    // A value with quotes and a colon cannot break the YAML around it.
    routes: [{ name: 'say "hi": ok', flag: true }],
  });
});

test('reports an unset variable with the config path of its value', () => {
  const file = tempFile('wsgate.yaml', 'upstreams:\n  chat:\n    targets:\n      - url: ${CHAT_URL}\n');
  const { raw, problems } = loadConfigFile(file, {});
  expect(problems).toEqual([
    { path: 'upstreams.chat.targets[0].url', message: 'environment variable CHAT_URL is not set; export it or write ${CHAT_URL:-default}' },
  ]);
  expect(raw).toEqual({ upstreams: { chat: { targets: [{ url: '' }] } } });
});

test('does not substitute in mapping keys', () => {
  const file = tempFile('wsgate.yaml', 'upstreams:\n  ${NAME}: {}\n');
  expect(loadConfigFile(file, { NAME: 'x' })).toEqual({ raw: { upstreams: { '${NAME}': {} } }, problems: [] });
});

test('reads JSON files as YAML', () => {
  const file = tempFile('wsgate.json', '{\n  "listen": [{ "port": 8080 }],\n\t"admin": { "token": "${T:-x}" }\n}\n');
  expect(loadConfigFile(file, {})).toEqual({ raw: { listen: [{ port: 8080 }], admin: { token: 'x' } }, problems: [] });
});

test.each([
  { name: 'bad indentation', text: 'listen:\n  - port: 1\n bad: 2\n', path: /^line \d+, column \d+$/, message: /^YAML syntax: / },
  { name: 'an unclosed bracket', text: 'routes: [1, 2\n', path: /^line 2, column 1$/, message: /^YAML syntax: / },
  { name: 'a duplicate key', text: 'log: {}\nlog: {}\n', path: /^line 2, column 1$/, message: /appears twice.*keep one/ },
  { name: 'two documents', text: 'a: 1\n---\nb: 2\n', path: /^line 2, column 1$/, message: /more than one YAML document/ },
  { name: 'an unquoted reference inside braces', text: 'tls: { cert: ${CERT} }\n', path: /^line 1, column \d+$/, message: /quote a value that uses \$\{\.\.\.\}/ },
])('turns $name into a problem with line and column', ({ text, path, message }) => {
  const { raw, problems } = loadConfigFile(tempFile('bad.yaml', text), {});
  expect(raw).toBeUndefined();
  expect(problems.length).toBeGreaterThan(0);
  expect(problems[0]!.path).toMatch(path);
  expect(problems[0]!.message).toMatch(message);
});

test.each(['', '# only a comment\n'])('reports an empty file (%j)', (text) => {
  const { raw, problems } = loadConfigFile(tempFile('empty.yaml', text), {});
  expect(raw).toBeUndefined();
  expect(problems).toEqual([{ path: '(file)', message: expect.stringContaining('the file is empty') as unknown }]);
});

test('throws CONFIG_UNREADABLE naming the file when it is missing', () => {
  const file = join(tmpdir(), 'wsgate-does-not-exist', 'wsgate.yaml');
  let thrown: unknown;
  try {
    loadConfigFile(file);
  } catch (err) {
    thrown = err;
  }
  expect(isConfigUnreadable(thrown)).toBe(true);
  expect(thrown).toMatchObject({ code: 'CONFIG_UNREADABLE', message: `cannot read config file ${file}: no such file` });
});

test('throws CONFIG_UNREADABLE when the path is a directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-load-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  expect(() => loadConfigFile(dir)).toThrow(expect.objectContaining({ code: 'CONFIG_UNREADABLE', message: expect.stringContaining(dir) as unknown }));
});
