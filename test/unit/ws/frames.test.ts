import { test, expect } from 'vitest';
import { encodeClose, encodePing, encodePong } from '../../../src/ws/frames.js';
import {
  EVENT_CONTROL,
  FrameScanner,
  OPCODE_CLOSE,
  OPCODE_PING,
  OPCODE_PONG,
} from '../../../src/ws/frame-scanner.js';

// What a peer reads from one of our frames: scanned as the receiving side would scan it.
function read(frame: Buffer, masked: boolean): { end: number; opcode: number; code: number; reason: string; payload: Buffer } {
  const scanner = new FrameScanner({ masked, maxMessageBytes: 0, rsv1: false });
  const end = scanner.scan(frame, 0);
  expect(scanner.event).toBe(EVENT_CONTROL);
  return { end, opcode: scanner.opcode, code: scanner.closeCode, reason: scanner.closeReason, payload: Buffer.from(scanner.controlPayload) };
}

test('encodes an unmasked close frame with code and reason', () => {
  const frame = encodeClose(1000, 'bye', false);
  expect(frame.toString('hex')).toBe('8805' + '03e8' + Buffer.from('bye').toString('hex'));
  expect(read(frame, false)).toMatchObject({ end: frame.length, opcode: OPCODE_CLOSE, code: 1000, reason: 'bye' });
});

test('encodes an unmasked close frame without a reason', () => {
  expect(encodeClose(1001, '', false).toString('hex')).toBe('880203e9');
});

test('encodes code 1005 as a close frame without payload', () => {
  const frame = encodeClose(1005, 'ignored', false);
  expect(frame.toString('hex')).toBe('8800');
  expect(read(frame, false)).toMatchObject({ code: 1005, reason: '' });
});

test('encodes unmasked ping and pong frames', () => {
  expect(encodePing(Buffer.from('hi'), false).toString('hex')).toBe('89026869');
  expect(encodePong(Buffer.from('hi'), false).toString('hex')).toBe('8a026869');
  expect(encodePing(Buffer.alloc(0), false).toString('hex')).toBe('8900');
});

test('masks close frames toward the upstream so that they unmask to the same code and reason', () => {
  const frame = encodeClose(1014, 'upstream lost ✗', true);
  expect(frame[1]! & 0x80).toBe(0x80);
  expect(frame.length).toBe(6 + 2 + Buffer.byteLength('upstream lost ✗'));
  expect(read(frame, true)).toMatchObject({ end: frame.length, opcode: OPCODE_CLOSE, code: 1014, reason: 'upstream lost ✗' });
});

test('masks ping and pong payloads toward the upstream', () => {
  const payload = Buffer.from('0123456789abcdef');
  const ping = encodePing(payload, true);
  const pong = encodePong(payload, true);
  expect(read(ping, true)).toMatchObject({ end: ping.length, opcode: OPCODE_PING, payload });
  expect(read(pong, true)).toMatchObject({ end: pong.length, opcode: OPCODE_PONG, payload });
  expect(payload.toString()).toBe('0123456789abcdef');
});

test('uses a fresh mask key for each masked frame', () => {
  const keys = new Set<string>();
  for (let i = 0; i < 8; i++) keys.add(encodePing(Buffer.from('x'), true).subarray(2, 6).toString('hex'));
  expect(keys.size).toBeGreaterThan(1);
});

test('cuts a long close reason to 123 bytes between characters', () => {
  const cases = ['r'.repeat(200), 'a' + '€'.repeat(50), '𝄞'.repeat(40), 'ab' + 'é'.repeat(100)];
  for (const reason of cases) {
    for (const masked of [false, true]) {
      const frame = encodeClose(1008, reason, masked);
      const { code, reason: got } = read(frame, masked);
      expect(code).toBe(1008);
      expect(Buffer.byteLength(got)).toBeLessThanOrEqual(123);
      expect(Buffer.byteLength(got)).toBeGreaterThan(119);
      expect(reason.startsWith(got)).toBe(true);
    }
  }
  expect(read(encodeClose(1000, 'a' + '€'.repeat(50), false), false).reason).toBe('a' + '€'.repeat(40));
});

test('cuts a ping payload longer than 125 bytes to 125', () => {
  const payload = Buffer.alloc(200, 7);
  expect(read(encodePing(payload, false), false).payload).toEqual(payload.subarray(0, 125));
});
