// The Docker files (deploy/docker) agree with the code and with what the issue asks, checked by parsing
// (no container runtime needed): a multi-stage build, production dependencies only at run time, a
// non-root user, a health check on /healthz, node as PID 1 with SIGTERM, and a compose file whose two
// gateways load their config, reach Redis and the demo upstreams, and get time to drain.
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/cli.js';
import { DEFAULTS, checkShippedConfig, closeGraceMs, drainTimeoutMs, envNames, portOf } from './shipped-config.js';
import { SEMI_SPACE_FLAG } from '../../../src/server/heap-tuning.js';

const DIR = join(ROOT, 'deploy/docker');

interface Instruction {
  stage: number;
  keyword: string;
  args: string;
}

// Dockerfile instructions with their stage, continuation lines joined, comments dropped.
function instructions(): Instruction[] {
  const text = readFileSync(join(DIR, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(trimmed) ?? [];
    if (keyword.toUpperCase() === 'FROM') stage++;
    out.push({ stage, keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ') });
  }
  return out;
}

// The JSON array of an exec-form instruction; fails the test on shell form.
function execForm(args: string, what: string): string[] {
  expect(args.trim().startsWith('['), `${what} in exec form (a JSON array), so no shell sits between docker and node`).toBe(true);
  return JSON.parse(args) as string[];
}

function finalStage(): Instruction[] {
  const all = instructions();
  const last = Math.max(...all.map((i) => i.stage));
  return all.filter((i) => i.stage === last);
}

describe('Dockerfile', () => {
  test('builds in one stage and runs from another that installs production dependencies only', () => {
    const all = instructions();
    const stages = all.filter((i) => i.keyword === 'FROM');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(all.some((i) => i.stage < stages.length - 1 && i.keyword === 'RUN' && /npm run build|tsc /.test(i.args))).toBe(true);
    const installs = finalStage().filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
    expect(installs).toHaveLength(1);
    expect(installs[0]!.args).toMatch(/\bnpm ci\b.*--omit=dev/);
    // dist/ comes from the build stage; no TypeScript source reaches the image.
    expect(finalStage().some((i) => i.keyword === 'COPY' && /--from=\S+ \S*dist/.test(i.args))).toBe(true);
    expect(finalStage().some((i) => i.keyword === 'COPY' && /(^| )src( |$)/.test(i.args))).toBe(false);
  });

  test('runs as a user other than root, set before the entrypoint', () => {
    const stage = finalStage();
    const userAt = stage.findIndex((i) => i.keyword === 'USER');
    expect(userAt).toBeGreaterThanOrEqual(0);
    expect(stage[userAt]!.args).not.toMatch(/^(root|0)(:|$)/);
    expect(userAt).toBeLessThan(stage.findIndex((i) => i.keyword === 'ENTRYPOINT'));
  });

  test('has a HEALTHCHECK on /healthz of the default admin address', () => {
    const check = finalStage().find((i) => i.keyword === 'HEALTHCHECK');
    expect(check).toBeDefined();
    const cmd = /CMD (\[.*\])$/.exec(check!.args)?.[1];
    const argv = execForm(cmd ?? '', 'HEALTHCHECK CMD');
    expect(argv.join(' ')).toContain(`http://${DEFAULTS.admin.listen}/healthz`);
  });

  test('node is PID 1 (exec-form ENTRYPOINT) and receives SIGTERM; the default command is `start`', () => {
    const stage = finalStage();
    const entrypoint = execForm(stage.find((i) => i.keyword === 'ENTRYPOINT')!.args, 'ENTRYPOINT');
    // node with the young generation capped (src/server/heap-tuning.ts says why), then the CLI.
    expect(entrypoint).toEqual(['node', SEMI_SPACE_FLAG, '/app/dist/cli/main.js']);
    expect(execForm(stage.find((i) => i.keyword === 'CMD')!.args, 'CMD')).toEqual(['start']);
    const stopSignal = stage.find((i) => i.keyword === 'STOPSIGNAL');
    expect(stopSignal?.args ?? 'SIGTERM').toBe('SIGTERM');
  });

  test('exposes the default listener and admin ports', () => {
    const exposed = finalStage().filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(' ').map((p) => Number(p.split('/')[0])));
    expect(exposed).toEqual(expect.arrayContaining([DEFAULTS.listen[0]!.port, portOf(DEFAULTS.admin.listen)]));
  });

  test('every file the build copies from the context exists and is let through by Dockerfile.dockerignore', () => {
    const allowed = readFileSync(join(DIR, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => posix.normalize(l.slice(1).replace(/\/$/, '')));
    const sources = instructions()
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(' ').slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      expect(allowed, `${source} is let through`).toContain(posix.normalize(source));
    }
  });
});

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
}

function compose(): Record<string, Service> {
  // merge: the gateways share one block through a YAML anchor and `<<`.
  const doc = parse(readFileSync(join(DIR, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  return doc.services;
}

// Gateways: the services that run `wsgate start`.
function gateways(): [string, Service][] {
  return Object.entries(compose()).filter(([, s]) => s.command?.[0] === 'start');
}

// compose durations: "60s", "1m30s".
function seconds(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(h|m|s)/g)) total += Number(n) * { h: 3600, m: 60, s: 1 }[unit as 'h' | 'm' | 's'];
  return total;
}

describe('compose.yaml', () => {
  test('runs two gateways built from the Dockerfile, Redis and the demo upstreams, each with a health check', () => {
    const services = compose();
    expect(gateways()).toHaveLength(2);
    // Every wsgate container is built from the Dockerfile: compose would try to pull an image it has not built.
    const wsgate = Object.entries(services).filter(([, s]) => s.image?.startsWith('wsgate:'));
    expect(wsgate.map(([name]) => name).sort()).toEqual([...gateways().map(([name]) => name), 'upstreams'].sort());
    for (const [, s] of wsgate) expect(s.build).toEqual({ context: '../..', dockerfile: 'deploy/docker/Dockerfile' });
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(services.upstreams?.command?.[0]).toBe('demo');
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test[0], `${name} has a health check`).toMatch(/^CMD/);
    }
  });

  test('each gateway loads the mounted config (every ${NAME} set) and starts after Redis and the upstreams are healthy', () => {
    for (const [name, gw] of gateways()) {
      const file = gw.command![gw.command!.indexOf('-c') + 1]!;
      const volume = gw.volumes?.find((v) => v.split(':')[1] === file);
      expect(volume, `${name} mounts ${file}`).toBeDefined();
      const text = readFileSync(join(DIR, volume!.split(':')[0]!), 'utf8');
      const env = gw.environment ?? {};
      expect(envNames(text).filter((n) => !(n in env) && !text.includes(`\${${n}:-`))).toEqual([]);
      checkShippedConfig(text, env, `${name}: ${file}`);
      expect(gw.depends_on).toEqual({ redis: { condition: 'service_healthy' }, upstreams: { condition: 'service_healthy' } });
    }
  });

  test('the gateways route to the upstreams service on the port it serves, and Redis is the compose service', () => {
    const services = compose();
    const demo = services.upstreams!.command!;
    const demoPort = Number(demo[demo.indexOf('--port') + 1]);
    for (const [name, gw] of gateways()) {
      const text = readFileSync(join(DIR, gw.volumes![0]!.split(':')[0]!), 'utf8');
      const config = checkShippedConfig(text, gw.environment ?? {}, name);
      const targets = Object.values(config.upstreams).flatMap((u) => u.targets.map((t) => new URL(t.url)));
      expect(targets.length).toBeGreaterThan(0);
      for (const url of targets) expect([url.hostname, Number(url.port)]).toEqual(['upstreams', demoPort]);
      expect(new URL(gw.environment!.WSGATE_REDIS_URL!).hostname).toBe('redis');
      // The health check asks the admin listener the config opens.
      expect(gw.healthcheck!.test.join(' ')).toContain(`http://${config.admin.listen}/healthz`);
    }
  });

  test('the gateways publish different host ports, and get longer than the drain to stop', () => {
    const published = gateways().map(([, gw]) => gw.ports![0]!.split(':')[0]);
    expect(new Set(published).size).toBe(2);
    for (const [name, gw] of gateways()) {
      const text = readFileSync(join(DIR, gw.volumes![0]!.split(':')[0]!), 'utf8');
      const config = checkShippedConfig(text, gw.environment ?? {}, name);
      expect(gw.ports![0]!.split(':')[1]).toBe(String(config.listen[0]!.port));
      expect(seconds(gw.stop_grace_period ?? '10s') * 1000, `${name}: stop_grace_period`).toBeGreaterThan(drainTimeoutMs(config) + closeGraceMs());
    }
  });
});
