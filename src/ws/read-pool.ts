// ws/read-pool: the relay's read copies: 64 KiB buffers that a read is copied into out of its
// socket's shared read buffer, kept on a free list and taken back once every write that carried
// them has completed; not the reads themselves (upstream-socket.ts, client-reads.ts).
//
// Before, every relayed read was copied into a fresh buffer (Buffer.allocUnsafe: a malloc and an
// ArrayBuffer that V8 counts as external memory). At 64 KiB messages that made about 250 MB/s of
// external memory for V8 to collect: a scavenge every 60 ms forced by "external memory pressure",
// and in some processes a mark-compact every 80 ms for the process's whole life (issue 14, in
// docs/performance.md). A copy into a reused buffer costs the same memcpy and no allocation.
//
// Why our own: Node has no such pool for sockets, and the lifetime rule (a buffer is free once the
// writes that reference it have called back) is the tunnel's, so it lives beside the tunnel.
//
// A buffer is referenced only by the writes of its view (the frame scanner copies whatever it keeps),
// so it is free once they all called back; a write that would wait behind others writes a copy
// instead, so each destination socket holds at most one pooled buffer (the memory bound stays what
// it was: one read past the high-water mark). Writable calls write callbacks in write order, never
// synchronously, so a ledger per destination socket (PooledWrites) finds a buffer's last write by
// order. A write that fails drops the ledger: what it held goes to the garbage collector, never back
// to the list, so a buffer still referenced by a socket being torn down is never reused.
import type { Socket } from 'node:net';

export const READ_BYTES = 64 * 1024;
// Free buffers kept for reuse: 4 MiB. Buffers held by slow sockets beyond it are left to the GC when
// they come back, so a burst of stuck tunnels does not leave its high-water mark in RSS.
const MAX_FREE = 64;

const free: ArrayBuffer[] = [];

/** A pooled copy of `source[0, nread)`: a view of a free 64 KiB buffer (nread ≤ READ_BYTES). */
export function copyRead(source: Buffer, nread: number): Buffer {
  const chunk = Buffer.from(free.pop() ?? new ArrayBuffer(READ_BYTES), 0, nread);
  source.copy(chunk, 0, 0, nread);
  return chunk;
}

/** Gives a buffer from copyRead back to the free list: only when nothing references it any more. */
export function releaseRead(chunk: Buffer): void {
  if (free.length < MAX_FREE) free.push(chunk.buffer as ArrayBuffer);
}

/** How many free buffers the list holds (tests and diagnostics). */
export function freeReads(): number {
  return free.length;
}

/**
 * The writes toward one socket that carry pooled reads. The tunnel opens a read with begin(chunk),
 * writes its views through write() and closes it with end(): the chunk goes back to the free list
 * at once when no write took it, else when the last write that did calls back.
 */
export class PooledWrites {
  private current: Buffer | null = null;
  // The pooled chunk behind each write still in flight, in write order.
  private readonly held: Buffer[] = [];
  private failed = false;
  private readonly written: (err?: Error | null) => void;

  constructor(private readonly socket: Socket) {
    this.written = (err) => this.onWritten(err);
  }

  begin(chunk: Buffer): void {
    this.current = chunk;
  }

  // HOT: per write of relayed bytes; outside begin()/end() (bytes that are not a pooled read), a plain write.
  write(data: Buffer): boolean {
    const chunk = this.current;
    const socket = this.socket;
    if (chunk === null || this.failed) return socket.write(data);
    // Behind a queue the write waits: it takes a copy of its own size, so that a slow reader's queue
    // of small reads pins their bytes, not 64 KiB each. At most the write that found the queue empty
    // (sent at once, or partly and the rest waiting) holds a pooled buffer.
    if (socket.writableLength > 0) return socket.write(Buffer.from(data));
    this.held.push(chunk);
    return socket.write(data, this.written);
  }

  end(): void {
    const chunk = this.current;
    if (chunk === null) return;
    this.current = null;
    if (!this.failed && this.held[this.held.length - 1] !== chunk) releaseRead(chunk);
  }

  private onWritten(err: Error | null | undefined): void {
    if (this.failed) return;
    if (err) {
      // The socket is gone: whatever it still references is left to the garbage collector.
      this.failed = true;
      this.held.length = 0;
      return;
    }
    const chunk = this.held.shift();
    if (chunk !== undefined && this.held[0] !== chunk && chunk !== this.current) releaseRead(chunk);
  }
}
