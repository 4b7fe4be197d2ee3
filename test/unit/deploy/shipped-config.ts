// test/unit/deploy/shipped-config: what the deploy-file tests read from the code (schema defaults, drain
// constants) and the check of a config file shipped inside a deploy file, as the gateway would load it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { checkConfig } from '../../../src/config/check.js';
import { parseConfigText } from '../../../src/config/load.js';
import { configSchema, type GatewayConfig } from '../../../src/config/schema.js';
import { parseDuration } from '../../../src/core/duration.js';
import { ROOT } from '../../helpers/cli.js';

/** Every default of the config schema, as `wsgate start` fills them in. */
export const DEFAULTS: GatewayConfig = configSchema.parse({});

/** The port of a `host:port` listen address. */
export function portOf(address: string): number {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  expect(Number.isInteger(port), `a port in "${address}"`).toBe(true);
  return port;
}

// A source constant by name, so a deploy file's margin follows the code (drain.ts and workers.ts keep
// them module-private).
function sourceConstantMs(file: string, name: string): number {
  const match = new RegExp(`const ${name} = ([0-9_]+);`).exec(readFileSync(join(ROOT, file), 'utf8'));
  expect(match, `${file} defines ${name}`).not.toBeNull();
  return Number(match![1]!.replaceAll('_', ''));
}

/**
 * After limits.drainTimeout, how long a stop can still take: the tunnels' close handshakes in one
 * process, the primary's guard with workers. A supervisor's kill timeout must exceed drain + this.
 */
export function closeGraceMs(): number {
  return Math.max(sourceConstantMs('src/server/drain.ts', 'TUNNEL_CLOSE_GRACE_MS'), sourceConstantMs('src/server/workers.ts', 'STOP_GRACE_MS'));
}

// `store: { redis }` arrives with the Redis store (issue 11, items 1-2). Until the schema takes it,
// a shipped config is checked without its `store` key; once it does, the whole file is checked.
const REDIS_STORE_ACCEPTED = configSchema.shape.store.safeParse({ redis: 'redis://127.0.0.1:6379' }).success;

/** The `${NAME}` references in the values of a config text (names only; comments do not count). */
export function envNames(text: string): string[] {
  const names = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') for (const m of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(walk);
  };
  walk(parse(text));
  return [...names].sort();
}

/** Loads a shipped config text with `env` as the gateway would, fails the test on any problem. */
export function checkShippedConfig(text: string, env: Record<string, string>, where: string): GatewayConfig {
  const loaded = parseConfigText(text, env);
  expect(loaded.problems, `${where}: loading`).toEqual([]);
  let raw = loaded.raw as Record<string, unknown>;
  if (!REDIS_STORE_ACCEPTED && typeof raw.store === 'object' && raw.store !== null) {
    expect(Object.keys(raw.store), `${where}: store`).toEqual(['redis']);
    raw = Object.fromEntries(Object.entries(raw).filter(([key]) => key !== 'store'));
  }
  const { config, problems } = checkConfig(raw);
  expect(problems, `${where}: config problems`).toEqual([]);
  return config!;
}

export function drainTimeoutMs(config: GatewayConfig): number {
  return parseDuration(config.limits.drainTimeout);
}
