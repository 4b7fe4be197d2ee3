// unit: what `wsgate connections --watch` and `wsgate status` compute from the admin API's answers:
// messages/s from two connection lists, and sums and rates from Prometheus text.
import { expect, test } from 'vitest';
import type { ConnectionView } from '../../../src/cli/admin-client.js';
import { counterRate, metricSamples, sumMetric } from '../../../src/cli/status.js';
import { formatBytes, messageCounts, messageRates, watchTable } from '../../../src/cli/watch.js';

function conn(id: string, messagesIn: number, messagesOut: number, extra: Partial<ConnectionView> = {}): ConnectionView {
  return { id, route: 'chat', user: null, client: '127.0.0.1', openedAt: '2026-01-01T00:00:00.000Z', messagesIn, messagesOut, bytesIn: 0, bytesOut: 0, ...extra };
}

test('messages/s is the delta of messagesIn + messagesOut per id over the elapsed time', () => {
  const previous = messageCounts([conn('a', 10, 10), conn('b', 5, 0), conn('gone', 1, 1)]);
  const rates = messageRates(previous, [conn('a', 20, 30), conn('b', 5, 0), conn('new', 3, 3)], 2000);
  expect(rates).toEqual(
    new Map([
      ['a', 15], // (50 - 20) / 2 s
      ['b', 0],
      ['new', 3], // opened between the fetches: all its 6 messages count
    ]),
  );
});

test('messages/s is unknown before a second fetch and never negative', () => {
  expect(messageRates(null, [conn('a', 1, 1)], 1000)).toBeNull();
  expect(messageRates(new Map([['a', 10]]), [conn('a', 1, 1)], 1000)).toEqual(new Map([['a', 0]]));
  expect(messageRates(new Map(), [conn('a', 1, 1)], 0)).toBeNull();
});

test('the watch table lists the busiest connection first, with PATH only when the gateway reports one', () => {
  const list = [conn('quiet', 1, 1), conn('busy', 100, 100, { bytesIn: 2048, bytesOut: 10 })];
  const rates = messageRates(messageCounts([conn('quiet', 1, 1), conn('busy', 0, 0)]), list, 1000);
  const lines = watchTable(list, rates, Date.parse('2026-01-01T00:01:05.000Z')).split('\n');
  expect(lines[0]).toMatch(/^ID\s+ROUTE\s+CLIENT\s+USER\s+AGE\s+MSG\/S\s+MSGS IN\s+MSGS OUT\s+BYTES IN\s+BYTES OUT$/);
  expect(lines[1]!.split(/\s{2,}/)).toEqual(['busy', 'chat', '127.0.0.1', '-', '1m05s', '200.0', '100', '100', '2.0kB', '10B']);
  expect(lines[2]!.split(/\s{2,}/)).toEqual(['quiet', 'chat', '127.0.0.1', '-', '1m05s', '0.0', '1', '1', '0B', '0B']);

  const withPath = watchTable([conn('a', 1, 1, { path: '/chat/room' })], null, Date.parse('2026-01-01T00:00:01.000Z')).split('\n');
  expect(withPath[0]).toMatch(/^ID\s+ROUTE\s+CLIENT\s+USER\s+PATH\s+AGE\s+MSG\/S/);
  expect(withPath[1]!.split(/\s{2,}/)).toEqual(['a', 'chat', '127.0.0.1', '-', '/chat/room', '1s', '-', '1', '1', '0B', '0B']);
});

test('formatBytes uses binary units with one decimal', () => {
  expect([0, 1023, 1024, 1536, 5 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual(['0B', '1023B', '1.0kB', '1.5kB', '5.0MB', '3.0GB']);
});

const SCRAPE = `# HELP wsgate_http_requests_total HTTP exchanges finished
# TYPE wsgate_http_requests_total counter
wsgate_http_requests_total{route="hello",method="GET",status="200"} 7
wsgate_http_requests_total{route="unmatched",method="GET",status="404"} 2
wsgate_http_requests_total_created{route="hello"} 1700000000
# TYPE wsgate_ws_messages_total counter
wsgate_ws_messages_total{route="chat",direction="in"} 5
wsgate_ws_messages_total{route="chat",direction="out"} 5
wsgate_ws_messages_total{route="odd \\"name\\", with } brace",direction="in"} 1e1
wsgate_ws_connections_active{route="chat"} 3
wsgate_ws_connections_active{route="idle"} 0
wsgate_up 1
wsgate_nan NaN
`;

test('sumMetric adds every sample of exactly that metric, labels of any content, and skips comments and other names', () => {
  expect(sumMetric(SCRAPE, 'wsgate_http_requests_total')).toBe(9);
  expect(sumMetric(SCRAPE, 'wsgate_ws_messages_total')).toBe(20);
  expect(sumMetric(SCRAPE, 'wsgate_up')).toBe(1);
  expect(sumMetric(SCRAPE, 'wsgate_nan')).toBe(0);
  expect(sumMetric(SCRAPE, 'wsgate_absent')).toBe(0);
  expect(sumMetric('', 'wsgate_http_requests_total')).toBe(0);
});

test('metricSamples reads label values, escapes included', () => {
  expect(metricSamples(SCRAPE, 'wsgate_ws_connections_active')).toEqual([
    { labels: { route: 'chat' }, value: 3 },
    { labels: { route: 'idle' }, value: 0 },
  ]);
  expect(metricSamples(SCRAPE, 'wsgate_ws_messages_total').at(-1)).toEqual({ labels: { route: 'odd "name", with } brace', direction: 'in' }, value: 10 });
});

test('counterRate is the per-second increase between two scrapes, and 0 when the counter went down', () => {
  const later = SCRAPE.replace('status="200"} 7', 'status="200"} 17');
  expect(counterRate('wsgate_http_requests_total', { metrics: SCRAPE, atMs: 1000 }, { metrics: later, atMs: 3000 })).toBe(5);
  expect(counterRate('wsgate_http_requests_total', { metrics: later, atMs: 1000 }, { metrics: SCRAPE, atMs: 2000 })).toBe(0);
  expect(counterRate('wsgate_http_requests_total', { metrics: SCRAPE, atMs: 1000 }, { metrics: later, atMs: 1000 })).toBe(0);
});
