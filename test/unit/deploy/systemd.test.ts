// The systemd unit (deploy/systemd/wsgate.service): reload is SIGHUP to the main process, stop is
// SIGTERM with a timeout longer than the product's default drain, and it starts what it validates.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT } from '../../helpers/cli.js';
import { DEFAULTS, closeGraceMs, drainTimeoutMs } from './shipped-config.js';
import { SEMI_SPACE_FLAG } from '../../../src/server/heap-tuning.js';

// [Section] → key → values (a key may repeat).
function unit(): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of readFileSync(join(ROOT, 'deploy/systemd/wsgate.service'), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section !== null) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const at = line.indexOf('=');
    expect(current, `"${line}" is inside a section`).toBeDefined();
    const key = line.slice(0, at);
    current!.set(key, [...(current!.get(key) ?? []), line.slice(at + 1)]);
  }
  return sections;
}

function value(section: string, key: string): string | undefined {
  return unit().get(section)?.get(key)?.at(-1);
}

test('systemctl reload sends SIGHUP to the main process, which rereads the config', () => {
  expect(value('Service', 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
});

test('it validates the config it starts, and starts the gateway in the foreground', () => {
  const start = value('Service', 'ExecStart')!;
  const file = /wsgate start -c (\S+)$/.exec(start)?.[1];
  expect(file).toBeDefined();
  expect(value('Service', 'ExecStartPre')).toMatch(new RegExp(`wsgate validate -c ${file!.replace(/[.]/g, '\\.')}$`));
  // exec: systemd knows the start failed when the binary is missing; simple would report success.
  expect(['exec', 'simple']).toContain(value('Service', 'Type'));
});

test('stop is SIGTERM to the main process, with more time than the default drain before SIGKILL', () => {
  expect(value('Service', 'KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
  expect(value('Service', 'KillMode')).toBe('mixed');
  const timeout = Number(value('Service', 'TimeoutStopSec'));
  expect(timeout * 1000).toBeGreaterThan(drainTimeoutMs(DEFAULTS) + closeGraceMs());
});

test('it runs as its own user, restarts on failure but not on an invalid config, and is enabled for boot', () => {
  expect(value('Service', 'User')).toMatch(/^(?!root$)\w+/);
  expect(value('Service', 'Restart')).toBe('on-failure');
  // Exit 1 is an invalid config or usage (SPEC section 1): a restart would fail the same way.
  expect(value('Service', 'RestartPreventExitStatus')).toBe('1');
  expect(value('Install', 'WantedBy')).toBe('multi-user.target');
});

test('the gateway runs with the young generation capped (src/server/heap-tuning.ts says why)', () => {
  const environment = unit().get('Service')?.get('Environment') ?? [];
  expect(environment).toContain(`NODE_OPTIONS=${SEMI_SPACE_FLAG}`);
});
