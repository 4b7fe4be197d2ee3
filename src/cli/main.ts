#!/usr/bin/env node
// cli/main: `wsgate <command>` (SPEC section 1). Parses arguments with node:util and dispatches.
// Exit codes: 0 ok, 1 invalid config or usage, 2 could not start.
import { parseArgs } from 'node:util';

const USAGE = `usage: wsgate <command> [options]

commands:
  start [-c FILE] [--workers N|auto]
                         run the gateway (./wsgate.yaml, else the built-in demo);
                         --workers overrides the file's \`workers\` (auto: one per core)
  validate -c FILE       check a config file and print every problem
  demo [--port N] [--admin HOST:PORT]
                         run the built-in demo: gateway + embedded upstreams + page
                         (also what \`start\` runs when there is no config file)
  connections [--admin URL] [--route R] [--user U] [--limit N] [--watch]
                         list live WebSocket connections (admin API; WSGATE_ADMIN_TOKEN if set);
                         --watch refreshes every second like \`top\`, busiest (messages/s) first;
                         q or Ctrl-C quits
  status [--admin URL]   one-screen summary: routes, upstream targets and their health, open
                         WebSockets per route, requests/s and messages/s, ready or draining
  reload [--admin URL]   ask a running gateway to reload its config file
  bench http|ws URL [--connections N] [--rate R] [--duration 10s] [--size 64b] [--json]
                         load generator: ops/s, MB/s, latency percentiles, errors by kind
                         (wsgate bench --help lists every option)
  help                   this text
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  if (command === 'token') return (await import('./token.js')).tokenCommand(rest);
  if (command === 'hash-key') return (await import('./hash-key.js')).hashKeyCommand(rest);
  // bench takes positionals (http|ws URL) and options of its own: it parses its arguments itself.
  if (command === 'bench') {
    const { benchCommand } = await import('./bench/command.js');
    return benchCommand(rest);
  }
  let values: { config?: string | undefined; workers?: string | undefined; port?: string | undefined; admin?: string | undefined; route?: string | undefined; user?: string | undefined; limit?: string | undefined; watch?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        workers: { type: 'string' },
        port: { type: 'string' },
        admin: { type: 'string' },
        route: { type: 'string' },
        user: { type: 'string' },
        limit: { type: 'string' },
        watch: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`wsgate ${command}: ${(err as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help === true || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (command) {
    case 'start': {
      const { startCommand } = await import('./start.js');
      return startCommand(values.config, values.workers, values);
    }
    case 'validate': {
      const { validateCommand } = await import('./validate.js');
      return validateCommand(values.config);
    }
    case 'demo': {
      const { demoCommand } = await import('./start.js');
      return demoCommand(values);
    }
    case 'connections': {
      if (values.limit !== undefined && !/^[1-9][0-9]*$/.test(values.limit)) {
        process.stderr.write(`wsgate connections: --limit must be a positive integer, got "${values.limit}"\n`);
        return 1;
      }
      const filter = { route: values.route, user: values.user, limit: values.limit };
      if (values.watch === true) {
        const { watchCommand } = await import('./watch.js');
        return watchCommand(values.admin, filter);
      }
      const { connectionsCommand } = await import('./admin-client.js');
      return connectionsCommand(values.admin, filter);
    }
    case 'status': {
      const { statusCommand } = await import('./status.js');
      return statusCommand(values.admin);
    }
    case 'reload': {
      const { reloadCommand } = await import('./admin-client.js');
      return reloadCommand(values.admin);
    }
    default:
      process.stderr.write(`wsgate: unknown command "${command}"\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // `start` and `demo` keep running until a signal; they resolve with -1 to stay alive.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`wsgate: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
