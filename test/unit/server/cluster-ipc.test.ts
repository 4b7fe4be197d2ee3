// server/cluster-ipc: the primary's questions to its workers: answered, failed by the worker,
// silent past the timeout, or cut short by the worker's exit. A worker here is a stand-in that
// records what it was sent (the cluster itself: e2e/cli/workers).
import type { Worker } from 'node:cluster';
import { expect, test } from 'vitest';
import { Questions, isFromWorker, type ToWorker } from '../../../src/server/cluster-ipc.js';

function fakeWorker(connected = true): { worker: Worker; sent: ToWorker[] } {
  const sent: ToWorker[] = [];
  const worker = { process: { pid: 4242 }, isConnected: () => connected, send: (m: ToWorker) => sent.push(m) };
  return { worker: worker as unknown as Worker, sent };
}

function seqOf(m: ToWorker | undefined): number {
  if (m?.wsgate !== 'ask') throw new Error('expected an ask');
  return m.seq;
}

test('a question goes to the worker tagged with a sequence number, and its answer resolves it', async () => {
  const q = new Questions();
  const { worker, sent } = fakeWorker();
  const asked = q.ask(3, worker, { op: 'routes' }, 5_000);
  expect(sent).toEqual([{ wsgate: 'ask', seq: 1, question: { op: 'routes' } }]);
  q.answered({ wsgate: 'answer', seq: seqOf(sent[0]), value: ['r'], error: null });
  await expect(asked).resolves.toEqual({ worker: 3, value: ['r'] });
});

test("a worker's error rejects the question with the worker's id in the message", async () => {
  const q = new Questions();
  const { worker, sent } = fakeWorker();
  const asked = q.ask(2, worker, { op: 'upstreams' }, 5_000);
  q.answered({ wsgate: 'answer', seq: seqOf(sent[0]), value: null, error: 'boom' });
  await expect(asked).rejects.toThrow('worker 2: boom');
});

test('a worker that stays silent past the timeout fails the question; a late answer is ignored', async () => {
  const q = new Questions();
  const { worker, sent } = fakeWorker();
  await expect(q.ask(1, worker, { op: 'metrics' }, 1)).rejects.toThrow('worker 1 (pid 4242) did not answer within 1 ms');
  q.answered({ wsgate: 'answer', seq: seqOf(sent[0]), value: 'late', error: null });
});

test("a worker's exit resolves its questions with null and leaves the others waiting", async () => {
  const q = new Questions();
  const a = fakeWorker();
  const b = fakeWorker();
  const fromA = q.ask(1, a.worker, { op: 'routes' }, 5_000);
  const fromB = q.ask(2, b.worker, { op: 'routes' }, 5_000);
  q.workerExited(a.worker);
  await expect(fromA).resolves.toBeNull();
  q.answered({ wsgate: 'answer', seq: seqOf(b.sent[0]), value: 'b', error: null });
  await expect(fromB).resolves.toEqual({ worker: 2, value: 'b' });
});

test('nothing is sent to a worker that is no longer connected', () => {
  const q = new Questions();
  const { worker, sent } = fakeWorker(false);
  void q.ask(1, worker, { op: 'routes' }, 5_000).catch(() => undefined);
  expect(sent).toEqual([]);
  q.workerExited(worker);
});

test('isFromWorker accepts tagged objects only', () => {
  expect(isFromWorker({ wsgate: 'hello' })).toBe(true);
  expect(isFromWorker({ wsgate: 1 })).toBe(false);
  expect(isFromWorker(null)).toBe(false);
  expect(isFromWorker('hello')).toBe(false);
});
