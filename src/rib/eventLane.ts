// Received UPDATEs as route events, for whoever watches them (the route stream, a NATS feed).
// Once a watched batch is applied, its received messages are copied out of the session's ring
// (which is then free again) and written as RIS Live JSON on the events' thread
// (eventWorker.ts), which runs at the lowest CPU priority: routing first. The events are handed
// on in batch order. A watcher whose reader is behind (a stream client's socket queue) may hold
// the lane: batches wait, copied, until it lets go. The copies waiting are bounded
// (EVENT_BACKLOG_BYTES): past that the watchers are told (the stream then cuts off the clients
// holding it) and the pipeline hands out no new batch until the lane has caught up, so no event
// is lost and the memory held is bounded.

import type { Piscina } from 'piscina';
import { UpdateEventBatch, type EncodedEvents, type EventEnvelope, type UpdateWatch } from './events.js';
import type { EventTask } from './eventWorker.js';
import type { PeerContext } from './parse.js';
import { createEventPool } from './pool.js';

/** The received UPDATEs' bytes waiting for the events' thread, at most (about three full tables). */
export const EVENT_BACKLOG_BYTES = 128 * 1024 * 1024;

/** One batch's received UPDATEs, copied out of its ring: (offset, length) pairs into `bytes`. */
export interface ReceivedCopy {
  bytes: Uint8Array;
  descriptors: Uint32Array;
}

/** The first `count` messages at `descriptors` in `buffer`, copied into one buffer of their own. */
export function copyReceived(buffer: SharedArrayBuffer, descriptors: Uint32Array, count: number): ReceivedCopy {
  const src = new Uint8Array(buffer);
  let total = 0;
  for (let i = 0; i < count; i++) total += descriptors[i * 2 + 1];
  const bytes = new Uint8Array(total);
  const out = new Uint32Array(count * 2);
  // A session's messages mostly follow each other in its ring: one copy per run of them.
  let runFrom = 0;
  let runTo = 0;
  let o = 0;
  for (let i = 0; i < count; i++) {
    const at = descriptors[i * 2];
    const len = descriptors[i * 2 + 1];
    if (at !== runTo) {
      if (runTo > runFrom) bytes.set(src.subarray(runFrom, runTo), o - (runTo - runFrom));
      runFrom = at;
      runTo = at;
    }
    out[i * 2] = o;
    out[i * 2 + 1] = len;
    runTo += len;
    o += len;
  }
  if (runTo > runFrom) bytes.set(src.subarray(runFrom, runTo), o - (runTo - runFrom));
  return { bytes, descriptors: out };
}

interface Waiting {
  k: number;
  peer: number;
  task: EventTask;
  size: number;
}

/** Batches on the events' thread at once: one written while the next is on its way. */
const IN_FLIGHT = 2;

export class UpdateEventLane {
  private pool?: Piscina;
  /** Batches copied and not yet given to the thread, in order. */
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  /** Who holds the lane (holdFor): nothing goes to the thread while anyone does. */
  private readonly holders = new Set<object>();
  /** Batches added, and handed on (their events, or their loss reported), in order. */
  private added = 0;
  private handed = 0;
  private readonly ready = new Map<number, () => void>();
  /** Callbacks waiting for the batches added before them: [added, fn], in order. */
  private readonly barriers: Array<[number, () => void]> = [];
  /** Bytes of received UPDATEs copied and not yet written as events. */
  backlog = 0;
  /** The envelope each event of a peer is written in (the route stream's), when one is asked for. */
  envelope?: (peer: number) => EventEnvelope | undefined;

  constructor(
    /** Hands on one batch's events (the pipeline's 'updates'). */
    private readonly hand: (peer: number, events: UpdateEventBatch) => void,
    /** A batch whose events were lost (the thread failed), or a callback that threw. */
    private readonly failed: (error: unknown) => void,
    /** The backlog went down: batches held back for it may go. */
    private readonly drained: () => void,
    /** The backlog passed EVENT_BACKLOG_BYTES while the lane was held. */
    private readonly backedUp: () => void,
  ) {}

  /** Whether the pipeline should hand out no new batch until the backlog goes down. */
  get full(): boolean {
    return this.backlog > EVENT_BACKLOG_BYTES;
  }

  /** Writes one batch's received UPDATEs as events, handed on after those of every batch added before. */
  add(peer: number, ctx: PeerContext, copy: ReceivedCopy, watch: UpdateWatch): void {
    const size = copy.bytes.byteLength;
    const wasFull = this.full;
    this.backlog += size;
    const task: EventTask = { ...copy, ctx: { asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: ctx.addPath, addPath6: ctx.addPath6 }, watch, envelope: this.envelope?.(peer) };
    this.waiting.push({ k: this.added++, peer, task, size });
    this.next();
    if (this.full && !wasFull && this.holders.size > 0) this.backedUp();
  }

  /** `who` is behind (its reader's queue is long): no batch goes to the thread until release(who). */
  hold(who: object): void {
    this.holders.add(who);
  }

  release(who: object): void {
    if (this.holders.delete(who)) this.next();
  }

  /** Gives waiting batches to the thread, in order, while nobody holds the lane. */
  private next(): void {
    while (this.inFlight < IN_FLIGHT && this.holders.size === 0 && this.waiting.length) {
      const { k, peer, task, size } = this.waiting.shift()!;
      this.inFlight++;
      (this.pool ??= createEventPool()).run(task, { transferList: [task.bytes.buffer, task.descriptors.buffer] as ArrayBuffer[] }).then(
        (e: EncodedEvents | null) => this.done(k, size, () => e && this.hand(peer, new UpdateEventBatch(e))),
        (err: unknown) => this.done(k, size, () => this.failed(new Error(`the route events of ${task.descriptors.length >> 1} UPDATEs were lost: ${(err as Error)?.message ?? err}`))),
      );
    }
  }

  /** Runs `fn` once every batch added so far has been handed on, right after the last of them. */
  after(fn: () => void): void {
    if (this.handed >= this.added) fn();
    else this.barriers.push([this.added, fn]);
  }

  async close(): Promise<void> {
    this.waiting.length = 0;
    for (const [, fn] of this.barriers.splice(0)) fn(); // nobody waits past the end
    await this.pool?.destroy();
  }

  private done(k: number, size: number, fn: () => void): void {
    this.backlog -= size;
    this.inFlight--;
    this.ready.set(k, fn);
    while (this.ready.has(this.handed)) {
      const f = this.ready.get(this.handed)!;
      this.ready.delete(this.handed++);
      this.call(f);
      while (this.barriers.length && this.barriers[0][0] <= this.handed) this.call(this.barriers.shift()![1]);
    }
    this.next();
    this.drained();
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.failed(e);
    }
  }
}
