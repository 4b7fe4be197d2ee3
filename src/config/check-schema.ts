// config/check-schema: runs the schema over a raw config and turns zod's issues into problems whose
// messages name the fix (an unknown key lists the keys allowed where it stands).
import { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';
import { formatPath, type Problem } from './load.js';
import { didYouMean, quoteList } from './suggest.js';

/** The parsed config, or null with the schema's problems pushed onto `problems`. */
export function checkSchema(raw: unknown, problems: Problem[]): GatewayConfig | null {
  const parsed = configSchema.safeParse(raw, { error: issueMessage });
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(issue.path);
      for (const key of issue.keys) problems.push({ path: formatPath([...issue.path, key]), message: unknownKey(key, allowed) });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return null;
}

function article(expected: string): string {
  switch (expected) {
    case 'object': return 'an object (key: value pairs)';
    case 'array': return 'a list';
    case 'boolean': return 'true or false';
    case 'integer': case 'int': return 'a whole number';
    default: return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

function describe(input: unknown): string {
  if (input === null) return 'an empty value';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'an object';
  if (typeof input === 'number' && !Number.isInteger(input)) return `the number ${input}`;
  return article(typeof input);
}

function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      const want = article(iss.expected);
      if (iss.input === undefined) return `missing; add ${want}`;
      if (iss.input === null) return `is empty; write ${want} here, or remove the key`;
      if (iss.expected === 'number' && typeof iss.input === 'string' && iss.input.trim() !== '' && !Number.isNaN(Number(iss.input))) {
        return `expected a number, got the string ${JSON.stringify(iss.input)}; remove the quotes`;
      }
      if (iss.expected === 'boolean' && typeof iss.input === 'string') return 'expected true or false, got a string; write true or false without quotes';
      if (iss.expected === 'array') return `expected a list, got ${describe(iss.input)}; write [a, b] or one "- item" per line`;
      if (iss.expected === 'object') return `expected an object, got ${describe(iss.input)}; write key: value pairs under it`;
      return `expected ${want}, got ${describe(iss.input)}`;
    }
    case 'invalid_value': {
      const close = typeof iss.input === 'string' ? didYouMean(iss.input, iss.values.filter((v): v is string => typeof v === 'string')) : '';
      const shown = typeof iss.input === 'string' || typeof iss.input === 'number' ? `${JSON.stringify(iss.input)} is not allowed` : 'not allowed';
      return `${shown}${close}; use ${iss.values.length === 1 ? '' : 'one of: '}${quoteList(iss.values)}`;
    }
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'array') return `needs at least ${min} item${min === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return min === 1 ? 'must not be empty' : `needs at least ${min} characters`;
      return `must be ${iss.inclusive === false ? 'greater than' : 'at least'} ${min}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'array') return `allows at most ${max} item${max === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return `allows at most ${max} characters`;
      return `must be ${iss.inclusive === false ? 'less than' : 'at most'} ${max}`;
    }
    case 'invalid_format': {
      const prefix = (iss as { prefix?: unknown }).prefix;
      if (iss.format === 'starts_with' && typeof prefix === 'string') return `must start with ${JSON.stringify(prefix)}`;
      if (iss.format === 'regex' && iss.pattern !== undefined) return `must match ${iss.pattern}`;
      return `is not a valid ${iss.format}`;
    }
    case 'invalid_union': {
      const expected = iss.errors.flat().map((e) => (e.code === 'invalid_type' ? article(e.expected) : null));
      if (expected.length > 0 && expected.every((e) => e !== null)) {
        return `expected ${[...new Set(expected)].join(' or ')}, got ${describe(iss.input)}`;
      }
      return 'does not match any allowed form';
    }
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}`;
    case 'invalid_key': {
      // The key's own complaint (a header name's, say) says more than that it is invalid.
      const inner = iss.issues[0];
      return inner !== undefined && typeof inner.message === 'string' && inner.message !== '' ? inner.message : 'has an invalid key';
    }
    case 'invalid_element':
      return 'has an invalid element';
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length === 1 ? '' : 's'} ${quoteList(iss.keys)}`;
    default:
      return undefined;
  }
}

function unknownKey(key: string, allowed: string[]): string {
  const close = didYouMean(key, allowed);
  if (close !== '') return `unknown key "${key}"${close}`;
  return allowed.length > 0 ? `unknown key "${key}"; remove it (allowed here: ${allowed.join(', ')})` : `unknown key "${key}"; remove it`;
}

// Walks the schema along an issue path to the strict object there; its shape lists the allowed keys.
interface SchemaDef {
  type: string;
  shape?: Record<string, SchemaNode>;
  element?: SchemaNode;
  valueType?: SchemaNode;
  innerType?: SchemaNode;
  in?: SchemaNode;
}
interface SchemaNode {
  _zod: { def: SchemaDef };
}
const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'nonoptional', 'readonly', 'catch']);

function unwrap(node: SchemaNode): SchemaNode {
  for (;;) {
    const def = node._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) node = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) node = def.in;
    else return node;
  }
}

function allowedKeys(path: readonly PropertyKey[]): string[] {
  let node: SchemaNode | undefined = unwrap(configSchema);
  for (const seg of path) {
    const def: SchemaDef = node._zod.def;
    const next: SchemaNode | undefined =
      def.type === 'object' && typeof seg === 'string' ? def.shape?.[seg] :
      def.type === 'array' ? def.element :
      def.type === 'record' ? def.valueType :
      undefined;
    if (next === undefined) return [];
    node = unwrap(next);
  }
  const shape = node._zod.def.type === 'object' ? node._zod.def.shape : undefined;
  return shape === undefined ? [] : Object.keys(shape);
}
