// e2e: `wsgate start` as a real process: config files, exit codes and one-line startup errors
// (SPEC section 1), and the signals of SPEC section 10.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { expect, test } from 'vitest';
import { closed, openWs, nextMessage } from '../../helpers/clients.js';
import { escapeRegExp, runCli, startCli, tempDir, writeConfig, yamlConfig } from '../../helpers/cli.js';
import { fetchText, occupiedPort } from '../../helpers/http.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';

const APP_ROUTE = `  - name: app
    match: { path: /* }
    upstream: app
`;

// One upstream `app` behind a catch-all route.
function appConfig(upstreamUrl: string, extra = ''): string {
  return yamlConfig({ upstreams: { app: upstreamUrl }, routes: APP_ROUTE, extra });
}

test.each([
  ['-c', 'wsgate.yaml'],
  ['--config', 'wsgate.yaml'],
  ['--config', 'wsgate.json'],
])('start %s %s proxies HTTP to the upstream of the config', async (flag, name) => {
  const upstream = await startHttpUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, forwardedFor: req.headers['x-forwarded-for'] }));
  });
  const text = name.endsWith('.json')
    ? JSON.stringify({
        listen: [{ port: 0, host: '127.0.0.1' }],
        admin: { listen: '127.0.0.1:0' },
        upstreams: { app: { targets: [{ url: upstream.url }] } },
        routes: [{ name: 'app', match: { path: '/*' }, upstream: 'app' }],
      })
    : appConfig(upstream.url);
  const cli = startCli(['start', flag, writeConfig(name, text)]);
  const { listeners, admin } = await cli.ports();
  expect(listeners).toHaveLength(1);

  const res = await fetch(`http://127.0.0.1:${listeners[0]}/items/7?x=1`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ path: '/items/7?x=1', forwardedFor: '127.0.0.1' });
  expect(res.headers.get('x-request-id')).toMatch(/.+/);
  expect((await fetch(`http://127.0.0.1:${admin}/readyz`)).status).toBe(200);
  expect(cli.logs.find((l) => l.event === 'listening')).toMatchObject({ level: 'info', routes: 1 });
});

test('start without -c uses ./wsgate.yaml', async () => {
  const upstream = await startHttpUpstream((_req, res) => res.end('from upstream'));
  const dir = tempDir();
  writeFileSync(join(dir, 'wsgate.yaml'), appConfig(upstream.url));
  const cli = startCli(['start'], { cwd: dir });
  const { listeners } = await cli.ports();
  const res = await fetch(`http://127.0.0.1:${listeners[0]}/`);
  expect(await res.text()).toBe('from upstream');
});

test('exits 1 on an invalid config, naming the file and the path of each problem', async () => {
  const file = writeConfig('wsgate.yaml', appConfig('http://127.0.0.1:1').replace('upstream: app', 'upstream: ap') + '    bogus: 1\n');
  const run = await runCli(['start', '-c', file]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe(''); // nothing was started, so nothing was logged
  const lines = run.stderr.trim().split('\n');
  expect(lines).toContain(`${file}: routes[0].upstream: unknown upstream "ap" (did you mean "app"?)`);
  expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${escapeRegExp(file)}: routes\\[0\\]\\.bogus: unknown key "bogus"`)));
  expect(lines.at(-1)).toBe(`${file}: 2 problems`);
});

test('exits 1 on a YAML syntax error with its line and column', async () => {
  const file = writeConfig('wsgate.yaml', 'routes:\n  - name: a\n   match: {}\n');
  const run = await runCli(['start', '-c', file]);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(new RegExp(`^${escapeRegExp(file)}: line 3, column \\d+: YAML syntax: `));
});

test('exits 2 with one line naming a config file that cannot be read', async () => {
  const file = join(tempDir(), 'missing.yaml');
  const run = await runCli(['start', '-c', file]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`wsgate start: cannot read config file ${file}: no such file\n`);
});

test('exits 2 with one line when the config path is a directory', async () => {
  const dir = tempDir();
  const run = await runCli(['start', '-c', dir]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`wsgate start: cannot read config file ${dir}: it is a directory\n`);
});

test('exits 2 with one line saying where the address is already in use', async () => {
  const port = await occupiedPort();
  const file = writeConfig('wsgate.yaml', appConfig('http://127.0.0.1:1').replace('{ port: 0, host: 127.0.0.1 }', `{ port: ${port}, host: 127.0.0.1 }`));
  const run = await runCli(['start', '-c', file]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`wsgate: could not listen on 127.0.0.1:${port}: address already in use\n`);
});

test('exits 2 when the admin address is already in use, rather than running without admin', async () => {
  const port = await occupiedPort();
  const file = writeConfig('wsgate.yaml', appConfig('http://127.0.0.1:1').replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`));
  const run = await runCli(['start', '-c', file]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`wsgate: could not listen on 127.0.0.1:${port}: address already in use\n`);
});

test('exits 1 on an unknown command, with usage', async () => {
  const run = await runCli(['frobnicate']);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^wsgate: unknown command "frobnicate"\nusage: wsgate <command>/);
});

test('exits 1 on an unknown option', async () => {
  const run = await runCli(['start', '--bogus']);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^wsgate start: .*--bogus/);
});

test('SIGTERM finishes in-flight HTTP, closes WebSockets with 1001 and exits 0', async () => {
  let held: ServerResponse | null = null;
  let arrived: () => void = () => undefined;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  const api = await startHttpUpstream((req, res) => {
    if (req.url === '/slow') {
      held = res;
      arrived();
    } else res.end('fast');
  });
  const echo = await startWsEcho();
  const wsRoute = '  - name: ws\n    match: { path: /ws/* }\n    upstream: realtime\n';
  const file = writeConfig('wsgate.yaml', yamlConfig({ upstreams: { app: api.url, realtime: echo.url }, routes: wsRoute + APP_ROUTE }));
  const cli = startCli(['start', '-c', file]);
  const { listeners, admin } = await cli.ports();
  const base = `http://127.0.0.1:${listeners[0]}`;

  const ws = await openWs(`ws://127.0.0.1:${listeners[0]}/ws/echo`);
  ws.send('before');
  expect((await nextMessage(ws)).data.toString()).toBe('before');
  const wsClosed = closed(ws);
  const slow = fetchText(`${base}/slow`);
  await requestArrived;

  cli.signal('SIGTERM');
  const draining = await cli.waitForEvent('draining');
  expect(draining).toMatchObject({ inFlight: 1, websockets: 1 });
  expect(await wsClosed).toEqual({ code: 1001, reason: 'gateway shutting down' });
  // While the drain runs, readiness fails so a balancer stops sending traffic.
  const ready = await fetch(`http://127.0.0.1:${admin}/readyz`);
  expect(ready.status).toBe(503);

  held!.end('slow but complete');
  expect(await slow).toEqual({ status: 200, body: 'slow but complete' });
  expect(await cli.closed).toEqual({ code: 0, signal: null });
  const events = cli.logs.map((l) => l.event);
  expect(events).toContain('stopped');
  expect(events.indexOf('draining')).toBeLessThan(events.indexOf('stopped'));
  expect(cli.logs.find((l) => l.event === 'ws_close')).toMatchObject({ code: 1001, initiator: 'gateway' });
  expect(cli.logs.find((l) => l.event === 'http_request' && l.path === '/slow')).toMatchObject({ status: 200 });
});

test('SIGINT stops an idle gateway with exit 0', async () => {
  const cli = startCli(['start', '-c', writeConfig('wsgate.yaml', appConfig('http://127.0.0.1:1'))]);
  await cli.ports();
  cli.signal('SIGINT');
  expect(await cli.closed).toEqual({ code: 0, signal: null });
  expect(cli.logs.map((l) => l.event)).toEqual(expect.arrayContaining(['draining', 'stopped']));
});

test('a second SIGTERM during a long drain exits at once', async () => {
  let arrived: () => void = () => undefined;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  // Never answers: without the second signal the drain would run for its full hour.
  const api = await startHttpUpstream(() => arrived());
  const file = writeConfig('wsgate.yaml', appConfig(api.url, 'limits:\n  drainTimeout: 1h\n'));
  const cli = startCli(['start', '-c', file]);
  const { listeners } = await cli.ports();
  const stuck = fetch(`http://127.0.0.1:${listeners[0]}/stuck`).then(
    (res) => res.status,
    () => 'failed',
  );
  await requestArrived;

  cli.signal('SIGTERM');
  await cli.waitForEvent('draining');
  cli.signal('SIGTERM');
  const exit = await cli.exited;
  expect(exit.signal).toBeNull();
  expect(exit.code).not.toBe(0);
  expect(cli.logs.map((l) => l.event)).not.toContain('stopped');
  expect(await stuck).toBe('failed');
});

test('start with a config file refuses --port and --admin, which only apply to the demo', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'wsgate.yaml'), 'listen: [{ port: 0, host: 127.0.0.1 }]\nadmin: { listen: "127.0.0.1:0" }\n');
  const result = await runCli(['start', '-c', join(dir, 'wsgate.yaml'), '--port', '9999']);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/--port and --admin apply to the built-in demo only; set listen and admin.listen in .*wsgate\.yaml/);
});
