// cli/schema: `wsgate schema` (SPEC section 1): prints the config's JSON Schema for editors; the package
// ships the same text as schema/wsgate.schema.json.
import { configJsonSchema } from '../config/json-schema.js';

export function schemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

export async function schemaCommand(): Promise<number> {
  process.stdout.write(schemaText());
  return 0;
}
