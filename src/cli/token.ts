// cli/token: `wsgate token`: mints an HMAC-signed JWT for trying a `type: jwt` provider locally (SPEC
// section 1); not for production issuing (no key management, no refresh).
import { parseArgs } from 'node:util';
import { parseDuration } from '../core/duration.js';

// Exported for `wsgate help token`; jose is loaded only when a token is minted, so listing help stays light.
export const TOKEN_HELP = `usage: wsgate token --secret S [--sub U] [--scope S ...] [--ttl 1h] [--iss URL] [--aud A ...] [--alg HS256]

Mints a signed JWT (HMAC) for trying auth locally and prints it on stdout.

options:
  --secret S     the provider's secret (default: the JWT_SECRET environment variable,
                 which keeps it out of the shell history and the process list)
  --sub U        the subject, the identity's id (default: dev)
  --scope S      a scope; repeat it or write several separated by spaces (claim "scope")
  --ttl D        lifetime: 30s, 15m, 1h, 7d (default: 1h); exp = now + ttl
  --iss URL      the issuer (claim "iss"), when the provider checks issuer
  --aud A        an audience (claim "aud"); repeat for several
  --alg A        HS256, HS384 or HS512 (default: HS256)
  -h, --help     this text

example:
  TOKEN=$(wsgate token --secret "$JWT_SECRET" --sub alice --scope chat --ttl 1h)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/me
`;

const ALGORITHMS = ['HS256', 'HS384', 'HS512'];

export async function tokenCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: { secret?: string; sub?: string; scope?: string[]; ttl?: string; iss?: string; aud?: string[]; alg?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        secret: { type: 'string' },
        sub: { type: 'string' },
        scope: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        iss: { type: 'string' },
        aud: { type: 'string', multiple: true },
        alg: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`wsgate token: ${(err as Error).message}\n${TOKEN_HELP}`);
    return 1;
  }
  if (values.help === true) {
    process.stdout.write(TOKEN_HELP);
    return 0;
  }
  const secret = values.secret ?? env.JWT_SECRET ?? '';
  if (secret === '') {
    process.stderr.write(`wsgate token: give the provider's secret with --secret S or the JWT_SECRET environment variable\n`);
    return 1;
  }
  const ttlMs = parseDuration(values.ttl ?? '1h');
  if (Number.isNaN(ttlMs) || ttlMs <= 0) {
    process.stderr.write(`wsgate token: --ttl must be a duration such as 30s, 15m, 1h or 7d, got "${values.ttl}"\n`);
    return 1;
  }
  const alg = values.alg ?? 'HS256';
  if (!ALGORITHMS.includes(alg)) {
    process.stderr.write(`wsgate token: --alg must be HS256, HS384 or HS512 (this command signs with a secret), got "${alg}"\n`);
    return 1;
  }
  const now = Math.floor(Date.now() / 1000);
  const scopes = (values.scope ?? []).flatMap((s) => s.split(' ')).filter((s) => s !== '');
  const claims: Record<string, unknown> = { sub: values.sub ?? 'dev' };
  if (scopes.length > 0) claims.scope = scopes.join(' ');
  if (values.iss !== undefined) claims.iss = values.iss;
  if (values.aud !== undefined) claims.aud = values.aud.length === 1 ? values.aud[0] : values.aud;
  const { SignJWT } = await import('jose');
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(ttlMs / 1000))
    .sign(new TextEncoder().encode(secret));
  process.stdout.write(`${token}\n`);
  return 0;
}
