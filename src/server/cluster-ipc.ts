// server/cluster-ipc: what the cluster primary and its workers say to each other over node:cluster
// IPC (JSON, every message tagged `wsgate`), and the primary's questions waiting for answers.
import type { Worker } from 'node:cluster';
import type { ConnectionFilter } from '../admin/server.js';
import type { GatewayConfig } from '../config/schema.js';
import type { BoundAddress } from './gateway.js';

export type Question =
  | { readonly op: 'routes' | 'upstreams' | 'config' | 'metrics' }
  | { readonly op: 'connections'; readonly filter: ConnectionFilter }
  | { readonly op: 'connection'; readonly id: string }
  | { readonly op: 'close'; readonly id: string; readonly code: number; readonly reason: string }
  | { readonly op: 'reload'; readonly config: GatewayConfig };

export type ToWorker =
  | { readonly wsgate: 'start'; readonly worker: number; readonly config: GatewayConfig }
  | { readonly wsgate: 'ask'; readonly seq: number; readonly question: Question }
  | { readonly wsgate: 'drain' };

export type FromWorker =
  | { readonly wsgate: 'hello' }                                               // ready for 'start'
  | { readonly wsgate: 'listening'; readonly listeners: BoundAddress[] }
  | { readonly wsgate: 'failed'; readonly message: string }                    // could not start; exits next
  | { readonly wsgate: 'answer'; readonly seq: number; readonly value: unknown; readonly error: string | null };

export function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === 'object' && m !== null && typeof (m as { wsgate?: unknown }).wsgate === 'string';
}

// A send to a worker that just died is dropped; its exit event follows.
export function sendToWorker(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/** One worker's answer, with the worker's id (1..N). */
export interface Answer {
  readonly worker: number;
  readonly value: unknown;
}

interface Pending {
  readonly workerId: number;
  readonly worker: Worker;
  readonly resolve: (answer: Answer | null) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

// The primary's questions in flight, by sequence number.
export class Questions {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;

  /** Resolves with the answer, or null if the worker exits first; rejects when it stays silent past `timeoutMs`. */
  ask(workerId: number, worker: Worker, question: Question, timeoutMs: number): Promise<Answer | null> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`worker ${workerId} (pid ${worker.process.pid}) did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { workerId, worker, resolve, reject, timer });
      sendToWorker(worker, { wsgate: 'ask', seq, question });
    });
  }

  answered(m: Extract<FromWorker, { wsgate: 'answer' }>): void {
    const p = this.pending.get(m.seq);
    if (p === undefined) return; // timed out already
    this.pending.delete(m.seq);
    clearTimeout(p.timer);
    if (m.error !== null) p.reject(new Error(`worker ${p.workerId}: ${m.error}`));
    else p.resolve({ worker: p.workerId, value: m.value });
  }

  // Questions it will never answer: it has no connections left to report.
  workerExited(worker: Worker): void {
    for (const [seq, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(seq);
      clearTimeout(p.timer);
      p.resolve(null);
    }
  }
}
