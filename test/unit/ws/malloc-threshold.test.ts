import { test, expect } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { raiseMallocThresholds } from '../../../src/ws/malloc-threshold.js';

// Issue 14: read buffers freed in a batch by V8 must stay with the allocator, so the next batch of
// reads does not fault its pages in again. What the test sees is the process's minor page faults
// (getrusage) while it allocates 32 MiB of 64 KiB buffers a second time. Only glibc has the dynamic
// threshold the module relies on.
const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !== undefined;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// Fills 512 buffers of 64 KiB (as reads do) and returns how many minor page faults that took.
function faultsToFill(): number {
  const before = process.resourceUsage().minorPageFault;
  const kept: Buffer[] = [];
  for (let i = 0; i < 512; i++) kept.push(Buffer.allocUnsafe(64 * 1024).fill(i));
  const faults = process.resourceUsage().minorPageFault - before;
  kept.length = 0;
  return faults;
}

test.runIf(glibc)('after raiseMallocThresholds, 32 MiB of read-sized buffers freed by a GC are reused without faulting their pages in again', () => {
  raiseMallocThresholds();
  gc(); // frees the 31 MiB block, which raises glibc's thresholds
  faultsToFill();
  gc(); // the first 32 MiB go back to malloc, as a batch of reads does
  const again = faultsToFill();
  // 32 MiB is 8,192 pages: trimmed memory would fault nearly all of them in again.
  expect(again).toBeLessThan(1000);
});
