// bench/frame-scanner: scan() throughput on 16 KiB chunks, as the relay calls it, for small, large and
// mixed frames. Run: node --import tsx bench/frame-scanner.bench.ts
// Each case feeds at least 200 MB and runs at least 500 ms (at most 3 s), after a warm-up. Payload bytes
// are skipped, never read, so large frames cost per chunk, not per byte: ns/chunk is the figure there.

import { EVENT_CONTROL, EVENT_FAULT, FrameScanner } from '../src/ws/frame-scanner.js';

const CHUNK_BYTES = 16 * 1024;
const TARGET_BYTES = 200 * 1024 * 1024;
const MIN_MS = 500;
const MAX_MS = 3000;

function frame(opcode: number, length: number, masked: boolean): Buffer {
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const head = 2 + ext + (masked ? 4 : 0);
  const b = Buffer.alloc(head + length, 0x5a);
  b[0] = 0x80 | opcode;
  b[1] = (masked ? 0x80 : 0) | (ext === 0 ? length : ext === 2 ? 126 : 127);
  if (ext === 2) b.writeUInt16BE(length, 2);
  if (ext === 8) b.writeBigUInt64BE(BigInt(length), 2);
  if (masked) b.writeUInt32BE(0x37fa213d, head - 4);
  return b;
}

// Frames repeated to about 4 MB, cut into 16 KiB views (cuts fall inside headers too).
function stream(frames: Buffer[]): { chunks: Buffer[]; bytes: number; frames: number } {
  // Whole frames only, so every pass starts and ends between two frames.
  const parts: Buffer[] = [];
  let bytes = 0;
  let count = 0;
  while (bytes < 4 * 1024 * 1024) {
    for (const f of frames) {
      parts.push(f);
      bytes += f.length;
      count++;
    }
  }
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += CHUNK_BYTES) chunks.push(all.subarray(at, at + CHUNK_BYTES));
  return { chunks, bytes: all.length, frames: count };
}

function feed(scanner: FrameScanner, chunks: Buffer[]): void {
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    let start = 0;
    for (;;) {
      const end = scanner.scan(chunk, start);
      scanner.prefix = null;
      if (scanner.event === EVENT_CONTROL) {
        start = end;
        continue;
      }
      if (scanner.event === EVENT_FAULT) throw new Error(`bench stream faulted: ${scanner.faultReason}`);
      break;
    }
  }
}

function run(name: string, frames: Buffer[], masked: boolean): void {
  const { chunks, bytes, frames: perPass } = stream(frames);
  const scanner = new FrameScanner({ masked, maxMessageBytes: 1024 * 1024, rsv1: false });
  for (let i = 0; i < 20; i++) feed(scanner, chunks);
  let passes = 0;
  const t0 = process.hrtime.bigint();
  let elapsedNs = 0;
  while ((passes * bytes < TARGET_BYTES || elapsedNs < MIN_MS * 1e6) && elapsedNs < MAX_MS * 1e6) {
    feed(scanner, chunks);
    passes++;
    elapsedNs = Number(process.hrtime.bigint() - t0);
  }
  const mb = (passes * bytes) / 1e6;
  const mbPerS = mb / (elapsedNs / 1e9);
  const nsPerFrame = elapsedNs / (passes * perPass);
  const nsPerChunk = elapsedNs / (passes * chunks.length);
  console.log(
    `${name.padEnd(36)} ${mbPerS.toFixed(0).padStart(9)} MB/s ${nsPerFrame.toFixed(1).padStart(8)} ns/frame ${nsPerChunk.toFixed(1).padStart(8)} ns/chunk`,
  );
}

console.log(`frame-scanner, ${CHUNK_BYTES / 1024} KiB chunks, node ${process.version}`);
for (const masked of [true, false]) {
  const side = masked ? 'masked' : 'unmasked';
  run(`small 64 B binary, ${side}`, [frame(0x2, 64, masked)], masked);
  run(`large 64 KiB binary, ${side}`, [frame(0x2, 64 * 1024, masked)], masked);
  run(`mixed (64 B..64 KiB + ping), ${side}`, [
    frame(0x1, 64, masked),
    frame(0x2, 1000, masked),
    frame(0x9, 16, masked),
    frame(0x2, 64 * 1024, masked),
    frame(0x1, 200, masked),
  ], masked);
}
