// core/random: random bytes cut from a pool refilled 4 KiB at a time, so request ids, trace ids and
// mask keys cost one crypto call per ~250 uses instead of one each (a call costs microseconds).
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let poolAt = POOL.length;

function take(bytes: number): number {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += bytes;
  return at;
}

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  const at = take(bytes);
  return POOL.toString('hex', at, at + bytes);
}

/** Fills `length` bytes of `target` from `offset` with random bytes. */
export function randomFill(target: Buffer, offset: number, length: number): void {
  const at = take(length);
  POOL.copy(target, offset, at, at + length);
}
