// e2e: `workers: N` / `wsgate start --workers N` (SPEC section 10): cluster workers share the
// listeners, the primary's admin API covers all of them, signals drain and reload them all, and a
// worker that dies is started again.
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { expect, test } from 'vitest';
import { closed, nextMessage, openWs } from '../../helpers/clients.js';
import { ADDED_ROUTE, runCli, startCli, writeConfig, yamlConfig, type CliProcess, type LogLine } from '../../helpers/cli.js';
import { occupiedPort } from '../../helpers/http.js';
import { startHttpUpstream, startWsEcho, type WsUpstream } from '../../helpers/servers.js';

const ROUTES = `  - name: ws
    match: { path: /ws/* }
    upstream: realtime
  - name: api
    match: { path: /* }
    upstream: api
`;

// Every listener on port 0: with cluster, all workers share the one port the first of them got.
function clusterConfig(apiUrl: string, echoUrl: string, extra = ''): string {
  return yamlConfig({ upstreams: { api: apiUrl, realtime: echoUrl }, routes: ROUTES, extra });
}

interface Running {
  cli: CliProcess;
  file: string;
  port: number;
  admin: string;
  listening: LogLine;
}

async function startWorkers(text: string, args: string[] = ['--workers', '2']): Promise<Running> {
  const file = writeConfig('wsgate.yaml', text);
  const cli = startCli(['start', '-c', file, ...args]);
  const { listeners, admin } = await cli.ports();
  return { cli, file, port: listeners[0]!, admin: `http://127.0.0.1:${admin}`, listening: await cli.waitForEvent('listening') };
}

async function startUpstreams(): Promise<{ api: string; echo: string; echoServer: WsUpstream }> {
  const api = await startHttpUpstream((req, res) => res.end(`api ${req.url}`));
  const echo = await startWsEcho();
  return { api: api.url, echo: echo.url, echoServer: echo };
}

// A GET on a new connection each time: cluster hands out connections, not requests.
function getFresh(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function admin(running: Running, method: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${running.admin}${path}`, { method });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// Resolves once `count` log lines match (lines already printed count).
function waitForLines(cli: CliProcess, match: (l: LogLine) => boolean, count = 1): Promise<LogLine[]> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const found = cli.logs.filter(match);
      if (found.length < count) return false;
      cli.child.stdout!.off('data', check);
      resolve(found);
      return true;
    };
    if (check()) return;
    // The helper's own 'data' listener came first, so cli.logs already holds this chunk's lines.
    cli.child.stdout!.on('data', check);
    void cli.closed.then(() => {
      if (!check()) reject(new Error(`wsgate exited with ${cli.logs.filter(match).length} of ${count} matching lines; stderr: ${cli.stderr()}`));
    });
  });
}

function pidsOf(lines: LogLine[]): Set<unknown> {
  return new Set(lines.map((l) => l.pid));
}

test('--workers 2 runs two workers on one port: requests on fresh connections are answered by both', async () => {
  const up = await startUpstreams();
  const gw = await startWorkers(clusterConfig(up.api, up.echo, 'workers: 1\n')); // the flag overrides the file
  expect(gw.listening).toMatchObject({ workers: 2, admin: { host: '127.0.0.1' }, listeners: [{ port: gw.port }] });
  const workerPids = gw.listening.workerPids as number[];
  expect(workerPids).toHaveLength(2);
  expect(workerPids).not.toContain(gw.cli.child.pid);

  for (let i = 0; i < 10; i++) expect(await getFresh(gw.port, `/spread/${i}`)).toEqual({ status: 200, body: `api /spread/${i}` });
  const lines = await waitForLines(gw.cli, (l) => l.event === 'http_request' && String(l.path).startsWith('/spread/'), 10);
  // Each worker logs its own requests, with its pid and worker id.
  expect(pidsOf(lines)).toEqual(new Set(workerPids));
  expect(new Set(lines.map((l) => l.worker))).toEqual(new Set([1, 2]));
  expect((await fetch(`${gw.admin}/readyz`)).status).toBe(200);
  const upstreams = await admin(gw, 'GET', '/api/upstreams');
  expect(upstreams.body).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'api', targets: [expect.objectContaining({ url: up.api, healthy: true, inFlightRequests: 0 })] })]));
  // /metrics sums both workers' counters; healthy is the minimum over workers, not a sum.
  const metrics = await (await fetch(`${gw.admin}/metrics`)).text();
  expect(metrics).toContain('wsgate_http_requests_total{route="api",method="GET",status="200"} 10');
  expect(metrics).toContain(`wsgate_upstream_healthy{upstream="api",target="${up.api}"} 1`);
});

test('the primary lists the WebSockets of every worker, finds and closes one by id, and drains them all on SIGTERM', async () => {
  const up = await startUpstreams();
  const gw = await startWorkers(clusterConfig(up.api, up.echo));
  const clients = [];
  for (let i = 0; i < 4; i++) {
    const ws = await openWs(`ws://127.0.0.1:${gw.port}/ws/${i}`);
    ws.send(`hello ${i}`);
    expect((await nextMessage(ws)).data.toString()).toBe(`hello ${i}`);
    clients.push(ws);
  }
  const opened = await waitForLines(gw.cli, (l) => l.event === 'ws_open', 4);

  const list = await admin(gw, 'GET', '/api/connections');
  expect(list.status).toBe(200);
  expect(list.body.total).toBe(4);
  const connections = list.body.connections as { id: string; route: string; worker: number }[];
  expect(connections).toHaveLength(4);
  expect(new Set(connections.map((c) => c.id))).toEqual(new Set(opened.map((l) => l.id)));
  expect(new Set(connections.map((c) => c.worker))).toEqual(new Set([1, 2]));
  // The limit applies to the merged list; total still counts every worker's tunnels.
  const limited = await admin(gw, 'GET', '/api/connections?limit=3');
  expect(limited.body).toMatchObject({ total: 4 });
  expect(limited.body.connections).toHaveLength(3);
  const upstreams = (await admin(gw, 'GET', '/api/upstreams')).body as unknown as { name: string; targets: { activeConnections: number }[] }[];
  expect(upstreams.find((u) => u.name === 'realtime')!.targets[0]!.activeConnections).toBe(4);

  const id3 = await idOfPath(gw, up.echoServer, '/ws/3');
  const one = await admin(gw, 'GET', `/api/connections/${id3}`);
  expect(one.status).toBe(200);
  expect(one.body).toMatchObject({ id: id3, route: 'ws', worker: opened.find((l) => l.id === id3)!.worker });
  expect((await admin(gw, 'GET', '/api/connections/0123456789abcdef')).status).toBe(404);

  const closedOne = closed(clients[3]!);
  const del = await admin(gw, 'DELETE', `/api/connections/${id3}`);
  expect(del).toEqual({ status: 202, body: { status: 'closing', id: id3, code: 1008, reason: 'closed by operator' } });
  expect(await closedOne).toEqual({ code: 1008, reason: 'closed by operator' });
  await waitForLines(gw.cli, (l) => l.event === 'ws_close' && l.id === id3);
  expect((await admin(gw, 'DELETE', `/api/connections/${id3}`)).status).toBe(404);
  expect((await admin(gw, 'GET', '/api/connections')).body.total).toBe(3);

  const drained = clients.slice(0, 3).map((ws) => closed(ws));
  gw.cli.signal('SIGTERM');
  expect(await Promise.all(drained)).toEqual(Array(3).fill({ code: 1001, reason: 'gateway shutting down' }));
  expect(await gw.cli.closed).toEqual({ code: 0, signal: null });
  const primaryPid = gw.cli.child.pid;
  expect(gw.cli.logs.find((l) => l.event === 'draining' && l.pid === primaryPid)).toMatchObject({ workers: 2 });
  // Each worker drains and stops; the primary's `stopped` comes last.
  expect(pidsOf(gw.cli.logs.filter((l) => l.event === 'stopped' && l.pid !== primaryPid))).toEqual(new Set(gw.listening.workerPids as number[]));
  expect(gw.cli.logs.at(-1)).toMatchObject({ event: 'stopped', pid: primaryPid });
});

// The id of the tunnel opened for `path`: the upstream saw the handshake's X-Request-Id, which the
// worker's ws_open line carries too.
async function idOfPath(gw: Running, echo: WsUpstream, path: string): Promise<string> {
  const requestId = echo.handshakes.find((h) => h.url === path)!.headers['x-request-id'];
  const [open] = await waitForLines(gw.cli, (l) => l.event === 'ws_open' && l.requestId === requestId);
  return String(open!.id);
}

test('POST /api/reload reaches every worker; an invalid file is refused by the primary and no worker is touched', async () => {
  const up = await startUpstreams();
  // `workers` from the file, no flag.
  const gw = await startWorkers(clusterConfig(up.api, up.echo, 'workers: 2\n'), []);
  expect(gw.listening).toMatchObject({ workers: 2 });
  expect(await getFresh(gw.port, '/added')).toEqual({ status: 200, body: 'api /added' });

  writeFileSync(gw.file, clusterConfig(up.api, up.echo, `${ADDED_ROUTE}workers: 2\n`));
  const ok = await admin(gw, 'POST', '/api/reload');
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ status: 'reloaded', message: expect.stringMatching(/^3 routes, 2 upstreams; .* \(on each of 2 workers\)$/) as unknown });
  // The primary wrote the cluster's config_loaded at start, before its listening line (issue 10, item 2).
  const primaryPid = gw.cli.child.pid;
  const startLines = gw.cli.logs.filter((l) => l.event === 'config_loaded' && l.trigger === 'start');
  expect(startLines).toEqual([expect.objectContaining({ pid: primaryPid, trigger: 'start', routes: 2, upstreams: 2, workers: 2, hash: expect.stringMatching(/^[0-9a-f]{12}$/) as unknown })]);
  expect(gw.cli.logs.findIndex((l) => l.event === 'config_loaded')).toBeLessThan(gw.cli.logs.findIndex((l) => l.event === 'listening'));
  const workerReload = (l: LogLine): boolean => l.event === 'config_loaded' && l.pid !== primaryPid;
  expect(pidsOf(await waitForLines(gw.cli, workerReload, 2))).toEqual(new Set(gw.listening.workerPids as number[]));
  // Once every worker took it, one line from the primary, with the hash the workers logged.
  const [primaryReload] = await waitForLines(gw.cli, (l) => l.event === 'config_loaded' && l.pid === primaryPid && l.trigger === 'reload');
  expect(primaryReload).toMatchObject({ routes: 3, upstreams: 2, workers: 2, applied: 2, hash: gw.cli.logs.find(workerReload)!.hash });
  expect(primaryReload!.hash).not.toBe(startLines[0]!.hash);
  for (let i = 0; i < 6; i++) expect(await getFresh(gw.port, '/added')).toEqual({ status: 200, body: 'added by reload' });
  const served = await waitForLines(gw.cli, (l) => l.event === 'http_request' && l.route === 'added', 6);
  expect(pidsOf(served).size).toBe(2);

  writeFileSync(gw.file, clusterConfig(up.api, up.echo, `${ADDED_ROUTE}workers: 2\n`).replace('upstream: realtime', 'upstream: realtim'));
  const refused = await admin(gw, 'POST', '/api/reload');
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({
    error: { code: 'CONFIG_REJECTED', problems: [{ path: 'routes[0].upstream', message: 'unknown upstream "realtim" (did you mean "realtime"?)' }] },
  });
  const rejected = await waitForLines(gw.cli, (l) => l.event === 'config_rejected');
  expect(rejected).toEqual([expect.objectContaining({ pid: gw.cli.child.pid, level: 'warn' })]);
  expect(rejected[0]).not.toHaveProperty('worker');
  for (let i = 0; i < 4; i++) expect(await getFresh(gw.port, '/added')).toEqual({ status: 200, body: 'added by reload' });
  const routes = (await admin(gw, 'GET', '/api/routes')).body as unknown as { name: string }[];
  expect(routes.map((r) => r.name)).toEqual(['ws', 'api', 'added']);
  // The refused file wrote none: the primary's start line, then the workers' and the primary's reload lines.
  expect(gw.cli.logs.filter((l) => l.event === 'config_loaded')).toHaveLength(1 + 2 + 1);

  // SIGHUP to the primary reloads every worker the same way.
  writeFileSync(gw.file, clusterConfig(up.api, up.echo, 'workers: 2\n'));
  gw.cli.signal('SIGHUP');
  const hup = await waitForLines(gw.cli, workerReload, 4);
  expect(pidsOf(hup.slice(2))).toEqual(new Set(gw.listening.workerPids as number[]));
  // Back to the file it started with: the same hash as at start, from the workers and the primary.
  const hupPrimary = await waitForLines(gw.cli, (l) => l.event === 'config_loaded' && l.pid === primaryPid && l.trigger === 'reload', 2);
  expect(hupPrimary[1]!.hash).toBe(startLines[0]!.hash);
  for (const l of hup.slice(2)) expect(l.hash).toBe(startLines[0]!.hash);
  for (let i = 0; i < 4; i++) expect(await getFresh(gw.port, '/added')).toEqual({ status: 200, body: 'api /added' });
});

test('a worker killed with SIGKILL is started again, logged as WORKER_EXITED, and traffic goes on', async () => {
  const up = await startUpstreams();
  const gw = await startWorkers(clusterConfig(up.api, up.echo));
  const [first, second] = gw.listening.workerPids as number[];
  process.kill(first!, 'SIGKILL');

  const [exited] = await waitForLines(gw.cli, (l) => l.event === 'error' && l.code === 'WORKER_EXITED');
  expect(exited).toMatchObject({ level: 'error', worker: 1, workerPid: first, exitCode: null, signal: 'SIGKILL', restartInMs: 1000, pid: gw.cli.child.pid });
  // Meanwhile the other worker takes every connection.
  for (let i = 0; i < 4; i++) expect(await getFresh(gw.port, `/meanwhile/${i}`)).toEqual({ status: 200, body: `api /meanwhile/${i}` });
  const [again] = await waitForLines(gw.cli, (l) => l.event === 'listening' && l.restarted === true);
  expect(again).toMatchObject({ worker: 1, listeners: [{ port: gw.port }] });
  const restartedPid = again!.workerPid as number;
  expect([first, second]).not.toContain(restartedPid);

  for (let i = 0; i < 10; i++) expect(await getFresh(gw.port, `/after/${i}`)).toEqual({ status: 200, body: `api /after/${i}` });
  const after = await waitForLines(gw.cli, (l) => l.event === 'http_request' && String(l.path).startsWith('/after/'), 10);
  expect(pidsOf(after)).toEqual(new Set([second, restartedPid]));
  expect((await fetch(`${gw.admin}/readyz`)).status).toBe(200);
});

test('a second SIGTERM during a long drain kills the workers and exits at once', async () => {
  let arrived: () => void = () => undefined;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  // Never answers: without the second signal the drain would run for its full hour.
  const api = await startHttpUpstream(() => arrived());
  const gw = await startWorkers(clusterConfig(api.url, 'http://127.0.0.1:1', 'limits:\n  drainTimeout: 1h\n'));
  const stuck = getFresh(gw.port, '/stuck').then(
    (r) => r.status,
    () => 'failed',
  );
  await requestArrived;

  gw.cli.signal('SIGTERM');
  await waitForLines(gw.cli, (l) => l.event === 'draining', 3); // the primary's and each worker's
  gw.cli.signal('SIGTERM');
  const exit = await gw.cli.exited;
  expect(exit.signal).toBeNull();
  expect(exit.code).not.toBe(0);
  expect(await stuck).toBe('failed');
  for (const pid of gw.listening.workerPids as number[]) await waitForExit(pid);
  // The worker without the stuck request may have finished; the primary never did.
  expect(gw.cli.logs.filter((l) => l.event === 'stopped' && l.pid === gw.cli.child.pid)).toEqual([]);
});

// A process that is not our child: poll whether it is gone (signal 0 only checks it exists).
async function waitForExit(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('exits 2 with one line when the workers cannot listen, and 1 on a bad --workers value', async () => {
  const port = await occupiedPort();
  const file = writeConfig('wsgate.yaml', clusterConfig('http://127.0.0.1:1', 'http://127.0.0.1:1').replace('{ port: 0, host: 127.0.0.1 }', `{ port: ${port}, host: 127.0.0.1 }`));
  const busy = await runCli(['start', '-c', file, '--workers', '2']);
  expect(busy.code).toBe(2);
  expect(busy.stderr).toBe(`wsgate: could not listen on 127.0.0.1:${port}: address already in use\n`);

  for (const bad of ['0', '257', 'two', '1.5']) {
    const run = await runCli(['start', '-c', file, '--workers', bad]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`wsgate start: --workers ${bad}: write a whole number from 1 to 256, or auto\n`);
  }
}, 60_000); // a cluster and four more CLI processes, one after another

test('every worker runs with the young generation capped (src/server/heap-tuning.ts)', async () => {
  const { api, echo } = await startUpstreams();
  const { cli, listening } = await startWorkers(clusterConfig(api, echo));
  const pids = listening.workerPids as number[];
  expect(pids).toHaveLength(2);
  for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=8');
  cli.signal('SIGTERM');
  expect((await cli.exited).code).toBe(0);
});
