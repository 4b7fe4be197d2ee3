// cli/hash-key: `wsgate hash-key KEY`: the sha256 line an `apiKey` provider's `keys` list takes, so
// the config holds a hash and never the key itself (SPEC section 1).
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

export const HASH_KEY_HELP = `usage: wsgate hash-key [KEY] [--id ID]

Prints the SHA-256 of an API key as the config wants it. Without KEY, reads the key from stdin
(one line), which keeps it out of the shell history and the process list.

options:
  --id ID      print the whole keys entry: - { id: ID, sha256: ... }
  -h, --help   this text

example:
  wsgate hash-key --id acme "$ACME_KEY"
  # paste under auth.<provider>.keys:
  - { id: acme, sha256: 5e88...42d8 }
`;

export async function hashKeyCommand(args: string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  let values: { id?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { id: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`wsgate hash-key: ${(err as Error).message}\n${HASH_KEY_HELP}`);
    return 1;
  }
  if (values.help === true) {
    process.stdout.write(HASH_KEY_HELP);
    return 0;
  }
  if (positionals.length > 1) {
    process.stderr.write(`wsgate hash-key: give one key (got ${positionals.length}); quote a key that holds spaces\n`);
    return 1;
  }
  const key = positionals[0] ?? (await readLine(stdin));
  if (key === '') {
    process.stderr.write('wsgate hash-key: the key is empty; pass it as an argument or on stdin\n');
    return 1;
  }
  const sha256 = createHash('sha256').update(key).digest('hex');
  process.stdout.write(values.id === undefined ? `sha256: ${sha256}\n` : `- { id: ${values.id}, sha256: ${sha256} }\n`);
  return 0;
}

// The first line of stdin, without its line break.
async function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}
