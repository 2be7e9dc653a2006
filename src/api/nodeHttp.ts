// The management plane without native code: node:http for requests, the `ws` package for the
// stream. The same handler and limits as ./uws.ts.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  MAX_BODY_BYTES,
  MAX_SOCKET_MESSAGE,
  answer,
  tooLarge,
  type ApiRequest,
  type ChunkSink,
  type Routed,
  type SocketPeer,
  type Transport,
  type TransportOptions,
} from './transport.js';

class NodeSink implements ChunkSink {
  constructor(private readonly res: http.ServerResponse) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  write(chunk: string | Uint8Array): boolean {
    return !this.closed && this.res.write(chunk);
  }

  writable(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  end(): void {
    if (!this.closed) this.res.end();
  }

  abort(): void {
    if (!this.closed) this.res.destroy();
  }
}

class NodePeer implements SocketPeer {
  constructor(private readonly ws: WebSocket) {}

  get closed(): boolean {
    return this.ws.readyState !== this.ws.OPEN;
  }

  send(data: string | Uint8Array, binary = typeof data !== 'string'): boolean {
    if (this.closed) return false;
    this.ws.send(data, { binary });
    return true;
  }

  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  async drained(below: number): Promise<void> {
    // `ws` has no drain event of its own: look again as the socket flushes.
    while (!this.closed && this.ws.bufferedAmount >= below) await new Promise((r) => setTimeout(r, 2));
  }

  close(code: number, reason: string): void {
    if (!this.closed) this.ws.close(code, reason);
  }

  cork(fn: () => void): void {
    fn(); // `ws` writes each message at once; node's socket coalesces what is queued meanwhile
  }
}

export function nodeTransport(opts: TransportOptions): Transport {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const request: ApiRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      header: (name) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(', ') : v;
      },
      body: Buffer.alloc(0),
    };
    const respond = (r: Routed) => {
      if ('stream' in r) {
        res.writeHead(r.status, { 'content-type': r.contentType });
        const sink = new NodeSink(res);
        r.stream(sink).then(
          () => sink.end(),
          () => sink.end(),
        );
        return;
      }
      res.writeHead(r.status, { 'content-type': r.contentType });
      res.end(r.body);
    };
    const dispatch = () => void answer(opts.http, request).then(respond);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      if (size < 0) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        size = -1;
        respond(tooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size < 0) return;
      request.body = Buffer.concat(chunks);
      dispatch();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SOCKET_MESSAGE });
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://api').pathname !== opts.socketPath) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer = new NodePeer(ws);
      ws.on('message', (data: Buffer, binary: boolean) => opts.socket.message(peer, Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), binary));
      ws.on('close', () => opts.socket.close(peer));
      ws.on('error', () => {});
      opts.socket.open(peer);
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  return {
    name: 'node:http',
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
