// What the management plane asks of an HTTP/WebSocket server, so that the same routes run on
// uWebSockets.js (./uws.ts) or, without the native module, on node:http and `ws` (./nodeHttp.ts).
// The routes never see either library.

export interface ApiRequest {
  method: string;
  /** The path without its query, e.g. "/neighbors/192.0.2.1". */
  path: string;
  query: URLSearchParams;
  /** Header by lower-case name. */
  header(name: string): string | undefined;
  /** The whole body (bounded by MAX_BODY_BYTES); empty for GET. */
  body: Buffer;
}

export interface Reply {
  status: number;
  contentType: string;
  body: string | Uint8Array;
}

/** A response body written in chunks, with backpressure. */
export interface ChunkSink {
  /** False when the chunk was queued over the socket's buffer: wait for `writable()`. */
  write(chunk: string | Uint8Array): boolean;
  /** Resolves once the client took the queued data, or it went away. */
  writable(): Promise<void>;
  end(): void;
  /** Cuts the connection instead of ending the reply: the client sees it did not get it all. */
  abort(): void;
  /** The client went away: stop producing. */
  readonly closed: boolean;
}

/** A reply written in chunks (a table streamed from shared memory). */
export interface StreamReply {
  status: number;
  contentType: string;
  stream(sink: ChunkSink): Promise<void>;
}

export type Routed = Reply | StreamReply;
export type HttpHandler = (req: ApiRequest) => Routed | Promise<Routed>;

/** One WebSocket client, as the stream sees it. */
export interface SocketPeer {
  /**
   * Queues a message (the stream bounds what is queued: SOCKET_BUFFER_BYTES); false when closed.
   * A text frame for a string, a binary one for bytes, unless `binary` says otherwise (JSON
   * text already in bytes goes as a text frame).
   */
  send(data: string | Uint8Array, binary?: boolean): boolean;
  /** Bytes queued and not yet taken by the client. */
  readonly buffered: number;
  /** Resolves once the client's queue is below `below` bytes (the stream: half its bound), or it went away. */
  drained(below: number): Promise<void>;
  close(code: number, reason: string): void;
  readonly closed: boolean;
  /** Runs fn with the socket corked: what it sends leaves in as few writes as possible. */
  cork(fn: () => void): void;
}

export interface SocketHandler {
  open(peer: SocketPeer): void;
  message(peer: SocketPeer, data: Buffer, binary: boolean): void;
  close(peer: SocketPeer): void;
}

export interface TransportOptions {
  http: HttpHandler;
  /** The WebSocket path (RIS Live's stream). */
  socketPath: string;
  socket: SocketHandler;
}

export interface Transport {
  readonly name: 'uWebSockets.js' | 'node:http';
  /** Resolves with the port bound (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/** Largest request body: a bulk announce of 100,000 routes fits well within it. */
export const MAX_BODY_BYTES = 64 << 20;
/** Largest WebSocket message a client may send (subscriptions are small). */
export const MAX_SOCKET_MESSAGE = 64 << 10;
/**
 * What one stream client may have queued before it is cut off (RIS Live: `ris_error`); the
 * server's own buffer is twice that, so the final error still fits.
 */
export const SOCKET_BUFFER_BYTES = 16 << 20;

export const json = (status: number, value: unknown): Reply => ({ status, contentType: 'application/json', body: JSON.stringify(value) });

/** A number as JSON.stringify writes it, for answers written as text. */
export const num = (x: number): string => (Number.isFinite(x) ? `${x}` : 'null');

const handlerFailed = (e: unknown): Reply => json(500, { error: (e as Error)?.message ?? String(e) });

/** The handler's answer; one that throws, or fails, answers 500 with its message. */
export function answer(http: HttpHandler, req: ApiRequest): Promise<Routed> {
  return Promise.resolve(answerNow(http, req));
}

/** answer(), but at once when the handler has it at once (a promise only when the handler gives one). */
export function answerNow(http: HttpHandler, req: ApiRequest): Routed | Promise<Routed> {
  try {
    const r = http(req);
    return r instanceof Promise ? r.catch(handlerFailed) : r;
  } catch (e) {
    return handlerFailed(e);
  }
}

export const tooLarge = (): Reply => json(413, { error: `request body: larger than ${MAX_BODY_BYTES} bytes`, field: 'body' });

/** A request the API refuses: a 4xx with one line naming the field; nothing was changed. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }

  reply(): Reply {
    return json(this.status, { error: this.message, field: this.field });
  }
}
