// cli/start: `wsgate start` and `wsgate demo`: run a gateway until SIGTERM/SIGINT (SPEC section 10).
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { Gateway } from '../server/gateway.js';
import { describeListenError } from '../server/listener.js';
import { runWorker } from '../server/worker.js';
import { runPrimary, workerCount } from '../server/workers.js';
import { isConfigUnreadable } from '../config/load.js';
import { loadConfig } from '../config/check.js';
import { configSchema, type GatewayConfig, type GatewayConfigInput } from '../config/schema.js';
import { startDemoUpstreams } from '../demo/upstreams.js';
import { demoConfig } from '../demo/config.js';
import { formatFileProblems } from './validate.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { DEFAULT_WARMUP, MAX_WARMUP_MS, type WarmupOption } from '../server/warmup.js';

const DEFAULT_FILE = 'wsgate.yaml';

export interface DemoOptions {
  port?: string | undefined;
  admin?: string | undefined;
}

// `--warmup D`: milliseconds, or null when D is not a duration from 0s to MAX_WARMUP_MS (then
// WARMUP_FLAG_FIX says what to write); absent, the default.
export const WARMUP_FLAG_FIX = `write a duration from 0s to ${formatDuration(MAX_WARMUP_MS)}, e.g. 1s or 500ms`;
export function parseWarmupFlag(text: string | undefined): number | null {
  if (text === undefined) return DEFAULT_WARMUP.budgetMs;
  const ms = parseDuration(text);
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_WARMUP_MS ? ms : null;
}

// `warmupMs`: the start-up warm-up's budget for a gateway run from a file (`--warmup`, 0: none); the
// built-in demo starts without it.
export async function startCommand(file: string | undefined, workers: string | undefined, demo: DemoOptions = {}, warmupMs: number = DEFAULT_WARMUP.budgetMs): Promise<number> {
  const warmup = warmupMs > 0 ? { budgetMs: warmupMs } : false;
  // A cluster worker runs this same command line; the primary hands it its config over IPC.
  if (cluster.isWorker) return runWorker(warmup);
  const flag = workers === undefined ? undefined : parseWorkersFlag(workers);
  if (flag === null) {
    process.stderr.write(`wsgate start: --workers ${workers}: write a whole number from 1 to 256, or auto\n`);
    return 1;
  }
  const path = file ?? (existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined);
  if (path !== undefined && (demo.port !== undefined || demo.admin !== undefined)) {
    // Ports of a config file live in the file (listen, admin.listen); ignoring the flags would surprise.
    process.stderr.write(`wsgate start: --port and --admin apply to the built-in demo only; set listen and admin.listen in ${path}\n`);
    return 1;
  }
  if (path === undefined) {
    // The demo's upstreams live in this process: N copies of them would be N different chat rooms.
    if (flag !== undefined && workerCount(flag) > 1) {
      process.stderr.write(`wsgate start: --workers ${workers}: the built-in demo runs in one process; give a config file with -c\n`);
      return 1;
    }
    return demoCommand(demo);
  }
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
    // An unreadable certificate is "could not start" (2); anything else wrong is an invalid config (1).
    return result.problems.some((p) => p.unreadable === true) ? 2 : 1;
  }
  const reloadSource = (): GatewayConfig => {
    // SIGHUP and POST /api/reload read the file again; problems travel on the error.
    const next = loadConfig(path);
    if (next.config === null) throw Object.assign(new Error(`${path}: ${next.problems.length} problem(s); the running config is unchanged`), { problems: next.problems });
    return next.config;
  };
  // --workers overrides the file; 1 is one process, without node:cluster.
  const count = workerCount(flag ?? result.config.workers);
  return count === 1 ? run(result.config, null, reloadSource, warmup) : runPrimary(result.config, count, reloadSource);
}

// `--workers N|auto`, checked by the schema's own rule for `workers`; null when it is neither.
function parseWorkersFlag(text: string): number | 'auto' | null {
  if (text !== 'auto' && !/^[0-9]+$/.test(text)) return null;
  const parsed = configSchema.shape.workers.safeParse(text === 'auto' ? text : Number(text));
  return parsed.success ? parsed.data : null;
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

async function run(config: GatewayConfigInput, cleanup: (() => Promise<void>) | null, reloadSource: (() => unknown) | null = null, warmup: WarmupOption = false): Promise<number> {
  let gateway: Gateway;
  try {
    gateway = new Gateway(config, { defaultMetrics: true, warmup });
  } catch (err) {
    process.stderr.write(`wsgate: ${(err as Error).message}\n`);
    await cleanup?.();
    return isConfigUnreadable(err) ? 2 : 1;
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
    process.stderr.write(`wsgate: ${describeListenError(err)}\n`);
    await cleanup?.();
    return 2;
  }
  gateway.setReloadSource(reloadSource);
  listening = true;
  // Signals that came while the listeners were opening take effect now that they are open (the
  // handlers set these during the await, which the type checker's narrowing cannot see).
  /* eslint-disable @typescript-eslint/no-unnecessary-condition */
  if (stopping !== null) shutDown();
  else if (hungUp) void gateway.reload();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  return -1;
}
