// e2e: `wsgate connections` (and its --watch), `wsgate status` and `wsgate reload` against a running
// `wsgate start`, and SIGHUP (SPEC sections 1, 6 and 10), all as real processes.
import { rmSync, writeFileSync } from 'node:fs';
import { expect, onTestFinished, test } from 'vitest';
import { closed, nextMessage, openWs } from '../../helpers/clients.js';
import { ADDED_ROUTE, escapeRegExp, runCli, startCli, writeConfig, yamlConfig, type CliProcess, type LogLine } from '../../helpers/cli.js';
import { startWsEcho } from '../../helpers/servers.js';
import { closedPort, fetchText } from '../../helpers/http.js';

const ROUTES = `  - name: chat
    match: { path: /chat/* }
    upstream: realtime
  - name: hello
    match: { path: /hello }
    respond: { body: hello }
`;

// The echo upstream behind /chat/*, and /hello; `extraRoutes` is appended to the route list.
function chatConfig(echoUrl: string, extraRoutes = '', admin = ''): string {
  return yamlConfig({ upstreams: { realtime: echoUrl }, routes: ROUTES + extraRoutes, admin });
}

// The `config_loaded` line of the config with `routes` routes: a gateway also logs one at start.
function loadedWithRoutes(cli: CliProcess, routes: number): Promise<LogLine> {
  const find = (): LogLine | undefined => cli.logs.find((l) => l.event === 'config_loaded' && l.routes === routes);
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = find();
      if (found === undefined) return;
      cli.child.stdout?.off('data', check);
      resolve(found);
    };
    // Listeners run in order: the helper's own, which parses the lines into `logs`, comes first.
    cli.child.stdout?.on('data', check);
    void cli.closed.then((e) => reject(new Error(`wsgate exited (code ${e.code}) before config_loaded with ${routes} routes; stderr: ${cli.stderr()}`)));
    check();
  });
}

interface Running {
  cli: CliProcess;
  file: string;
  base: string;
  wsBase: string;
  admin: string;
}

async function startGatewayProcess(text: string): Promise<Running> {
  const file = writeConfig('wsgate.yaml', text);
  const cli = startCli(['start', '-c', file]);
  const { listeners, admin } = await cli.ports();
  return { cli, file, base: `http://127.0.0.1:${listeners[0]}`, wsBase: `ws://127.0.0.1:${listeners[0]}`, admin: `http://127.0.0.1:${admin}` };
}

test('wsgate connections prints the live WebSockets as a table', async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  const ws = await openWs(`${gw.wsBase}/chat/room`);
  for (const text of ['one', 'two']) {
    ws.send(text);
    await nextMessage(ws);
  }
  const opened = await gw.cli.waitForEvent('ws_open');

  const run = await runCli(['connections', '--admin', gw.admin]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(3);
  expect(lines[0]).toMatch(/^ID\s+ROUTE\s+USER\s+CLIENT\s+AGE\s+MSGS IN\s+MSGS OUT$/);
  expect(lines[1]!.split(/\s{2,}/)).toEqual([opened.id, 'chat', '-', '127.0.0.1', expect.stringMatching(/^\d+s$/), '2', '2']);
  expect(lines[2]).toBe('1 shown, 1 live');

  const filtered = await runCli(['connections', '--admin', gw.admin, '--route', 'hello']);
  expect(filtered.code).toBe(0);
  expect(filtered.stdout.trimEnd().split('\n')).toEqual([expect.stringMatching(/^ID\s+ROUTE/), '0 shown, 1 live']);
});

test('wsgate reload applies the edited config file: exit 0, and the new route answers', async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  const ws = await openWs(`${gw.wsBase}/chat/room`);
  let wsCloses = 0;
  ws.on('close', () => wsCloses++);
  expect((await fetchText(`${gw.base}/added`)).status).toBe(404);

  writeFileSync(gw.file, chatConfig(echo.url, ADDED_ROUTE));
  const run = await runCli(['reload', '--admin', gw.admin]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^reloaded: 3 routes, 1 upstreams; 0 WebSockets will get 1012/);
  expect(await fetchText(`${gw.base}/added`)).toEqual({ status: 200, body: 'added by reload' });
  expect(await loadedWithRoutes(gw.cli, 3)).toMatchObject({ routes: 3, orphanedWebSockets: 0 });

  // The WebSocket opened before the reload carries on.
  ws.send('after the reload');
  expect((await nextMessage(ws)).data.toString()).toBe('after the reload');
  expect(wsCloses).toBe(0);
});

test('wsgate reload of an invalid config file exits 1 printing each problem path, and the running config stays', async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  writeFileSync(gw.file, chatConfig(echo.url, ADDED_ROUTE).replace('upstream: realtime', 'upstream: realtim'));

  const run = await runCli(['reload', '--admin', gw.admin]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^wsgate reload: CONFIG_REJECTED: /);
  expect(lines).toContain('  routes[0].upstream: unknown upstream "realtim" (did you mean "realtime"?)');
  expect(await gw.cli.waitForEvent('config_rejected')).toMatchObject({ level: 'warn' });

  expect((await fetchText(`${gw.base}/added`)).status).toBe(404);
  expect(await fetchText(`${gw.base}/hello`)).toEqual({ status: 200, body: 'hello' });
  const ws = await openWs(`${gw.wsBase}/chat/room`);
  ws.send('old config');
  expect((await nextMessage(ws)).data.toString()).toBe('old config');

  // A config file that is gone is reported the same way.
  rmSync(gw.file);
  const missing = await runCli(['reload', '--admin', gw.admin]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe(`wsgate reload: CONFIG_REJECTED: cannot read config file ${gw.file}: no such file\n`);
  expect(await fetchText(`${gw.base}/hello`)).toEqual({ status: 200, body: 'hello' });
});

test('SIGHUP re-reads the config file and applies it; an invalid file is rejected and the gateway keeps running', async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  const ws = await openWs(`${gw.wsBase}/chat/room`);

  writeFileSync(gw.file, 'routes: [\n');
  gw.cli.signal('SIGHUP');
  expect(await gw.cli.waitForEvent('config_rejected')).toMatchObject({ level: 'warn' });
  expect(await fetchText(`${gw.base}/hello`)).toEqual({ status: 200, body: 'hello' });

  writeFileSync(gw.file, chatConfig(echo.url, ADDED_ROUTE));
  gw.cli.signal('SIGHUP');
  expect(await loadedWithRoutes(gw.cli, 3)).toMatchObject({ level: 'info', routes: 3 });
  expect(await fetchText(`${gw.base}/added`)).toEqual({ status: 200, body: 'added by reload' });

  ws.send('still relayed');
  expect((await nextMessage(ws)).data.toString()).toBe('still relayed');
  // The process is still the gateway: SIGTERM stops it as usual.
  const wsClosed = closed(ws);
  gw.cli.signal('SIGTERM');
  expect(await wsClosed).toEqual({ code: 1001, reason: 'gateway shutting down' });
  expect(await gw.cli.closed).toEqual({ code: 0, signal: null });
});

test('a SIGHUP sent as soon as the listening line appears reloads rather than killing the process', async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  writeFileSync(gw.file, chatConfig(echo.url, ADDED_ROUTE));
  gw.cli.signal('SIGHUP');
  expect(await loadedWithRoutes(gw.cli, 3)).toMatchObject({ routes: 3 });
  expect(await fetchText(`${gw.base}/added`)).toEqual({ status: 200, body: 'added by reload' });
});

test('wsgate connections (with or without --watch), status and reload exit 2 with one line when nothing listens at the admin address', { timeout: 30_000 }, async () => {
  const port = await closedPort();
  const admin = `http://127.0.0.1:${port}`;
  const connections = await runCli(['connections', '--admin', admin]);
  expect(connections.code).toBe(2);
  expect(connections.stdout).toBe('');
  expect(connections.stderr).toMatch(new RegExp(`^wsgate connections: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: [^\\n]+\\n$`));

  const reload = await runCli(['reload', '--admin', admin]);
  expect(reload.code).toBe(2);
  expect(reload.stderr).toMatch(new RegExp(`^wsgate reload: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: [^\\n]+\\n$`));

  const status = await runCli(['status', '--admin', admin]);
  expect(status.code).toBe(2);
  expect(status.stdout).toBe('');
  expect(status.stderr).toMatch(new RegExp(`^wsgate status: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: [^\\n]+\\n$`));

  const watch = await runCli(['connections', '--watch', '--admin', admin]);
  expect(watch.code).toBe(2);
  expect(watch.stdout).toBe('');
  expect(watch.stderr).toMatch(new RegExp(`^wsgate connections: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: [^\\n]+\\n$`));
});

test('wsgate connections (and --watch) and wsgate status send WSGATE_ADMIN_TOKEN as the bearer token; without it a protected gateway answers 401 and they exit 1', { timeout: 30_000 }, async () => {
  const echo = await startWsEcho();
  const token = 'e2e-admin-token-7d1c';
  const gw = await startGatewayProcess(chatConfig(echo.url, '', `  token: ${token}\n`));
  await openWs(`${gw.wsBase}/chat/room`);

  const denied = await runCli(['connections', '--admin', gw.admin]);
  expect(denied.code).toBe(1);
  expect(denied.stderr).toMatch(new RegExp(`^wsgate connections: ${gw.admin.replace(/[.]/g, '\\.')} answered 401: UNAUTHORIZED: [^\\n]+\\n$`));
  const deniedWatch = await runCli(['connections', '--watch', '--admin', gw.admin]);
  expect(deniedWatch.code).toBe(1);
  expect(deniedWatch.stderr).toMatch(new RegExp(`^wsgate connections: ${escapeRegExp(gw.admin)} answered 401: UNAUTHORIZED: [^\\n]+\\n$`));
  const deniedStatus = await runCli(['status', '--admin', gw.admin]);
  expect(deniedStatus.code).toBe(1);
  expect(deniedStatus.stderr).toMatch(new RegExp(`^wsgate status: ${escapeRegExp(gw.admin)} answered 401: UNAUTHORIZED: [^\\n]+\\n$`));

  // The child inherits this process's environment.
  const before = process.env.WSGATE_ADMIN_TOKEN;
  process.env.WSGATE_ADMIN_TOKEN = token;
  onTestFinished(() => {
    if (before === undefined) delete process.env.WSGATE_ADMIN_TOKEN;
    else process.env.WSGATE_ADMIN_TOKEN = before;
  });
  const allowed = await runCli(['connections', '--admin', gw.admin]);
  expect(allowed.code).toBe(0);
  expect(allowed.stdout.trimEnd().split('\n').at(-1)).toBe('1 shown, 1 live');
  const status = await runCli(['status', '--admin', gw.admin]);
  expect(status.stderr).toBe('');
  expect(status.code).toBe(0);
  expect(status.stdout).toContain('connections: 1 open\n');
});

// Resolves with stdout once `done(stdout)` holds, checked on each chunk the child prints.
function stdoutUntil(cli: CliProcess, done: (stdout: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!done(cli.stdout())) return;
      cli.child.stdout?.off('data', check);
      resolve(cli.stdout());
    };
    cli.child.stdout?.on('data', check);
    void cli.closed.then((e) => reject(new Error(`wsgate exited (code ${e.code}) first; stdout: ${cli.stdout()} stderr: ${cli.stderr()}`)));
    check();
  });
}

test('wsgate status prints the routes, each upstream target with its health, open WebSockets and rates', async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  expect(await fetchText(`${gw.base}/hello`)).toEqual({ status: 200, body: 'hello' });
  const ws = await openWs(`${gw.wsBase}/chat/room`);
  ws.send('traffic');
  await nextMessage(ws);
  await gw.cli.waitForEvent('ws_open');

  const run = await runCli(['status', '--admin', gw.admin]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe(`wsgate at ${gw.admin}: ready`);
  expect(lines).toContain('routes (2): chat, hello');
  expect(lines).toContain('upstreams (1):');
  expect(lines).toContainEqual(expect.stringMatching(/^ {2}realtime \(\S+\): 1\/1 healthy$/));
  const port = new URL(echo.url).port;
  expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^    \\S+://127\\.0\\.0\\.1:${port}\\S*  healthy  1 WebSocket, 0 in flight$`)));
  expect(lines).toContain('connections: 1 open');
  expect(lines).toContain('  chat: 1');
  expect(lines.at(-1)).toMatch(/^rates: \d+\.\d requests\/s, \d+\.\d messages\/s$/);
});

test('wsgate connections --watch with stdout not a terminal prints a plain snapshot a second, until stopped', { timeout: 15_000 }, async () => {
  const echo = await startWsEcho();
  const gw = await startGatewayProcess(chatConfig(echo.url));
  const ws = await openWs(`${gw.wsBase}/chat/room`);
  ws.send('counted');
  await nextMessage(ws);
  const opened = await gw.cli.waitForEvent('ws_open');

  const watch = startCli(['connections', '--watch', '--admin', gw.admin, '--route', 'chat', '--limit', '10']);
  const stdout = await stdoutUntil(watch, (out) => out.split('\n\n').length >= 3); // two complete snapshots, each ending in a blank line
  expect(stdout).not.toContain('\x1b');
  const [first, second] = stdout.split('\n\n');
  for (const snapshot of [first!, second!]) {
    const lines = snapshot.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^wsgate connections at ${escapeRegExp(gw.admin)}  \\d\\d:\\d\\d:\\d\\d  1 shown, 1 live$`));
    expect(lines[1]).toMatch(/^ID\s+ROUTE\s+CLIENT\s+USER\s+(PATH\s+)?AGE\s+MSG\/S\s+MSGS IN\s+MSGS OUT\s+BYTES IN\s+BYTES OUT$/);
    expect(lines[2]).toMatch(new RegExp(`^${opened.id as string}\\s+chat\\s+127\\.0\\.0\\.1\\S*\\s+-\\s+.*\\s1\\s+1\\s+\\d+(\\.\\d)?k?B\\s+\\d+(\\.\\d)?k?B$`));
    expect(lines).toHaveLength(3);
  }
  // msg/s needs two fetches: unknown in the first snapshot, a number from the second on.
  expect(first!.split('\n')[2]!.split(/\s{2,}/)).toContain('-');
  expect(second!.split('\n')[2]).toMatch(/\s\d+\.\d\s/);

  watch.signal('SIGTERM');
  expect(await watch.closed).toEqual({ code: 0, signal: null });
  expect(watch.stderr()).toBe('');
});
