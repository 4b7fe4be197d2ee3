// admin/events-stream: the stream's lifecycle on a real listener: its timer stops when the client
// leaves (even with a snapshot still being taken), nothing is thrown at a closed socket, and endAll()
// ends every open stream. The source counts how often it is read.
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, onTestFinished, test } from 'vitest';
import { EventStreams, eventsFilter } from '../../../src/admin/events-stream.js';
import type { AdminSource } from '../../../src/admin/server.js';

interface Counting {
  source: AdminSource;
  scrapes: number;
  hold: boolean;                 // the next scrapes wait until release()
  release(): void;
  scraped: Promise<void>;        // the next scrape has begun
}

function countingSource(): Counting {
  const releases: (() => void)[] = [];
  let onScrape: () => void = () => undefined;
  const c: Counting = {
    scrapes: 0,
    hold: false,
    release: () => {
      for (const r of releases.splice(0)) r();
    },
    scraped: Promise.resolve(),
    source: {
      ready: true,
      routes: () => [],
      upstreams: () => [],
      connections: () => ({ connections: [], total: 0 }),
      connection: () => null,
      closeConnection: () => false,
      redactedConfig: () => ({}),
      reload: () => Promise.reject(new Error('not here')),
      metrics: () => {
        c.scrapes++;
        onScrape();
        return c.hold ? new Promise<string>((resolve) => releases.push(() => resolve(''))) : Promise.resolve('');
      },
    },
  };
  c.scraped = new Promise((resolve) => (onScrape = resolve));
  return c;
}

async function serve(source: AdminSource): Promise<{ url: string; streams: EventStreams; responses: ServerResponse[] }> {
  const streams = new EventStreams();
  const responses: ServerResponse[] = [];
  const server = createServer((req, res) => {
    responses.push(res);
    streams.serve(source, eventsFilter(new URL(req.url ?? '/', 'http://x').searchParams), req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => {
    streams.endAll();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, streams, responses };
}

// Reads the stream until `count` snapshots have arrived (or it ends); returns how many did.
async function readSnapshots(res: Response, count: number): Promise<number> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  for (;;) {
    const seen = text.split('event: snapshot').length - 1;
    if (seen >= count) {
      await reader.cancel();
      return seen;
    }
    const { value, done } = await reader.read();
    if (done) return seen;
    text += value;
  }
}

test('a stream stops reading the gateway once its client leaves: another stream sees only its own scrapes', async () => {
  const c = countingSource();
  const { url, streams, responses } = await serve(c.source);
  const first = new AbortController();
  const res = await fetch(url, { signal: first.signal });
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(await readSnapshots(res, 1)).toBe(1);
  first.abort();
  if (!responses[0]!.closed) await once(responses[0]!, 'close');
  expect(streams.size).toBe(0);
  const before = c.scrapes;

  // A second stream's two snapshots span a full interval: a leaked timer would have scraped too.
  expect(await readSnapshots(await fetch(url), 2)).toBe(2);
  expect(c.scrapes - before).toBe(2);
});

test('a client that leaves while its snapshot is being taken gets nothing written and nothing is thrown', async () => {
  const c = countingSource();
  c.hold = true;
  const { url, streams, responses } = await serve(c.source);
  const controller = new AbortController();
  await fetch(url, { signal: controller.signal });
  await c.scraped;
  controller.abort();
  if (!responses[0]!.closed) await once(responses[0]!, 'close');
  c.hold = false;
  c.release(); // the snapshot completes after its socket is gone
  expect(streams.size).toBe(0);
  const before = c.scrapes;
  expect(await readSnapshots(await fetch(url), 2)).toBe(2);
  expect(c.scrapes - before).toBe(2);
});

test('endAll() ends every open stream: its client reads the end of the response', async () => {
  const c = countingSource();
  const { url, streams } = await serve(c.source);
  const a = await fetch(url);
  const b = await fetch(`${url}?route=chat&limit=5`);
  expect(await readSnapshots(a.clone(), 1)).toBe(1);
  expect(streams.size).toBe(2);
  streams.endAll();
  expect(streams.size).toBe(0);
  // Read to the end: each ends after what was already sent.
  await expect(a.text()).resolves.toContain('event: snapshot');
  await expect(b.text()).resolves.toContain('retry: 2000');
});

test('eventsFilter reads route and user exactly, path and client as prefixes, the scope, and bounds the limit', () => {
  expect(eventsFilter(new URLSearchParams('route=chat&user=ann&path=/ws&client=10.&limit=5'))).toEqual({ route: 'chat', user: 'ann', path: '/ws', client: '10.', limit: 5, scope: 'local' });
  expect(eventsFilter(new URLSearchParams('route=&limit=0'))).toEqual({ route: null, user: null, path: null, client: null, limit: 100, scope: 'local' });
  expect(eventsFilter(new URLSearchParams('scope=cluster')).scope).toBe('cluster');
  expect(eventsFilter(new URLSearchParams('limit=99999')).limit).toBe(1000);
});
