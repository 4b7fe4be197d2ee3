// ws/frames: the frames the gateway writes itself (close, ping, pong); relayed frames are never re-encoded.
// masked = true when writing toward the upstream, where the gateway speaks as a client (RFC 6455 §5.3).

import { randomFill } from '../core/random.js';
import { CLOSE_CODES } from './close-codes.js';
import { MAX_CONTROL_PAYLOAD, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG } from './frame-scanner.js';

// RFC 6455 §5.5.1: 2 bytes of code leave 123 for the reason.
const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;

// A close frame with `code` and as much of `reason` as fits in 123 bytes, cut between characters.
// Code 1005 (no status) gives an empty payload, as RFC 6455 §7.4.1 describes it.
export function encodeClose(code: number, reason: string, masked: boolean): Buffer {
  const head = masked ? 6 : 2;
  if (code === CLOSE_CODES.NO_STATUS) return finish(Buffer.allocUnsafe(head), OPCODE_CLOSE, head, 0, masked);
  const frame = Buffer.allocUnsafe(head + MAX_CONTROL_PAYLOAD);
  frame[head] = code >>> 8;
  frame[head + 1] = code & 0xff;
  // write() never writes part of a character, so a cut reason stays valid UTF-8.
  const written = reason === '' ? 0 : frame.write(reason, head + 2, MAX_CLOSE_REASON, 'utf8');
  return finish(frame, OPCODE_CLOSE, head, 2 + written, masked);
}

// A ping carrying `payload` (≤ 125 bytes; anything past that is cut).
export function encodePing(payload: Buffer, masked: boolean): Buffer {
  return encodeControl(OPCODE_PING, payload, masked);
}

// A pong; answering a ping, `payload` is that ping's payload (RFC 6455 §5.5.3).
export function encodePong(payload: Buffer, masked: boolean): Buffer {
  return encodeControl(OPCODE_PONG, payload, masked);
}

function encodeControl(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const head = masked ? 6 : 2;
  const length = Math.min(payload.length, MAX_CONTROL_PAYLOAD);
  const frame = Buffer.allocUnsafe(head + length);
  payload.copy(frame, head, 0, length);
  return finish(frame, opcode, head, length, masked);
}

// Writes the 2-byte header (FIN set) and, when masked, a fresh random key, then masks the payload in place.
function finish(frame: Buffer, opcode: number, head: number, length: number, masked: boolean): Buffer {
  frame[0] = 0x80 | opcode;
  frame[1] = (masked ? 0x80 : 0) | length;
  if (masked) {
    randomFill(frame, 2, 4);
    for (let i = 0; i < length; i++) frame[head + i]! ^= frame[2 + (i & 3)]!;
  }
  return head + length === frame.length ? frame : frame.subarray(0, head + length);
}
