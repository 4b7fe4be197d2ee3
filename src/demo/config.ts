// demo/config: the gateway config of the built-in demo, pointing at the embedded upstreams.
import type { GatewayConfigInput } from '../config/schema.js';
import { DEMO_PAGE_HTML } from './page.js';

export function demoConfig(up: { httpUrl: string; wsUrl: string }, port = 8080): GatewayConfigInput {
  return {
    listen: [{ port, host: '0.0.0.0' }],
    // The demo page links to this address.
    admin: { listen: '127.0.0.1:9901' },
    upstreams: {
      api: { targets: [{ url: up.httpUrl }] },
      realtime: { targets: [{ url: up.wsUrl }] },
    },
    routes: [
      { name: 'ping', match: { path: '/ping' }, respond: { status: 200, json: { message: 'pong' } } },
      {
        name: 'api',
        match: { path: '/api/*' },
        upstream: 'api',
        stripPrefix: '/api',
        headers: { request: { set: { 'X-Gateway': 'wsgate' } } },
      },
      { name: 'ws', match: { path: '/ws/*' }, upstream: 'realtime' },
      {
        name: 'page',
        match: { path: '/' },
        respond: { status: 200, body: DEMO_PAGE_HTML, headers: { 'content-type': 'text/html; charset=utf-8' } },
      },
    ],
  };
}
