// bench/parent-pipe: how a bench child hears its parent over stdin. The parent starts it with a pipe
// (node makes it a socket pair, not a FIFO): each line is a request (`snap`, `counts`, `storm N`), and
// the pipe closing means the parent died. A terminal or /dev/null on stdin: nothing is listened to.
import { fstatSync } from 'node:fs';

/** Calls `onLine` for every trimmed line the parent writes and `onEnd` when the pipe closes. */
export function fromParent(onLine: ((line: string) => void) | null, onEnd: () => void): void {
  const stdin = fstatSync(0);
  if (!stdin.isFIFO() && !stdin.isSocket()) return;
  process.stdin.on('end', onEnd);
  if (onLine === null) {
    process.stdin.resume();
    return;
  }
  let partial = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) onLine(line.trim());
  });
}
