// config/load: reads a config file, parses YAML (JSON is YAML too) and replaces ${NAME} / ${NAME:-default}
// from the environment; not the schema or cross-checks (check.ts).
//
// Substitution runs on the parsed string scalars, never on the raw text, so a value holding quotes, a
// colon or a newline cannot change the structure of the file. A plain (unquoted) scalar then takes the type
// its new text would have had if written in the file (`port: ${PORT:-8080}` is the number 8080); a quoted
// one stays a string. Mapping keys are never substituted. Inside a flow collection (`{ }` or `[ ]`) YAML
// reads `{` and `}` as brackets, so there a reference must be quoted: `tls: { cert: "${CERT}" }`.
// `${NAME:-default}` takes the default when NAME is unset or empty (as in POSIX sh); `${NAME}` of an empty
// variable is ''. `$${` writes a literal `${`.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { GatewayError, type ErrorCode } from '../core/errors.js';

export interface Problem {
  path: string;
  message: string;
  /** A file the config names could not be read: `wsgate start` exits 2 for it (SPEC section 1), not 1. */
  unreadable?: true;
}

export const CONFIG_UNREADABLE = 'CONFIG_UNREADABLE' satisfies ErrorCode;

/** True for the error loadConfigFile throws when the file cannot be read (the CLI exits 2). */
export function isConfigUnreadable(err: unknown): err is Error & { code: typeof CONFIG_UNREADABLE } {
  return err instanceof Error && (err as { code?: unknown }).code === CONFIG_UNREADABLE;
}

// `routes[2].upstream`, `upstreams.chat.timeouts.connect`, `upstreams["a.b"]`.
const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

// `$${` (escape) | `${NAME}` | `${NAME:-default}` | a `${` that matches neither (reported).
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?/g;

export function substituteEnv(
  text: string,
  env: NodeJS.ProcessEnv,
  path = '',
): { text: string; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!text.includes('${')) return { text, problems };
  const out = text.replace(REFERENCE, (whole: string, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$${') return '${';
    if (name === undefined) {
      problems.push({
        path,
        message: `malformed variable reference "${whole}"; write \${NAME} or \${NAME:-default} (NAME: letters, digits, _), or $\${ for a literal \${`,
      });
      return whole;
    }
    const value = env[name];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value; // POSIX :-
    if (value === undefined) {
      problems.push({
        path,
        message: `environment variable ${name} is not set; export it or write \${${name}:-default}`,
      });
      return '';
    }
    return value;
  });
  return { text: out, problems };
}

// YAML 1.2 core schema: the plain scalars that are numbers or booleans. Anything else stays a string.
const CORE_INT = /^[-+]?[0-9]+$/;
const CORE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const CORE_BOOL = /^(?:true|True|TRUE|false|False|FALSE)$/;

function resolvePlain(text: string): string | number | boolean {
  if (CORE_INT.test(text) || CORE_FLOAT.test(text)) return Number(text);
  if (CORE_BOOL.test(text)) return text.toLowerCase() === 'true';
  return text;
}

function substituteNode(node: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: Problem[]): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      substituteNode(pair.value, [...path, String(key)], env, problems);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => substituteNode(item, [...path, i], env, problems));
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
    const result = substituteEnv(node.value, env, formatPath(path));
    problems.push(...result.problems);
    node.value = node.type === 'PLAIN' && result.text !== '' ? resolvePlain(result.text) : result.text;
  }
  // Aliases point at a node that is substituted where it is anchored.
}

const YAML_HINTS: Record<string, string> = {
  DUPLICATE_KEY: 'this key appears twice in the same mapping; keep one of them',
  MULTIPLE_DOCS: 'the file holds more than one YAML document; keep one (remove the extra "---")',
};

export function parseConfigText(text: string, env: NodeJS.ProcessEnv = process.env): { raw: unknown; problems: Problem[] } {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems: Problem[] = [];
    const seenLines = new Set<number>();
    const lines = text.split('\n');
    for (const err of doc.errors) {
      const pos = err.linePos?.[0];
      const line = pos?.line ?? 0;
      if (seenLines.has(line)) continue; // later errors on one line are echoes of the first
      seenLines.add(line);
      let message = YAML_HINTS[err.code] ?? `YAML syntax: ${(err.message.split(' at line ')[0] ?? err.message).trim()}`;
      if (lines[line - 1]?.includes('${') === true && YAML_HINTS[err.code] === undefined) {
        message += '; inside { } or [ ] quote a value that uses ${...}, e.g. cert: "${CERT}"';
      }
      problems.push({ path: pos === undefined ? '(file)' : `line ${pos.line}, column ${pos.col}`, message });
    }
    return { raw: undefined, problems };
  }
  if (doc.contents === null) {
    return {
      raw: undefined,
      problems: [{ path: '(file)', message: 'the file is empty; write a config (listen, upstreams, routes)' }],
    };
  }
  const problems: Problem[] = [];
  substituteNode(doc.contents, [], env, problems);
  try {
    return { raw: doc.toJS({ maxAliasCount: 100 }), problems };
  } catch (err) {
    // toJS refuses alias bombs (an alias expanded too many times).
    return { raw: undefined, problems: [...problems, { path: '(file)', message: `YAML: ${(err as Error).message}; use fewer aliases` }] };
  }
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): { raw: unknown; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    const why =
      code === 'ENOENT' ? 'no such file' :
      code === 'EISDIR' ? 'it is a directory' :
      code === 'EACCES' || code === 'EPERM' ? 'permission denied' :
      (cause as Error).message;
    throw new GatewayError(CONFIG_UNREADABLE, `cannot read config file ${file}: ${why}`, { cause });
  }
  return parseConfigText(text, env);
}
