// cli/bench/load-connection: one client connection of a bench run, the part that does not depend on the
// protocol: its socket (plain or TLS), opening, one operation in flight, pacing for --rate, the timeout
// checked by the run's sweep, reconnecting after a loss, closing at the end. http-connection and
// ws-connection speak the protocols. The connection owns its socket: only it ends or destroys it.
//
//   CLOSED → CONNECTING → (OPENING: WebSocket handshake) → IDLE ⇄ IN_FLIGHT
//                                                           IDLE ⇄ PACING (--rate: not due yet)
//   any → CLOSING (our close sent, or the peer's close answered) → CLOSED → reconnect, unless the run is over
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { BenchRun } from './run-bench.js';
import { errorKindOf, type ErrorKind } from './stats.js';

export const CONNECTING = 0;
export const OPENING = 1;
export const IDLE = 2;
export const IN_FLIGHT = 3;
export const PACING = 4;
export const CLOSING = 5;
export const CLOSED = 6;

// Reconnecting after errors backs off from 10 ms to 1 s, so a dead target does not spin the CPU.
const BACKOFF_FIRST_MS = 10;
const BACKOFF_MAX_MS = 1000;
const TIMER_EARLY_MS = 2;

type Owned = Socket & { conn: LoadConnection };

export abstract class LoadConnection {
  protected state = CLOSED;
  protected socket: Owned | null = null;
  /** When the current state began: the connect, the handshake, or the actual send of the operation in flight. */
  protected sinceMs = 0;
  /** When the operation in flight was meant to be sent; latency is measured from here (wrk2). */
  private intendedMs = 0;
  /** --rate: when this connection's next operation is due; each connection keeps its own schedule. */
  nextDueMs = 0;
  /** The first connect attempt, for handshake latency (--connect-only). */
  firstAttemptMs = 0;
  private everOpened = false;
  /** An error was counted for the current socket already: its close is not counted again. */
  protected counted = false;
  private failedAttempts = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly run: BenchRun) {}

  /** The protocol's part of opening, once TCP (and TLS) is up; ends in becameOpen() or fail(). */
  protected abstract onTransportReady(): void;
  /** Sends the one request or message; the answer comes to onData(). */
  protected abstract writeOperation(): void;
  /** Forgets the parser state of a previous socket. */
  protected abstract resetProtocol(): void;
  /** The socket ended while an operation was in flight; returns true if that completed it (body until close). */
  protected abstract closedInFlight(): boolean;
  /** Ends an open connection politely at the end of the run (WebSocket close frame, FIN). */
  protected abstract goodbye(socket: Socket): void;
  abstract onData(chunk: Buffer): void;

  open(): void {
    const target = this.run.options.target;
    this.state = CONNECTING;
    this.sinceMs = performance.now();
    if (this.firstAttemptMs === 0) this.firstAttemptMs = this.sinceMs;
    this.counted = false;
    this.resetProtocol();
    const socket = (
      target.tls
        ? tlsConnect({
            host: target.host,
            port: target.port,
            servername: isIP(target.host) === 0 ? target.host : undefined,
            rejectUnauthorized: !target.insecure,
            ALPNProtocols: ['http/1.1'],
          })
        : netConnect(target.port, target.host)
    ) as Owned;
    socket.conn = this;
    socket.on('error', socketOnError).on('close', socketOnClose).on('data', socketOnData).on('connect', socketOnConnect);
    if (target.tls) socket.on('secureConnect', socketOnSecureConnect);
    this.socket = socket;
    this.run.socketOpened();
  }

  onConnect(): void {
    this.run.stats.reachable = true;
    if (!this.run.options.target.tls) this.onTransportReady();
  }

  onSecureConnect(): void {
    this.onTransportReady();
  }

  protected becameOpen(): void {
    this.state = IDLE;
    if (!this.everOpened) {
      this.everOpened = true;
      this.run.connOpened(this);
      return;
    }
    this.pump();
  }

  /** Sends the next operation if the run is on and it is due; under --rate, waits for its time. */
  pump(): void {
    if (!this.run.running || this.state !== IDLE) return;
    const now = performance.now();
    const interval = this.run.intervalMs;
    if (interval === 0) {
      this.send(now, now);
    } else if (this.nextDueMs <= now) {
      // Late (the previous answer took longer than the interval): send at once, and the wait since the
      // intended time is part of this operation's latency: coordinated omission is not hidden.
      this.sendScheduled(now);
    } else {
      this.state = PACING;
      // One timer per paced send, only under --rate: setTimeout with an argument needs no closure.
      this.timer = setTimeout(connOnTimer, this.nextDueMs - now, this);
    }
  }

  private sendScheduled(nowMs: number): void {
    const dueMs = this.nextDueMs;
    this.nextDueMs += this.run.intervalMs;
    // Sent a little early (timers fire up to ~2 ms early): nothing waited, latency runs from the actual send.
    this.send(dueMs > nowMs ? nowMs : dueMs, nowMs);
  }

  private send(intendedMs: number, nowMs: number): void {
    this.state = IN_FLIGHT;
    this.intendedMs = intendedMs;
    this.sinceMs = nowMs;
    this.writeOperation();
  }

  // HOT: once per answer. `reuse` false: the server closes the connection after this answer.
  protected operationDone(ok: boolean, bytes: number, reuse: boolean): void {
    this.state = IDLE;
    if (ok) {
      this.failedAttempts = 0;
      if (this.run.stats.record(performance.now() - this.intendedMs, bytes)) {
        this.run.limitReached();
        return;
      }
    }
    if (!reuse) {
      this.resetProtocol();
      this.socket?.destroy(); // closed while IDLE: reconnects at once, not an error
      return;
    }
    this.pump();
  }

  protected fail(kind: ErrorKind, message: string): void {
    if (!this.counted) {
      this.counted = true;
      this.run.stats.error(kind, message);
    }
    this.resetProtocol();
    this.socket?.destroy();
  }

  onError(err: Error): void {
    if (this.counted) return;
    this.counted = true;
    this.run.stats.error(errorKindOf(err), err.message);
  }

  onClose(): void {
    this.socket = null;
    this.run.socketClosed();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const was = this.state;
    if (this.run.finished) {
      this.state = CLOSED;
      return;
    }
    // A body that runs until close is complete now (this may end the run through --max-ops).
    const completed = was === IN_FLIGHT && !this.counted && this.closedInFlight();
    this.state = CLOSED;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- closedInFlight() may have finished it
    if (this.run.finished) return;
    if (!completed && !this.counted && (was === IN_FLIGHT || was === CONNECTING || was === OPENING)) {
      this.counted = true;
      this.run.stats.error('closed', was === IN_FLIGHT ? 'connection closed with an operation in flight' : 'connection closed before it was open');
    }
    if (!this.everOpened) {
      this.run.connOpenFailed(this);
      return;
    }
    if (this.run.options.connectOnly) {
      this.run.connDropped(this);
      return;
    }
    if (!this.counted) {
      this.open(); // the server closed an idle or finished connection: nothing went wrong
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(this.failedAttempts++, 10));
    this.timer = setTimeout(connOnTimer, delay, this);
  }

  onTimer(): void {
    this.timer = null;
    if (this.state === PACING) {
      this.state = IDLE;
      if (!this.run.running) return;
      // libuv timers have 1 ms resolution and its clock lags: a timer often fires a little before its time.
      // Sending then keeps the schedule; waiting for another timer would make every send ~1 ms late.
      const now = performance.now();
      if (this.nextDueMs - now > TIMER_EARLY_MS) this.pump();
      else this.sendScheduled(now);
    } else if (this.state === CLOSED && !this.run.finished) {
      this.open();
    }
  }

  /** Called by the run's sweep: ends a connect, handshake, operation or close that took longer than --timeout. */
  checkTimeout(nowMs: number): void {
    const s = this.state;
    if (s !== CONNECTING && s !== OPENING && s !== IN_FLIGHT && s !== CLOSING) return;
    const limitMs = this.run.options.timeoutMs;
    if (nowMs - this.sinceMs <= limitMs) return;
    if (s === IN_FLIGHT) this.fail('timeout', `no answer within ${limitMs} ms`);
    else if (s === CLOSING) this.socket?.destroy();
    else this.fail('timeout', `${s === CONNECTING ? 'not connected' : 'no handshake answer'} within ${limitMs} ms`);
  }

  /** The end of the run: a polite close for open connections, destroy for the rest. */
  shutdown(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const socket = this.socket;
    if (socket === null) return;
    const s = this.state;
    this.state = CLOSING;
    if (s === IDLE || s === PACING || s === IN_FLIGHT) this.goodbye(socket);
    else socket.destroy();
  }

  destroy(): void {
    this.socket?.destroy();
  }

  protected enterClosing(): void {
    this.state = CLOSING;
    this.sinceMs = performance.now();
  }
}

function socketOnConnect(this: Owned): void {
  this.setNoDelay(true);
  this.conn.onConnect();
}
function socketOnSecureConnect(this: Owned): void {
  this.conn.onSecureConnect();
}
// HOT: per chunk on every connection.
function socketOnData(this: Owned, chunk: Buffer): void {
  if (this.conn.run.finished) return;
  this.conn.onData(chunk);
}
function socketOnError(this: Owned, err: Error): void {
  this.conn.onError(err);
}
function socketOnClose(this: Owned): void {
  this.conn.onClose();
}
function connOnTimer(conn: LoadConnection): void {
  conn.onTimer();
}
