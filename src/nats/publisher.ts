// Publishing to a JetStream stream without ever holding up the speaker: messages wait in a
// bounded buffer (what is queued plus what awaits its acknowledgement), go out with at most
// `maxInFlight` unacknowledged, each with a message id so that a retry after a lost
// acknowledgement is stored once. A server that is away, slow or stalled only fills the
// buffer; once full, new messages are dropped and counted, and ingest carries on.

import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConfig } from '../config/nats.js';
import { log } from '../log.js';
import { LineLimiter } from '../util/lineLimiter.js';
import { NatsLink } from './connection.js';
import { streamSubject } from './subjects.js';

interface Entry {
  subject: string;
  payload: Uint8Array;
  headers: MsgHdrs;
  id: string;
  failed?: boolean;
}

/** Pause before sending again what a failure held back. */
const RETRY_MS = 1000;
/** Pause before trying again to make a stream the server refused. */
const STREAM_RETRY_MS = 10_000;

export interface PublisherCounts {
  /** NATS messages handed to the server (retries included). */
  published: number;
  /** Acknowledged by the stream: stored. */
  acked: number;
  ackedBytes: number;
  /** Dropped because the buffer was full. */
  dropped: number;
  droppedBytes: number;
  /** Sent again after a failure or a missing acknowledgement. */
  retried: number;
  /** Bytes waiting: queued and unacknowledged. */
  buffered: number;
}

export class Publisher {
  readonly counts: PublisherCounts = { published: 0, acked: 0, ackedBytes: 0, dropped: 0, droppedBytes: 0, retried: 0, buffered: 0 };
  readonly link: NatsLink;
  /** Largest payload the server takes (its max_payload, less room for headers). */
  maxPayload = 1 << 19;
  private js: JetStreamClient | null = null;
  private queue: Entry[] = [];
  private head = 0;
  /** Sent and not yet acknowledged, in order sent; failed ones stay until all have settled. */
  private readonly sending = new Set<Entry>();
  private holding = false;
  private retry: NodeJS.Timeout | null = null;
  private dropping = false;
  private readonly boot = Date.now().toString(36);
  private nextId = 0;
  private readonly failures = new LineLimiter(log, 10_000);

  constructor(private readonly config: NatsConfig) {
    this.link = new NatsLink(config.url, 'NATS feed', {
      up: (nc) => this.up(nc),
      down: () => {
        this.js = null;
      },
    });
  }

  start(): void {
    this.link.start();
  }

  /** The stream exists (created with the template's subjects when missing), then send. */
  private async up(nc: NatsConnection): Promise<void> {
    this.js = null;
    this.maxPayload = Math.max(4096, (nc.info?.max_payload ?? 1 << 20) - 8192);
    const jsm = await jetstreamManager(nc, { timeout: this.config.ackTimeout * 1000 });
    const { stream } = this.config;
    const subjects = [streamSubject(this.config.subject)];
    try {
      await jsm.streams.info(stream);
    } catch {
      try {
        await jsm.streams.add({ name: stream, subjects });
        log(`NATS feed: created stream ${stream} for ${subjects.join(' ')} on ${this.config.url}`);
      } catch (e) {
        // Tried again while the connection lasts (a reconnect tries at once).
        setTimeout(() => {
          if (this.link.connection === nc && !this.js) void this.up(nc).catch((x) => log(`NATS feed: ${(x as Error).message}`));
        }, STREAM_RETRY_MS).unref();
        throw new Error(`cannot create stream ${stream} (${subjects.join(' ')}): ${(e as Error).message}; holding messages and trying again in ${STREAM_RETRY_MS / 1000}s`);
      }
    }
    this.js = jetstream(nc, { timeout: this.config.ackTimeout * 1000 });
    this.pump();
  }

  /** Queues one NATS message; false when the buffer is full and it was dropped. */
  publish(subject: string, payload: Uint8Array, headers: MsgHdrs): boolean {
    const size = payload.byteLength;
    if (this.counts.buffered + size > this.config.bufferBytes) {
      this.counts.dropped++;
      this.counts.droppedBytes += size;
      if (!this.dropping) {
        this.dropping = true;
        log(`NATS feed: buffer full (${this.counts.buffered} bytes waiting for ${this.config.url}): dropping messages until the server takes them`);
      }
      return false;
    }
    if (this.dropping && this.counts.buffered < this.config.bufferBytes / 2) {
      this.dropping = false;
      log(`NATS feed: buffer has room again; ${this.counts.dropped} messages dropped so far`);
    }
    this.counts.buffered += size;
    this.queue.push({ subject, payload, headers, id: `${this.boot}-${(this.nextId++).toString(36)}` });
    this.pump();
    return true;
  }

  /** Messages queued and not yet sent. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  get inFlight(): number {
    return this.sending.size;
  }

  private pump(): void {
    const js = this.js;
    if (!js || this.holding || !this.link.connected) return;
    while (this.sending.size < this.config.maxInFlight && this.head < this.queue.length) {
      const e = this.queue[this.head++];
      this.sending.add(e);
      this.counts.published++;
      js.publish(e.subject, e.payload, { headers: e.headers, msgID: e.id, timeout: this.config.ackTimeout * 1000 }).then(
        () => this.acked(e),
        (err: Error) => this.failed(e, err),
      );
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private acked(e: Entry): void {
    this.sending.delete(e);
    this.counts.acked++;
    this.counts.ackedBytes += e.payload.byteLength;
    this.counts.buffered -= e.payload.byteLength;
    if (this.holding) this.settled();
    else this.pump();
  }

  /**
   * A publish failed (no acknowledgement in time, connection lost, no stream): stop sending,
   * let the rest settle, then send the failed ones again, in order, before anything newer.
   */
  private failed(e: Entry, err: Error): void {
    e.failed = true;
    if (!this.holding) {
      this.holding = true;
      const stalled = /timeout/i.test(err.message) || err.name === 'TimeoutError';
      this.failures.line(`NATS feed: ${stalled ? `no acknowledgement from ${this.config.url} within ${this.config.ackTimeout}s (stalled?)` : `publishing to ${this.config.url} failed: ${err.message}`}; holding ${this.queued + this.sending.size} messages (${this.counts.buffered} bytes) and retrying`);
      // No responders: the stream went away; make it again before sending.
      if (/no responders|503/i.test(err.message) && this.link.connection) {
        const nc = this.link.connection;
        this.js = null;
        this.retryLater(() => this.up(nc).catch((x) => log(`NATS feed: ${(x as Error).message}`)));
        return this.settled();
      }
    }
    this.settled();
  }

  /** Once nothing awaits an answer: the failed ones back in front of the queue, sent again shortly. */
  private settled(): void {
    if ([...this.sending].some((x) => !x.failed)) return;
    const again = [...this.sending];
    this.sending.clear();
    this.counts.retried += again.length;
    this.queue = [...again.map((x) => ({ ...x, failed: false })), ...this.queue.slice(this.head)];
    this.head = 0;
    if (!this.retry) this.retryLater(() => {});
  }

  private retryLater(then: () => unknown): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.holding = false;
      void then();
      this.pump();
    }, RETRY_MS);
  }

  /** Gives what waits up to `graceMs` to be acknowledged, then closes. */
  async close(graceMs = 2000): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && this.link.connected && (this.queued || this.sending.size)) await new Promise((r) => setTimeout(r, 20));
    if (this.retry) clearTimeout(this.retry);
    await this.link.close();
  }
}
