// cli/watch: `wsgate connections --watch`, the live connection list like `top`: one fetch of
// GET /api/connections a second, sorted by messages/s (the delta of two fetches); not the one-shot table.
import { performance } from 'node:perf_hooks';
import { DEFAULT_ADMIN, call, connectionsPath, errorLine, formatAge, type ConnectionFilter, type ConnectionView } from './admin-client.js';

const REFRESH_MS = 1000;
// ECMA-48: cursor home, erase the screen; hide and show the cursor.
const CLEAR = '\x1b[H\x1b[2J';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CTRL_C = '\u0003';

/** messagesIn + messagesOut of each connection, by id: what the next fetch's rates are computed from. */
export function messageCounts(list: readonly ConnectionView[]): Map<string, number> {
  return new Map(list.map((c) => [c.id, c.messagesIn + c.messagesOut]));
}

/**
 * Messages per second of each connection between two fetches `elapsedMs` apart. A connection absent
 * from the previous fetch opened in between, so all its messages count; `null` before a second fetch.
 */
export function messageRates(previous: ReadonlyMap<string, number> | null, list: readonly ConnectionView[], elapsedMs: number): Map<string, number> | null {
  if (previous === null || elapsedMs <= 0) return null;
  const rates = new Map<string, number>();
  for (const c of list) {
    const delta = c.messagesIn + c.messagesOut - (previous.get(c.id) ?? 0);
    rates.set(c.id, Math.max(0, delta) / (elapsedMs / 1000));
  }
  return rates;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}kB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)}MB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(1)}GB`;
}

/** The busiest first (by messages/s, then by messages in all, then oldest); PATH only when the gateway reports one. */
export function watchTable(list: readonly ConnectionView[], rates: ReadonlyMap<string, number> | null, nowMs: number): string {
  const withPath = list.some((c) => typeof c.path === 'string');
  const rate = (c: ConnectionView): number => rates?.get(c.id) ?? 0;
  const sorted = [...list].sort(
    (a, b) => rate(b) - rate(a) || b.messagesIn + b.messagesOut - (a.messagesIn + a.messagesOut) || (a.openedAt < b.openedAt ? -1 : a.openedAt > b.openedAt ? 1 : 0),
  );
  const head = ['ID', 'ROUTE', 'CLIENT', 'USER', ...(withPath ? ['PATH'] : []), 'AGE', 'MSG/S', 'MSGS IN', 'MSGS OUT', 'BYTES IN', 'BYTES OUT'];
  const rows = [head];
  for (const c of sorted) {
    rows.push([
      c.id,
      c.route,
      c.client,
      c.user ?? '-',
      ...(withPath ? [c.path ?? '-'] : []),
      formatAge(nowMs - Date.parse(c.openedAt)),
      rates === null ? '-' : rate(c).toFixed(1),
      String(c.messagesIn),
      String(c.messagesOut),
      formatBytes(c.bytesIn),
      formatBytes(c.bytesOut),
    ]);
  }
  const firstNumber = head.indexOf('AGE');
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i >= firstNumber ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/**
 * Refreshes until `q` or Ctrl-C. On a TTY: clears the screen and reads keys in raw mode, restoring
 * the terminal on exit. Otherwise one snapshot a second, separated by a blank line, no escape codes.
 */
export async function watchCommand(admin: string | undefined, filter: ConnectionFilter): Promise<number> {
  const target = admin ?? DEFAULT_ADMIN;
  const tty = process.stdout.isTTY;
  const keys = process.stdin.isTTY;
  let previous: Map<string, number> | null = null;
  let previousAt = 0;
  let timer: NodeJS.Timeout | null = null;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let stopped = false;

  const onKey = (key: string): void => {
    if (key === 'q' || key === 'Q' || key === CTRL_C) stop(0);
  };
  const onSignal = (): void => stop(0);
  function stop(code: number): void {
    if (stopped) return;
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (keys) {
      process.stdin.off('data', onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    if (tty) process.stdout.write(SHOW_CURSOR);
    finish(code);
  }

  async function refresh(): Promise<void> {
    const startedAt = performance.now();
    let text: string;
    try {
      const { status, body } = await call(target, 'GET', connectionsPath(filter));
      if (status !== 200) {
        process.stderr.write(`wsgate connections: ${target} answered ${status}: ${errorLine(body)}\n`);
        return stop(1);
      }
      const now = performance.now();
      const { connections, total } = body as { connections: ConnectionView[]; total: number };
      const rates = messageRates(previous, connections, now - previousAt);
      previous = messageCounts(connections);
      previousAt = now;
      const clock = new Date().toISOString().slice(11, 19);
      text = `wsgate connections at ${target}  ${clock}  ${connections.length} shown, ${total} live${tty ? '  (q quits)' : ''}\n${watchTable(connections, rates, Date.now())}\n`;
    } catch (err) {
      // The first fetch decides whether there is a gateway at all; later, keep trying (it may be restarting).
      if (previous === null) {
        process.stderr.write(`wsgate connections: cannot reach the admin API at ${target}: ${(err as Error).message}\n`);
        return stop(2);
      }
      text = `wsgate connections at ${target}: cannot reach the admin API: ${(err as Error).message}\n`;
    }
    if (stopped) return;
    process.stdout.write(tty ? `${CLEAR}${text}` : `${text}\n`);
    timer = setTimeout(tick, Math.max(0, REFRESH_MS - (performance.now() - startedAt)));
  }
  function tick(): void {
    void refresh();
  }

  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  if (keys) {
    process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8').on('data', onKey).resume();
  }
  if (tty) process.stdout.write(HIDE_CURSOR);
  void refresh();
  return done;
}
