// cli/start: `wsgate start` and `wsgate demo`: run a gateway until SIGTERM/SIGINT (SPEC section 10).
import { existsSync } from 'node:fs';
import { Gateway } from '../server/gateway.js';
import { isConfigUnreadable } from '../config/load.js';
import { loadConfig } from '../config/check.js';
import type { GatewayConfigInput } from '../config/schema.js';
import { startDemoUpstreams } from '../demo/upstreams.js';
import { demoConfig } from '../demo/config.js';
import { formatFileProblems } from './validate.js';

const DEFAULT_FILE = 'wsgate.yaml';

export interface DemoOptions {
  port?: string | undefined;
  admin?: string | undefined;
}

export async function startCommand(file: string | undefined, workers: string | undefined, demo: DemoOptions = {}): Promise<number> {
  if (workers !== undefined && workers !== '1') {
    process.stderr.write(`wsgate start: --workers ${workers}: only 1 worker is available in this version\n`);
    return 1;
  }
  const path = file ?? (existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined);
  if (path === undefined) return demoCommand(demo);
  // The same load and checks as `wsgate validate`, so both report a file alike.
  let result: ReturnType<typeof loadConfig>;
  try {
    result = loadConfig(path);
  } catch (err) {
    if (!isConfigUnreadable(err)) throw err;
    process.stderr.write(`wsgate start: ${err.message}\n`);
    return 2;
  }
  if (result.config === null) {
    process.stderr.write(formatFileProblems(path, result.problems));
    return 1;
  }
  return run(result.config, null, () => {
    // SIGHUP and POST /api/reload read the file again; problems travel on the error.
    const next = loadConfig(path);
    if (next.config === null) throw Object.assign(new Error(`${path}: ${next.problems.length} problem(s); the running config is unchanged`), { problems: next.problems });
    return next.config;
  });
}

export async function demoCommand(options: DemoOptions = {}): Promise<number> {
  const port = Number(options.port ?? process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`wsgate demo: --port ${options.port}: not a port number\n`);
    return 1;
  }
  const upstreams = await startDemoUpstreams();
  const config = demoConfig(upstreams, port);
  if (options.admin !== undefined) config.admin = { listen: options.admin };
  return run(config, () => upstreams.close());
}

async function run(config: GatewayConfigInput, cleanup: (() => Promise<void>) | null, reloadSource: (() => unknown) | null = null): Promise<number> {
  let gateway: Gateway;
  try {
    gateway = new Gateway(config);
  } catch (err) {
    process.stderr.write(`wsgate: ${(err as Error).message}\n`);
    await cleanup?.();
    return (err as { code?: string }).code === 'CONFIG_UNREADABLE' ? 2 : 1;
  }
  // The handlers go in before listening: the `listening` line is the cue supervisors (and tests)
  // wait for, and a signal that arrives before its handler exists kills the process outright.
  let listening = false;
  let stopping: NodeJS.Signals | null = null;
  const shutDown = (): void => {
    gateway
      .close()
      .then(() => cleanup?.())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping !== null) {
      // A second signal: exit at once.
      process.exit(1);
    }
    stopping = signal;
    if (listening) shutDown();
  };
  let hungUp = false;
  const hangUp = (): void => {
    if (listening) void gateway.reload();
    else hungUp = true;
  };
  process.on('SIGHUP', hangUp);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    await gateway.listen();
  } catch (err) {
    process.off('SIGHUP', hangUp);
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    const where = e.address !== undefined ? ` on ${e.address}:${e.port}` : '';
    process.stderr.write(`wsgate: could not listen${where}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}\n`);
    await cleanup?.();
    return 2;
  }
  gateway.setReloadSource(reloadSource);
  listening = true;
  // Signals that came while the listeners were opening take effect now that they are open.
  if (stopping !== null) shutDown();
  else if (hungUp) void gateway.reload();
  return -1;
}
