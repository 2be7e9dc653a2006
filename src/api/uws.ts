// The management plane on uWebSockets.js: every HTTP request through one catch-all route to
// the transport-free handler, the stream on one WebSocket route.

import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import {
  MAX_BODY_BYTES,
  MAX_SOCKET_MESSAGE,
  SOCKET_BUFFER_BYTES,
  answerNow,
  tooLarge,
  type ApiRequest,
  type ChunkSink,
  type Routed,
  type SocketPeer,
  type Transport,
  type TransportOptions,
} from './transport.js';

/** The native module, or the reason it cannot load on this machine. */
export function loadUws(): typeof Uws | Error {
  try {
    return createRequire(import.meta.url)('uWebSockets.js') as typeof Uws;
  } catch (e) {
    return e as Error;
  }
}

const statusLines = new Map<number, string>();
const statusLine = (status: number) => {
  let line = statusLines.get(status);
  if (line === undefined) statusLines.set(status, (line = `${status} ${STATUS_CODES[status] ?? ''}`));
  return line;
};
const NO_BODY = Buffer.alloc(0);

function readHeaders(req: Uws.HttpRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return headers;
}

/**
 * An answer written after the handler returned (uWS then needs onAborted, and cork): what the
 * returned function is given, a route's answer or, once the request's body is in, its own.
 */
function later(res: Uws.HttpResponse): (r: Routed | Promise<Routed>) => void {
  let sink: UwsSink | null = null;
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
    sink?.aborted();
  });
  const respond = (r: Routed) => {
    if (aborted) return;
    if ('stream' in r) {
      sink = new UwsSink(res);
      const s = sink;
      res.cork(() => res.writeStatus(statusLine(r.status)).writeHeader('content-type', r.contentType));
      r.stream(s).then(
        () => s.end(),
        () => s.end(),
      );
      return;
    }
    res.cork(() => res.writeStatus(statusLine(r.status)).writeHeader('content-type', r.contentType).end(r.body));
  };
  return (r) => {
    if (r instanceof Promise) void r.then(respond);
    else respond(r);
  };
}

class UwsSink implements ChunkSink {
  closed = false;
  private waiting: (() => void) | null = null;

  constructor(private readonly res: Uws.HttpResponse) {}

  write(chunk: string | Uint8Array): boolean {
    if (this.closed) return false;
    let ok = false;
    this.res.cork(() => (ok = this.res.write(chunk)));
    return ok;
  }

  writable(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.res.onWritable(() => {
        this.wake();
        return true;
      });
    });
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.cork(() => this.res.end());
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.close();
  }

  aborted(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }
}

class UwsPeer implements SocketPeer {
  closed = false;
  /** drained()'s waiters: each resolved once the queue is below its mark. */
  private waiting: Array<{ below: number; resolve: () => void }> = [];

  constructor(private readonly ws: Uws.WebSocket<{ peer?: UwsPeer }>) {}

  send(data: string | Uint8Array, binary = typeof data !== 'string'): boolean {
    if (this.closed) return false;
    return this.ws.send(data, binary) !== 2;
  }

  get buffered(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  drained(below: number): Promise<void> {
    if (this.closed || this.buffered < below) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ below, resolve }));
  }

  drain(): void {
    const buffered = this.buffered;
    const still = [];
    for (const w of this.waiting) {
      if (buffered < w.below) w.resolve();
      else still.push(w);
    }
    this.waiting = still;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.end(code, reason);
  }

  cork(fn: () => void): void {
    if (this.closed) fn();
    else this.ws.cork(fn);
  }

  gone(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.resolve();
  }
}

export function uwsTransport(uws: typeof Uws, opts: TransportOptions): Transport {
  const app = uws.App();
  let listenSocket: Uws.us_listen_socket | null = null;

  app.ws<{ peer?: UwsPeer }>(opts.socketPath, {
    maxPayloadLength: MAX_SOCKET_MESSAGE,
    // The stream bounds each client itself; uWS must not drop silently before it does.
    maxBackpressure: SOCKET_BUFFER_BYTES * 2,
    closeOnBackpressureLimit: 0,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    open: (ws) => {
      const peer = new UwsPeer(ws);
      ws.getUserData().peer = peer;
      opts.socket.open(peer);
    },
    message: (ws, message, isBinary) => opts.socket.message(ws.getUserData().peer!, Buffer.from(message.slice(0)), isBinary),
    drain: (ws) => ws.getUserData().peer!.drain(),
    close: (ws) => {
      const peer = ws.getUserData().peer!;
      peer.gone();
      opts.socket.close(peer);
    },
  });

  app.any('/*', (res, req) => {
    // The request lives while this handler runs: its headers are read from it then, and
    // copied only for an answer that comes later (a body to wait for, a route that awaits).
    let headers: Map<string, string> | null = null;
    const request: ApiRequest = {
      method: req.getCaseSensitiveMethod ? req.getCaseSensitiveMethod() : req.getMethod().toUpperCase(),
      path: req.getUrl(),
      query: new URLSearchParams(req.getQuery() ?? ''),
      header: (name) => (headers ??= readHeaders(req)).get(name),
      body: NO_BODY,
    };
    if (request.method === 'GET' || request.method === 'HEAD') {
      const r = answerNow(opts.http, request);
      if (!(r instanceof Promise) && !('stream' in r)) {
        // Answered within the handler, where uWS corks the response itself.
        res.writeStatus(statusLine(r.status)).writeHeader('content-type', r.contentType).end(r.body);
        return;
      }
      later(res)(r);
    } else {
      const reply = later(res);
      const chunks: Buffer[] = [];
      let size = 0;
      res.onData((chunk, isLast) => {
        if (size < 0) return;
        size += chunk.byteLength;
        if (size > MAX_BODY_BYTES) {
          size = -1;
          reply(tooLarge());
          return;
        }
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) {
          request.body = Buffer.concat(chunks);
          reply(answerNow(opts.http, request));
        }
      });
    }
    headers ??= readHeaders(req);
  });
  return {
    name: 'uWebSockets.js',
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        app.listen(host, port, (s) => {
          if (!s) {
            reject(new Error(`cannot listen on ${host} port ${port}`));
            return;
          }
          listenSocket = s;
          resolve(uws.us_socket_local_port(s as unknown as Uws.us_socket));
        });
      }),
    close: async () => {
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = null;
      (app as unknown as { close?: () => void }).close?.();
    },
  };
}
