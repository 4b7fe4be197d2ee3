// config/check-routes: route names, upstream references, path and host patterns, stripPrefix.
import { test } from 'vitest';
import { expectReported, type ProblemCase } from './check-cases.js';

// Cases change the deliberately ill-typed fixture of check-cases.ts.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call */

test.each<ProblemCase>([
  // references and route shape
  { name: 'an unknown upstream close to a known one', change: (c) => { c.routes[1].upstream = 'chta'; },
    path: 'routes[1].upstream', message: 'unknown upstream "chta" (did you mean "chat"?)' },
  { name: 'an unknown upstream with nothing close', change: (c) => { c.routes[1].upstream = 'billing'; },
    path: 'routes[1].upstream', message: 'unknown upstream "billing"; define it under upstreams or use one of: "chat"' },
  { name: 'a duplicate route name', change: (c) => { c.routes.push({ name: 'ping', match: { path: '/p' }, upstream: 'chat' }); },
    path: 'routes[2].name', message: 'duplicate route name "ping" (also routes[0]); give each route its own name' },
  { name: 'a route with upstream and respond', change: (c) => { c.routes[1].respond = { status: 200 }; },
    path: 'routes[1]', message: 'a route needs exactly one of upstream or respond; remove one of them' },
  { name: 'a route with neither upstream nor respond', change: (c) => { delete c.routes[1].upstream; },
    path: 'routes[1]', message: 'a route needs exactly one of upstream or respond; add upstream: NAME or respond: { status: 200 }' },
  { name: 'respond with json and body', change: (c) => { c.routes[0].respond.body = 'pong'; },
    path: 'routes[0].respond', message: 'write either json or body, not both' },
  // path patterns
  { name: 'a star inside a segment', change: (c) => { c.routes[1].match.path = '/ws*'; },
    path: 'routes[1].match.path', message: '"/ws*": "*" may only be the whole last segment, as in "/api/*"' },
  { name: 'a star before the last segment', change: (c) => { c.routes[1].match.path = '/ws/*/x'; },
    path: 'routes[1].match.path', message: '"/ws/*/x": "*" may only be the whole last segment, as in "/api/*"' },
  { name: 'a trailing slash', change: (c) => { c.routes[1].match.path = '/ws/'; },
    path: 'routes[1].match.path', message: '"/ws/" ends with "/"; write "/ws" for exactly that path or "/ws/*" for everything under it' },
  { name: 'an empty segment', change: (c) => { c.routes[1].match.path = '/a//b'; },
    path: 'routes[1].match.path', message: '"/a//b" has an empty segment ("//"); remove the extra "/"' },
  { name: 'a parameter with a bad name', change: (c) => { c.routes[1].match.path = '/users/:1d'; },
    path: 'routes[1].match.path', message: /^"\/users\/:1d": parameter ":1d" must be a whole segment named with letters, digits and _/ },
  { name: 'a parameter inside a segment', change: (c) => { c.routes[1].match.path = '/users/x:id'; },
    path: 'routes[1].match.path', message: '"/users/x:id": ":" starts a parameter and must begin a segment, as in "/users/:id"' },
  { name: 'a repeated parameter', change: (c) => { c.routes[1].match.path = '/a/:id/b/:id'; },
    path: 'routes[1].match.path', message: '"/a/:id/b/:id" uses ":id" twice; give each parameter its own name' },
  { name: 'a dot segment', change: (c) => { c.routes[1].match.path = '/a/../b'; },
    path: 'routes[1].match.path', message: /^"\/a\/\.\.\/b" has a "\.\." segment/ },
  { name: 'a query in a path pattern', change: (c) => { c.routes[1].match.path = '/search?q=1'; },
    path: 'routes[1].match.path', message: /holds a query or fragment/ },
  { name: 'a space in a path pattern', change: (c) => { c.routes[1].match.path = '/a b'; },
    path: 'routes[1].match.path', message: /^"\/a b" contains " "; .*percent-encode anything else$/ },

  // host patterns
  { name: 'a host with a port', change: (c) => { c.routes[1].match.host = 'chat.example.com:8080'; },
    path: 'routes[1].match.host', message: '"chat.example.com:8080" has a port; match.host does not take a port (the listener decides it), write "chat.example.com"' },
  { name: 'a wildcard that is not the leading label', change: (c) => { c.routes[1].match.host = 'chat.*.com'; },
    path: 'routes[1].match.host', message: '"chat.*.com": only a whole leading "*." label is allowed, as in "*.example.com"' },
  { name: 'a partial wildcard label', change: (c) => { c.routes[1].match.host = '*chat.example.com'; },
    path: 'routes[1].match.host', message: /only a whole leading "\*\." label/ },
  { name: 'a lone star host', change: (c) => { c.routes[1].match.host = '*'; },
    path: 'routes[1].match.host', message: '"*" matches every host; remove match.host instead' },
  { name: 'a host with a scheme', change: (c) => { c.routes[1].match.host = 'https://chat.example.com/'; },
    path: 'routes[1].match.host', message: /holds a scheme; write the host name only, e.g. "chat\.example\.com"/ },
  { name: 'an invalid host name', change: (c) => { c.routes[1].match.host = 'chat_.-bad'; },
    path: 'routes[1].match.host', message: /is not a valid host name/ },

  // stripPrefix
  { name: 'a stripPrefix outside the path', change: (c) => { c.routes[1].stripPrefix = '/api'; },
    path: 'routes[1].stripPrefix', message: /^"\/api" is not a whole-segment prefix of the route path "\/ws\/\*", so it would never apply; use "\/ws"/ },
  { name: 'a stripPrefix that cuts a segment', change: (c) => { c.routes[1].stripPrefix = '/w'; },
    path: 'routes[1].stripPrefix', message: /is not a whole-segment prefix/ },
  { name: 'a stripPrefix past the static part', change: (c) => { c.routes[1].stripPrefix = '/ws/x'; },
    path: 'routes[1].stripPrefix', message: /is not a whole-segment prefix/ },
])('reports $name', expectReported);
