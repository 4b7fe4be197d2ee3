// ws/frame-scanner: frame boundaries of one direction of a tunnel (RFC 6455 §5), read from headers only;
// not relaying (tunnel.ts) and not encoding (frames.ts).
//
// The relay forwards every chunk as it came and asks scan() how far it may go. The scanner never reads a
// data payload: it counts payload bytes and skips them. So text payloads are NOT checked for valid UTF-8
// (RFC 6455 §8.1 binds the endpoint that interprets the text: the client and the upstream check it), and with
// permessage-deflate maxMessageBytes counts compressed bytes as they travel on the wire.
//
// Two things are held back instead of forwarded, so that a fault never leaves part of a bad frame with
// the peer and atBoundary is exact (the gateway can then put its own close frame between frames):
// - a frame header (2..14 bytes) cut by the end of a chunk;
// - a whole control frame (header and ≤ 125 byte payload) cut by the end of a chunk, because a close
//   frame is only known to be valid once its code and reason have arrived.
// Held bytes are copied into `scratch`; when the frame completes, they come back once as `prefix`.

import { CLOSE_CODES, isValidWireCloseCode } from './close-codes.js';

export const EVENT_NONE = 0; // the chunk was scanned to its end (bytes after `end` are held, if any)
export const EVENT_CONTROL = 1; // a complete control frame ends at the returned offset
export const EVENT_FAULT = 2; // protocol violation or message too big; the scanner is dead afterwards
// With `messageEvents`: a data message is about to start at the returned offset (its first frame's
// header not yet consumed). The caller decides (a rate limit), calls ackMessage() and scans on.
export const EVENT_MESSAGE = 3;

export const FAULT_NONE = 0;
export const FAULT_PROTOCOL = 1;
export const FAULT_TOO_BIG = 2;

export const OPCODE_CONTINUATION = 0x0;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

// RFC 6455 §5.5: control frames carry at most 125 payload bytes.
export const MAX_CONTROL_PAYLOAD = 125;
// 2 + 4 (mask) + 125: the largest unit that is ever held, a whole masked control frame.
const SCRATCH_BYTES = 2 + 4 + MAX_CONTROL_PAYLOAD;
// Control payloads are unmasked here and read before the next scan() of any scanner (the relay
// checks a pong, a close's code and reason is decoded at once): one buffer serves them all, so a
// held tunnel carries no buffer of its own (about 1.5 KiB each with two scanners).
const CONTROL = Buffer.alloc(MAX_CONTROL_PAYLOAD);
const EMPTY = Buffer.alloc(0);
// 2^53 - 1 is the largest length a number holds exactly: high 32 bits at most 0x1fffff.
const MAX_SAFE_HIGH_WORD = 0x1fffff;

// Only close reasons are decoded (≤ 123 bytes, once per close frame). ignoreBOM keeps a leading U+FEFF.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface FrameScannerOptions {
  masked: boolean; // true: every frame must be masked (client → upstream); false: none may be (upstream → client)
  maxMessageBytes: number; // 0 = unlimited; payload bytes summed over all fragments of one data message
  rsv1: boolean; // permessage-deflate negotiated: RSV1 allowed on the first frame of a data message only
  messageEvents?: boolean; // report EVENT_MESSAGE before each data message (only routes that need it pay)
}

export class FrameScanner {
  event: number = EVENT_NONE;
  fault: number = FAULT_NONE;
  faultReason: string = '';
  prefix: Buffer | null = null;
  opcode: number = 0;
  controlPayload: Buffer; // valid until the next scan() of any scanner: a view of a shared buffer
  closeCode: number = 0;
  closeReason: string = '';
  messages: number = 0;
  // On EVENT_CONTROL: where that frame began in the chunk, or -1 when it began in `prefix`.
  // Lets the relay drop a frame it answers itself (a pong to the gateway's own ping).
  frameStart: number = 0;

  private readonly masked: boolean;
  private readonly maxMessageBytes: number;
  private readonly rsv1: boolean;
  private readonly messageEvents: boolean;
  private messageAcked = false; // the caller accepted the message EVENT_MESSAGE announced
  private scratch: Buffer | null = null; // made on the first cut header: most scanners never need one
  private held: number = 0; // bytes of an incomplete header or control frame in scratch
  private payloadLeft: number = 0; // data payload bytes still to skip
  private fragmented: boolean = false; // a data message has started and its FIN frame has not
  private messageBytes: number = 0; // payload bytes of the current data message so far

  constructor(options: FrameScannerOptions) {
    this.masked = options.masked;
    this.maxMessageBytes = options.maxMessageBytes;
    this.rsv1 = options.rsv1;
    this.messageEvents = options.messageEvents === true;
    this.controlPayload = EMPTY;
  }

  // True when everything returned as forwardable so far ends exactly between two frames.
  get atBoundary(): boolean {
    return this.payloadLeft === 0;
  }

  // HOT: per chunk on every tunnel. Returns `end`: [start, end) may be forwarded as it is, after
  // `prefix` when that is set (it is cleared by the next call). On EVENT_CONTROL call again from `end`;
  // on EVENT_FAULT nothing of the offending frame is in [start, end) or was forwarded before.
  scan(chunk: Buffer, start: number): number {
    this.prefix = null;
    if (this.fault !== FAULT_NONE) {
      this.event = EVENT_FAULT;
      return start;
    }
    this.event = EVENT_NONE;
    const end = chunk.length;
    let at = start;
    if (this.held > 0) {
      if (at >= end) return at;
      const held = this.held;
      const scratch = this.scratch!; // held > 0: it exists
      const avail = held + chunk.copy(scratch, held, at, end);
      const used = this.readFrame(scratch, 0, avail);
      if (used === 0) {
        this.held = avail; // incomplete, so all of the chunk fit in scratch
        return start;
      }
      if (used < 0) return start;
      const prefix = Buffer.allocUnsafe(held); // rare: only when a chunk cut a header or control frame
      scratch.copy(prefix, 0, 0, held);
      this.prefix = prefix;
      this.held = 0;
      at += used - held;
      if (this.event !== EVENT_NONE) {
        this.frameStart = -1; // the control frame began in `prefix`
        return at;
      }
    }
    while (at < end) {
      const left = this.payloadLeft;
      if (left > 0) {
        if (end - at <= left) {
          this.payloadLeft = left - (end - at);
          return end;
        }
        this.payloadLeft = 0;
        at += left;
      }
      const used = this.readFrame(chunk, at, end - at);
      if (used > 0) {
        if (this.event !== EVENT_NONE) {
          this.frameStart = at; // a control frame
          return at + used;
        }
        at += used;
      } else {
        if (used === 0) {
          chunk.copy((this.scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES)), 0, at, end);
          this.held = end - at;
        }
        return at;
      }
    }
    return at;
  }

  // HOT: per frame. Reads the header at b[at] (avail bytes there). Returns the bytes it covers (the
  // header of a data frame, all of a control frame), 0 when they have not all arrived, or -1 on a fault.
  // Changes no state unless it returns non-zero. Byte 0-1 checks come first, so a fault is the same
  // whether it is seen at 2 bytes or at the full header.
  private readFrame(b: Buffer, at: number, avail: number): number {
    if (avail < 2) return 0;
    const b0 = b[at]!;
    const b1 = b[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let length = b1 & 0x7f;
    // RFC 6455 §5.2: RSV bits are 0 unless an extension defines them; RFC 7692 §6: permessage-deflate
    // uses RSV1 on the first frame of a message only.
    if ((b0 & 0x30) !== 0) return this.fail(FAULT_PROTOCOL, 'reserved bits set');
    if (opcode >= OPCODE_CLOSE) {
      if (opcode > OPCODE_PONG) return this.fail(FAULT_PROTOCOL, 'unknown opcode');
      if ((b0 & 0x40) !== 0) return this.fail(FAULT_PROTOCOL, 'RSV1 on control frame');
      // RFC 6455 §5.5: control frames are not fragmented and carry ≤ 125 bytes.
      if (!fin) return this.fail(FAULT_PROTOCOL, 'fragmented control frame');
      if (length > MAX_CONTROL_PAYLOAD) return this.fail(FAULT_PROTOCOL, 'control frame too long');
      // RFC 6455 §5.5.1: a close payload is empty or starts with a 2-byte code.
      if (length === 1 && opcode === OPCODE_CLOSE) return this.fail(FAULT_PROTOCOL, 'invalid close payload');
    } else if (opcode === OPCODE_CONTINUATION) {
      if (!this.fragmented) return this.fail(FAULT_PROTOCOL, 'unexpected continuation frame');
      if ((b0 & 0x40) !== 0) return this.fail(FAULT_PROTOCOL, 'RSV1 on continuation frame');
    } else if (opcode <= OPCODE_BINARY) {
      // RFC 6455 §5.4: control frames may come between fragments, data frames may not.
      if (this.fragmented) return this.fail(FAULT_PROTOCOL, 'expected continuation frame');
      if ((b0 & 0x40) !== 0 && !this.rsv1) return this.fail(FAULT_PROTOCOL, 'RSV1 not negotiated');
    } else {
      return this.fail(FAULT_PROTOCOL, 'unknown opcode');
    }
    // RFC 6455 §5.1: clients mask every frame, servers mask none.
    if ((b1 & 0x80) === 0) {
      if (this.masked) return this.fail(FAULT_PROTOCOL, 'unmasked client frame');
    } else if (!this.masked) {
      return this.fail(FAULT_PROTOCOL, 'masked server frame');
    }
    let size = this.masked ? 6 : 2;
    if (length === 126) {
      size += 2;
      if (avail < size) return 0;
      length = (b[at + 2]! << 8) | b[at + 3]!;
    } else if (length === 127) {
      size += 8;
      if (avail < size) return 0;
      const high = ((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0;
      // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
      if (high > 0x7fffffff) return this.fail(FAULT_PROTOCOL, 'invalid frame length');
      if (high > MAX_SAFE_HIGH_WORD) return this.fail(FAULT_TOO_BIG, 'message too big');
      const low = ((b[at + 6]! << 24) | (b[at + 7]! << 16) | (b[at + 8]! << 8) | b[at + 9]!) >>> 0;
      length = high * 0x100000000 + low;
    } else if (avail < size) {
      return 0;
    }
    if (opcode >= OPCODE_CLOSE) {
      if (avail < size + length) return 0;
      return this.readControl(b, at, size, length, opcode);
    }
    const total = opcode === OPCODE_CONTINUATION ? this.messageBytes + length : length;
    if (this.maxMessageBytes > 0 && total > this.maxMessageBytes) {
      return this.fail(FAULT_TOO_BIG, 'message too big');
    }
    if (this.messageEvents && opcode !== OPCODE_CONTINUATION) {
      // Stop before the message's first header; nothing changed, so the next scan reads it again.
      if (!this.messageAcked) {
        this.event = EVENT_MESSAGE;
        return -2;
      }
      this.messageAcked = false;
    }
    this.messageBytes = total;
    this.fragmented = !fin;
    if (fin) this.messages++;
    this.payloadLeft = length;
    return size;
  }

  // Per control frame, all of it in b[at, at + size + length): copies and unmasks the payload, checks a close.
  private readControl(b: Buffer, at: number, size: number, length: number, opcode: number): number {
    const control = CONTROL;
    const from = at + size;
    if (this.masked) {
      const key = from - 4;
      for (let i = 0; i < length; i++) control[i] = b[from + i]! ^ b[key + (i & 3)]!;
    } else {
      b.copy(control, 0, from, from + length);
    }
    if (opcode === OPCODE_CLOSE) {
      if (length === 0) {
        this.closeCode = CLOSE_CODES.NO_STATUS;
        this.closeReason = '';
      } else {
        const code = (control[0]! << 8) | control[1]!;
        if (!isValidWireCloseCode(code)) return this.fail(FAULT_PROTOCOL, 'invalid close code');
        const reason = decodeReason(control, length);
        if (reason === null) return this.fail(FAULT_PROTOCOL, 'invalid close reason');
        this.closeCode = code;
        this.closeReason = reason;
      }
    }
    this.opcode = opcode;
    this.controlPayload = control.subarray(0, length);
    this.event = EVENT_CONTROL;
    return size + length;
  }

  /** After EVENT_MESSAGE: let the announced message through (scan on from the returned offset). */
  ackMessage(): void {
    this.messageAcked = true;
  }

  private fail(fault: number, reason: string): number {
    this.event = EVENT_FAULT;
    this.fault = fault;
    this.faultReason = reason;
    return -1;
  }
}

// RFC 6455 §5.5.1: the reason is UTF-8; invalid bytes make the close frame invalid. Null when invalid.
function decodeReason(control: Buffer, length: number): string | null {
  if (length === 2) return '';
  try {
    return utf8.decode(control.subarray(2, length));
  } catch {
    return null;
  }
}
