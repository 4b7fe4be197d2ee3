// ws/malloc-threshold: keeps glibc's malloc from handing the relay's read buffers back to the kernel
// after every garbage collection; not the relay (tunnel.ts) and not the reads (upstream-socket.ts).
//
// Reads that land in a fresh buffer of up to 64 KiB each (Node allocates one per 'data' chunk: TLS
// sockets, and every socket before read-pool.ts pooled plain-TCP reads; a write queued behind others
// takes a fresh copy too) are freed by V8 in batches of megabytes when it collects external memory.
// glibc then trims the top of its heap (its M_TRIM_THRESHOLD starts at 128 KiB), so the next
// megabytes of reads fault their pages in afresh:
// measured at 64 KiB echo, 21 to 33 minor page faults per message and about 300 µs of kernel time
// per message pass, against 0.1 faults once the threshold is raised (docs/performance.md).
// Which mode a process fell into depended on whether something happened to free a large mapped
// block early: the bimodal 64 KiB figures of issue 14.
//
// glibc raises both thresholds by itself when a block it had mapped with mmap (≥ 128 KiB) is freed:
// M_MMAP_THRESHOLD becomes that block's size and M_TRIM_THRESHOLD twice it (the "dynamic mmap
// threshold", malloc(3) and mallopt(3)). Node offers no mallopt(), and MALLOC_TRIM_THRESHOLD_ in the
// environment must be set before the process starts, so the module does what glibc watches for:
// it allocates one 31 MiB buffer and drops it; V8's next scavenge (within the first milliseconds of
// start-up) frees it. After that the heap keeps up to 62 MiB of free memory for reuse instead of
// returning it, which bounds what this costs in RSS. V8 collects external memory after it grew by
// up to 64 MiB, so a smaller threshold still lets some batches be trimmed: with 16 MiB, 0.7 to 32
// faults per message remained, with 31 MiB 0.1 (docs/performance.md). Other allocators (musl)
// ignore the hint.
const NUDGE_BYTES = 31 * 1024 * 1024; // under 32 MiB, glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit, page rounding included

let nudged = false;

export function raiseMallocThresholds(): void {
  if (nudged) return;
  nudged = true;
  // allocUnsafe: the pages are never touched, so the block costs address space only until freed.
  Buffer.allocUnsafe(NUDGE_BYTES);
}
