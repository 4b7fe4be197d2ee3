import { test, expect } from 'vitest';
import { parseWarmupFlag } from '../../../src/cli/start.js';
import { DEFAULT_WARMUP } from '../../../src/server/warmup.js';

test('--warmup takes a duration from 0s to 10s; absent, the default budget', () => {
  expect(parseWarmupFlag(undefined)).toBe(DEFAULT_WARMUP.budgetMs);
  expect(parseWarmupFlag('0s')).toBe(0);
  expect(parseWarmupFlag('500ms')).toBe(500);
  expect(parseWarmupFlag('2s')).toBe(2000);
  expect(parseWarmupFlag('10s')).toBe(10_000);
});

test('--warmup refuses what is not a duration, or longer than 10s', () => {
  for (const bad of ['', '1', 'fast', '-1s', '11s', '1m']) expect(parseWarmupFlag(bad)).toBeNull();
});
