// Received UPDATEs as route events, for whoever watches them (the route stream, a NATS feed).
// Once a watched batch is applied, its received messages are copied out of the session's ring
// (copyArena.ts; the ring is then free again) and written as RIS Live JSON on the events'
// thread (eventWorker.ts), at the lowest CPU priority. While the RIB is loaded (batches queued
// or running more than half the time: a table arriving) the copies wait, up to EVENT_DEFER_MS:
// routing first, so a table load is not slowed by being watched, and its events follow it.
// They are handed on in batch order. A watcher whose reader is behind (a stream client's
// socket queue) may hold the lane: batches wait, copied, until it lets go. The copies waiting
// are bounded (EVENT_BACKLOG_BYTES): past that they go whatever the RIB is doing, the watchers
// holding the lane are told (the stream cuts off those clients), and the pipeline hands out no
// new batch until the lane has caught up, so no event is lost and the memory held is bounded.

import type { Piscina } from 'piscina';
import { CopyArena, type ReceivedCopy } from './copyArena.js';
import { DEFAULT_EVENT_BOUNDS, type EventLaneBounds } from './eventBounds.js';
import { UpdateEventBatch, type EncodedEvents, type EventEnvelope, type UpdateWatch } from './events.js';
import type { EventTask } from './eventWorker.js';
import { codecContext, type PeerContext } from './parse.js';
import { createEventPool } from './pool.js';

interface Waiting {
  k: number;
  peer: number;
  task: EventTask;
  copy: ReceivedCopy;
  /** What the pipeline's `tag` said of the peer when the batch was added (UpdateEventBatch.tag). */
  tag: unknown;
  /** When it was added (performance.now()): it waits for the RIB at most EVENT_DEFER_MS from then. */
  at: number;
  /** Its UPDATEs, for the report should it be lost. */
  count: number;
}

/** Batches on the events' thread at once: one written while the next is on its way. */
const IN_FLIGHT = 2;
/**
 * The RIB is loaded while it had batches queued or running more than LOADED_DUTY of the last
 * DUTY_WINDOW_MS: at a few thousand UPDATEs a second it is idle most of the time and events go
 * at once; through a full table it is busy nearly all of it.
 */
const DUTY_WINDOW_MS = 100;
const LOADED_DUTY = 0.5;

export class UpdateEventLane {
  private pool?: Piscina;
  /** Batches copied and not yet given to the thread, in order. */
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  /** Who holds the lane (hold()): nothing goes to the thread while anyone does. */
  private readonly holders = new Set<object>();
  /** Batches added, and handed on (their events, or their loss reported), in order. */
  private added = 0;
  private handed = 0;
  private readonly ready = new Map<number, () => void>();
  /** Callbacks waiting for the batches added before them: [added, fn], in order. */
  private readonly barriers: Array<[number, () => void]> = [];
  /** Bytes of received UPDATEs copied and not yet written as events. */
  backlog = 0;
  /** Where watched batches' received UPDATEs are copied (pipeline: before their ring is given back). */
  readonly arena = new CopyArena((chunk) => this.eventPool().run({ touch: chunk }));
  /** The envelope each event of a batch is written in (the route stream's), from its peer's tag, when one is asked for. */
  envelope?: (tag: unknown) => EventEnvelope | undefined;
  /** Who the peer is, taken as its batch is added (its events may be handed on after it is gone). */
  tag?: (peer: number) => unknown;
  private closed = false;

  constructor(
    /** Hands on one batch's events (the pipeline's 'updates'). */
    private readonly hand: (peer: number, events: UpdateEventBatch) => void,
    /** A batch whose events were lost (the thread failed), or a callback that threw. */
    private readonly failed: (error: unknown) => void,
    /** The backlog went down: batches held back for it may go. */
    private readonly drained: () => void,
    /** The backlog passed EVENT_BACKLOG_BYTES while the lane was held. */
    private readonly backedUp: () => void,
    /** The backlog's bound and the longest wait while the RIB is loaded (`[rib] events-backlog-mb`, `events-max-wait-ms`). */
    readonly bounds: EventLaneBounds = DEFAULT_EVENT_BOUNDS,
  ) {}

  /** The timer that looks again at a batch waiting for the RIB. */
  private deferTimer?: NodeJS.Timeout;
  /** How busy the RIB has been (ribActive()). */
  private readonly duty = new DutyMeter(DUTY_WINDOW_MS);

  /**
   * Someone watches: the events' thread is started and the arena's first chunks made ready
   * ahead, so that the first batches (a table's, often) do not pay for either.
   */
  prepare(): void {
    if (!this.closed) this.arena.prepare();
  }

  /** The RIB has batches queued or running (true), or none (false): the pipeline says when that changes. */
  ribActive(active: boolean): void {
    this.duty.set(active);
    if (!active && this.waiting.length) this.next();
  }

  /** Whether the RIB was busy more than LOADED_DUTY of the last window (events wait). */
  get loaded(): boolean {
    return this.duty.last() > LOADED_DUTY;
  }

  /** Whether the pipeline should hand out no new batch until the backlog goes down. */
  get full(): boolean {
    return this.backlog > this.bounds.backlogBytes;
  }

  /** Writes one batch's received UPDATEs as events, handed on after those of every batch added before. */
  add(peer: number, ctx: PeerContext, copy: ReceivedCopy, watch: UpdateWatch): void {
    if (this.closed) {
      this.arena.release(copy);
      return;
    }
    let envelope: EventEnvelope | undefined;
    let tag: unknown;
    try {
      tag = this.tag?.(peer);
      envelope = this.envelope?.(tag);
    } catch (e) {
      this.failed(e);
    }
    this.backlog += copy.size;
    const task: EventTask = { buffer: copy.buffer, descriptors: copy.descriptors, ctx: codecContext(ctx), watch, envelope };
    this.waiting.push({ k: this.added++, peer, task, copy, tag, at: performance.now(), count: copy.descriptors.length >> 1 });
    this.next();
    this.checkBackedUp();
  }

  /** `who` is behind (its reader's queue is long): no batch goes to the thread until release(who). */
  hold(who: object): void {
    this.holders.add(who);
    this.checkBackedUp();
  }

  /** The backlog is full and someone holds the lane: they are told (and are expected to let go). */
  private checkBackedUp(): void {
    if (this.full && this.holders.size > 0) this.call(this.backedUp);
  }

  release(who: object): void {
    if (this.holders.delete(who)) this.next();
  }

  /**
   * Gives waiting batches to the thread, in order, while nobody holds the lane: each once the
   * RIB is not loaded, or it has waited EVENT_DEFER_MS, or the backlog is full.
   */
  private next(): void {
    const { deferMs } = this.bounds;
    while (this.inFlight < IN_FLIGHT && this.holders.size === 0 && this.waiting.length && !this.closed) {
      const waited = performance.now() - this.waiting[0].at;
      if (!this.full && waited < deferMs && this.loaded) {
        // Looked at again when the window turns (or the RIB goes idle: ribActive).
        this.deferTimer ??= setTimeout(() => {
          this.deferTimer = undefined;
          this.next();
        }, Math.max(1, Math.min(DUTY_WINDOW_MS, deferMs - waited))).unref();
        return;
      }
      const { k, peer, task, copy, tag, count } = this.waiting.shift()!;
      this.inFlight++;
      this.eventPool()
        .run(task, { transferList: [task.descriptors.buffer] as ArrayBuffer[] })
        .then(
          (e: EncodedEvents | null) => this.done(k, copy, () => e && this.hand(peer, new UpdateEventBatch(e, tag))),
          (err: unknown) => this.done(k, copy, () => this.failed(new Error(`the route events of ${count} UPDATEs were lost: ${(err as Error)?.message ?? err}`))),
        );
    }
  }

  private eventPool(): Piscina {
    if (!this.pool) {
      this.pool = createEventPool();
      // A thread that fails with no task: Piscina replaces it (a task's failure is its batch's).
      this.pool.on('error', (e) => this.failed(e));
    }
    return this.pool;
  }

  /** Runs `fn` once every batch added so far has been handed on, right after the last of them. */
  after(fn: () => void): void {
    if (this.handed >= this.added) fn();
    else this.barriers.push([this.added, fn]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) this.arena.release(w.copy);
    this.backlog = 0;
    clearTimeout(this.deferTimer);
    for (const [, fn] of this.barriers.splice(0)) fn(); // nobody waits past the end
    await this.pool?.destroy();
  }

  private done(k: number, copy: ReceivedCopy, fn: () => void): void {
    // After close(): the batches the thread was given went with it, and nothing is to start.
    if (this.closed) return;
    this.backlog -= copy.size;
    this.arena.release(copy);
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

/** The share of each window of `windowMs` something was on (set(true)) rather than off. */
class DutyMeter {
  private onFrom = -1;
  private onMs = 0;
  private windowFrom = performance.now();
  private lastDuty = 0;

  constructor(private readonly windowMs: number) {}

  set(on: boolean): void {
    const now = performance.now();
    if (on) {
      if (this.onFrom < 0) this.onFrom = now;
    } else if (this.onFrom >= 0) {
      this.onMs += now - this.onFrom;
      this.onFrom = -1;
    }
    this.roll(now);
  }

  /** The share of the last whole window. */
  last(): number {
    this.roll(performance.now());
    return this.lastDuty;
  }

  private roll(now: number): void {
    const span = now - this.windowFrom;
    if (span < this.windowMs) return;
    this.lastDuty = (this.onMs + (this.onFrom >= 0 ? now - this.onFrom : 0)) / span;
    this.onMs = 0;
    this.windowFrom = now;
    if (this.onFrom >= 0) this.onFrom = now;
  }
}
