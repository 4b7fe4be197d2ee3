// store.redis: the URL forms ioredis is given (one server, TLS, Sentinel, Cluster), the config
// problems a bad one gets (naming the key), and the password never shown back.
import { describe, expect, test } from 'vitest';
import { redactConfig } from '../../../src/admin/views.js';
import { checkConfig } from '../../../src/config/check.js';
import { compileConfig } from '../../../src/config/compile.js';
import { parseRedisUrl, redactRedisUrl } from '../../../src/store/redis-url.js';

describe('parseRedisUrl', () => {
  test('one server, with or without TLS, password and database, goes to ioredis as written', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://:s3cret@cache.internal:6380/2', 'redis://user:pw@[::1]:6379']) {
      expect(parseRedisUrl(url)).toEqual({ mode: 'single', url });
    }
  });

  test('Sentinel: the sentinels, the master name, the database, credentials and TLS', () => {
    expect(parseRedisUrl('rediss+sentinel://:pw@s1:26379,s2,10.0.0.3:26380/mymaster/3')).toEqual({
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: '10.0.0.3', port: 26380 }],
      name: 'mymaster',
      db: 3,
      username: null,
      password: 'pw',
      tls: true,
    });
  });

  test('Cluster: the seed nodes and credentials', () => {
    expect(parseRedisUrl('redis+cluster://app:pw@n1:7000,n2:7001')).toEqual({
      mode: 'cluster',
      nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }],
      username: 'app',
      password: 'pw',
      tls: false,
    });
  });

  test.each([
    ['http://127.0.0.1:6379', /redis:\/\//],
    ['redis://', /no host|not a valid URL/],
    ['redis://h:6379/x', /database number/],
    ['redis+sentinel://s1:26379', /names its master/],
    ['redis+cluster://n1:7000/0', /no path/],
    ['redis+cluster://n1:99999', /out of range/],
  ])('%s is refused with a message that says what to write', (url, message) => {
    expect(parseRedisUrl(url)).toMatch(message);
  });
});

describe('store in the config', () => {
  test('a bad URL is a problem at store.redis; the message never repeats the password', () => {
    const { problems } = checkConfig({ store: { redis: 'https://:hunter2@cache:6379' } });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('store.redis');
    expect(problems[0]!.message).not.toContain('hunter2');
  });

  test('unknown keys and a timeout out of range are named', () => {
    const { problems } = checkConfig({ store: { redis: 'redis://h:6379', timeout: '10s', ttl: 5 } });
    expect(problems.map((p) => p.path).sort()).toEqual(['store.timeout', 'store.ttl']);
  });

  test('compiles to the target, key prefix and timeout in ms; memory stays memory', () => {
    const { config } = checkConfig({ store: { redis: 'redis://h:6379', keyPrefix: 'edge:', timeout: '50ms' } });
    expect(compileConfig(config!).store).toEqual({ kind: 'redis', target: { mode: 'single', url: 'redis://h:6379' }, keyPrefix: 'edge:', timeoutMs: 50 });
    expect(compileConfig(checkConfig({}).config!).store).toEqual({ kind: 'memory' });
  });

  test('GET /api/config shows the URL with its password redacted', () => {
    expect(redactRedisUrl('redis://app:hunter2@cache:6379/1')).toBe('redis://app:[redacted]@cache:6379/1');
    expect(redactRedisUrl('redis+sentinel://:hunter2@s1,s2/m')).toBe('redis+sentinel://:[redacted]@s1,s2/m');
    expect(redactRedisUrl('redis://cache:6379')).toBe('redis://cache:6379');
    expect(JSON.stringify(redactConfig({ store: { redis: 'rediss://:hunter2@cache:6380' } }))).not.toContain('hunter2');
  });
});
