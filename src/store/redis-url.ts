// store/redis-url: reads `store.redis` into where ioredis connects: one server (redis://, rediss://
// with TLS), Sentinel (redis+sentinel://) or Cluster (redis+cluster://). Pure: no ioredis here, so
// config/ can check a URL without loading the client.
//
//   redis://[user:password@]host[:6379][/db]              rediss:// is the same over TLS
//   redis+sentinel://[:password@]host1:26379,host2:26379/mastername[/db]   (rediss+sentinel: TLS)
//   redis+cluster://[:password@]host1:6379,host2:6379                      (rediss+cluster: TLS)

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly mode: 'single'; readonly url: string }
  | { readonly mode: 'sentinel'; readonly sentinels: readonly RedisNode[]; readonly name: string; readonly db: number; readonly username: string | null; readonly password: string | null; readonly tls: boolean }
  | { readonly mode: 'cluster'; readonly nodes: readonly RedisNode[]; readonly username: string | null; readonly password: string | null; readonly tls: boolean };

const SCHEMES = /^(redis|rediss|redis\+sentinel|rediss\+sentinel|redis\+cluster|rediss\+cluster):\/\/(.*)$/;

/** The target, or a message saying what is wrong with the URL (never repeating its password). */
export function parseRedisUrl(text: string): RedisTarget | string {
  const m = SCHEMES.exec(text);
  if (m === null) return 'write a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL, e.g. "redis://127.0.0.1:6379"';
  const scheme = m[1]!;
  const rest = m[2]!;
  if (scheme === 'redis' || scheme === 'rediss') {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      return 'not a valid URL: write redis://host:port, e.g. "redis://127.0.0.1:6379"';
    }
    if (u.hostname === '') return 'the URL has no host: write redis://host:port';
    const db = u.pathname.replace(/^\//, '');
    if (db !== '' && !/^\d{1,2}$/.test(db)) return `"/${db}" is not a database number: write /0 to /15 or nothing`;
    return { mode: 'single', url: text };
  }
  const tls = scheme.startsWith('rediss');
  const at = rest.lastIndexOf('@');
  const auth = at === -1 ? '' : rest.slice(0, at);
  const afterAuth = at === -1 ? rest : rest.slice(at + 1);
  const slash = afterAuth.indexOf('/');
  const hostList = slash === -1 ? afterAuth : afterAuth.slice(0, slash);
  const path = slash === -1 ? '' : afterAuth.slice(slash + 1);
  const nodes = parseNodes(hostList, scheme.endsWith('sentinel') ? 26379 : 6379);
  if (typeof nodes === 'string') return nodes;
  const colon = auth.indexOf(':');
  const username = colon <= 0 ? null : decodeURIComponent(auth.slice(0, colon));
  const password = auth === '' ? null : decodeURIComponent(colon === -1 ? auth : auth.slice(colon + 1));
  if (scheme.endsWith('cluster')) {
    if (path !== '') return 'a Cluster URL has no path (Redis Cluster has one database): write redis+cluster://host1:6379,host2:6379';
    return { mode: 'cluster', nodes, username, password, tls };
  }
  const [name = '', dbText = ''] = path.split('/');
  if (name === '') return 'a Sentinel URL names its master after the hosts: redis+sentinel://host1:26379,host2:26379/mymaster';
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) return `"/${dbText}" is not a database number: write /0 to /15 or nothing`;
  return { mode: 'sentinel', sentinels: nodes, name: decodeURIComponent(name), db: dbText === '' ? 0 : Number(dbText), username, password, tls };
}

function parseNodes(list: string, defaultPort: number): RedisNode[] | string {
  const nodes: RedisNode[] = [];
  for (const entry of list.split(',')) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(entry);
    if (m === null) return `"${entry}" is not host or host:port`;
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) return `port ${port} is out of range (1-65535)`;
    nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

/** The URL with its password replaced, for logs and GET /api/config. */
export function redactRedisUrl(text: string): string {
  return text.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_all, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon === -1 ? `${scheme}[redacted]@` : `${scheme}${auth.slice(0, colon)}:[redacted]@`;
  });
}
