import { test, expect } from 'vitest';
import { startGateway, proxyConfig } from '../../helpers/gateway.js';
import { startHttpUpstream, startWsEcho } from '../../helpers/servers.js';
import { openWs, nextMessage, closed } from '../../helpers/clients.js';

test('relays a GET to the upstream and its answer back', async () => {
  const up = await startHttpUpstream((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, xff: req.headers['x-forwarded-for'] }));
  });
  const gw = await startGateway(proxyConfig(up.url));
  const res = await fetch(gw.url('/hello?x=1'));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ path: '/hello?x=1', xff: '127.0.0.1' });
});

test('relays WebSocket messages both ways and the close code', async () => {
  const up = await startWsEcho();
  const gw = await startGateway(proxyConfig(up.url));
  const ws = await openWs(gw.wsUrl('/ws'));
  ws.send('hi');
  const m = await nextMessage(ws);
  expect(m.data.toString()).toBe('hi');
  const done = closed(ws);
  ws.close(4000, 'bye');
  expect(await done).toEqual({ code: 4000, reason: 'bye' });
  const log = await gw.waitForLog((l) => l.event === 'ws_close');
  expect(log).toMatchObject({ code: 4000, initiator: 'client', messagesIn: 1, messagesOut: 1 });
});
