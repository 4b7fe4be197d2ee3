import { test, expect } from 'vitest';
import { scopesOf, subjectOf } from '../../../src/auth/provider.js';

test('scopes come from scope (space-separated) and scp (a list or a string)', () => {
  expect(scopesOf({ scope: 'chat  read' })).toEqual(['chat', 'read']);
  expect(scopesOf({ scp: ['a', 'b', 3] })).toEqual(['a', 'b']);
  expect(scopesOf({ scope: 'x', scp: 'y z' })).toEqual(['x', 'y', 'z']);
  expect(scopesOf({})).toEqual([]);
});

test('the identity is sub, else username, else the client', () => {
  expect(subjectOf({ sub: 'alice', username: 'al' })).toBe('alice');
  expect(subjectOf({ username: 'al', client_id: 'app' })).toBe('al');
  expect(subjectOf({ client_id: 'app' })).toBe('app');
  expect(subjectOf({ sub: '' })).toBe('unknown');
});
