// admin/events-stream: GET /api/events, the dashboard's Server-Sent Events stream: a `snapshot`
// event (admin/snapshot.ts) at once and then once a second, until the client leaves or the admin
// listener closes. Each stream owns one timer, stopped when its response closes; writes to a closed
// socket are skipped, never thrown. A client too slow to read misses snapshots rather than queueing them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminSource, ConnectionFilter } from './server.js';
import { Snapshotter } from './snapshot.js';

export const EVENTS_INTERVAL_MS = 1000;
// The connection list in each snapshot: the first 100 that pass the stream's filter, unless it asks.
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * The stream's connection filter from its query: route and user exact, path and client prefixes,
 * and `scope` (local, or cluster: every instance's through the shared store; checked by the caller).
 */
export function eventsFilter(params: URLSearchParams): ConnectionFilter {
  const text = (name: string): string | null => {
    const v = params.get(name);
    return v === null || v === '' ? null : v;
  };
  const limit = Number(params.get('limit') ?? DEFAULT_LIMIT);
  return {
    route: text('route'),
    user: text('user'),
    path: text('path'),
    client: text('client'),
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, MAX_LIMIT) : DEFAULT_LIMIT,
    scope: params.get('scope') === 'cluster' ? 'cluster' : 'local',
  };
}

// The streams open on one admin listener, so closing the listener can end them.
export class EventStreams {
  private readonly open = new Set<EventStream>();

  get size(): number {
    return this.open.size;
  }

  serve(source: AdminSource, filter: ConnectionFilter, req: IncomingMessage, res: ServerResponse): void {
    const stream = new EventStream(new Snapshotter(source, filter), res, () => this.open.delete(stream));
    this.open.add(stream);
    req.socket.setNoDelay(true);
    stream.start();
  }

  /** Ends every stream (the admin listener is closing): each client reads the end of its response. */
  endAll(): void {
    for (const s of [...this.open]) s.end();
  }
}

class EventStream {
  private timer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(private readonly snapshots: Snapshotter, private readonly res: ServerResponse, private readonly onEnd: () => void) {}

  start(): void {
    const res = this.res;
    res.on('error', ignore); // a reset socket: 'close' follows and ends the stream
    res.on('close', () => this.end());
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // No proxy in front of the admin listener should hold the events back.
      'x-accel-buffering': 'no',
    });
    // An EventSource that reconnects waits this long; the dashboard's own reader does the same.
    res.write(`retry: ${EVENTS_INTERVAL_MS * 2}\n\n`);
    this.tick();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.onEnd();
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end();
  }

  // One snapshot, then the next a second after this one began (a slow view, e.g. a worker that
  // answers late, delays the next one rather than stacking them).
  private tick(): void {
    this.timer = null;
    const began = Date.now();
    this.snapshots.take(began).then(
      (snapshot) => this.send('snapshot', snapshot),
      (err: unknown) => this.send('problem', { message: err instanceof Error ? err.message : String(err) }),
    ).finally(() => {
      if (this.ended) return;
      this.timer = setTimeout(() => this.tick(), Math.max(0, began + EVENTS_INTERVAL_MS - Date.now()));
    }).catch(ignore);
  }

  private send(event: string, data: unknown): void {
    const res = this.res;
    if (this.ended || res.destroyed || res.writableEnded) return;
    if (res.writableNeedDrain) return; // the client has not read the last one yet: skip this one
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}

function ignore(): void {}
