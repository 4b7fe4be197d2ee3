// bench/storm-client: the clients of bench/balance.ts's reconnect storm, in one child process, with the
// `ws` package as the WebSocket client. It opens --conns WebSockets to --url (--concurrency handshakes
// at a time); a connection counts as open when the target's greeting (`target:N`, from
// bench/balance-upstream.ts --ws) has arrived, so the client knows which target holds it. Then:
//
//   stdin `storm N`   target N is about to die: from now on every connection that closes reconnects at
//                     once (no backoff); a handshake that fails is tried again after --retry-ms, at most
//                     --max-attempts times per connection. When the connections that were on target N
//                     have all closed and all --conns are open again, it reports and waits.
//
// JSON lines on stdout: {"phase":"open",...} once all are open, {"phase":"recovered",...} after the
// storm (or when the connections still closed have used up their attempts), {"phase":"error",...} if
// the first opening fails. Wall-clock times (Date.now()) so the parent can compare them with the moment
// it killed the target. Bounded: --deadline-ms after the start the process exits whatever happens;
// it also exits when its stdin closes (the parent died) and on SIGTERM.
import { fromParent } from './parent-pipe.js';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    conns: { type: 'string' },
    concurrency: { type: 'string', default: '256' },
    'retry-ms': { type: 'string', default: '50' },
    'max-attempts': { type: 'string', default: '100' },
    'handshake-timeout-ms': { type: 'string', default: '10000' },
    'open-timeout-ms': { type: 'string', default: '60000' },
    'deadline-ms': { type: 'string', default: '180000' },
  },
  strict: true,
});
function whole(name: string, text: string | undefined, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} ${text}: a whole number from 1 to ${max}`);
  return n;
}
if (values.url === undefined || !values.url.startsWith('ws://127.0.0.1:')) throw new Error('--url ws://127.0.0.1:PORT/PATH is required');
const url = values.url;
const conns = whole('conns', values.conns, 20_000);
const concurrency = whole('concurrency', values.concurrency, 4096);
const retryMs = whole('retry-ms', values['retry-ms'], 60_000);
const maxAttempts = whole('max-attempts', values['max-attempts'], 10_000);
const handshakeTimeoutMs = whole('handshake-timeout-ms', values['handshake-timeout-ms'], 600_000);
const openTimeoutMs = whole('open-timeout-ms', values['open-timeout-ms'], 600_000);
const deadlineMs = whole('deadline-ms', values['deadline-ms'], 3_600_000);

setTimeout(() => {
  process.stderr.write('storm client: hard deadline reached\n');
  process.exit(3);
}, deadlineMs).unref();
process.on('SIGTERM', () => process.exit(0));

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const GREETING = 'target:';

// One client: its current socket, the target that answered it, and its attempts in this storm.
interface Client {
  ws: WebSocket | null;
  /** The target holding the open socket; null while not open. */
  target: number | null;
  attempts: number;
  /** Why the attempt in progress failed, once known (a status, an error code). */
  failure: string | null;
  gaveUp: boolean;
}

const clients: Client[] = [];
let open = 0;
let inFlight = 0;
let started = 0;
let initialFailures = 0;
let dropsBeforeStorm = 0;
const startMs = Date.now();
let openDone = false;

// The storm, once announced.
let storm: {
  dead: number;
  expected: number;
  closed: number;
  /** Open sockets on the other targets that closed too. */
  otherClosed: number;
  firstCloseAt: number;
  lastCloseAt: number;
  failed: number;
  attempts: number;
  failuresByKind: Record<string, number>;
  closeCodes: Record<string, number>;
  reopenedOn: Record<string, number>;
  reported: boolean;
} | null = null;

function attempt(client: Client): void {
  client.failure = null;
  client.attempts++;
  if (storm !== null) storm.attempts++;
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: handshakeTimeoutMs });
  client.ws = ws;
  ws.on('unexpected-response', (_req, res) => {
    // terminate() aborts the request and emits 'error' then 'close', where the failure is counted.
    client.failure = `status ${res.statusCode}`;
    res.resume();
    ws.terminate();
  });
  ws.on('error', (err: Error & { code?: string }) => {
    client.failure ??= err.code ?? err.message;
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (client.target !== null || isBinary) return;
    const text = data.toString('utf8');
    if (!text.startsWith(GREETING)) return;
    client.target = Number(text.slice(GREETING.length));
    opened(client);
  });
  ws.on('close', (code: number) => closed(client, ws, code));
}

function opened(client: Client): void {
  open++;
  if (!openDone) {
    inFlight--;
    if (open === conns) {
      openDone = true;
      emit({ phase: 'open', openMs: Date.now() - startMs, failures: initialFailures, byTarget: byTarget() });
    } else {
      launch();
    }
    return;
  }
  if (storm !== null) {
    const on = String(client.target);
    storm.reopenedOn[on] = (storm.reopenedOn[on] ?? 0) + 1;
    check();
  }
}

function closed(client: Client, ws: WebSocket, code: number): void {
  if (client.ws !== ws) return;
  client.ws = null;
  const wasOpen = client.target !== null;
  const target = client.target;
  client.target = null;
  if (wasOpen) open--;
  if (!openDone) {
    // The first opening: a failed handshake is retried too, but counted apart from the storm.
    if (wasOpen) {
      emit({ phase: 'error', message: `a connection closed (code ${code}) before all ${conns} were open` });
      return;
    }
    initialFailures++;
    if (client.attempts >= maxAttempts) {
      emit({ phase: 'error', message: `a handshake failed ${client.attempts} times while opening (${client.failure ?? `close ${code}`})` });
      return;
    }
    setTimeout(attempt, retryMs, client);
    return;
  }
  if (storm === null) {
    // Before the storm: a lost connection is put back the same way, and counted.
    if (wasOpen) dropsBeforeStorm++;
    if (wasOpen) client.attempts = 0;
    if (client.attempts >= maxAttempts) client.gaveUp = true;
    else setTimeout(attempt, wasOpen ? 0 : retryMs, client);
    return;
  }
  if (wasOpen) {
    // A socket of the storm: reconnect at once, no backoff.
    if (target === storm.dead) storm.closed++;
    else storm.otherClosed++;
    const key = String(code);
    storm.closeCodes[key] = (storm.closeCodes[key] ?? 0) + 1;
    storm.firstCloseAt ||= Date.now();
    storm.lastCloseAt = Date.now();
    client.attempts = 0;
    attempt(client);
    return;
  }
  storm.failed++;
  const why = client.failure ?? `close ${code}`;
  storm.failuresByKind[why] = (storm.failuresByKind[why] ?? 0) + 1;
  if (client.attempts >= maxAttempts) {
    client.gaveUp = true;
    check();
    return;
  }
  setTimeout(attempt, retryMs, client);
}

function byTarget(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of clients) if (c.target !== null) out[String(c.target)] = (out[String(c.target)] ?? 0) + 1;
  return out;
}

function check(): void {
  if (storm === null || storm.reported || storm.closed < storm.expected) return;
  const gaveUp = clients.filter((c) => c.gaveUp).length;
  if (open + gaveUp < conns) return;
  storm.reported = true;
  emit({
    phase: 'recovered',
    at: Date.now(),
    open,
    gaveUp,
    byTarget: byTarget(),
    maxAttemptsUsed: Math.max(...clients.map((c) => c.attempts)),
    dropsBeforeStorm,
    expected: storm.expected,
    closed: storm.closed,
    otherClosed: storm.otherClosed,
    firstCloseAt: storm.firstCloseAt,
    lastCloseAt: storm.lastCloseAt,
    attempts: storm.attempts,
    failed: storm.failed,
    failuresByKind: storm.failuresByKind,
    closeCodes: storm.closeCodes,
    reopenedOn: storm.reopenedOn,
  });
}

function launch(): void {
  while (inFlight < concurrency && started < conns) {
    inFlight++;
    started++;
    const client: Client = { ws: null, target: null, attempts: 0, failure: null, gaveUp: false };
    clients.push(client);
    attempt(client);
  }
}

function announce(dead: number): void {
  if (!openDone || storm !== null) return;
  const expected = clients.filter((c) => c.target === dead).length;
  storm = {
    dead,
    expected,
    closed: 0,
    otherClosed: 0,
    firstCloseAt: 0,
    lastCloseAt: 0,
    failed: 0,
    attempts: 0,
    failuresByKind: {},
    closeCodes: {},
    reopenedOn: {},
    reported: false,
  };
  emit({ phase: 'armed', dead, expected, open, dropsBeforeStorm });
}

fromParent(
  (line) => {
    const m = /^storm (\d+)$/.exec(line);
    if (m !== null) announce(Number(m[1]));
  },
  () => process.exit(4),
);

setTimeout(() => {
  if (!openDone) {
    emit({ phase: 'error', message: `${open} of ${conns} connections open after ${openTimeoutMs} ms` });
  }
}, openTimeoutMs).unref();
launch();
