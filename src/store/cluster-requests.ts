// store/cluster-requests: one instance asks every other one something over Redis pub/sub and
// gathers their answers: "close connection X if you hold it" (DELETE /api/connections/:id for an id
// that is not local) and "publish your connection list now" (GET /api/connections?scope=cluster).
//
//   asker ── PUBLISH <prefix>ask {req, from, op, …} ──▶ every instance (each ignores its own)
//   each  ── PUBLISH <prefix>answer:<asker> {req, from, value} ──▶ the asker
//
// The asker expects one answer per other live instance (PUBLISH's receiver count, or the
// directory's live count when larger: in a Redis Cluster PUBLISH counts one node's subscribers)
// and stops at the first answer that settles it, when all have answered, or at ASK_TIMEOUT_MS.

import { randomBytes } from 'node:crypto';
import type { StoreConnection } from './redis-connection.js';

export const ASK_TIMEOUT_MS = 1_000;

export type Ask =
  | { readonly op: 'kick'; readonly id: string; readonly code: number; readonly reason: string }
  | { readonly op: 'publish' };

/** What this instance does when another asks. */
export interface Answerer {
  answer(ask: Ask): Promise<boolean> | boolean;
}

interface Waiting {
  expected: number;
  answers: number;
  readonly settles: (value: boolean) => boolean; // true: this answer decides the result
  readonly resolve: (value: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

export class ClusterRequests {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly conn: StoreConnection,
    private readonly keyPrefix: string,
    private readonly instanceId: string,
    private readonly answerer: Answerer,
  ) {}

  /** The channels this instance subscribes to. */
  get channels(): string[] {
    return [this.askChannel, this.answerChannel(this.instanceId)];
  }

  private get askChannel(): string {
    return `${this.keyPrefix}ask`;
  }

  private answerChannel(instance: string): string {
    return `${this.keyPrefix}answer:${instance}`;
  }

  /**
   * Asks every other instance. Resolves true as soon as one answers true when `anyTrue` (a kick:
   * someone closed it), else once every one answered; false when nobody could (store down, no other
   * instance, or silence past the timeout).
   */
  async ask(ask: Ask, liveInstances: number, anyTrue: boolean): Promise<boolean> {
    if (!this.conn.up) return false;
    const req = randomBytes(8).toString('hex');
    const message = JSON.stringify({ req, from: this.instanceId, ...ask });
    const done = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.finish(req, false), ASK_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(req, { expected: Infinity, answers: 0, settles: (v) => anyTrue && v, resolve, timer });
    });
    let receivers: number;
    try {
      receivers = await this.conn.command((c) => c.publish(this.askChannel, message));
    } catch {
      this.finish(req, false);
      return done;
    }
    const w = this.waiting.get(req);
    if (w !== undefined) {
      // Every subscriber but this instance's own, or every live instance but this one.
      w.expected = Math.max(receivers - 1, liveInstances - 1);
      if (w.answers >= w.expected) this.finish(req, !anyTrue);
    }
    return done;
  }

  /** A message on one of our channels (the subscriber connection's 'message'). */
  onMessage(channel: string, text: string): void {
    const m = parse(text);
    if (m === null) return;
    if (channel === this.askChannel) {
      if (m.from === this.instanceId || typeof m.req !== 'string' || typeof m.from !== 'string') return;
      const ask = askOf(m);
      if (ask === null) return;
      Promise.resolve()
        .then(() => this.answerer.answer(ask))
        .then(
          (value) => this.reply(m.from as string, m.req as string, value),
          () => this.reply(m.from as string, m.req as string, false),
        );
      return;
    }
    const w = typeof m.req === 'string' ? this.waiting.get(m.req) : undefined;
    if (w === undefined) return; // late: timed out already
    w.answers++;
    const value = m.value === true;
    if (w.settles(value)) this.finish(m.req as string, true);
    else if (w.answers >= w.expected) this.finish(m.req as string, w.settles(true) ? false : true);
  }

  /** Answers in flight resolve false (the gateway is stopping). */
  close(): void {
    for (const req of [...this.waiting.keys()]) this.finish(req, false);
  }

  private reply(to: string, req: string, value: boolean): void {
    const text = JSON.stringify({ req, from: this.instanceId, value });
    this.conn.command((c) => c.publish(this.answerChannel(to), text)).catch(ignore);
  }

  private finish(req: string, value: boolean): void {
    const w = this.waiting.get(req);
    if (w === undefined) return;
    this.waiting.delete(req);
    clearTimeout(w.timer);
    w.resolve(value);
  }
}

function parse(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// Only well-formed asks are acted on: anyone who can PUBLISH to Redis can send one.
function askOf(m: Record<string, unknown>): Ask | null {
  if (m.op === 'publish') return { op: 'publish' };
  if (m.op === 'kick' && typeof m.id === 'string' && typeof m.code === 'number' && typeof m.reason === 'string') {
    return { op: 'kick', id: m.id, code: m.code, reason: m.reason };
  }
  return null;
}

function ignore(): void {}
