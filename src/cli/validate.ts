// cli/validate: `wsgate validate -c FILE`: load and check a config, print every problem with its path.
// Exit codes (SPEC section 1): 0 valid, 1 invalid config or usage, 2 unreadable file.
import { existsSync } from 'node:fs';
import { loadConfig } from '../config/check.js';
import { isConfigUnreadable, type Problem } from '../config/load.js';

const DEFAULT_FILE = 'wsgate.yaml';

export async function validateCommand(file: string | undefined): Promise<number> {
  const path = file ?? (existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined);
  if (path === undefined) {
    process.stderr.write(`usage: wsgate validate -c FILE\nno file given and no ./${DEFAULT_FILE} here; pass one with -c\n`);
    return 1;
  }
  let result: ReturnType<typeof loadConfig>;
  try {
    result = loadConfig(path);
  } catch (err) {
    if (!isConfigUnreadable(err)) throw err;
    process.stderr.write(`wsgate validate: ${err.message}\n`);
    return 2;
  }
  const { config, problems } = result;
  if (config === null) {
    process.stderr.write(formatFileProblems(path, problems));
    return 1;
  }
  const routes = config.routes.length;
  const upstreams = Object.keys(config.upstreams).length;
  process.stdout.write(`ok: ${path} (${routes} route${routes === 1 ? '' : 's'}, ${upstreams} upstream${upstreams === 1 ? '' : 's'})\n`);
  return 0;
}

/** One line per problem, each naming the file, then the count; `start` prints the same. */
export function formatFileProblems(path: string, problems: readonly Problem[]): string {
  const lines = problems.map((p) => (p.path === '' ? `${path}: ${p.message}` : `${path}: ${p.path}: ${p.message}`));
  return `${lines.join('\n')}\n${path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`;
}
