// The config checks' unit tests share this: a small valid config, each case changing one thing in a
// fresh copy, and the assertion that the change is reported once, at its path, with its message.
import { expect } from 'vitest';
import { checkConfig, formatProblems } from '../../../src/config/check.js';
import type { Problem } from '../../../src/config/load.js';

// Fixtures are deliberately ill-typed (the point is to feed the checker wrong shapes), hence `any` here
// only, and the unchecked reads and calls the cases make on it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Raw = Record<string, any>;

export interface ProblemCase {
  name: string;
  change: (c: Raw) => void;
  path: string;
  message: string | RegExp;
}

// A small valid config; each case changes one thing in a fresh copy.
export function base(): Raw {
  return {
    upstreams: { chat: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { json: { message: 'pong' } } },
      { name: 'chat', match: { path: '/ws/*' }, upstream: 'chat' },
    ],
  };
}

export function problemsOf(change: (c: Raw) => void): Problem[] {
  const config = base();
  change(config);
  const result = checkConfig(config);
  expect(result.config).toBeNull();
  return result.problems;
}

// The case's change is reported exactly once at its path, with its message.
export function expectReported({ change, path, message }: ProblemCase): void {
  const problems = problemsOf(change);
  const found = problems.filter((p) => p.path === path);
  expect(found, formatProblems(problems)).toHaveLength(1);
  if (typeof message === 'string') expect(found[0]!.message).toBe(message);
  else expect(found[0]!.message).toMatch(message);
}
