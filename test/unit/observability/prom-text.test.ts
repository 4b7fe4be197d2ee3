// observability/prom-text: the Prometheus text the gateway writes, read back for the dashboard's rates, and
// quantiles from two readings of a histogram's buckets.
import { expect, test } from 'vitest';
import { histogramBuckets, parsePromText, quantileBetween, sumBy } from '../../../src/observability/prom-text.js';

const TEXT = `# HELP wsgate_http_requests_total HTTP exchanges finished
# TYPE wsgate_http_requests_total counter
wsgate_http_requests_total{route="app",method="GET",status="200"} 7
wsgate_http_requests_total{route="app",method="POST",status="502"} 2
wsgate_http_requests_total{route="odd \\"name\\", with\\\\n",method="GET",status="200"} 1
wsgate_build_info{version="0.1.0",node="20.19.0"} 1
not a sample line
wsgate_http_request_duration_seconds_bucket{le="0.01",route="app"} 4
wsgate_http_request_duration_seconds_bucket{le="0.1",route="app"} 8
wsgate_http_request_duration_seconds_bucket{le="+Inf",route="app"} 9
`;

test('parsePromText reads every sample by name with unescaped labels, skipping comments and unreadable lines', () => {
  const samples = parsePromText(TEXT);
  expect([...samples.keys()]).toEqual(['wsgate_http_requests_total', 'wsgate_build_info', 'wsgate_http_request_duration_seconds_bucket']);
  expect(samples.get('wsgate_http_requests_total')![2]).toEqual({ labels: { route: 'odd "name", with\\n', method: 'GET', status: '200' }, value: 1 });
  expect(sumBy(samples, 'wsgate_http_requests_total', 'route')).toEqual(new Map([['app', 9], ['odd "name", with\\n', 1]]));
  expect(sumBy(samples, 'wsgate_http_requests_total', null, (l) => l.status === '502')).toEqual(new Map([['', 2]]));
  expect(histogramBuckets(samples, 'wsgate_http_request_duration_seconds', () => true)).toEqual(new Map([[0.01, 4], [0.1, 8], [Infinity, 9]]));
  expect(parsePromText('').size).toBe(0);
});

test('quantileBetween interpolates inside the bucket holding the quantile of what was counted in between', () => {
  const before = new Map([[0.01, 10], [0.1, 10], [1, 10], [Infinity, 10]]);
  // 100 more: 50 under 10 ms, 40 between 10 and 100 ms, 10 between 100 ms and 1 s.
  const after = new Map([[0.01, 60], [0.1, 100], [1, 110], [Infinity, 110]]);
  expect(quantileBetween(before, after, 0.5)).toBeCloseTo(0.01, 9);
  expect(quantileBetween(before, after, 0.25)).toBeCloseTo(0.005, 9);
  expect(quantileBetween(before, after, 0.7)).toBeCloseTo(0.01 + 0.09 * (20 / 40), 9);
  expect(quantileBetween(before, after, 0.99)).toBeCloseTo(0.1 + 0.9 * (9 / 10), 9);
});

test('quantileBetween is null when nothing was counted, and reads the highest finite bound for the +Inf bucket', () => {
  const same = new Map([[0.1, 5], [Infinity, 5]]);
  expect(quantileBetween(same, same, 0.5)).toBeNull();
  expect(quantileBetween(new Map(), new Map([[0.1, 0], [1, 0], [Infinity, 3]]), 0.99)).toBe(1);
  // A first reading: everything counted so far.
  expect(quantileBetween(new Map(), new Map([[0.1, 4], [Infinity, 4]]), 0.5)).toBeCloseTo(0.05, 9);
});
