// e2e: what every CLI has (SPEC section 1): `wsgate --version`, `wsgate --help` listing each command,
// and `wsgate COMMAND --help` (or `wsgate help COMMAND`) for each, with unknown options refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT, runCli } from '../../helpers/cli.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// The commands SPEC section 1 names that this version has (token and hash-key come with auth).
const SPEC_COMMANDS = ['start', 'validate', 'demo', 'bench', 'connections', 'status', 'reload', 'schema'];

// The command names `wsgate --help` lists: the first word of each line under "commands:".
function listedCommands(usage: string): string[] {
  const section = usage.split('\ncommands:\n')[1]?.split('\n\n')[0] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
}

test.each([['--version'], ['-v']])('wsgate %s prints the version of the package and exits 0', async (flag) => {
  const run = await runCli([flag]);
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(`wsgate ${PACKAGE_VERSION}\n`);
  expect(run.stderr).toBe('');
});

test('wsgate --help lists every command of the spec, with --version and --help', async () => {
  const run = await runCli(['--help']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^usage: wsgate <command>/);
  expect(listedCommands(run.stdout)).toEqual(expect.arrayContaining(SPEC_COMMANDS));
  expect(run.stdout).toMatch(/^ {2}-v, --version +print the version$/m);
  expect((await runCli(['help'])).stdout).toBe(run.stdout);
});

// Every command `wsgate --help` lists, so a command added later is covered without editing this test.
test('every listed command answers --help with its usage and options, exit 0, as `wsgate help COMMAND` does', async () => {
  const commands = listedCommands((await runCli(['--help'])).stdout);
  expect(commands.length).toBeGreaterThanOrEqual(SPEC_COMMANDS.length);
  // Two at a time: each is a Node process loading TypeScript.
  for (let i = 0; i < commands.length; i += 2) {
    await Promise.all(
      commands.slice(i, i + 2).map(async (command) => {
        const [run, viaHelp] = await Promise.all([runCli([command, '--help']), runCli(['help', command])]);
        expect(run.code, command).toBe(0);
        expect(run.stderr, command).toBe('');
        expect(run.stdout).toMatch(new RegExp(`^usage: wsgate ${command}\\b`));
        // Every command lists options, its own --help at least.
        expect(run.stdout, command).toMatch(/^ {2}(-\w, )?--[a-z-]+/m);
        expect(viaHelp.code, command).toBe(0);
        expect(viaHelp.stdout, command).toBe(run.stdout);
      }),
    );
  }
}, 120_000);

test('each command lists the options it takes: start names -c and --workers, connections --watch', async () => {
  const start = await runCli(['start', '-h']);
  expect(start.stdout).toMatch(/^ {2}-c, --config FILE/m);
  expect(start.stdout).toMatch(/^ {6}--workers N\|auto/m);
  const connections = await runCli(['connections', '--help']);
  for (const option of ['--admin URL', '--route R', '--user U', '--limit N', '--watch']) expect(connections.stdout).toContain(option);
});

test('an option another command takes is refused with a pointer to the command\'s help', async () => {
  const run = await runCli(['status', '--route', 'chat']);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toBe("wsgate status: Unknown option '--route'\n(wsgate status --help lists the options)\n");
});

test('help for an unknown command exits 1 naming it, with the list of commands', async () => {
  const run = await runCli(['help', 'frobnicate']);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^wsgate: unknown command "frobnicate"\nusage: wsgate <command>/);
});
