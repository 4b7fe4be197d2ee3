import { test, expect } from 'vitest';
import { EVENT_CONTROL, EVENT_MESSAGE, EVENT_NONE, FrameScanner } from '../../../src/ws/frame-scanner.js';
import { frame } from '../../helpers/clients.js';

// Three messages: text, a fragmented binary with a ping between its fragments, and a 300-byte text.
const first = frame(0x1, 'one');
const rest = Buffer.concat([
  frame(0x2, Buffer.alloc(10, 1), { fin: false }),
  frame(0x9, 'ping'),
  frame(0x0, Buffer.alloc(10, 2)),
  frame(0x1, Buffer.alloc(300, 0x61)),
]);
const stream = Buffer.concat([first, rest]);

// Feeds `chunks`, acking the first `accept` message events; returns the bytes forwarded and the
// number of message events seen (stopping at the first refused one).
function feed(chunks: Buffer[], accept: number): { forwarded: Buffer; events: number } {
  const scanner = new FrameScanner({ masked: true, maxMessageBytes: 0, rsv1: false, messageEvents: true });
  const out: Buffer[] = [];
  let events = 0;
  for (const chunk of chunks) {
    for (let start = 0; ; ) {
      const end = scanner.scan(chunk, start);
      if (scanner.prefix !== null) out.push(scanner.prefix);
      out.push(chunk.subarray(start, end));
      if (scanner.event === EVENT_NONE) break;
      if (scanner.event === EVENT_MESSAGE) {
        events++;
        if (events > accept) return { forwarded: Buffer.concat(out), events };
        scanner.ackMessage();
      } else expect(scanner.event).toBe(EVENT_CONTROL);
      start = end;
    }
  }
  return { forwarded: Buffer.concat(out), events };
}

test('message events announce each data message once, at every split point, and change no bytes', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { forwarded, events } = feed([stream.subarray(0, cut), stream.subarray(cut)], Infinity);
    expect(events).toBe(3);
    expect(forwarded.equals(stream)).toBe(true);
  }
});

test('a refused message leaves nothing of itself forwarded, at every split point', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const { forwarded, events } = feed([stream.subarray(0, cut), stream.subarray(cut)], 1);
    expect(events).toBe(2);
    expect(forwarded.equals(first)).toBe(true);
  }
});
