import { test, expect } from 'vitest';
import { checkConfig } from '../../../src/config/check.js';

test('http2: true on a listener is refused by name with what to do instead', () => {
  const { config, problems } = checkConfig({ listen: [{ port: 8443, http2: true }] });
  expect(config).toBeNull();
  expect(problems).toContainEqual({ path: 'listen[0].http2', message: expect.stringMatching(/^HTTP\/2 listeners are not available in this version; remove http2/) as unknown });
});

test('http2: false is accepted', () => {
  expect(checkConfig({ listen: [{ port: 8443, http2: false }] }).problems).toEqual([]);
});
