// config/check: a raw config (from a file or `new Gateway({...})`) → GatewayConfig, or every problem in it,
// each as { path, message } with a message that names the fix. Runs the schema (check-schema.ts), then
// all cross-checks (references, patterns, addresses: the other check-*.ts); never stops at the first problem.
import type { GatewayConfig } from './schema.js';
import { checkSchema } from './check-schema.js';
import { checkAddresses } from './check-addresses.js';
import { checkUpstreams } from './check-upstreams.js';
import { checkRoutes } from './check-routes.js';
import { checkEdge } from './check-edge.js';
import { loadConfigFile, type Problem } from './load.js';
import { GatewayError } from '../core/errors.js';
import { checkTlsFiles, checkTlsShape } from './check-tls.js';
import { checkAuth } from './check-auth.js';
import { isObj } from './raw.js';

// A GatewayError with a table code (CONFIG_INVALID), so whoever catches it reports it like any other error.
export class ConfigError extends GatewayError {
  constructor(readonly problems: Problem[]) {
    super('CONFIG_INVALID', formatProblems(problems));
    this.name = 'ConfigError';
  }
}

export function formatProblems(problems: Problem[]): string {
  return problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('\n');
}

/** The library path: throws a ConfigError listing every problem. */
export function parseConfig(raw: unknown): GatewayConfig {
  const { config, problems } = checkConfig(raw);
  if (config === null) throw new ConfigError(problems);
  return config;
}

/** The file path: load (YAML, ${ENV}) then check. Throws only when the file cannot be read. */
export function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { config: GatewayConfig | null; problems: Problem[] } {
  const loaded = loadConfigFile(file, env);
  if (loaded.raw === undefined) return { config: null, problems: loaded.problems };
  const checked = checkConfig(loaded.raw);
  // An unset variable became ''; the schema's complaint about that '' would repeat the same problem.
  const envPaths = new Set(loaded.problems.map((p) => p.path));
  const problems = [...loaded.problems, ...checked.problems.filter((p) => !envPaths.has(p.path))];
  // The files TLS keys name are read here, not in checkConfig: a config built in code is checked
  // without touching the disk, and compile reads them anyway.
  if (isObj(loaded.raw)) checkTlsFiles(loaded.raw, problems);
  return { config: problems.length === 0 ? checked.config : null, problems };
}

export function checkConfig(raw: unknown): { config: GatewayConfig | null; problems: Problem[] } {
  const problems: Problem[] = [];
  const config = checkSchema(raw, problems);
  // Cross-checks read the raw input defensively, so they run even when the schema failed: one run shows all.
  if (isObj(raw)) {
    const schemaPaths = new Set(problems.map((p) => p.path));
    const cross: Problem[] = [];
    checkAddresses(raw, cross);
    checkUpstreams(raw, cross);
    checkRoutes(raw, cross);
    checkTlsShape(raw, cross);
    checkEdge(raw, cross);
    checkAuth(raw, cross);
    for (const p of cross) if (!schemaPaths.has(p.path)) problems.push(p);
  }
  return { config: config !== null && problems.length === 0 ? config : null, problems };
}
