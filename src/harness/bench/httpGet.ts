// The bench's query loop's HTTP client: one keep-alive HTTP/1.1 connection, one GET at a time,
// each answer read by its Content-Length or its chunks. It spends tens of microseconds a
// request where fetch() spends hundreds, so that on a machine shared with the target the
// loop's rate is set by the server's answers, as for a client on another host, and not by
// the CPU the client is left.

import { connect, type Socket } from 'node:net';

/** An answer: its status code and its body (chunks joined). */
export interface GetAnswer {
  status: number;
  body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * Where the answer at the start of `b` ends and what it is, or undefined while it is not whole.
 * Throws on what is not an HTTP/1.1 answer.
 */
export function parseAnswer(b: Buffer): { answer: GetAnswer; end: number; close: boolean } | undefined {
  const headEnd = b.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const lines = b.toString('latin1', 0, headEnd).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1];
  if (status === undefined) throw new Error(`not an HTTP answer: ${JSON.stringify(lines[0].slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(':');
    if (colon > 0) headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
  }
  const close = headers.get('connection')?.toLowerCase() === 'close';
  let at = headEnd + HEAD_END.length;
  if (headers.get('transfer-encoding')?.toLowerCase().includes('chunked')) {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = b.indexOf(CRLF, at);
      if (lineEnd < 0) return undefined;
      // The size in hex, perhaps followed by extensions (";name=value").
      const hex = /^[0-9a-fA-F]+/.exec(b.toString('latin1', at, lineEnd))?.[0];
      if (hex === undefined) throw new Error(`a bad chunk size: ${JSON.stringify(b.toString('latin1', at, Math.min(lineEnd, at + 20)))}`);
      const size = parseInt(hex, 16);
      if (size === 0) {
        // The last chunk's line, any trailer fields, then an empty line.
        const end = b.indexOf(HEAD_END, lineEnd);
        if (end < 0) return undefined;
        return { answer: { status: Number(status), body: Buffer.concat(chunks) }, end: end + HEAD_END.length, close };
      }
      if (b.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(b.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const given = headers.get('content-length') ?? '0';
  if (!/^\d+$/.test(given)) throw new Error(`a bad Content-Length: ${JSON.stringify(given)}`);
  const length = Number(given);
  if (b.length < at + length) return undefined;
  return { answer: { status: Number(status), body: Buffer.from(b.subarray(at, at + length)) }, end: at + length, close };
}

/** GETs over one kept-alive connection to `host`:`port`, opened again when the server closes it. */
export class KeepAliveGet {
  private socket?: Socket;
  private received: Buffer = Buffer.alloc(0);
  private pending?: { resolve: (a: GetAnswer) => void; reject: (e: Error) => void };

  constructor(
    private readonly host: string,
    private readonly port: number,
    /** How long an answer may take: past it the connection is given up and the GET fails. */
    private readonly timeoutMs = 30_000,
  ) {}

  /** GET `path` (with its query); one at a time. */
  get(path: string): Promise<GetAnswer> {
    if (this.pending) return Promise.reject(new Error('one GET at a time'));
    const socket = this.socket ?? this.open();
    return new Promise<GetAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(socket, new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending = {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n\r\n`);
    });
  }

  /** Closes the connection; a GET waiting fails. */
  close(): void {
    if (this.socket) this.fail(this.socket, new Error('closed'));
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.received = this.received.length ? Buffer.concat([this.received, chunk]) : chunk;
      let parsed;
      try {
        parsed = parseAnswer(this.received);
      } catch (e) {
        this.fail(socket, e as Error);
        return;
      }
      if (!parsed) return;
      this.received = this.received.subarray(parsed.end);
      const p = this.pending;
      this.pending = undefined;
      if (parsed.close) this.drop(socket);
      p?.resolve(parsed.answer);
    });
    socket.on('error', (e) => this.fail(socket, e));
    socket.on('close', () => this.fail(socket, new Error('the server closed the connection')));
    return socket;
  }

  private drop(socket: Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
  }

  /** The connection failed or closed: the GET waiting fails, the next one opens another. */
  private fail(socket: Socket, e: Error): void {
    if (this.socket !== socket) return;
    this.drop(socket);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }
}
