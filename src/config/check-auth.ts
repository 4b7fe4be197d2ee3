// config/check-auth: cross-checks of the `auth` providers and routes' `auth` (docs/security.md) that
// the schema cannot make: a route names an existing provider, a jwt provider has exactly one key
// source that fits its algorithms, a protocol-only token source is not used where no WebSocket can come.
import { formatPath, type Problem } from './load.js';
import { isObj, type Obj } from './raw.js';
import { didYouMean } from './suggest.js';

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

const KEY_SOURCES = ['secret', 'publicKey', 'jwksUrl'] as const;

export function checkAuth(raw: Obj, problems: Problem[]): void {
  const auth = isObj(raw.auth) ? raw.auth : {};
  for (const [name, p] of Object.entries(auth)) {
    if (!isObj(p)) continue;
    const at = (...keys: (string | number)[]): string => formatPath(['auth', name, ...keys]);
    if (p.type === 'jwt') checkJwt(p, at, problems);
    if (p.type === 'introspection' && typeof p.clientSecret === 'string' && p.clientSecret !== '' && p.clientId === undefined) {
      problems.push({ path: at('clientSecret'), message: 'clientSecret needs clientId: add the client id the authorization server issued' });
    }
    if (p.type === 'apiKey' && Array.isArray(p.keys)) checkKeys(p.keys, at, problems);
  }
  const names = Object.keys(auth);
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  routes.forEach((r, i) => {
    if (!isObj(r) || !isObj(r.auth) || typeof r.auth.use !== 'string') return;
    const use = r.auth.use;
    const path = `routes[${i}].auth.use`;
    const provider = auth[use];
    if (!isObj(provider)) {
      const hint = didYouMean(use, names);
      problems.push({
        path,
        message: names.length === 0 ? `unknown auth provider "${use}": define it under the top-level auth key` : `unknown auth provider "${use}"${hint !== '' ? hint : ` (defined: ${names.join(', ')})`}`,
      });
      return;
    }
    const from = strings(provider.tokenFrom);
    if (r.respond !== undefined && from.length > 0 && from.every((s) => s === 'protocol')) {
      problems.push({ path, message: `provider "${use}" reads tokens only from the WebSocket subprotocol, and route ${String(r.name)} answers with respond (no WebSocket): add header to its tokenFrom` });
    }
  });
}

function checkJwt(p: Obj, at: (...keys: (string | number)[]) => string, problems: Problem[]): void {
  const given = KEY_SOURCES.filter((k) => p[k] !== undefined);
  if (given.length > 1) {
    problems.push({ path: at(given[1]!), message: `a jwt provider takes one key source; remove ${given.slice(1).join(' or ')} or ${given[0]}` });
    return;
  }
  if (given.length === 0 && p.issuer === undefined) {
    problems.push({ path: at(), message: 'a jwt provider needs a key: secret (HS*), publicKey (a PEM file), jwksUrl, or issuer (OIDC discovery)' });
    return;
  }
  const algorithms = strings(p.algorithms);
  const hmac = algorithms.filter((a) => a.startsWith('HS'));
  const asymmetric = algorithms.filter((a) => !a.startsWith('HS') && a.toLowerCase() !== 'none');
  if (p.secret !== undefined && asymmetric.length > 0) {
    problems.push({ path: at('algorithms'), message: `${asymmetric.join(', ')} need a public key (publicKey, jwksUrl or issuer), not secret; list only HS256, HS384 or HS512 with a secret` });
  }
  if (p.secret === undefined && hmac.length > 0) {
    // An HMAC check against a public key would accept tokens anyone holding that key can sign.
    problems.push({ path: at('algorithms'), message: `${hmac.join(', ')} need secret; with a public key or JWKS list asymmetric algorithms such as RS256 or ES256` });
  }
}

function checkKeys(keys: unknown[], at: (...keys: (string | number)[]) => string, problems: Problem[]): void {
  const ids = new Map<string, number>();
  const hashes = new Map<string, number>();
  keys.forEach((k, j) => {
    if (!isObj(k)) return;
    if (typeof k.id === 'string') {
      const first = ids.get(k.id);
      if (first !== undefined) problems.push({ path: at('keys', j, 'id'), message: `duplicate key id "${k.id}" (also keys[${first}]); give each key its own id` });
      else ids.set(k.id, j);
    }
    if (typeof k.sha256 === 'string') {
      const first = hashes.get(k.sha256.toLowerCase());
      if (first !== undefined) problems.push({ path: at('keys', j, 'sha256'), message: `the same key hash as keys[${first}]; each key needs its own secret` });
      else hashes.set(k.sha256.toLowerCase(), j);
    }
  });
}
