import { test, expect } from 'vitest';
import { SEMI_SPACE_FLAG, setsSemiSpace, workerExecArgv } from '../../../src/server/heap-tuning.js';

test('a worker gets the semi-space cap after its own flags', () => {
  expect(SEMI_SPACE_FLAG).toBe('--max-semi-space-size=8');
  expect(workerExecArgv([], undefined)).toEqual(['--max-semi-space-size=8']);
  expect(workerExecArgv(['--import', 'tsx'], '--enable-source-maps')).toEqual(['--import', 'tsx', '--max-semi-space-size=8']);
});

test("a user's own semi-space size, as a flag or in NODE_OPTIONS, with dashes or underscores, is kept as given", () => {
  expect(workerExecArgv(['--max-semi-space-size=32'], undefined)).toEqual(['--max-semi-space-size=32']);
  expect(workerExecArgv([], '--max_semi_space_size=4 --enable-source-maps')).toEqual([]);
  expect(setsSemiSpace(['--max-old-space-size=512'], '--max-old-space-size=512')).toBe(false);
});
