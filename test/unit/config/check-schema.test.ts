// config/check-schema: schema issues become problems whose messages name the fix.
import { expect, test } from 'vitest';
import { checkConfig } from '../../../src/config/check.js';
import { expectReported, type ProblemCase } from './check-cases.js';

// Cases change the deliberately ill-typed fixture of check-cases.ts.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

test.each<ProblemCase>([
  // schema
  { name: 'a duration with a space', change: (c) => { c.upstreams.chat.timeouts = { connect: '5 s' }; },
    path: 'upstreams.chat.timeouts.connect', message: /^invalid duration: write a number and a unit with no space/ },
  { name: 'an invalid size', change: (c) => { c.limits = { maxBodyBytes: '10 megabytes' }; },
    path: 'limits.maxBodyBytes', message: /^invalid size/ },
  { name: 'a size of the wrong type', change: (c) => { c.limits = { maxBodyBytes: true }; },
    path: 'limits.maxBodyBytes', message: 'expected a string or a number, got true or false' },
  { name: 'a quoted port', change: (c) => { c.listen = [{ port: '8080' }]; },
    path: 'listen[0].port', message: 'expected a number, got the string "8080"; remove the quotes' },
  { name: 'a missing route name', change: (c) => { delete c.routes[0].name; },
    path: 'routes[0].name', message: 'missing; add a string' },
  { name: 'an empty section', change: (c) => { c.admin = null; },
    path: 'admin', message: 'is empty; write an object (key: value pairs) here, or remove the key' },
  { name: 'a string where a list belongs', change: (c) => { c.trustedProxies = '10.0.0.0/8'; },
    path: 'trustedProxies', message: /^expected a list, got a string; write \[a, b\]/ },
  { name: 'an unknown log level', change: (c) => { c.log = { level: 'inf' }; },
    path: 'log.level', message: /^"inf" is not allowed \(did you mean "info"\?\); use one of: "trace", "debug", "info"/ },
  { name: 'an upstream without targets', change: (c) => { c.upstreams.chat.targets = []; },
    path: 'upstreams.chat.targets', message: 'an upstream needs at least one target' },
  { name: 'a path without a leading slash', change: (c) => { c.routes[0].match.path = 'ping'; },
    path: 'routes[0].match.path', message: 'a path pattern starts with "/"' },
  { name: 'a port out of range', change: (c) => { c.listen = [{ port: 70000 }]; },
    path: 'listen[0].port', message: 'must be at most 65535' },
  { name: 'an unknown key close to a known one', change: (c) => { c.routes[1].upsteam = 'chat'; },
    path: 'routes[1].upsteam', message: 'unknown key "upsteam" (did you mean "upstream"?)' },
  { name: 'an unknown key in a nested object', change: (c) => { c.routes[0].respond.bdy = 'x'; },
    path: 'routes[0].respond.bdy', message: 'unknown key "bdy" (did you mean "body"?)' },
  { name: 'an unknown key inside a record value', change: (c) => { c.upstreams.chat.timeout = {}; },
    path: 'upstreams.chat.timeout', message: 'unknown key "timeout" (did you mean "timeouts"?)' },
  { name: 'an unknown key with nothing close', change: (c) => { c.routes[0].bogus = 1; },
    path: 'routes[0].bogus', message: 'unknown key "bogus"; remove it (allowed here: name, match, upstream, respond, stripPrefix, rewrite, headers, websocket, auth, cors, rateLimit, log)' },
  { name: 'an unknown top-level key', change: (c) => { c.rotues = []; },
    path: 'rotues', message: 'unknown key "rotues" (did you mean "routes"?)' },
])('reports $name', expectReported);

test('reports a config that is not an object', () => {
  expect(checkConfig([]).problems).toEqual([{ path: '', message: expect.stringMatching(/^expected an object, got a list/) as unknown }]);
  expect(checkConfig(null).problems).toEqual([{ path: '', message: expect.stringMatching(/^is empty/) as unknown }]);
});
