// config/check-upstreams: cross-checks of each upstream: target URLs (scheme://host:port, never
// credentials), at least one target that is not a backup, and hashOn only beside balance: hash.
import { formatPath, type Problem } from './load.js';
import { isObj, list, type Obj } from './raw.js';

const TARGET_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

function checkTargetUrl(text: string): string | null {
  // Never echo a URL that may hold credentials.
  const shown = text.includes('@') ? 'the URL' : `"${text}"`;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) {
    return `${shown} has no scheme; write it like http://${text.includes('@') ? '127.0.0.1:3001' : text.replace(/^\/+/, '')}`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${shown} is not a valid URL; write it like http://127.0.0.1:3001`;
  }
  if (!TARGET_SCHEMES.has(url.protocol)) {
    return `unsupported scheme "${url.protocol}"; use http: or https: (ws: and wss: are accepted as http: and https:)`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'a target URL cannot hold credentials; remove them and send them with the route\'s headers.request.set';
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) {
    return `${shown} has a path, query or fragment; a target is scheme://host:port only, put path changes in the route (stripPrefix/rewrite)`;
  }
  return null;
}

const NOT_HASH = new Set(['round_robin', 'least_conn', 'random']);

export function checkUpstreams(raw: Obj, problems: Problem[]): void {
  if (!isObj(raw.upstreams)) return;
  for (const [name, up] of Object.entries(raw.upstreams)) {
    if (!isObj(up)) continue;
    const targets = list(up.targets);
    targets.forEach((t, j) => {
      if (!isObj(t) || typeof t.url !== 'string') return;
      const message = checkTargetUrl(t.url);
      if (message !== null) problems.push({ path: formatPath(['upstreams', name, 'targets', j, 'url']), message });
    });
    if (targets.length > 0 && targets.every((t) => isObj(t) && t.backup === true)) {
      problems.push({
        path: formatPath(['upstreams', name, 'targets']),
        message: 'every target is a backup, so none would ever be used first; remove backup: true from at least one',
      });
    }
    // hashOn is read by the hash balancer alone: elsewhere it would be silently ignored. `sticky` with
    // `balance: hash` is allowed: the cookie's target wins, the hash places a client without one.
    // A misspelt balance is the schema's problem already; this one is about a valid other policy.
    const balance = up.balance ?? 'round_robin';
    if (up.hashOn !== undefined && typeof balance === 'string' && NOT_HASH.has(balance)) {
      problems.push({
        path: formatPath(['upstreams', name, 'hashOn']),
        message: `hashOn is only used with balance: hash, and this upstream balances by ${balance}; add balance: hash or remove hashOn`,
      });
    }
  }
}
