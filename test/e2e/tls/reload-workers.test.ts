// e2e: `wsgate start --workers 2` with an https listener: SIGHUP and POST /api/reload make every
// worker serve a renewed certificate while a wss tunnel opened before stays up (issue 9, item 8).
import { once } from 'node:events';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { expect, onTestFinished, test } from 'vitest';
import { expectEcho, openWs } from '../../helpers/clients.js';
import { startCli, writeConfig, yamlConfig, type CliProcess, type LogLine } from '../../helpers/cli.js';
import { startWsEcho } from '../../helpers/servers.js';
import { tlsDir, type CertFiles } from '../../helpers/tls.js';

// The certificate a fresh TLS handshake gets (each on a new connection, so the workers share them).
async function fingerprintAt(port: number, ca: Buffer): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'secureConnect');
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}

// Resolves once `count` log lines match (lines already printed count).
function linesOf(cli: CliProcess, match: (l: LogLine) => boolean, count: number): Promise<LogLine[]> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = cli.logs.filter(match);
      if (found.length < count) return;
      cli.child.stdout!.off('data', check);
      resolve(found);
    };
    cli.child.stdout!.on('data', check);
    check();
    void cli.closed.then(() => reject(new Error(`wsgate exited; stderr: ${cli.stderr()}`)));
  });
}

test('SIGHUP and POST /api/reload give every worker the renewed certificate; an open wss tunnel stays up', async () => {
  const dir = tlsDir();
  const ca = await dir.ca('ca');
  const versions: CertFiles[] = [];
  for (const name of ['v1', 'v2', 'v3']) versions.push(await dir.leaf(name, ['localhost', '127.0.0.1'], { ca }));
  const live = { cert: join(dir.dir, 'live.pem'), key: join(dir.dir, 'live-key.pem') };
  const install = (v: CertFiles): void => {
    copyFileSync(v.cert, live.cert);
    copyFileSync(v.key, live.key);
  };
  install(versions[0]!);
  const echo = await startWsEcho();
  const text = yamlConfig({ upstreams: { realtime: echo.url }, routes: '  - name: ws\n    match: { path: /* }\n    upstream: realtime\n' })
    .replace('  - { port: 0, host: 127.0.0.1 }', `  - { port: 0, host: 127.0.0.1, tls: { cert: "${live.cert}", key: "${live.key}" } }`);
  const cli = startCli(['start', '-c', writeConfig('wsgate.yaml', text), '--workers', '2']);
  onTestFinished(() => cli.signal('SIGKILL'));
  const { listeners, admin } = await cli.ports();
  const port = listeners[0]!;
  expect(await fingerprintAt(port, ca.pem)).toBe(versions[0]!.fingerprint);

  const tunnel = await openWs(`wss://127.0.0.1:${port}/echo`, undefined, { ca: ca.pem });
  await expectEcho(tunnel, 'before');

  const primaryReloads = (n: number): Promise<LogLine[]> =>
    linesOf(cli, (l) => l.event === 'config_loaded' && l.trigger === 'reload' && l.pid === cli.child.pid, n);
  install(versions[1]!);
  cli.signal('SIGHUP');
  expect((await primaryReloads(1))[0]).toMatchObject({ applied: 2 });
  // Connections are spread over the workers: several fresh ones reach both.
  for (let i = 0; i < 6; i++) expect(await fingerprintAt(port, ca.pem)).toBe(versions[1]!.fingerprint);
  await expectEcho(tunnel, 'after SIGHUP');

  install(versions[2]!);
  const res = await fetch(`http://127.0.0.1:${admin}/api/reload`, { method: 'POST' });
  expect(res.status).toBe(200);
  for (let i = 0; i < 6; i++) expect(await fingerprintAt(port, ca.pem)).toBe(versions[2]!.fingerprint);
  await expectEcho(tunnel, 'after POST /api/reload');
  expect(cli.logs.filter((l) => l.event === 'ws_close')).toEqual([]);
});
