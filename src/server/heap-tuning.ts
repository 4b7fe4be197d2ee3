// server/heap-tuning: the V8 heap flag a gateway process should run with, and who passes it: the
// cluster primary to the workers it forks; `npm start`, the Dockerfile and the systemd unit on the
// command line. Not the relay's memory (ws/malloc-threshold.ts).
//
// `--max-semi-space-size=8` caps V8's young generation at 8 MiB per semi-space (Node's default on
// 64-bit is 16). Why (issue 14, docs/performance.md "The slow GC mode"): a relay that moves large
// messages allocates a read buffer per 64 KiB and V8 scavenges every 32 MB of them. Once the young
// generation has grown to its 16 MiB maximum, the room left under the old generation's next limit
// (about 24 MB for a gateway's 17 MB of live data) is smaller than the young generation, which V8
// takes as the signal to start marking: such a process ran 10 to 49 full mark-compacts in 4-5 s
// instead of 1 or 2, for its whole life, at 0.6 to 0.8 × the throughput of one whose young
// generation had not grown that far, and which of the two a process became was a matter of timing
// (4 processes in 6). With the cap, 10 processes in a row ran with 1 or 2 mark-compacts each.
//
// It must be on the command line: V8 sizes the young generation when the process starts, and setting
// the flag later (v8.setFlagsFromString) measurably did not stop the storms. A user's own value
// (node flags or NODE_OPTIONS) is kept.
//
// Since then the cause itself is gone: relayed reads land in pooled buffers (ws/read-pool.ts), so the
// relay no longer makes external memory for V8 to collect, and gateways started without this flag
// ran without a storm too (docs/performance.md, "No allocation per relayed read"). The flag stays as
// a second guard for the paths that still allocate per read (TLS sockets, writes queued behind others).
export const SEMI_SPACE_FLAG = '--max-semi-space-size=8';

/** True when the flags (a process's execArgv, or NODE_OPTIONS) already size the semi-space. */
export function setsSemiSpace(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = (flag: string): boolean => flag.startsWith('--max-semi-space-size') || flag.startsWith('--max_semi_space_size');
  return execArgv.some(given) || (nodeOptions ?? '').split(/\s+/).some(given);
}

/** The node flags for a worker the primary forks: its own, plus the cap unless it is sized already. */
export function workerExecArgv(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return setsSemiSpace(execArgv, nodeOptions) ? [...execArgv] : [...execArgv, SEMI_SPACE_FLAG];
}
