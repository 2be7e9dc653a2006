// One BMP station (RFC 7854 §3.2): the TCP connection ribstorm opens to it, reopened with
// back-off when it fails or closes, and a bounded send buffer. A station that cannot keep up
// costs at most that buffer: the message that would overflow it is dropped and counted, and
// the connection is closed, because from then on the station's view would be wrong; on the
// next connection it is sent everything again (feed.ts). Nothing the station does can throw
// out of here or slow the speaker: every socket event is handled, what it sends is discarded
// (§3.2: a station sends nothing).

import { EventEmitter } from 'node:events';
import net from 'node:net';
import { log } from '../log.js';

/** First and longest wait before connecting again; a connection up this long resets it. */
export const RECONNECT_FIRST_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;
const STABLE_MS = 60_000;
/** A connect that takes longer than this failed (a silent address). */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Messages are gathered into chunks of this size and written once per chunk (or once per turn
 * of the event loop): one socket write per Route Monitoring message would cost the main
 * thread more than the message.
 */
const CHUNK_BYTES = 64 * 1024;

export type StationState = 'connecting' | 'up' | 'waiting' | 'stopped';

export interface StationCounters {
  /** Messages and octets handed to the socket. */
  messages: number;
  bytes: number;
  /** Messages refused because the send buffer was full (each ended the connection). */
  dropped: number;
  /** Octets of those, and of what was still queued when the connection closed for it. */
  droppedBytes: number;
  /** Connections made, and attempts that failed or were closed and were tried again. */
  connects: number;
  reconnects: number;
}

export interface StationEvents {
  up: [];
  down: [reason: string];
}

export class Station extends EventEmitter<StationEvents> {
  state: StationState = 'waiting';
  readonly counters: StationCounters = { messages: 0, bytes: 0, dropped: 0, droppedBytes: 0, connects: 0, reconnects: 0 };
  /** Why the last connection ended or the last attempt failed ('' before). */
  lastError = '';
  private socket: net.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private backoff = RECONNECT_FIRST_MS;
  private upSince = 0;
  private drainWaiters: Array<(ok: boolean) => void> = [];
  /** Messages not yet handed to the socket: `used` octets of `chunk`, written at the next flush. */
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private flushQueued = false;

  constructor(
    readonly address: string,
    readonly port: number,
    /** Octets the send buffer may hold (RFC 7854 leaves it to the implementation). */
    readonly bufferBytes: number,
  ) {
    super();
  }

  get name(): string {
    return `BMP station ${this.address.includes(':') ? `[${this.address}]` : this.address}:${this.port}`;
  }

  /** Octets queued for the station and not yet taken by the kernel. */
  get backlog(): number {
    return (this.socket?.writableLength ?? 0) + this.used;
  }

  start(): void {
    if (this.state === 'stopped') return;
    this.connect();
  }

  private connect(): void {
    this.timer = null;
    this.state = 'connecting';
    const s = net.connect({ host: this.address, port: this.port, noDelay: false });
    this.socket = s;
    s.setTimeout(CONNECT_TIMEOUT_MS);
    s.on('timeout', () => {
      if (this.state === 'connecting') s.destroy(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000}s`));
    });
    s.on('data', () => {}); // a station sends nothing (§3.2); whatever it sends is discarded
    s.on('error', (e: NodeJS.ErrnoException) => {
      this.lastError = e.code ?? e.message;
    });
    s.on('drain', () => this.wake(true));
    s.once('connect', () => {
      if (this.socket !== s) return;
      s.setTimeout(0);
      s.setKeepAlive(true, 30_000);
      this.state = 'up';
      this.upSince = Date.now();
      this.counters.connects++;
      log(`${this.name}: connected from ${s.localAddress}:${s.localPort}`);
      this.emit('up');
    });
    s.once('close', () => {
      if (this.socket === s) this.closed(this.lastError || 'closed by the station');
    });
  }

  /** The connection is gone: say why, and try again after the back-off. */
  private closed(reason: string): void {
    const wasUp = this.state === 'up';
    this.socket = null;
    this.used = 0; // gathered for a connection that is gone
    this.wake(false);
    if (this.state === 'stopped') return;
    if (wasUp && Date.now() - this.upSince >= STABLE_MS) this.backoff = RECONNECT_FIRST_MS;
    const wait = this.backoff;
    this.backoff = Math.min(RECONNECT_MAX_MS, this.backoff * 2);
    this.state = 'waiting';
    this.counters.reconnects++;
    const c = this.counters;
    log(
      wasUp
        ? `${this.name}: disconnected (${reason}) after ${c.messages} messages, ${c.bytes} octets in all; reconnecting in ${wait / 1000}s`
        : `${this.name}: cannot connect (${reason}); retrying in ${wait / 1000}s`,
    );
    this.lastError = reason;
    if (wasUp) this.emit('down', reason);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /**
   * Queues one whole message. False when the station is not up, or when the message would
   * overflow the send buffer: then it is dropped and counted, and the connection closed.
   */
  send(msg: Uint8Array): boolean {
    const s = this.socket;
    if (this.state !== 'up' || !s) return false;
    if (this.backlog + msg.length > this.bufferBytes) {
      this.overflow(msg.length);
      return false;
    }
    if (this.used + msg.length > CHUNK_BYTES) this.flush();
    if (msg.length > CHUNK_BYTES / 2) s.write(msg);
    else {
      this.chunk.set(msg, this.used);
      this.used += msg.length;
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(() => this.flush());
      }
    }
    this.counters.messages++;
    this.counters.bytes += msg.length;
    return true;
  }

  /** Hands the gathered messages to the socket, in one write. */
  private flush(): void {
    this.flushQueued = false;
    if (this.used === 0) return;
    const s = this.socket;
    if (s && !s.destroyed) s.write(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES); // the socket keeps the written one
    this.used = 0;
  }

  /**
   * A message of `length` octets does not fit the buffer (`waiting` more octets wait elsewhere
   * for it): dropped and counted, and the connection closed, since the station's view is
   * wrong from here on; the next connection starts again from the table.
   */
  overflow(length: number, waiting = 0): void {
    const s = this.socket;
    if (this.state !== 'up' || !s) return;
    const queued = this.backlog + waiting;
    this.counters.dropped++;
    this.counters.droppedBytes += length + queued;
    s.destroy();
    this.closed(`send buffer full (${queued} octets queued, limit ${this.bufferBytes}): the station is not reading fast enough`);
  }

  /**
   * Resolves true once the backlog is below half the buffer (at once when it is), false when
   * the connection goes first: the table walks wait here, so they never fill the buffer.
   */
  writable(): Promise<boolean> {
    if (this.state !== 'up') return Promise.resolve(false);
    if (this.backlog < this.bufferBytes / 2) return Promise.resolve(true);
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wake(ok: boolean): void {
    if (ok && this.backlog >= this.bufferBytes / 2) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of w) fn(ok);
  }

  /** Sends `last` (a Termination) if up, then closes for good; resolves once it is sent or after `graceMs`. */
  async stop(last?: Uint8Array, graceMs = 1000): Promise<void> {
    const s = this.socket;
    const wasUp = this.state === 'up';
    if (wasUp) this.flush();
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake(false);
    if (!s) return;
    if (!wasUp || !last) {
      s.destroy();
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, graceMs);
      s.end(last, () => {
        clearTimeout(t);
        resolve();
      });
    });
    s.destroy();
  }
}
