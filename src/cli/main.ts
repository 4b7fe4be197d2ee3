#!/usr/bin/env node
// cli/main: `wsgate <command>` (SPEC section 1): the table of commands (each with its help text and
// options), `--version`, `--help`, and dispatch; each command's work lives in its own module.
// Exit codes: 0 ok, 1 invalid config or usage, 2 could not start.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BENCH_USAGE } from './bench/options.js';
import { HASH_KEY_HELP } from './hash-key.js';
import { TOKEN_HELP } from './token.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

interface Command {
  // `wsgate --help` shows these two: the arguments, then a line or two on what it does.
  synopsis: string;
  summary: string;
  // What `wsgate COMMAND --help` prints.
  help: string;
  // Parsed strictly (an unknown option is a usage error); `--help`/`-h` is added to each. null: the
  // command parses its own arguments, --help included (bench: positionals and repeatable options).
  options: Options | null;
  run(values: Values, argv: string[]): Promise<number>;
}

const ADMIN_OPTION = {
  text: '      --admin URL        the gateway\'s admin API (default http://127.0.0.1:9901);\n' +
    '                         WSGATE_ADMIN_TOKEN, when set, is sent as its bearer token\n',
  options: { admin: { type: 'string' } },
} as const;
const HELP_LINE = '  -h, --help             this text\n';

function str(value: Values[string]): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

// One entry per command, in the order `wsgate --help` lists them. A new command is one more entry:
// its help, its options, and a run() that imports its module.
const COMMANDS: Record<string, Command> = {
  start: {
    synopsis: 'start [-c FILE] [--workers N|auto] [--warmup D|--no-warmup]',
    summary: 'run the gateway (./wsgate.yaml, else the built-in demo)',
    help: `usage: wsgate start [-c FILE] [--workers N|auto] [--warmup D|--no-warmup]

Runs the gateway with FILE, or ./wsgate.yaml; with neither, the built-in demo. The process stays in
the foreground and logs JSON lines on stdout. SIGTERM or SIGINT drains (readyz 503, in-flight HTTP
finishes within limits.drainTimeout, WebSockets close with 1001) and exits 0; a second one exits at
once. SIGHUP rereads FILE and swaps the config if it is valid.

  -c, --config FILE      the config file (YAML, or JSON with the same keys)
      --workers N|auto   worker processes, overriding the file's \`workers\` (auto: one per core)
      --warmup D         the start-up warm-up: D of loopback traffic through a private gateway
                         before the listeners open, so the first clients meet compiled code
                         (default 300ms, at most 10s; docs/performance.md#cold-start)
      --no-warmup        skip it (the same as --warmup 0s)
      --port N           the built-in demo only: its port (default $PORT, else 8080)
      --admin HOST:PORT  the built-in demo only: its admin listener (default 127.0.0.1:9901)
${HELP_LINE}
Exit 1 on an invalid config (every problem printed with its path), 2 if it could not start.
`,
    options: {
      config: { type: 'string', short: 'c' },
      workers: { type: 'string' },
      port: { type: 'string' },
      admin: { type: 'string' },
      warmup: { type: 'string' },
      'no-warmup': { type: 'boolean' },
    },
    async run(v) {
      const { startCommand, parseWarmupFlag, WARMUP_FLAG_FIX } = await import('./start.js');
      const warmupMs = v['no-warmup'] === true ? 0 : parseWarmupFlag(str(v.warmup));
      if (warmupMs === null) {
        process.stderr.write(`wsgate start: --warmup ${str(v.warmup)}: ${WARMUP_FLAG_FIX}\n`);
        return 1;
      }
      return startCommand(str(v.config), str(v.workers), { port: str(v.port), admin: str(v.admin) }, warmupMs);
    },
  },
  validate: {
    synopsis: 'validate [-c FILE]',
    summary: 'check a config file and print every problem',
    help: `usage: wsgate validate [-c FILE]

Loads FILE (default ./wsgate.yaml) as \`start\` would, \${NAME} references included, and prints every
problem with its path, e.g. routes[2].upstream: unknown upstream "chta" (did you mean "chat"?).

  -c, --config FILE      the config file to check
${HELP_LINE}
Exit 0 when valid, 1 on any problem, 2 if the file cannot be read.
`,
    options: { config: { type: 'string', short: 'c' } },
    async run(v) {
      const { validateCommand } = await import('./validate.js');
      return validateCommand(str(v.config));
    },
  },
  demo: {
    synopsis: 'demo [--port N] [--admin HOST:PORT]',
    summary: 'run the built-in demo: gateway + embedded upstreams + page\n(also what `start` runs when there is no config file)',
    help: `usage: wsgate demo [--port N] [--admin HOST:PORT]

Runs a gateway in front of embedded upstreams: a JSON API under /api/*, a WebSocket echo and a chat
room under /ws/*, /ping, and a page at / that chats through the gateway.

      --port N           the gateway's port (default $PORT, else 8080)
      --admin HOST:PORT  the admin listener (default 127.0.0.1:9901)
${HELP_LINE}`,
    options: { port: { type: 'string' }, admin: { type: 'string' } },
    async run(v) {
      const { demoCommand } = await import('./start.js');
      return demoCommand({ port: str(v.port), admin: str(v.admin) });
    },
  },
  connections: {
    synopsis: 'connections [--admin URL] [--route R] [--user U] [--limit N] [--watch] [--scope cluster]',
    summary: 'list live WebSocket connections (admin API; WSGATE_ADMIN_TOKEN if set);\n--scope cluster lists every instance\'s (with a Redis store);\n--watch refreshes every second like `top`, busiest (messages/s) first',
    help: `usage: wsgate connections [--admin URL] [--route R] [--user U] [--limit N] [--watch] [--scope cluster]

Lists the gateway's live WebSocket connections as a table: id, route, user, client, upstream
target, age, messages and bytes each way.

${ADMIN_OPTION.text}      --route R          only connections of route R
      --user U           only connections of user U
      --limit N          at most N connections
      --scope cluster    every instance's connections, through the shared Redis store
                         (an INSTANCE column; a warning when an instance did not answer)
      --watch            refresh every second like \`top\`, busiest (messages/s) first; q or
                         Ctrl-C quits (plain snapshots when stdout is not a terminal)
${HELP_LINE}`,
    options: {
      ...ADMIN_OPTION.options,
      route: { type: 'string' },
      user: { type: 'string' },
      limit: { type: 'string' },
      scope: { type: 'string' },
      watch: { type: 'boolean' },
    },
    async run(v) {
      const limit = str(v.limit);
      if (limit !== undefined && !/^[1-9][0-9]*$/.test(limit)) {
        process.stderr.write(`wsgate connections: --limit must be a positive integer, got "${limit}"\n`);
        return 1;
      }
      const scope = str(v.scope);
      if (scope !== undefined && scope !== 'local' && scope !== 'cluster') {
        process.stderr.write(`wsgate connections: --scope is local or cluster, got "${scope}"\n`);
        return 1;
      }
      const filter = { route: str(v.route), user: str(v.user), limit, scope };
      if (v.watch === true) {
        const { watchCommand } = await import('./watch.js');
        return watchCommand(str(v.admin), filter);
      }
      const { connectionsCommand } = await import('./admin-client.js');
      return connectionsCommand(str(v.admin), filter);
    },
  },
  status: {
    synopsis: 'status [--admin URL]',
    summary: 'one screen: routes, upstream targets and their health, open WebSockets\nper route, requests/s and messages/s, ready or draining',
    help: `usage: wsgate status [--admin URL]

Prints one screen about a running gateway: routes, upstream targets and their health, open
WebSockets per route, requests/s and messages/s (from two scrapes), ready or draining.

${ADMIN_OPTION.text}${HELP_LINE}`,
    options: { ...ADMIN_OPTION.options },
    async run(v) {
      const { statusCommand } = await import('./status.js');
      return statusCommand(str(v.admin));
    },
  },
  reload: {
    synopsis: 'reload [--admin URL]',
    summary: 'ask a running gateway to reload its config file',
    help: `usage: wsgate reload [--admin URL]

Asks a running gateway to reread its config file (as SIGHUP does). An invalid file changes nothing:
its problems are printed and the exit code is 1.

${ADMIN_OPTION.text}${HELP_LINE}`,
    options: { ...ADMIN_OPTION.options },
    async run(v) {
      const { reloadCommand } = await import('./admin-client.js');
      return reloadCommand(str(v.admin));
    },
  },
  bench: {
    synopsis: 'bench http|ws URL [--connections N] [--rate R] [--duration 10s] [--size 64b] [--json]',
    summary: 'load generator: ops/s, MB/s, latency percentiles, errors by kind',
    help: BENCH_USAGE, // beside bench's own option parser, which also answers `bench --help`
    options: null,
    async run(_v, argv) {
      const { benchCommand } = await import('./bench/command.js');
      return benchCommand(argv);
    },
  },
  token: {
    synopsis: 'token --secret S [--sub U] [--scope S ...] [--ttl 1h]',
    summary: 'mint a signed JWT (HMAC) for trying auth locally',
    help: TOKEN_HELP,
    options: null, // repeatable options: the command parses its own arguments
    async run(_v, argv) {
      const { tokenCommand } = await import('./token.js');
      return tokenCommand(argv);
    },
  },
  'hash-key': {
    synopsis: 'hash-key [KEY] [--id ID]',
    summary: 'print the sha256 line of an API key for an apiKey provider',
    help: HASH_KEY_HELP,
    options: null, // KEY is positional (or read from stdin)
    async run(_v, argv) {
      const { hashKeyCommand } = await import('./hash-key.js');
      return hashKeyCommand(argv);
    },
  },
  schema: {
    synopsis: 'schema',
    summary: 'print the config\'s JSON Schema, for editors',
    help: `usage: wsgate schema

Prints the JSON Schema (draft-07) of wsgate.yaml on stdout, for editors that complete and check the
file as you type. The package ships the same schema as schema/wsgate.schema.json; name it on the
first line of a config file:

  # yaml-language-server: $schema=./node_modules/wsgate/schema/wsgate.schema.json

${HELP_LINE}`,
    options: {},
    async run() {
      const { schemaCommand } = await import('./schema.js');
      return schemaCommand();
    },
  },
};

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => {
    const summary = c.summary.split('\n');
    const head = c.synopsis.length <= 21 ? `  ${c.synopsis.padEnd(23)}${summary[0]}` : `  ${c.synopsis}\n${' '.repeat(25)}${summary[0]}`;
    return [head, ...summary.slice(1).map((s) => `${' '.repeat(25)}${s}`)].join('\n');
  });
  return `usage: wsgate <command> [options]

commands:
${lines.join('\n')}
  help [COMMAND]         this text, or a command's options (also: wsgate COMMAND --help)

options:
  -v, --version          print the version
  -h, --help             this text
`;
}

async function version(): Promise<string> {
  // metrics.ts reads the package's version once, for wsgate_build_info: one source for both.
  const { VERSION } = await import('../observability/metrics.js');
  return `wsgate ${VERSION}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(await version());
    return 0;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (topic === undefined) {
      process.stdout.write(usage());
      return 0;
    }
    const command = lookUp(topic);
    if (command === undefined) return unknownCommand(topic);
    process.stdout.write(command.help);
    return 0;
  }
  const command = lookUp(name);
  if (command === undefined) return unknownCommand(name);
  if (command.options === null) return command.run({}, rest);
  let values: Values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`wsgate ${name}: ${(err as Error).message}\n(wsgate ${name} --help lists the options)\n`);
    return 1;
  }
  if (values.help === true) {
    process.stdout.write(command.help);
    return 0;
  }
  return command.run(values, rest);
}

function lookUp(name: string): Command | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

function unknownCommand(name: string): number {
  process.stderr.write(`wsgate: unknown command "${name}"\n${usage()}`);
  return 1;
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
