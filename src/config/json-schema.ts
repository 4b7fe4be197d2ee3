// config/json-schema: the config's JSON Schema for editors (`wsgate schema`, schema/wsgate.schema.json),
// generated from config/schema.ts so it cannot list a key the gateway does not know; not validation
// (the zod schema and check.ts stay the only judges of a config).
import { z } from 'zod';
import { configSchema } from './schema.js';

type JsonObject = { [key: string]: unknown };

// Where the package publishes its copy; editors fetch it when a file names it by URL.
export const CONFIG_SCHEMA_ID = 'https://unpkg.com/wsgate/schema/wsgate.schema.json';

// An editor sees the file before ${NAME} substitution (config/load.ts), so `port: ${PORT:-8080}` is
// text there: every constrained scalar also accepts a whole-value reference.
const ENV_REFERENCE_DEF = 'envReference';
const ENV_REFERENCE = {
  type: 'string',
  pattern: '^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$',
  description: '${NAME} or ${NAME:-default}: replaced from the environment when the gateway loads the file',
} as const;

// Keys that hold documentation rather than a constraint: they stay on the outside of the wrapper.
const ANNOTATIONS = ['default', 'description', 'title', 'examples'] as const;

export function configJsonSchema(): JsonObject {
  // io: 'input' describes what a user writes (defaults optional), not the parsed result. draft-07 is the
  // newest draft the YAML language server and VS Code validate fully.
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-07', unrepresentable: 'any' }) as JsonObject;
  const { $schema, ...body } = generated;
  const root: JsonObject = {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: 'wsgate configuration',
    description: 'wsgate.yaml (or JSON with the same keys); docs/configuration.md describes every key',
    ...(acceptEnvReferences(body) as JsonObject),
  };
  root.definitions = { [ENV_REFERENCE_DEF]: ENV_REFERENCE };
  return root;
}

// Keys whose value is a schema, a list of schemas, or a map of name → schema (JSON Schema draft-07).
const SCHEMA_KEYS = new Set(['items', 'additionalProperties', 'propertyNames', 'not', 'if', 'then', 'else', 'contains']);
const SCHEMA_LIST_KEYS = new Set(['anyOf', 'oneOf', 'allOf']);
const SCHEMA_MAP_KEYS = new Set(['properties', 'patternProperties', 'definitions', 'dependencies']);

// Walks the generated schema and lets every scalar that a bare string would fail (numbers, booleans,
// enums, patterns) also be an environment reference.
function acceptEnvReferences(node: unknown): unknown {
  if (!isObject(node)) return node;
  if (rejectsEnvReference(node)) return wrapWithEnvReference(node);
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (SCHEMA_KEYS.has(key)) out[key] = acceptEnvReferences(value);
    else if (SCHEMA_LIST_KEYS.has(key) && Array.isArray(value)) out[key] = value.map(acceptEnvReferences);
    else if (SCHEMA_MAP_KEYS.has(key) && isObject(value)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, acceptEnvReferences(v)]));
    else out[key] = value; // data: default, enum, const, type, pattern, ...
  }
  return out;
}

function wrapWithEnvReference(node: JsonObject): JsonObject {
  const outer: JsonObject = {};
  const inner: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if ((ANNOTATIONS as readonly string[]).includes(key)) outer[key] = value;
    else inner[key] = value;
  }
  // A union gains one more branch rather than a level of nesting.
  const branches: unknown[] = Object.keys(inner).length === 1 && Array.isArray(inner.anyOf) ? inner.anyOf : [inner];
  return { ...outer, anyOf: [...branches, { $ref: `#/definitions/${ENV_REFERENCE_DEF}` }] };
}

// A scalar schema (no properties or items) that a "${NAME}" string would not satisfy.
function rejectsEnvReference(node: JsonObject): boolean {
  if ('properties' in node || 'items' in node || 'additionalProperties' in node) return false;
  if ('anyOf' in node) {
    // A union of scalars is wrapped once as a whole, unless a branch already takes any string.
    return Array.isArray(node.anyOf) && node.anyOf.every((branch) => isObject(branch) && rejectsEnvReference(branch));
  }
  if (node.type === undefined) return false; // z.unknown(): anything goes already
  const types: unknown[] = Array.isArray(node.type) ? node.type : [node.type];
  if (!types.includes('string')) return true;
  return 'pattern' in node || 'enum' in node || 'const' in node || 'format' in node;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
