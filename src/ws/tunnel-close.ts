// ws/tunnel-close: how a relayed WebSocket closes: the close state of each side, our own close frames,
// lost connections, the close timer and the teardown; not the data path (tunnel.ts), which reads
// the states this keeps and extends this class.
//
// Close states, one per side (clientState, upstreamState). A close frame read from a side is
// relayed to the other, after which no data crosses in that direction; once close frames have
// crossed both ways, both sockets are ended. Our own close (limits, faults, shutdown) goes to both
// sides at once and arms a timer that destroys whatever a silent peer leaves open.
//
//            its close frame read, or a fault stops reading it
//        ┌─────────────────────▶ CLOSE_RECEIVED ─────────────────────┐
//   OPEN ┤                                                            ├──▶ CLOSED
//        └─────────────────────▶ CLOSE_SENT ─────────────────────────┘
//            a close frame written or queued toward it, or its socket ended by us
//
//   OPEN … CLOSED ── its socket's 'end', 'error' or 'close', or destroyBoth() ──▶ GONE
//   any ── both sockets destroyed: teardown, once (timers cleared, owner told) ──▶ TORN_DOWN,
//          both sides at once
//
// States are bit sets so that the hot path tests one bit: CLOSE_RECEIVED means nothing more is read
// from that side, CLOSE_SENT that no data frame may be written to it; GONE and TORN_DOWN hold both.
import type { Socket } from 'node:net';
import { GatewayError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { CLOSE_CODES } from './close-codes.js';
import type { FrameScanner } from './frame-scanner.js';
import { encodeClose } from './frames.js';

// The two sides, for the paths that mirror each other (a lost connection, socket events).
export const CLIENT = 0;
export const UPSTREAM = 1;
export type Side = typeof CLIENT | typeof UPSTREAM;

// Close state of one side (diagram above).
export const OPEN = 0;
export const CLOSE_RECEIVED = 1;
export const CLOSE_SENT = 2;
const CLOSED = CLOSE_RECEIVED | CLOSE_SENT;
export const GONE = 4 | CLOSED;
export const TORN_DOWN = 8 | GONE;

export type Initiator = 'client' | 'upstream' | 'gateway';

export abstract class TunnelClose {
  closedAtMs = 0;
  closeCode = 0;
  closeReason = '';
  initiator: Initiator = 'client';
  error: GatewayError | null = null;

  protected clientState: number = OPEN;
  protected upstreamState: number = OPEN;
  // Our own close for the client waits here while the upstream is mid-frame toward the client
  // (the client side is CLOSE_SENT already).
  protected pendingClientClose: Buffer | null = null;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    // One per direction; only their atBoundary is read here (where our own frames may go).
    protected readonly clientScanner: FrameScanner,
    protected readonly upstreamScanner: FrameScanner,
    protected readonly clock: Clock,
    private readonly closeTimeoutMs: number,
  ) {}

  // The owner learns of the end (logs, metrics, registry): once, when both sockets are destroyed.
  protected abstract tornDown(): void;

  // A side that read nothing for sendTimeout while our writes to it waited: a close frame queued
  // behind those writes would never reach it, so its connection is cut (which also frees what it
  // held); the other side, paused by backpressure, hears 1008 and is read again to finish closing.
  protected sendTimedOut(side: Side): void {
    const reason = side === CLIENT ? 'send timeout: the client stopped reading' : 'send timeout: the upstream stopped reading';
    this.close(CLOSE_CODES.POLICY_VIOLATION, reason, new GatewayError('WS_SEND_TIMEOUT', reason));
    const stuck = side === CLIENT ? this.client : this.upstream;
    const other = side === CLIENT ? this.upstream : this.client;
    stuck.destroy();
    other.resume();
  }

  // SPEC section 4: no frame within pongTimeout: the client socket is ended, the upstream hears 1001.
  protected heartbeatLost(): void {
    this.recordClose(CLOSE_CODES.GOING_AWAY, 'heartbeat lost', 'gateway');
    if (this.error === null) this.error = new GatewayError('WS_HEARTBEAT_LOST');
    this.clientState |= CLOSE_SENT;
    this.pendingClientClose = null;
    if ((this.upstreamState & CLOSE_SENT) === 0) this.endWithClose(UPSTREAM, CLOSE_CODES.GOING_AWAY, 'heartbeat lost');
    this.client.destroy();
    this.armCloseTimer();
  }

  // Closes both sides with our own close frames (operator, limits, shutdown). Idempotent.
  close(code: number, reason: string, err: GatewayError | null = null): void {
    this.closeBoth(code, reason, code, reason, err);
  }

  protected closeBoth(toClient: number, clientReason: string, toUpstream: number, upstreamReason: string, err: GatewayError | null): void {
    if (this.clientState === TORN_DOWN) return;
    this.recordClose(toClient, clientReason, 'gateway');
    if (err !== null && this.error === null) this.error = err;
    // A GONE side is CLOSE_SENT: nothing is written to a lost connection.
    if ((this.upstreamState & CLOSE_SENT) === 0) {
      this.upstreamState |= CLOSE_SENT;
      // Client → upstream stops at frame boundaries by construction unless mid-payload.
      if (this.clientScanner.atBoundary) this.upstream.write(encodeClose(toUpstream, upstreamReason, true));
      else endSocket(this.upstream);
    }
    if ((this.clientState & CLOSE_SENT) === 0) {
      this.clientState |= CLOSE_SENT;
      this.pendingClientClose = encodeClose(toClient, clientReason, false);
      if (this.upstreamScanner.atBoundary || (this.upstreamState & CLOSE_RECEIVED) !== 0) this.flushClientClose();
    }
    this.armCloseTimer();
  }

  protected flushClientClose(): void {
    const frame = this.pendingClientClose;
    this.pendingClientClose = null;
    if (frame !== null && this.clientState < GONE) this.client.write(frame);
  }

  protected recordClose(code: number, reason: string, initiator: Initiator): void {
    if (this.closeCode !== 0) return;
    this.closeCode = code;
    this.closeReason = reason;
    this.initiator = initiator;
  }

  // A close frame crossed: when both directions are closed, end both sockets (the server side of
  // each connection closes TCP first: we for the client, the upstream for us, RFC 6455 §7.1.1).
  protected afterCloseFrame(): void {
    if ((this.clientState & this.upstreamState & CLOSE_RECEIVED) !== 0) {
      endSocket(this.client);
      endSocket(this.upstream);
    }
    this.armCloseTimer();
  }

  protected armCloseTimer(): void {
    if (this.closeTimer !== null || this.clientState === TORN_DOWN) return;
    this.closeTimer = setTimeout(closeTimerFired, this.closeTimeoutMs, this);
    this.closeTimer.unref();
  }

  // A side's TCP connection ended (FIN, reset or error). Without a close frame from it, its peer
  // hears one from us (SPEC section 4): the upstream 1001 "going away", the client 1014; our logs
  // say 1006 for a client, 1014 for an upstream.
  lost(side: Side): void {
    const isClient = side === CLIENT;
    const was = isClient ? this.clientState : this.upstreamState;
    if (was >= GONE) return;
    const socket = isClient ? this.client : this.upstream;
    const peer = isClient ? this.upstream : this.client;
    if (isClient) {
      this.clientState = GONE;
      this.pendingClientClose = null;
    } else {
      this.upstreamState = GONE;
    }
    if ((was & CLOSE_RECEIVED) !== 0) {
      endSocket(peer);
    } else {
      if (isClient) {
        this.recordClose(1006, 'client connection lost', 'client');
      } else {
        this.recordClose(CLOSE_CODES.BAD_GATEWAY, 'upstream connection lost', 'upstream');
        if (this.error === null) this.error = new GatewayError('WS_UPSTREAM_LOST');
      }
      const peerState = isClient ? this.upstreamState : this.clientState;
      if ((peerState & CLOSE_SENT) === 0) {
        if (isClient) this.endWithClose(UPSTREAM, CLOSE_CODES.GOING_AWAY, 'client went away');
        else this.endWithClose(CLIENT, CLOSE_CODES.BAD_GATEWAY, 'upstream connection lost');
      } else if (!isClient && this.pendingClientClose !== null) {
        // Our own close still waited for the upstream's frame in flight, which will never end.
        const frame = this.pendingClientClose;
        this.pendingClientClose = null;
        if (this.upstreamScanner.atBoundary) endSocket(this.client, frame);
        else this.client.destroy();
      } else {
        endSocket(peer);
      }
    }
    if (!socket.destroyed) socket.destroy();
    this.armCloseTimer();
    this.maybeTeardown();
  }

  // A side that has heard no close frame gets ours, then its connection ends. When the frame in
  // flight toward it is cut, nothing may follow it: the upstream just gets a FIN, the client's
  // connection is destroyed.
  protected endWithClose(side: Side, code: number, reason: string): void {
    if (side === UPSTREAM) {
      this.upstreamState |= CLOSE_SENT;
      if (this.clientScanner.atBoundary) endSocket(this.upstream, encodeClose(code, reason, true));
      else endSocket(this.upstream);
    } else {
      this.clientState |= CLOSE_SENT;
      if (this.upstreamScanner.atBoundary) endSocket(this.client, encodeClose(code, reason, false));
      else this.client.destroy();
    }
  }

  maybeTeardown(): void {
    if (this.clientState === TORN_DOWN || !this.client.destroyed || !this.upstream.destroyed) return;
    this.clientState = this.upstreamState = TORN_DOWN;
    this.closedAtMs = this.clock.refresh();
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.tornDown();
  }

  destroyBoth(): void {
    this.client.destroy();
    this.upstream.destroy();
    this.clientState |= GONE;
    this.upstreamState |= GONE;
    this.maybeTeardown();
  }
}

// Ends a socket once: end() on an ended socket makes (and drops) an error with a stack trace, which
// costs more than the rest of a tunnel's teardown.
function endSocket(socket: Socket, last?: Buffer): void {
  if (socket.writableEnded || socket.destroyed) return;
  if (last === undefined) socket.end();
  else socket.end(last);
}

function closeTimerFired(tunnel: TunnelClose): void {
  tunnel.destroyBoth();
}
