import { test, expect } from 'vitest';
import {
  EVENT_CONTROL,
  EVENT_FAULT,
  EVENT_NONE,
  FAULT_NONE,
  FAULT_PROTOCOL,
  FAULT_TOO_BIG,
  FrameScanner,
  OPCODE_BINARY,
  OPCODE_CLOSE,
  OPCODE_CONTINUATION,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
  type FrameScannerOptions,
} from '../../../src/ws/frame-scanner.js';
import { prng } from '../../helpers/random.js';

// Streams are built by hand, byte by byte, as RFC 6455 §5.2 draws them, and fed to the scanner cut
// at every point. Chunks are views of the input, so a forwarded range is proven right by its offset;
// the fuzz test copies its chunks and compares bytes.

const CLIENT: FrameScannerOptions = { masked: true, maxMessageBytes: 0, rsv1: false };
const SERVER: FrameScannerOptions = { masked: false, maxMessageBytes: 0, rsv1: false };

interface FrameSpec {
  opcode: number;
  payload?: Buffer;
  fin?: boolean;
  rsv?: number; // 0x40 RSV1, 0x20 RSV2, 0x10 RSV3
  masked: boolean;
  key?: Buffer;
  lengthBytes?: 0 | 2 | 8; // force an extended length form
  declaredLength?: bigint; // header only, with this 64-bit length
}

function encodeFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const n = payload.length;
  const lengthBytes = spec.declaredLength !== undefined ? 8 : (spec.lengthBytes ?? (n < 126 ? 0 : n < 65536 ? 2 : 8));
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode];
  const maskBit = spec.masked ? 0x80 : 0;
  if (lengthBytes === 0) head.push(maskBit | n);
  else if (lengthBytes === 2) head.push(maskBit | 126, n >> 8, n & 0xff);
  else {
    const length = spec.declaredLength ?? BigInt(n);
    head.push(maskBit | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((length >> BigInt(i * 8)) & 0xffn));
  }
  if (spec.declaredLength !== undefined) return Buffer.from(head);
  if (!spec.masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = spec.key ?? Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

function closePayload(code: number, reason: string | Buffer): Buffer {
  const head = Buffer.from([code >> 8, code & 0xff]);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

// A stream of frames in one direction, with the control events and message count a scanner must report.
class Stream {
  private readonly parts: Buffer[] = [];
  private length = 0;
  readonly controls: string[] = [];
  messages = 0;
  markedAt = 0; // where the frame a fault test is about starts
  private readonly random: () => number;

  constructor(readonly masked: boolean, seed = 1) {
    this.random = prng(seed);
  }

  get offset(): number {
    return this.length;
  }

  mark(): this {
    this.markedAt = this.length;
    return this;
  }

  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    this.length += bytes.length;
    return this;
  }

  frame(spec: Omit<FrameSpec, 'masked' | 'key'>): this {
    const key = Buffer.from([0, 0, 0, 0].map(() => Math.floor(this.random() * 256)));
    return this.raw(encodeFrame({ ...spec, masked: this.masked, key }));
  }

  data(opcode: number, payload: Buffer, fin = true, rsv = 0): this {
    if (fin) this.messages++;
    return this.frame({ opcode, payload, fin, rsv });
  }

  control(opcode: number, payload: Buffer): this {
    this.controls.push(controlSignature(opcode, payload));
    return this.frame({ opcode, payload });
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function controlSignature(opcode: number, payload: Buffer): string {
  if (opcode !== OPCODE_CLOSE) return `${opcode}:${payload.toString('hex')}`;
  if (payload.length === 0) return `${opcode}:1005::`;
  return `${opcode}:${payload.readUInt16BE(0)}:${payload.toString('utf8', 2)}:${payload.toString('hex')}`;
}

function scannerControlSignature(s: FrameScanner): string {
  if (s.opcode !== OPCODE_CLOSE) return `${s.opcode}:${s.controlPayload.toString('hex')}`;
  return `${s.opcode}:${s.closeCode}:${s.closeReason}:${s.controlPayload.toString('hex')}`;
}

interface Outcome {
  forwarded: number; // bytes of the input forwarded, in order, before anything went wrong
  mismatch: string; // '' when every forwarded byte was the next byte of the input
  controls: string[];
  messages: number;
  fault: number;
  faultReason: string;
  atBoundary: boolean;
}

// Feeds input cut at `cuts` (ascending offsets) the way the relay does: prefix, then [start, end).
function run(input: Buffer, cuts: readonly number[], options: FrameScannerOptions, copy = false): Outcome {
  const scanner = new FrameScanner(options);
  const controls: string[] = [];
  let pos = 0;
  let mismatch = '';
  let from = 0;
  for (let i = 0; i <= cuts.length && mismatch === ''; i++) {
    const to = i < cuts.length ? cuts[i]! : input.length;
    const chunk = copy ? Buffer.from(input.subarray(from, to)) : input.subarray(from, to);
    const chunkOffset = from;
    from = to;
    let start = 0;
    for (;;) {
      const end = scanner.scan(chunk, start);
      if (end < start || end > chunk.length) mismatch = `end ${end} out of [${start}, ${chunk.length}]`;
      const prefix = scanner.prefix;
      if (prefix !== null) {
        if (end === start && scanner.event !== EVENT_CONTROL) mismatch = 'prefix without the rest of its header';
        if (!prefix.equals(input.subarray(pos, pos + prefix.length))) mismatch = `prefix differs at ${pos}`;
        pos += prefix.length;
        scanner.prefix = null;
      }
      if (end > start) {
        const same = copy
          ? chunk.subarray(start, end).equals(input.subarray(pos, pos + end - start))
          : chunkOffset + start === pos;
        if (!same) mismatch = `range [${start}, ${end}) of chunk at ${chunkOffset} is not input at ${pos}`;
        pos += end - start;
      }
      if (scanner.event === EVENT_CONTROL) {
        controls.push(scannerControlSignature(scanner));
        start = end;
        continue;
      }
      if (scanner.event === EVENT_FAULT) {
        // A dead scanner stays dead and forwards nothing more.
        // scan() may change `event`; the checker keeps its narrowing across the call.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (scanner.scan(chunk, end) !== end || scanner.event !== EVENT_FAULT) mismatch = 'scanner revived';
        return { forwarded: pos, mismatch, controls, messages: scanner.messages, fault: scanner.fault, faultReason: scanner.faultReason, atBoundary: scanner.atBoundary };
      }
      if (scanner.event !== EVENT_NONE) mismatch = `unknown event ${scanner.event}`;
      break;
    }
  }
  return { forwarded: pos, mismatch, controls, messages: scanner.messages, fault: scanner.fault, faultReason: scanner.faultReason, atBoundary: scanner.atBoundary };
}

function clean(stream: Stream): Outcome {
  const bytes = stream.bytes();
  return { forwarded: bytes.length, mismatch: '', controls: stream.controls, messages: stream.messages, fault: FAULT_NONE, faultReason: '', atBoundary: true };
}

// Runs input cut into two chunks at every point 0..n and returns the cut points whose outcome differs.
function everySplit(input: Buffer, options: FrameScannerOptions, expected: Outcome): { at: number; outcome: Outcome }[] {
  const want = JSON.stringify(expected);
  const wrong: { at: number; outcome: Outcome }[] = [];
  for (let at = 0; at <= input.length; at++) {
    const outcome = run(input, [at], options);
    if (JSON.stringify(outcome) !== want && wrong.length < 3) wrong.push({ at, outcome });
  }
  return wrong;
}

function pattern(n: number, seed: number): Buffer {
  const random = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

function mixed(masked: boolean): Stream {
  return new Stream(masked, masked ? 7 : 8)
    .data(OPCODE_TEXT, Buffer.from('hello'))
    .data(OPCODE_BINARY, Buffer.alloc(0))
    .data(OPCODE_BINARY, pattern(126, 1))
    .control(OPCODE_PING, Buffer.alloc(0))
    .data(OPCODE_TEXT, Buffer.from('frag-1 '), false)
    .control(OPCODE_PING, Buffer.from('are you there'))
    .data(OPCODE_CONTINUATION, Buffer.alloc(0), false)
    .control(OPCODE_PONG, pattern(125, 2))
    .data(OPCODE_CONTINUATION, Buffer.from('frag-3'), true)
    .data(OPCODE_BINARY, pattern(70000, 3))
    .data(OPCODE_BINARY, pattern(65535, 4))
    .data(OPCODE_TEXT, Buffer.from('x'.repeat(300)))
    .control(OPCODE_CLOSE, closePayload(1000, 'bye ✓ für jetzt'));
}

test('forwards a mixed client stream byte for byte and reports the same events at every split point', () => {
  const stream = mixed(true);
  expect(stream.messages).toBe(7);
  expect(everySplit(stream.bytes(), CLIENT, clean(stream))).toEqual([]);
});

test('forwards a mixed upstream stream byte for byte and reports the same events at every split point', () => {
  const stream = mixed(false);
  expect(everySplit(stream.bytes(), SERVER, clean(stream))).toEqual([]);
});

test('accepts data frame lengths written in a longer form than needed and zero-length frames of every kind', () => {
  const stream = new Stream(true)
    .frame({ opcode: OPCODE_TEXT, payload: Buffer.from('ab'), lengthBytes: 2 })
    .frame({ opcode: OPCODE_BINARY, payload: Buffer.from('cd'), lengthBytes: 8 })
    .frame({ opcode: OPCODE_BINARY, payload: Buffer.alloc(0), lengthBytes: 8 })
    .frame({ opcode: OPCODE_TEXT, payload: Buffer.alloc(0), fin: false })
    .frame({ opcode: OPCODE_CONTINUATION, payload: Buffer.alloc(0) })
    .control(OPCODE_PONG, Buffer.alloc(0))
    .control(OPCODE_PING, Buffer.from('p'))
    .control(OPCODE_CLOSE, Buffer.alloc(0));
  stream.messages = 4;
  expect(everySplit(stream.bytes(), CLIENT, clean(stream))).toEqual([]);
});

test('reports a close frame without payload as code 1005 with an empty reason', () => {
  const scanner = new FrameScanner(SERVER);
  const chunk = encodeFrame({ opcode: OPCODE_CLOSE, masked: false });
  expect(scanner.scan(chunk, 0)).toBe(2);
  expect(scanner.event).toBe(EVENT_CONTROL);
  expect([scanner.opcode, scanner.closeCode, scanner.closeReason, scanner.controlPayload.length]).toEqual([OPCODE_CLOSE, 1005, '', 0]);
});

test('unmasks a control payload into a copy and leaves the chunk untouched', () => {
  const chunk = encodeFrame({ opcode: OPCODE_PING, payload: Buffer.from('heartbeat-42'), masked: true });
  const before = Buffer.from(chunk);
  const scanner = new FrameScanner(CLIENT);
  expect(scanner.scan(chunk, 0)).toBe(chunk.length);
  expect(scanner.event).toBe(EVENT_CONTROL);
  expect(scanner.controlPayload.toString()).toBe('heartbeat-42');
  expect(chunk.equals(before)).toBe(true);
});

test('keeps a leading byte order mark in a close reason', () => {
  const chunk = encodeFrame({ opcode: OPCODE_CLOSE, payload: closePayload(4000, '\ufeffbye'), masked: false });
  const scanner = new FrameScanner(SERVER);
  scanner.scan(chunk, 0);
  expect([scanner.closeCode, scanner.closeReason]).toEqual([4000, '\ufeffbye']);
});

test('returns the rest of the chunk and stays mid-frame while a payload is still arriving', () => {
  const frame = encodeFrame({ opcode: OPCODE_BINARY, payload: pattern(1000, 5), masked: false });
  const scanner = new FrameScanner(SERVER);
  expect(scanner.scan(frame.subarray(0, 500), 0)).toBe(500);
  expect([scanner.event, scanner.atBoundary, scanner.messages]).toEqual([EVENT_NONE, false, 1]);
  expect(scanner.scan(frame.subarray(500), 0)).toBe(frame.length - 500);
  expect([scanner.event, scanner.atBoundary]).toEqual([EVENT_NONE, true]);
});

test('holds a header cut by the chunk end and hands it back as prefix once complete', () => {
  const first = encodeFrame({ opcode: OPCODE_TEXT, payload: Buffer.from('one'), masked: true });
  const second = encodeFrame({ opcode: OPCODE_BINARY, payload: pattern(300, 6), masked: true });
  const scanner = new FrameScanner(CLIENT);
  const a = Buffer.concat([first, second.subarray(0, 5)]);
  expect(scanner.scan(a, 0)).toBe(first.length);
  expect([scanner.event, scanner.atBoundary, scanner.prefix]).toEqual([EVENT_NONE, true, null]);
  const b = second.subarray(5);
  expect(scanner.scan(b, 0)).toBe(b.length);
  expect(scanner.prefix?.equals(second.subarray(0, 5))).toBe(true);
});

test('holds a control frame cut by the chunk end until all of it has arrived', () => {
  const ping = encodeFrame({ opcode: OPCODE_PING, payload: Buffer.from('0123456789'), masked: false });
  const scanner = new FrameScanner(SERVER);
  expect(scanner.scan(ping.subarray(0, 7), 0)).toBe(0);
  expect(scanner.event).toBe(EVENT_NONE);
  const rest = Buffer.concat([ping.subarray(7), Buffer.from([0x82, 0x00])]);
  expect(scanner.scan(rest, 0)).toBe(ping.length - 7);
  expect(scanner.event).toBe(EVENT_CONTROL);
  expect(scanner.prefix?.equals(ping.subarray(0, 7))).toBe(true);
  expect(scanner.controlPayload.toString()).toBe('0123456789');
  expect(scanner.scan(rest, ping.length - 7)).toBe(rest.length);
  expect([scanner.event, scanner.messages]).toEqual([EVENT_NONE, 1]);
});

test('returns the end of the chunk with no event when called again after a control frame that ends it', () => {
  const chunk = encodeFrame({ opcode: OPCODE_PONG, masked: false });
  const scanner = new FrameScanner(SERVER);
  expect(scanner.scan(chunk, 0)).toBe(2);
  expect(scanner.scan(chunk, 2)).toBe(2);
  expect(scanner.event).toBe(EVENT_NONE);
});

interface FaultCase {
  name: string;
  options: FrameScannerOptions;
  bad: (s: Stream) => void;
  fault: number;
  reason: string;
}

const rsv1: FrameScannerOptions = { masked: false, maxMessageBytes: 0, rsv1: true };
const limited: FrameScannerOptions = { masked: false, maxMessageBytes: 100, rsv1: false };

const faults: FaultCase[] = [
  { name: 'an unmasked frame from the client', options: CLIENT, fault: FAULT_PROTOCOL, reason: 'unmasked client frame',
    bad: (s) => s.raw(encodeFrame({ opcode: OPCODE_TEXT, payload: Buffer.from('hi'), masked: false })) },
  { name: 'a masked frame from the upstream', options: SERVER, fault: FAULT_PROTOCOL, reason: 'masked server frame',
    bad: (s) => s.raw(encodeFrame({ opcode: OPCODE_TEXT, payload: Buffer.from('hi'), masked: true })) },
  { name: 'a control frame longer than 125 bytes', options: SERVER, fault: FAULT_PROTOCOL, reason: 'control frame too long',
    bad: (s) => s.frame({ opcode: OPCODE_PING, payload: Buffer.alloc(126) }) },
  { name: 'a short control frame whose length uses the 16-bit form', options: SERVER, fault: FAULT_PROTOCOL, reason: 'control frame too long',
    bad: (s) => s.frame({ opcode: OPCODE_PING, payload: Buffer.from('x'), lengthBytes: 2 }) },
  { name: 'a fragmented control frame', options: SERVER, fault: FAULT_PROTOCOL, reason: 'fragmented control frame',
    bad: (s) => s.frame({ opcode: OPCODE_PONG, payload: Buffer.from('x'), fin: false }) },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): FaultCase => ({
    name: `opcode ${opcode}`, options: SERVER, fault: FAULT_PROTOCOL, reason: 'unknown opcode',
    bad: (s) => s.frame({ opcode, payload: Buffer.from('x') }),
  })),
  { name: 'a continuation frame without a message', options: SERVER, fault: FAULT_PROTOCOL, reason: 'unexpected continuation frame',
    bad: (s) => s.frame({ opcode: OPCODE_CONTINUATION, payload: Buffer.from('x') }) },
  { name: 'a new message inside a fragmented one', options: SERVER, fault: FAULT_PROTOCOL, reason: 'expected continuation frame',
    bad: (s) => s.data(OPCODE_BINARY, Buffer.from('part'), false).control(OPCODE_PING, Buffer.alloc(0)).mark().frame({ opcode: OPCODE_TEXT, payload: Buffer.from('x') }) },
  { name: 'a 64-bit length with its top bit set', options: SERVER, fault: FAULT_PROTOCOL, reason: 'invalid frame length',
    bad: (s) => s.frame({ opcode: OPCODE_BINARY, declaredLength: 1n << 63n }) },
  { name: 'a length above 2^53 - 1', options: SERVER, fault: FAULT_TOO_BIG, reason: 'message too big',
    bad: (s) => s.frame({ opcode: OPCODE_BINARY, declaredLength: 1n << 53n }) },
  ...[0x20, 0x10, 0x70].map((rsv): FaultCase => ({
    name: `reserved bits 0x${rsv.toString(16)}`, options: rsv1, fault: FAULT_PROTOCOL, reason: 'reserved bits set',
    bad: (s) => s.frame({ opcode: OPCODE_TEXT, payload: Buffer.from('x'), rsv }),
  })),
  { name: 'RSV1 when permessage-deflate was not negotiated', options: SERVER, fault: FAULT_PROTOCOL, reason: 'RSV1 not negotiated',
    bad: (s) => s.frame({ opcode: OPCODE_TEXT, payload: Buffer.from('x'), rsv: 0x40 }) },
  { name: 'RSV1 on a continuation frame', options: rsv1, fault: FAULT_PROTOCOL, reason: 'RSV1 on continuation frame',
    bad: (s) => s.data(OPCODE_TEXT, Buffer.from('x'), false, 0x40).mark().frame({ opcode: OPCODE_CONTINUATION, payload: Buffer.from('y'), rsv: 0x40 }) },
  { name: 'RSV1 on a control frame', options: rsv1, fault: FAULT_PROTOCOL, reason: 'RSV1 on control frame',
    bad: (s) => s.frame({ opcode: OPCODE_PING, payload: Buffer.from('x'), rsv: 0x40 }) },
  { name: 'a close payload of one byte', options: SERVER, fault: FAULT_PROTOCOL, reason: 'invalid close payload',
    bad: (s) => s.frame({ opcode: OPCODE_CLOSE, payload: Buffer.from([0x03]) }) },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code): FaultCase => ({
    name: `close code ${code}`, options: SERVER, fault: FAULT_PROTOCOL, reason: 'invalid close code',
    bad: (s) => s.frame({ opcode: OPCODE_CLOSE, payload: closePayload(code, 'bye') }),
  })),
  { name: 'a close reason that is not UTF-8', options: SERVER, fault: FAULT_PROTOCOL, reason: 'invalid close reason',
    bad: (s) => s.frame({ opcode: OPCODE_CLOSE, payload: closePayload(1000, Buffer.from([0x61, 0xc3, 0x28])) }) },
  { name: 'a close reason with a UTF-16 surrogate encoded in UTF-8', options: CLIENT, fault: FAULT_PROTOCOL, reason: 'invalid close reason',
    bad: (s) => s.frame({ opcode: OPCODE_CLOSE, payload: closePayload(1001, Buffer.from([0xed, 0xa0, 0x80])) }) },
  { name: 'a single frame above maxMessageBytes', options: limited, fault: FAULT_TOO_BIG, reason: 'message too big',
    bad: (s) => s.frame({ opcode: OPCODE_BINARY, payload: Buffer.alloc(101) }) },
  { name: 'fragments that add up to more than maxMessageBytes', options: limited, fault: FAULT_TOO_BIG, reason: 'message too big',
    bad: (s) => s.data(OPCODE_TEXT, Buffer.alloc(60), false).control(OPCODE_PING, Buffer.from('between')).data(OPCODE_CONTINUATION, Buffer.alloc(30), false).mark().frame({ opcode: OPCODE_CONTINUATION, payload: Buffer.alloc(11) }) },
  { name: 'a 64-bit length above maxMessageBytes', options: limited, fault: FAULT_TOO_BIG, reason: 'message too big',
    bad: (s) => s.frame({ opcode: OPCODE_BINARY, payload: Buffer.alloc(70000) }) },
];

function faultStream(c: FaultCase): { input: Buffer; expected: Outcome; badAt: number } {
  const s = new Stream(c.options.masked, 3)
    .data(OPCODE_TEXT, Buffer.from('before'))
    .control(OPCODE_PONG, Buffer.from('ok'))
    .data(OPCODE_BINARY, pattern(100, 9));
  s.markedAt = s.offset;
  c.bad(s); // the bad frame starts where bad() began, or at its mark()
  const badAt = s.markedAt;
  // Bytes after the bad frame must never be reached.
  s.raw(encodeFrame({ opcode: OPCODE_TEXT, payload: Buffer.from('after'), masked: c.options.masked }));
  const input = s.bytes();
  // Events and messages are those of the frames before the bad one.
  const before = run(input.subarray(0, badAt), [], c.options);
  if (before.fault !== FAULT_NONE) throw new Error(`the frames before the bad one fault: ${before.faultReason}`);
  const expected: Outcome = { ...before, fault: c.fault, faultReason: c.reason, atBoundary: true };
  return { input, expected, badAt };
}

for (const c of faults) {
  test(`stops before ${c.name} at every split point`, () => {
    const { input, expected, badAt } = faultStream(c);
    expect([expected.mismatch, expected.forwarded]).toEqual(['', badAt]);
    expect(everySplit(input, c.options, expected)).toEqual([]);
  });
}

test('accepts RSV1 on the first frame of a message when permessage-deflate was negotiated', () => {
  const stream = new Stream(false)
    .data(OPCODE_TEXT, Buffer.from('compressed'), true, 0x40)
    .data(OPCODE_BINARY, Buffer.from('first'), false, 0x40)
    .control(OPCODE_PING, Buffer.alloc(0))
    .data(OPCODE_CONTINUATION, Buffer.from('rest'), true)
    .data(OPCODE_BINARY, Buffer.from('plain'));
  expect(everySplit(stream.bytes(), rsv1, clean(stream))).toEqual([]);
});

test('accepts a message of exactly maxMessageBytes and counts each message from zero', () => {
  const stream = new Stream(false)
    .data(OPCODE_TEXT, Buffer.alloc(60), false)
    .data(OPCODE_CONTINUATION, Buffer.alloc(40))
    .data(OPCODE_BINARY, Buffer.alloc(100))
    .data(OPCODE_BINARY, Buffer.alloc(0), false)
    .data(OPCODE_CONTINUATION, Buffer.alloc(100));
  expect(everySplit(stream.bytes(), limited, clean(stream))).toEqual([]);
});

test('accepts exactly the close codes allowed on the wire', () => {
  const accepted: number[] = [];
  for (let code = 0; code < 65536; code++) {
    const scanner = new FrameScanner(SERVER);
    scanner.scan(encodeFrame({ opcode: OPCODE_CLOSE, payload: closePayload(code, ''), masked: false }), 0);
    if (scanner.event === EVENT_CONTROL) accepted.push(code);
  }
  const ranges: string[] = [];
  for (let i = 0; i < accepted.length; ) {
    let j = i;
    while (j + 1 < accepted.length && accepted[j + 1] === accepted[j]! + 1) j++;
    ranges.push(`${accepted[i]}-${accepted[j]}`);
    i = j + 1;
  }
  expect(ranges).toEqual(['1000-1003', '1007-1014', '3000-4999']);
});

// Random streams, cut into random chunks (some empty), copied so that bytes are really compared.
function randomStream(random: () => number, masked: boolean, seed: number, deflate: boolean): Stream {
  const s = new Stream(masked, seed);
  const size = (): number => {
    const r = random();
    if (r < 0.1) return 0;
    if (r < 0.6) return Math.floor(random() * 126);
    if (r < 0.8) return 126 + Math.floor(random() * 400);
    if (r < 0.9) return [65535, 65536, 125, 126, 127][Math.floor(random() * 5)]!;
    return Math.floor(random() * 80000);
  };
  const control = (): void => {
    const r = random();
    if (r < 0.4) s.control(OPCODE_PING, pattern(Math.floor(random() * 126), seed++));
    else if (r < 0.8) s.control(OPCODE_PONG, pattern(Math.floor(random() * 126), seed++));
    else s.control(OPCODE_CLOSE, closePayload(1000 + Math.floor(random() * 4), 'é€𝄞'.repeat(Math.floor(random() * 10))));
  };
  const messages = 1 + Math.floor(random() * 12);
  for (let m = 0; m < messages; m++) {
    if (random() < 0.3) control();
    const fragments = random() < 0.7 ? 1 : 2 + Math.floor(random() * 4);
    const rsv = deflate && random() < 0.5 ? 0x40 : 0;
    for (let f = 0; f < fragments; f++) {
      const opcode = f > 0 ? OPCODE_CONTINUATION : random() < 0.5 ? OPCODE_TEXT : OPCODE_BINARY;
      s.data(opcode, pattern(size(), seed++), f === fragments - 1, f === 0 ? rsv : 0);
      if (f < fragments - 1 && random() < 0.4) control();
    }
  }
  return s;
}

function randomCuts(random: () => number, n: number): number[] {
  const count = Math.floor(random() * 60);
  const cuts: number[] = [];
  for (let i = 0; i < count; i++) cuts.push(random() < 0.5 ? Math.floor(random() * (n + 1)) : Math.floor(random() * Math.min(n + 1, 300)));
  return cuts.sort((a, b) => a - b);
}

test('forwards random streams cut into random chunks byte for byte', () => {
  const random = prng(20240601);
  const wrong: unknown[] = [];
  for (let i = 0; i < 300 && wrong.length < 3; i++) {
    const masked = random() < 0.5;
    const deflate = random() < 0.3;
    const options = { masked, maxMessageBytes: 0, rsv1: deflate };
    const stream = randomStream(random, masked, i * 1000, deflate);
    const input = stream.bytes();
    const cuts = randomCuts(random, input.length);
    const outcome = run(input, cuts, options, true);
    if (JSON.stringify(outcome) !== JSON.stringify(clean(stream))) wrong.push({ i, cuts, outcome });
  }
  expect(wrong).toEqual([]);
});

test('stops random streams exactly before a random bad frame, whatever the chunks', () => {
  const random = prng(77);
  const wrong: unknown[] = [];
  for (let i = 0; i < 200 && wrong.length < 3; i++) {
    const masked = random() < 0.5;
    const options = { masked, maxMessageBytes: 0, rsv1: false };
    const stream = randomStream(random, masked, i * 1000 + 7, false);
    const badAt = stream.offset;
    const c = faults[Math.floor(random() * faults.length)]!;
    if (c.options.maxMessageBytes !== 0 || c.options.rsv1 || c.options.masked !== masked) {
      stream.frame({ opcode: OPCODE_CLOSE, payload: closePayload(1004, '') }); // one we can always place
    } else {
      stream.markedAt = badAt;
      c.bad(stream);
      if (stream.markedAt !== badAt) continue; // cases that need a prefix of their own run in the table above
    }
    stream.raw(Buffer.from([0x81, masked ? 0x80 : 0]));
    const input = stream.bytes();
    const outcome = run(input, randomCuts(random, input.length), options, true);
    const ok = outcome.mismatch === '' && outcome.forwarded === badAt && outcome.fault !== FAULT_NONE && outcome.atBoundary;
    if (!ok) wrong.push({ i, case: c.name, badAt, outcome });
  }
  expect(wrong).toEqual([]);
});
