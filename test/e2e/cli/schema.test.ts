// e2e: `wsgate schema` prints the config's JSON Schema, the package ships the same text, and the schema
// agrees with the zod schema it is generated from: the example config passes it, a misspelt key fails.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { ROOT, runCli } from '../../helpers/cli.js';

const SHIPPED = join(ROOT, 'schema/wsgate.schema.json');
const EXAMPLE = join(ROOT, 'wsgate.example.yaml');

type Schema = { [key: string]: unknown };

function shipped(): Schema {
  return JSON.parse(readFileSync(SHIPPED, 'utf8')) as Schema;
}

// A small draft-07 checker for the keywords the generated schema uses; it returns the paths that fail,
// so a test shows where. (Editors run a full validator; this one keeps the test free of a dependency.)
function violations(schema: Schema, root: Schema, value: unknown, path = ''): string[] {
  const ref = schema.$ref;
  if (typeof ref === 'string') return violations(resolveRef(root, ref), root, value, path);
  const problems: string[] = [];
  if (Array.isArray(schema.anyOf)) {
    const branches = (schema.anyOf as Schema[]).map((b) => violations(b, root, value, path));
    if (branches.every((b) => b.length > 0)) problems.push(...branches.sort((a, b) => a.length - b.length)[0]!);
    return problems;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) return [`${path || '(root)'}: not ${types.join(' or ')}`];
  }
  if ('const' in schema && value !== schema.const) problems.push(`${path}: not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) problems.push(`${path}: not one of ${schema.enum.join(', ')}`);
  if (typeof schema.pattern === 'string' && typeof value === 'string' && !new RegExp(schema.pattern, 'u').test(value)) problems.push(`${path}: does not match ${schema.pattern}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) problems.push(`${path}: fewer than ${schema.minItems} items`);
    if (typeof schema.items === 'object') value.forEach((item, i) => problems.push(...violations(schema.items as Schema, root, item, `${path}[${i}]`)));
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in value)) problems.push(`${path}.${key}: required`);
    for (const [key, v] of Object.entries(value)) {
      const sub = properties[key] ?? schema.additionalProperties;
      if (sub === false) problems.push(`${path}.${key}: unknown key`);
      else if (typeof sub === 'object' && sub !== null) problems.push(...violations(sub as Schema, root, v, `${path}.${key}`));
    }
  }
  return problems;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'array') return Array.isArray(value);
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (type === 'null') return value === null;
  return typeof value === type;
}

function resolveRef(root: Schema, ref: string): Schema {
  expect(ref).toMatch(/^#\//);
  return ref.slice(2).split('/').reduce<Schema>((node, part) => node[part] as Schema, root);
}

test('wsgate schema prints the shipped schema/wsgate.schema.json byte for byte', async () => {
  const run = await runCli(['schema']);
  expect(run.code).toBe(0);
  expect(run.stderr).toBe('');
  // On a difference after a change to src/config/schema.ts, regenerate the shipped copy:
  //   npx tsx src/cli/main.ts schema > schema/wsgate.schema.json
  expect(run.stdout, 'schema/wsgate.schema.json is stale: regenerate it with `npx tsx src/cli/main.ts schema > schema/wsgate.schema.json`').toBe(
    readFileSync(SHIPPED, 'utf8'),
  );
});

test('the schema has the keys and defaults of the zod schema, and refuses unknown keys', () => {
  const schema = shipped();
  expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  expect(schema.additionalProperties).toBe(false);
  const properties = schema.properties as Record<string, Schema>;
  expect(Object.keys(properties).sort()).toEqual(Object.keys(configSchema.shape).sort());
  const defaults = configSchema.parse({});
  const admin = properties.admin!.properties as Record<string, Schema>;
  expect(admin.listen!.default).toBe(defaults.admin.listen);
  const limits = properties.limits!.properties as Record<string, Schema>;
  expect(limits.drainTimeout!.default).toBe(defaults.limits.drainTimeout);
});

test('the example config passes the schema, and names it on its first line by a path that exists', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const first = text.split('\n')[0]!;
  const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
  expect(match, 'wsgate.example.yaml starts with a yaml-language-server $schema comment').not.toBeNull();
  expect(resolve(dirname(EXAMPLE), match![1]!)).toBe(SHIPPED);
  const schema = shipped();
  // ${NAME} references are checked as the editor sees them: before substitution.
  expect(violations(schema, schema, parse(text))).toEqual([]);
});

test('the schema catches what an editor should flag: a misspelt key, a bad enum, a number written as a word', () => {
  const schema = shipped();
  const config = parse(`
listen: [{ port: eighty }]
limits: { drainTimeot: 30s }
upstreams: { app: { targets: [{ url: http://127.0.0.1:1 }], balance: fastest } }
`) as unknown;
  expect(violations(schema, schema, config)).toEqual([
    '.listen[0].port: not integer',
    '.limits.drainTimeot: unknown key',
    '.upstreams.app.balance: not one of round_robin, least_conn, random, hash',
  ]);
});

test('environment references are accepted where the type is not a string: port: ${PORT:-8080}', () => {
  const schema = shipped();
  const config = parse('listen: [{ port: "${PORT:-8080}" }]\nworkers: ${WORKERS}\nlog: { level: "${LOG_LEVEL:-info}" }\n') as unknown;
  expect(violations(schema, schema, config)).toEqual([]);
  expect(violations(schema, schema, parse('listen: [{ port: "$PORT" }]\n'))).not.toEqual([]);
});
