// ws/tunnel: owns both sockets of one relayed WebSocket, from the 101 until both are destroyed: the
// data path, message counts, limits and deadlines. How it closes (states, our close frames, lost
// connections, teardown) is the base class in tunnel-close.ts.
// Frames cross unmodified, copied once: each read is copied out of its socket's shared read buffer
// into a pooled one (read-pool.ts) and written as it is, or as subarray views cut at frame
// boundaries; one FrameScanner per direction tracks frame headers so the tunnel can count messages,
// enforce limits, and inject its own close frames between frames.
//
// Backpressure: a write that finds its socket's queue full (write() returns false) pauses the other
// side's reader until that socket drains, so each direction holds at most about one read past the
// socket's high-water mark; a side whose queue stays full for websocket.sendTimeout is cut.
import type { Socket } from 'node:net';
import { GatewayError } from '../core/errors.js';
import { CLOSE_CODES } from './close-codes.js';
import {
  EVENT_CONTROL,
  EVENT_FAULT,
  EVENT_MESSAGE,
  EVENT_NONE,
  FAULT_TOO_BIG,
  FrameScanner,
  OPCODE_CLOSE,
  OPCODE_PONG,
} from './frame-scanner.js';
import { encodePing } from './frames.js';
import type { WebSocketSpec } from '../config/compile.js';
import type { Clock } from '../core/clock.js';
import { attachReader, isRawUpstream } from './upstream-socket.js';
import { raiseMallocThresholds } from './malloc-threshold.js';
import { copyRead, PooledWrites } from './read-pool.js';
import { readIntoSharedBuffer } from './client-reads.js';
import { CLIENT, CLOSE_RECEIVED, CLOSE_SENT, TORN_DOWN, TunnelClose, UPSTREAM, type Side } from './tunnel-close.js';

export type { Initiator } from './tunnel-close.js';

// Before the first tunnel relays a byte (see malloc-threshold.ts for why).
raiseMallocThresholds();

type Owned = Socket & { tunnel: WsTunnel };

export interface TunnelOptions {
  readonly id: string;
  readonly route: string;
  readonly clientAddress: string;
  readonly clientKey: string;       // what maxPerClient counts: route, then the user when known, else the address
  readonly user: string | null;
  readonly target: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly websocket: WebSocketSpec;
  readonly closeTimeoutMs: number;
  // Who this socket is, for the connection list and ws_open/ws_close only (the tunnel never reads
  // them): worked out once per handshake.
  readonly path: string;             // the client's path, query removed
  readonly host: string;
  readonly clientPort: number | null; // the peer's port; null when the address came from X-Forwarded-For
  readonly userAgent: string;
  // The gateway clock's ms at which the credential that opened this tunnel expires (auth's
  // closeOnExpiry): the tunnel then closes with 1008. 0: never.
  readonly expiresAtMs: number;
}

// The gateway's own pings carry this payload, so their pongs can be told from the upstream's.
const PING_PAYLOAD = Buffer.from('wsgate-hb');
const PING_FRAME = encodePing(PING_PAYLOAD, false);

// The tunnel's owner (server/gateway) learns of the end here: logs, metrics, hooks, registry.
export interface TunnelObserver {
  onTunnelClose(tunnel: WsTunnel): void;
}


export class WsTunnel extends TunnelClose {
  readonly openedAtMs: number;
  lastActivityMs: number;
  // Heartbeat and limits (SPEC section 4), checked by sweep() on the shared clock tick; the hot
  // path only stores times.
  private lastClientMs: number;     // any bytes from the client
  private lastDataMs: number;       // a data message started, either way
  private pingSentMs = 0;           // 0: no gateway ping outstanding
  // Since when writes toward that side are backed up (the other side's reader paused); -1: flowing.
  clientStuckMs = -1;
  upstreamStuckMs = -1;
  private tokens: number;           // message rate limit bucket (client → upstream)
  private refilledMs: number;
  private countedIn = 0;            // client messages already taken from the bucket
  private countedOut = 0;
  rateLimited = false;
  bytesIn = 0;    // client → upstream
  bytesOut = 0;   // upstream → client
  // What metrics already counted of the four totals (observability/metrics reportTunnel).
  reportedMessagesIn = 0;
  reportedMessagesOut = 0;
  reportedBytesIn = 0;
  reportedBytesOut = 0;
  // Writes of pooled reads (read-pool.ts), one ledger per destination socket.
  private readonly toClient: PooledWrites;
  private readonly toUpstream: PooledWrites;

  constructor(
    client: Socket,
    upstream: Socket,
    readonly options: TunnelOptions,
    private readonly observer: TunnelObserver,
    clock: Clock,
  ) {
    const deflate = /(^|,)\s*permessage-deflate/i.test(options.extensions);
    const ws = options.websocket;
    super(
      client,
      upstream,
      new FrameScanner({ masked: true, maxMessageBytes: ws.maxMessageBytes, rsv1: deflate, messageEvents: ws.rateLimit !== null }),
      new FrameScanner({ masked: false, maxMessageBytes: ws.maxMessageBytes, rsv1: deflate }),
      clock,
      options.closeTimeoutMs,
    );
    this.openedAtMs = this.lastActivityMs = this.lastClientMs = this.lastDataMs = this.refilledMs = clock.refresh();
    this.tokens = ws.rateLimit?.burst ?? 0;
    this.toClient = new PooledWrites(client);
    this.toUpstream = new PooledWrites(upstream);
    const c = client as Owned;
    const u = upstream as Owned;
    c.tunnel = u.tunnel = this;
    // 'data' stays for what the socket buffered before the tunnel took it (and flowing mode, which
    // delivers 'end'); new reads go to clientOnRead where Node lets us (client-reads.ts).
    c.on('error', socketOnError).on('close', socketOnClose).on('end', socketOnEnd).on('drain', socketOnDrain).on('data', clientOnData);
    readIntoSharedBuffer(client, clientOnRead);
    u.on('error', socketOnError).on('close', socketOnClose).on('end', socketOnEnd).on('drain', socketOnDrain);
    // A plain-TCP upstream delivers its reads straight to fromUpstream (upstream-socket.ts).
    if (isRawUpstream(upstream)) attachReader(upstream, this);
    else u.on('data', upstreamOnData);
    c.setNoDelay(true);
    u.setNoDelay(true);
    c.setTimeout(0);
    u.setTimeout(0);
  }

  protected tornDown(): void {
    this.observer.onTunnelClose(this);
  }

  get messagesIn(): number {
    return this.clientScanner.messages;
  }

  get messagesOut(): number {
    return this.upstreamScanner.messages;
  }

  // Feeds bytes that arrived with the handshakes (after the client's request head, after the 101).
  start(clientHead: Buffer, upstreamHead: Buffer): void {
    if (upstreamHead.length > 0) this.fromUpstream(upstreamHead);
    if (clientHead.length > 0) this.fromClient(clientHead);
  }

  // HOT: per read from the client where client-reads.ts could move it: a pooled copy, given back by
  // toUpstream once the writes that carry it are done.
  fromClientRead(chunk: Buffer): void {
    const writes = this.toUpstream;
    writes.begin(chunk);
    this.fromClient(chunk);
    writes.end();
  }

  // HOT: per chunk from the client.
  fromClient(chunk: Buffer): void {
    if ((this.clientState & CLOSE_RECEIVED) !== 0) return;
    this.bytesIn += chunk.length;
    const now = this.clock.nowMs;
    this.lastActivityMs = this.lastClientMs = now;
    this.pingSentMs = 0; // any frame answers a heartbeat
    const scanner = this.clientScanner;
    const upstream = this.upstream;
    const forward = (this.upstreamState & CLOSE_SENT) === 0;
    let ok = true;
    for (let start = 0; ; ) {
      const end = scanner.scan(chunk, start);
      const event = scanner.event;
      if (event === EVENT_CONTROL && scanner.opcode === OPCODE_PONG && scanner.controlPayload.equals(PING_PAYLOAD)) {
        // The answer to our own ping: forward what came before it, never the pong itself.
        const at = scanner.frameStart;
        if (at !== -1) {
          if (scanner.prefix !== null && forward) upstream.write(scanner.prefix);
          if (at > start && forward) ok = this.toUpstream.write(chunk.subarray(start, at));
        }
        scanner.prefix = null;
        start = end;
        continue;
      }
      if (scanner.prefix !== null) {
        if (forward) upstream.write(scanner.prefix);
        scanner.prefix = null;
      }
      if (end > start && forward) ok = this.toUpstream.write(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
      if (event === EVENT_NONE) break;
      if (event === EVENT_MESSAGE) {
        // Rate-limited routes only: a message over the limit is never forwarded, not even its header.
        if (!this.takeToken()) return;
        scanner.ackMessage();
        start = end;
        continue;
      }
      if (event === EVENT_FAULT) {
        const code = scanner.fault === FAULT_TOO_BIG ? CLOSE_CODES.MESSAGE_TOO_BIG : CLOSE_CODES.PROTOCOL_ERROR;
        this.closeBoth(code, scanner.faultReason, code, scanner.faultReason, new GatewayError(code === CLOSE_CODES.MESSAGE_TOO_BIG ? 'WS_MESSAGE_TOO_BIG' : 'WS_PROTOCOL_ERROR', scanner.faultReason));
        this.clientState |= CLOSE_RECEIVED;
        return;
      }
      if (event === EVENT_CONTROL && scanner.opcode === OPCODE_CLOSE) {
        this.clientState |= CLOSE_RECEIVED;
        if (forward) this.upstreamState |= CLOSE_SENT;
        this.recordClose(scanner.closeCode, scanner.closeReason, 'client');
        this.afterCloseFrame();
        return;
      }
      start = end;
    }
    if (scanner.messages !== this.countedIn) this.countMessagesIn(now);
    if (!ok) {
      this.client.pause();
      if (this.upstreamStuckMs === -1) this.upstreamStuckMs = now;
    }
  }

  // Per chunk that completed client messages: the data clock.
  private countMessagesIn(now: number): void {
    this.countedIn = this.clientScanner.messages;
    this.lastDataMs = now;
  }

  // Per message on a rate-limited route: the token bucket, refilled lazily (no timer runs for it).
  // The shared clock lags by up to a tick, which would refill too little: an overdraft is judged on
  // the exact time. Over the limit: 1008 toward both sides, and the message stays behind.
  private takeToken(): boolean {
    const limit = this.options.websocket.rateLimit!;
    let now = this.clock.nowMs;
    let tokens = Math.min(limit.burst, this.tokens + ((now - this.refilledMs) * limit.messages) / limit.perMs);
    if (tokens < 1) {
      now = this.clock.refresh();
      tokens = Math.min(limit.burst, this.tokens + ((now - this.refilledMs) * limit.messages) / limit.perMs);
    }
    this.refilledMs = now;
    if (tokens >= 1) {
      this.tokens = tokens - 1;
      return true;
    }
    this.tokens = tokens;
    this.rateLimited = true;
    this.clientState |= CLOSE_RECEIVED;
    const reason = 'message rate limit exceeded';
    this.closeBoth(CLOSE_CODES.POLICY_VIOLATION, reason, CLOSE_CODES.POLICY_VIOLATION, reason, new GatewayError('WS_RATE_LIMITED'));
    return false;
  }

  // Once per clock tick (TunnelRegistry.sweep): heartbeat, idle timeout and lifetime.
  sweep(now: number): void {
    if (this.closeCode !== 0 || this.clientState === TORN_DOWN) return;
    const ws = this.options.websocket;
    if (this.options.expiresAtMs > 0 && now >= this.options.expiresAtMs) {
      this.close(CLOSE_CODES.POLICY_VIOLATION, 'token expired', new GatewayError('WS_TOKEN_EXPIRED'));
      return;
    }
    if (ws.maxLifetimeMs > 0 && now - this.openedAtMs >= ws.maxLifetimeMs) {
      this.close(CLOSE_CODES.POLICY_VIOLATION, 'connection lifetime reached', new GatewayError('WS_LIFETIME_REACHED'));
      return;
    }
    if (ws.idleTimeoutMs > 0 && now - this.lastDataMs >= ws.idleTimeoutMs) {
      this.close(CLOSE_CODES.GOING_AWAY, 'idle timeout', new GatewayError('WS_IDLE_TIMEOUT'));
      return;
    }
    if (ws.sendTimeoutMs > 0) {
      if (this.clientStuckMs !== -1 && now - this.clientStuckMs >= ws.sendTimeoutMs) return this.sendTimedOut(CLIENT);
      if (this.upstreamStuckMs !== -1 && now - this.upstreamStuckMs >= ws.sendTimeoutMs) return this.sendTimedOut(UPSTREAM);
    }
    if (ws.pingIntervalMs === 0) return;
    if (this.pingSentMs !== 0) {
      if (now - this.pingSentMs >= ws.pongTimeoutMs) this.heartbeatLost();
      return;
    }
    // Our ping goes between frames only; mid-frame, the next tick tries again.
    if (now - this.lastClientMs >= ws.pingIntervalMs && this.upstreamScanner.atBoundary && (this.clientState & CLOSE_SENT) === 0) {
      this.pingSentMs = now;
      this.client.write(PING_FRAME);
    }
  }

  // HOT: per read from a plain-TCP upstream (upstream-socket.ts): a pooled copy, given back by
  // toClient once the writes that carry it are done.
  fromUpstreamRead(chunk: Buffer): void {
    const writes = this.toClient;
    writes.begin(chunk);
    this.fromUpstream(chunk);
    writes.end();
  }

  // HOT: per chunk from the upstream.
  fromUpstream(chunk: Buffer): void {
    if ((this.upstreamState & CLOSE_RECEIVED) !== 0) return;
    this.bytesOut += chunk.length;
    const now = this.clock.nowMs;
    this.lastActivityMs = now;
    const scanner = this.upstreamScanner;
    const client = this.client;
    // While our own close waits for the end of the frame in flight, that frame must still cross:
    // the client cannot take a close frame in the middle of another frame's payload.
    const forward = (this.clientState & CLOSE_SENT) === 0 || this.pendingClientClose !== null;
    let ok = true;
    for (let start = 0; ; ) {
      const end = scanner.scan(chunk, start);
      if (scanner.prefix !== null) {
        if (forward) client.write(scanner.prefix);
        scanner.prefix = null;
      }
      if (end > start && forward) ok = this.toClient.write(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
      const event = scanner.event;
      if (event === EVENT_NONE) break;
      if (event === EVENT_FAULT) {
        if (scanner.fault === FAULT_TOO_BIG) {
          // maxMessageBytes binds both directions: 1009 toward both sides, as for a client message.
          const reason = scanner.faultReason;
          this.closeBoth(CLOSE_CODES.MESSAGE_TOO_BIG, reason, CLOSE_CODES.MESSAGE_TOO_BIG, reason, new GatewayError('WS_MESSAGE_TOO_BIG', `upstream: ${reason}`));
          this.upstreamState |= CLOSE_RECEIVED;
          return;
        }
        // The upstream broke the protocol: it hears 1002, the client learns its upstream failed.
        this.closeBoth(CLOSE_CODES.BAD_GATEWAY, 'upstream protocol error', CLOSE_CODES.PROTOCOL_ERROR, scanner.faultReason, new GatewayError('WS_PROTOCOL_ERROR', `upstream: ${scanner.faultReason}`));
        this.upstreamState |= CLOSE_RECEIVED;
        return;
      }
      if (event === EVENT_CONTROL && scanner.opcode === OPCODE_CLOSE) {
        this.upstreamState |= CLOSE_RECEIVED;
        if (forward) this.clientState |= CLOSE_SENT;
        this.pendingClientClose = null; // the upstream's close, just relayed, stands in for ours
        this.recordClose(scanner.closeCode, scanner.closeReason, 'upstream');
        this.afterCloseFrame();
        return;
      }
      start = end;
    }
    if (scanner.messages !== this.countedOut) {
      this.countedOut = scanner.messages;
      this.lastDataMs = now;
    }
    if (this.pendingClientClose !== null && scanner.atBoundary) this.flushClientClose();
    if (!ok) {
      this.upstream.pause();
      if (this.clientStuckMs === -1) this.clientStuckMs = now;
    }
  }

}

// HOT: per chunk; one handler per direction, so no side is looked up.
function clientOnData(this: Owned, chunk: Buffer): void {
  this.tunnel.fromClient(chunk);
}

function clientOnRead(this: Socket, nread: number, buf: Buffer): boolean {
  (this as Owned).tunnel.fromClientRead(copyRead(buf, nread));
  return true;
}

function upstreamOnData(this: Owned, chunk: Buffer): void {
  this.tunnel.fromUpstream(chunk);
}

function sideOf(socket: Owned): Side {
  return socket === socket.tunnel.client ? CLIENT : UPSTREAM;
}

// Backpressure: a full writer paused the other side's reader; resume it when the writer drains.
function socketOnDrain(this: Owned): void {
  const t = this.tunnel;
  if (this === t.client) {
    t.clientStuckMs = -1;
    t.upstream.resume();
  } else {
    t.upstreamStuckMs = -1;
    t.client.resume();
  }
}

// A socket error ends that side like a lost connection (the error itself is the peer's business:
// ECONNRESET, EPIPE); never rethrows, and the 'close' that follows tears the tunnel down.
function socketOnError(this: Owned): void {
  this.tunnel.lost(sideOf(this));
}

function socketOnEnd(this: Owned): void {
  this.tunnel.lost(sideOf(this));
}

// The socket is destroyed: when lost() already ran on 'end', the teardown may be due only now.
function socketOnClose(this: Owned): void {
  const t = this.tunnel;
  t.lost(sideOf(this));
  t.maybeTeardown();
}
