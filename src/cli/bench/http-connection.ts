// cli/bench/http-connection: `wsgate bench http`: one keep-alive connection sending one pre-serialized
// request at a time and finding the end of each response with HttpResponseParser.
import type { Socket } from 'node:net';
import { LoadConnection, IN_FLIGHT } from './load-connection.js';
import { FAULT_MESSAGES, FAULT_NONE, HttpResponseParser, type ResponseSink } from './http-response-parser.js';
import type { BenchOptions } from './options.js';
import type { BenchRun } from './run-bench.js';

/** The request every connection sends, built once: request line, Host, --header lines, and a body of --size bytes. */
export function serializeRequest(options: BenchOptions): Buffer {
  const lines = [`${options.method} ${options.target.path} HTTP/1.1`];
  if (!options.headers.some((h) => /^host:/i.test(h))) lines.push(`Host: ${options.target.authority}`);
  lines.push(...options.headers);
  if (options.sizeBytes > 0) lines.push(`Content-Length: ${options.sizeBytes}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return options.sizeBytes > 0 ? Buffer.concat([head, Buffer.alloc(options.sizeBytes, 0x78)]) : head;
}

export class HttpConnection extends LoadConnection implements ResponseSink {
  private readonly parser: HttpResponseParser;

  constructor(
    run: BenchRun,
    private readonly request: Buffer,
  ) {
    super(run);
    this.parser = new HttpResponseParser(this);
    this.parser.headRequest = run.options.method === 'HEAD';
  }

  protected onTransportReady(): void {
    this.becameOpen();
  }

  protected writeOperation(): void {
    this.socket!.write(this.request);
  }

  protected resetProtocol(): void {
    this.parser.reset();
  }

  protected closedInFlight(): boolean {
    return this.parser.finishAtClose();
  }

  protected goodbye(socket: Socket): void {
    socket.end();
  }

  // HOT: per chunk.
  onData(chunk: Buffer): void {
    const fault = this.parser.execute(chunk);
    if (fault !== FAULT_NONE) this.fail('protocol', FAULT_MESSAGES[fault] ?? 'malformed response');
  }

  // HOT: per response.
  onResponse(status: number, bodyBytes: number, close: boolean): void {
    if (this.state !== IN_FLIGHT) {
      this.fail('protocol', `a ${status} response arrived with no request in flight`);
      return;
    }
    const ok = status >= 200 && status < 300;
    if (!ok) this.run.stats.error(`status_${status}`, `the server answered ${status}`);
    this.operationDone(ok, bodyBytes, !close);
  }
}
