// test/helpers/cli: `wsgate` as a child process (log lines parsed as they arrive, killed when the test finishes) and its config files.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// An absolute loader URL, so the CLI also runs from a directory without node_modules.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export type LogLine = Record<string, unknown>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  child: ChildProcess;
  /** Every JSON line printed on stdout so far. */
  logs: LogLine[];
  /** Everything printed on stderr so far. */
  stderr(): string;
  /** The first log line (already printed or still to come) with this `event`; rejects if the process exits first. */
  waitForEvent(event: string): Promise<LogLine>;
  /** Resolves once the process has exited. */
  exited: Promise<Exit>;
  /** Resolves once the process has exited and its stdout and stderr are fully read. */
  closed: Promise<Exit>;
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** The ports of the `listening` log line: traffic listeners in order, and the admin listener. */
  ports(): Promise<{ listeners: number[]; admin: number }>;
  signal(sig: NodeJS.Signals): void;
}

export function startCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: options.cwd ?? ROOT,
    env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters: { event: string; resolve: (l: LogLine) => void }[] = [];
  let stderr = '';
  let stdout = '';
  let partial = '';
  let exit: Exit | null = null;

  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { event: '(not json)', line };
      }
      logs.push(parsed);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.event === parsed.event) waiters.splice(i, 1)[0]!.resolve(parsed);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolveExit(exit);
    });
  });
  const closed = new Promise<Exit>((resolveClose) => {
    child.once('close', (code, signal) => resolveClose({ code, signal }));
  });
  onTestFinished(async () => {
    if (exit === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });

  const waitForEvent = (event: string): Promise<LogLine> => {
    const found = logs.find((l) => l.event === event);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolveLine, reject) => {
      waiters.push({ event, resolve: resolveLine });
      // 'close' comes once stdout is drained, so a line still in the pipe is seen first.
      void closed.then((e) =>
        reject(new Error(`wsgate exited (code ${e.code}, signal ${e.signal}) before logging "${event}"; stderr: ${stderr}`)),
      );
    });
  };

  return {
    child,
    logs,
    stderr: () => stderr,
    waitForEvent,
    exited,
    closed,
    stdout: () => stdout,
    async ports() {
      const line = (await waitForEvent('listening')) as { listeners: { port: number }[]; admin: { port: number } };
      return { listeners: line.listeners.map((l) => l.port), admin: line.admin.port };
    },
    signal(sig) {
      child.kill(sig);
    },
  };
}

/** Runs the CLI to completion (for commands that exit by themselves). */
export async function runCli(args: string[], options: { cwd?: string } = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const cli = startCli(args, options);
  const exit = await cli.closed;
  return { ...exit, stdout: cli.stdout(), stderr: cli.stderr() };
}

export function tempDir(prefix = 'wsgate-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Writes `text` as `name` in a fresh temporary directory and returns its path.
export function writeConfig(name: string, text: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

export interface YamlParts {
  /** One target each: name → URL. */
  upstreams: Record<string, string>;
  /** YAML list items, each line ending in a newline. */
  routes: string;
  /** More YAML lines under `admin:`. */
  admin?: string;
  /** Appended as it is: top-level keys, or more route items. */
  extra?: string;
}

// A config file for `wsgate start` with every listener on port 0, so tests never collide with each
// other or with a running gateway. Tests edit the text with .replace(), so its lines are fixed.
export function yamlConfig(parts: YamlParts): string {
  const upstreams = Object.entries(parts.upstreams).map(([name, url]) => `  ${name}:\n    targets:\n      - url: ${url}\n`);
  return `
listen:
  - { port: 0, host: 127.0.0.1 }
admin:
  listen: 127.0.0.1:0
${parts.admin ?? ''}upstreams:
${upstreams.join('')}routes:
${parts.routes}${parts.extra ?? ''}`;
}

// A route item for a reload to add: GET /added answers "added by reload".
export const ADDED_ROUTE = `  - name: added
    match: { path: /added }
    respond: { body: added by reload }
`;

// A file path (or any text) as a literal inside a RegExp.
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
