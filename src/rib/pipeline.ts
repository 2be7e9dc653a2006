// The main thread's side of the RIB: a Piscina pool of workers over the shared RIB, batch
// sequence numbers, and best-path changes handed on in sequence order.

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { pack } from 'msgpackr';
import type { Policy } from '../policy/policy.js';
import { emptyResult, unpackResult, type BatchResult, type PeerContext, type PolicyRef } from './apply.js';
import {
  allocateRib,
  growAttrIndex,
  INDEX_SLOTS_MAX,
  MAX_PEERS,
  PEER_ADDR,
  PEER_AS,
  PEER_FLAGS,
  PEER_ID,
  PEER_LIMIT,
  PEER_PATHS,
  PEER_WORDS,
  PF_ALLOWAS_SHIFT,
  PF_IBGP,
  PF_RR_CLIENT,
  RibViews,
  type RibBuffers,
  type RibSizing,
} from './memory.js';
import type { EventEnvelope, UpdateEventBatch, UpdateEventMode, UpdateWatch } from './events.js';
import type { ReceivedCopy } from './copyArena.js';
import { DEFAULT_EVENT_BOUNDS, type EventLaneBounds } from './eventBounds.js';
import { UpdateEventLane } from './eventLane.js';
import { parseFault } from './fault.js';
import { createPool } from './pool.js';
import type { RibTask } from './worker.js';

export interface RibOptions {
  localAs: number;
  /** Our BGP Identifier as u32: the cluster id when reflecting routes. */
  routerId?: number;
  workers?: number;
  sizing?: Partial<RibSizing>;
  alwaysCompareMed?: boolean;
  /** Collector mode (memory.ts `RibBuffers.collector`): no decision process, no best-path changes. */
  collector?: boolean;
  /** A fault to inject (fault.ts, tests only); default: the RIBSTORM_FAULT environment variable. */
  fault?: string;
  /** Route events' bounds (eventLane.ts): the longest wait while the RIB is loaded, and the backlog. Default: EVENT_DEFER_MS, EVENT_BACKLOG_BYTES. */
  events?: Partial<EventLaneBounds>;
}

/** A batch the RIB failed: its worker died or threw out of its shard loop, or a shard turn threw. */
export interface WorkerFault {
  peer: number;
  seq: number;
  task: 'updates' | 'flush';
  /** 'died': the task was lost with its worker (or threw out of it) and was completed without its work. */
  how: 'died' | 'shard';
  detail: string;
}

/**
 * The attribute index's load no batch may take it past, counting what the batches running may
 * add: interning (attrs.ts) refuses past 0.9, and probes get long well before.
 */
const INDEX_LOAD_MAX = 0.85;

/**
 * The most attribute sets a task can intern, counted per UPDATE: its own set (or what RFC 7606
 * left of it) and what import policy makes of it, with one to spare for a policy whose terms
 * split an UPDATE's prefixes. Interning refuses past 0.9 load, should one split them more.
 */
function newSetsAtMost(task: RibTask): number {
  return task.kind === 'updates' ? (task.descriptors.length / 2) * 3 : 0;
}

/** Tries at completing a lost batch before the RIB is given up as stalled. */
const RECOVERY_TRIES = 3;

interface Queued {
  task: RibTask;
  peer: number;
  resolve: (r: BatchResult) => void;
  /** While it runs: the most attribute sets it may add (newSetsAtMost). */
  mayIntern?: number;
  /** A recovery: what the lost task was, why, and how often it has been tried. */
  lost?: { task: 'updates' | 'flush'; detail: string; tries: number };
  /** A batch of UPDATEs submitted while someone watched them (watchUpdates). */
  watch?: UpdateWatch;
}

export interface PeerInfo {
  asn: number;
  routerId: number;
  address: number;
  ibgp: boolean;
  /** RFC 4456: a route-reflector client. */
  rrClient?: boolean;
  /** How often our own AS may appear in paths from this peer. */
  allowasIn?: number;
  /** max-prefix with action block: paths beyond this many are not admitted (0 or absent: none). */
  limit?: number;
}

export interface RibPipelineEvents {
  /** Best-path changes of one batch, in batch order. */
  changes: [result: BatchResult, peer: number];
  /**
   * The UPDATEs of one batch as received (events.ts), while watchUpdates() asks for them: in
   * batch order, after the batch's 'changes' (the RIB already holds what they brought), written
   * on the events' thread at the lowest priority (eventLane.ts), so possibly well after.
   */
  updates: [peer: number, events: UpdateEventBatch];
  /**
   * The received UPDATEs waiting to be handed on as 'updates' passed EVENT_BACKLOG_BYTES while
   * a watcher held them back (holdUpdates): no batch is handed out until they go down.
   */
  updatesBackedUp: [];
  /** A 'changes' or 'updates' listener threw. */
  listenerError: [error: unknown];
  /** A batch the RIB failed (see WorkerFault); its peer's session is to be reset. */
  workerFault: [fault: WorkerFault];
  /** The attribute index was doubled (to `slots`), the pipeline held for `ms`. */
  attributeIndexGrown: [slots: number, sets: number, ms: number];
}

export class RibPipeline extends EventEmitter<RibPipelineEvents> {
  readonly buffers: RibBuffers;
  readonly views: RibViews;
  readonly pool: Piscina;
  readonly workers: number;
  private seq = 0;
  private nextToEmit = 0;
  private readonly done = new Map<number, { result: BatchResult; peer: number; flush?: (r: BatchResult) => void; flushAll: boolean; watched?: { copy: ReceivedCopy; ctx: PeerContext; watch: UpdateWatch } }>();
  /** Watched batches' UPDATEs on their way to 'updates'. */
  private readonly lane: UpdateEventLane;
  private inFlight = 0;
  private running = 0;
  private readonly queue: Queued[] = [];
  /** Batches the RIB failed (WorkerFault), and worker errors outside any batch. */
  faults = 0;
  /** The last sequence number given to a task of each peer. */
  private readonly lastSeq = new Float64Array(MAX_PEERS).fill(-1);
  /** Peers that lost a batch: their path count is checked once their paths are flushed. */
  private readonly faulted = new Set<number>();
  private readonly freePeers: number[] = [];
  private nextPeer = 1; // peer index 0 means "none"

  constructor(opts: RibOptions) {
    super();
    this.buffers = allocateRib(opts.localAs, opts.sizing, opts.alwaysCompareMed ?? false, opts.routerId ?? 0, opts.collector ?? false);
    this.views = new RibViews(this.buffers);
    this.workers = opts.workers ?? Math.max(1, availableParallelism());
    this.pool = createPool(this.workers, this.buffers, parseFault(opts.fault ?? process.env.RIBSTORM_FAULT));
    this.lane = new UpdateEventLane(
      (peer, events) => this.emit('updates', peer, events),
      (e) => this.emit('listenerError', e),
      () => this.pump(),
      () => this.emit('updatesBackedUp'),
      {
        backlogBytes: opts.events?.backlogBytes ?? DEFAULT_EVENT_BOUNDS.backlogBytes,
        deferMs: opts.events?.deferMs ?? DEFAULT_EVENT_BOUNDS.deferMs,
      },
    );
    // A worker that fails while it runs no task: Piscina replaces it and reports it here.
    this.pool.on('error', (e) => this.fault({ peer: 0, seq: -1, task: 'updates', how: 'died', detail: String((e as Error)?.message ?? e) }));
  }

  /** The route events' bounds (RibOptions.events). */
  get eventBounds(): Readonly<EventLaneBounds> {
    return this.lane.bounds;
  }

  /** Collector mode: 'changes' carry no best-path changes, only each batch's counts. */
  get collector(): boolean {
    return this.buffers.collector;
  }

  get pending(): number {
    return this.inFlight;
  }

  /** Gives a peer its index in the RIB (paths carry it) and the fields the decision needs. */
  addPeer(info: PeerInfo): number {
    const index = this.freePeers.pop() ?? this.nextPeer++;
    if (index >= MAX_PEERS) throw new Error(`more than ${MAX_PEERS - 1} peers`);
    this.setPeer(index, info);
    return index;
  }

  setPeer(index: number, info: PeerInfo): void {
    const o = index * PEER_WORDS;
    const p = this.views.peers;
    p[o + PEER_AS] = info.asn;
    p[o + PEER_ID] = info.routerId;
    p[o + PEER_ADDR] = info.address;
    p[o + PEER_FLAGS] = (info.ibgp ? PF_IBGP : 0) | (info.rrClient ? PF_RR_CLIENT : 0) | ((info.allowasIn ?? 0) << PF_ALLOWAS_SHIFT);
    Atomics.store(p, o + PEER_LIMIT, info.limit ?? 0);
  }

  /** A max-prefix block's limit for a peer (0: none), for its batches from now on. */
  setPeerLimit(index: number, limit: number): void {
    Atomics.store(this.views.peers, index * PEER_WORDS + PEER_LIMIT, limit);
  }

  /**
   * A peer gone for good (its neighbor was removed): its paths flushed after every batch
   * submitted before, then its index free for the next addPeer. No stored path carries the
   * index by then, so a new peer given it starts clean.
   */
  async releasePeer(index: number): Promise<BatchResult> {
    const r = await this.flushPeer(index);
    this.setPeer(index, { asn: 0, routerId: 0, address: 0, ibgp: false });
    this.freePeers.push(index);
    return r;
  }

  private readonly policies = new WeakMap<Policy, PolicyRef>();
  private nextPolicy = 1;

  /**
   * A policy as the workers take it: encoded once into shared memory and passed by reference,
   * not serialized again with every batch.
   */
  policyRef(policy: Policy): PolicyRef {
    let ref = this.policies.get(policy);
    if (!ref) {
      const bytes = pack(policy);
      const sab = new SharedArrayBuffer(bytes.length);
      new Uint8Array(sab).set(bytes);
      this.policies.set(policy, (ref = { id: this.nextPolicy++, bytes: sab }));
    }
    return ref;
  }

  /** Whether batches carry UPDATE events back, and with the raw message (see watchUpdates). */
  private watch: UpdateEventMode = 'off';
  /** What each watcher asks for; the mode is the most any of them asks. */
  private readonly watchers = new Map<object, UpdateEventMode>();

  /**
   * Asks for an 'updates' event per batch submitted from now on ('decoded' or 'raw'), or for
   * none ('off', the default: nothing copied or decoded), on behalf of `who` (the route stream,
   * a NATS feed...): batches carry what the most demanding watcher asks, and none once every
   * watcher said 'off'. Batches already submitted keep their mode.
   */
  watchUpdates(mode: UpdateEventMode, who: object = this): void {
    if (mode === 'off') this.watchers.delete(who);
    else this.watchers.set(who, mode);
    let m: UpdateEventMode = 'off';
    for (const w of this.watchers.values()) if (w === 'raw' || m === 'off') m = w;
    // The first watcher: the events' thread is started now, not with a table's first batch.
    if (this.watch === 'off' && m !== 'off') this.lane.prepare();
    this.watch = m;
  }

  /** Callbacks waiting for a batch to be handed on: [seq, fn], in seq order. */
  private readonly barriers: Array<[number, () => void]> = [];

  /**
   * Runs `fn` once every batch submitted so far has been handed on ('changes' emitted; their
   * 'updates' may trail: afterUpdatesHandedOn), right after the last of them, synchronously:
   * what it does lands between those batches' changes and the next ones.
   */
  afterHandedOn(fn: () => void): void {
    if (this.nextToEmit >= this.seq) fn();
    else this.barriers.push([this.seq, fn]);
  }

  /**
   * Runs `fn` once every batch submitted so far has been handed on and so have its 'updates'
   * (which may trail: eventLane.ts): a watcher's message about a peer (its going down) then
   * follows the events of the UPDATEs that peer sent before.
   */
  afterUpdatesHandedOn(fn: () => void): void {
    this.afterHandedOn(() => this.lane.after(fn));
  }

  /**
   * Has each batch's events written whole in the envelope `of` gives for its peer's tag
   * (tagUpdates; the route stream's, with room for the ids it gives as it sends them;
   * undefined: bodies only), or none from now on.
   */
  envelopeUpdates(of: ((tag: unknown) => EventEnvelope | undefined) | undefined): void {
    this.lane.envelope = of;
  }

  /**
   * `fn` says who a peer is (the speaker: its neighbor and session) when a watched batch of it is
   * applied; its 'updates' carry that (UpdateEventBatch.tag), since they may come after the peer
   * has gone, or its index has been given to another.
   */
  tagUpdates(fn: (peer: number) => unknown): void {
    this.lane.tag = fn;
  }

  /**
   * `who`'s reader is behind: 'updates' wait (their UPDATEs copied, up to EVENT_BACKLOG_BYTES,
   * then 'updatesBackedUp') until releaseUpdates(who).
   */
  holdUpdates(who: object): void {
    this.lane.hold(who);
  }

  releaseUpdates(who: object): void {
    this.lane.release(who);
  }

  /** Resolves once every batch submitted before the call has had its 'updates' handed on. */
  updatesHandedOn(): Promise<void> {
    return new Promise((resolve) => this.afterUpdatesHandedOn(resolve));
  }

  /** Applies the UPDATEs at `descriptors` (offset, length pairs) in `buffer` for `peer`. */
  submitUpdates(peer: number, ctx: PeerContext, buffer: SharedArrayBuffer, descriptors: Uint32Array): Promise<BatchResult> {
    const watch: UpdateWatch | undefined = this.watch === 'off' ? undefined : { raw: this.watch === 'raw', time: Date.now() / 1000 };
    return this.run({ kind: 'updates', seq: this.seq++, peer, ctx, buffer, descriptors }, peer, watch);
  }

  /** Applies UPDATEs built elsewhere than a session's ring (local routes): copied into shared memory, one batch. */
  submitMessages(peer: number, ctx: PeerContext, messages: readonly Uint8Array[]): Promise<BatchResult> {
    const sab = new SharedArrayBuffer(Math.max(1, messages.reduce((n, m) => n + m.length, 0)));
    const bytes = new Uint8Array(sab);
    const descriptors = new Uint32Array(messages.length * 2);
    let o = 0;
    messages.forEach((m, i) => {
      bytes.set(m, o);
      descriptors[i * 2] = o;
      descriptors[i * 2 + 1] = m.length;
      o += m.length;
    });
    return this.submitUpdates(peer, ctx, sab, descriptors);
  }

  /** Removes all of a peer's paths, after every batch submitted before. */
  flushPeer(peer: number): Promise<BatchResult> {
    return this.run({ kind: 'flush', seq: this.seq++, peer, how: 'all' }, peer);
  }

  /** Graceful restart (RFC 4724 §4.2): keeps a peer's paths, marked stale. */
  markStale(peer: number): Promise<BatchResult> {
    return this.run({ kind: 'flush', seq: this.seq++, peer, how: 'mark' }, peer);
  }

  /** Removes the paths of a peer that its new session did not announce again. */
  sweepStale(peer: number): Promise<BatchResult> {
    return this.run({ kind: 'flush', seq: this.seq++, peer, how: 'stale' }, peer);
  }

  /**
   * Tasks go to the pool in sequence order and never more than one per worker: a batch waits
   * for the previous one at every shard, so a batch queued behind a waiting one (Piscina does
   * not promise FIFO dispatch) would never run.
   */
  private run(task: RibTask, peer: number, watch?: UpdateWatch): Promise<BatchResult> {
    if (this.inFlight++ === 0) this.lane.ribActive(true);
    this.lastSeq[peer] = task.seq;
    return new Promise<BatchResult>((resolve) => {
      this.queue.push({ task, peer, resolve, watch });
      this.pump();
    });
  }

  /**
   * The attribute index is half full: no batch is handed out until those running are done and
   * it has been doubled (lock-free interning cannot move sets while workers probe for them).
   */
  private growing = false;
  /** The most attribute sets the running batches may still add (newSetsAtMost). */
  private mayIntern = 0;

  private pump(): void {
    // The events' thread is far behind: nothing new until it catches up (it pumps again).
    if (this.lane.full) return;
    while (this.running < this.workers && this.queue.length) {
      const need = newSetsAtMost(this.queue[0].task);
      const slots = this.views.attrIndex.length;
      if (slots < INDEX_SLOTS_MAX && (this.growing || this.views.attributeSets + this.mayIntern + need > slots * INDEX_LOAD_MAX)) {
        if (this.running > 0) return; // finish() pumps again
        this.growIndex();
        continue;
      }
      const q = this.queue.shift()!;
      q.mayIntern = need;
      this.mayIntern += need;
      this.running++;
      this.pool.run(q.task).then(
        (out: BatchResult | Uint32Array) => {
          const r = out instanceof Uint32Array ? unpackResult(out) : out;
          this.finish(q, q.lost ? this.recovered(q, r) : r.error ? this.checked(q, r) : r);
        },
        (e) => this.lost(q, e),
      );
    }
  }

  /** A task no longer runs (it ended, or its worker was lost): its share of the index is free. */
  private stopped(q: Queued): void {
    this.running--;
    this.mayIntern -= q.mayIntern ?? 0;
    q.mayIntern = 0;
  }

  private growIndex(): void {
    const t = performance.now();
    const slots = growAttrIndex(this.views);
    this.growing = false;
    try {
      this.emit('attributeIndexGrown', slots, this.views.attributeSets, performance.now() - t);
    } catch (e) {
      this.emit('listenerError', e);
    }
  }

  /** A result with an error: a failure of the RIB in a shard turn is counted and reported. */
  private checked(q: Queued, r: BatchResult): BatchResult {
    if (r.error!.internal) this.fault({ peer: q.peer, seq: q.task.seq, task: q.task.kind === 'flush' ? 'flush' : 'updates', how: 'shard', detail: r.error!.detail });
    return r;
  }

  /**
   * The task's worker died, or the task threw out of its shard loop: the shard turns it still
   * held or waited for are taken and released by a recovery task, ahead of everything queued
   * (every later batch waits for them). A lost batch of UPDATEs ends as Cease / Out of
   * Resources for its peer, whose session is reset and its paths flushed.
   */
  private lost(q: Queued, e: unknown): void {
    const detail = String((e as Error)?.message ?? e);
    const task = q.lost?.task ?? (q.task.kind === 'flush' ? 'flush' : 'updates');
    if (!q.lost) this.fault({ peer: q.peer, seq: q.task.seq, task, how: 'died', detail });
    const tries = (q.lost?.tries ?? 0) + 1;
    if (tries > RECOVERY_TRIES) {
      // The shards behind it stay blocked: said once more, then handed on as an error.
      this.fault({ peer: q.peer, seq: q.task.seq, task, how: 'died', detail: `recovery failed ${RECOVERY_TRIES} times, the RIB is stalled: ${detail}` });
      this.finish(q, { ...emptyResult(), error: { code: 6, subcode: 8, data: [], detail, internal: true } });
      return;
    }
    this.stopped(q);
    const redo = q.task.kind === 'flush' ? q.task.how : q.task.kind === 'recover' ? q.task.redo : undefined;
    this.queue.unshift({ task: { kind: 'recover', seq: q.task.seq, peer: q.peer, redo }, peer: q.peer, resolve: q.resolve, lost: { task, detail: q.lost?.detail ?? detail, tries } });
    this.pump();
  }

  /** The result of a recovered task: a batch of UPDATEs as an error for its peer. */
  private recovered(q: Queued, r: BatchResult): BatchResult {
    if (q.lost!.task === 'flush') return r;
    return { ...r, error: { code: 6, subcode: 8, data: [], detail: `RIB worker fault: ${q.lost!.detail}`, internal: true } };
  }

  private fault(f: WorkerFault): void {
    this.faults++;
    this.faulted.add(f.peer);
    try {
      this.emit('workerFault', f);
    } catch (e) {
      this.emit('listenerError', e);
    }
  }

  /**
   * A task's result, handed on ('changes', 'updates') with those before it in sequence order.
   * A batch's promise resolves at once; a flush's in that order too, after every batch before
   * it (what a peer's path count after a flush needs).
   */
  private finish(q: Queued, result: BatchResult): void {
    this.stopped(q);
    if (--this.inFlight === 0) this.lane.ribActive(false);
    if (this.views.attributeSets * 2 > this.views.attrIndex.length) this.growing = true;
    // The next batch goes to the free worker before this one's changes are exported, so the
    // workers are not idle while the main thread packs UPDATEs.
    this.pump();
    const t = q.task;
    const flush = t.kind === 'flush' || (t.kind === 'recover' && t.redo !== undefined);
    const flushAll = t.kind === 'flush' ? t.how === 'all' : t.kind === 'recover' && t.redo === 'all';
    // A watched batch's received UPDATEs are copied before its ring is given back (q.resolve).
    const watched =
      q.watch !== undefined && t.kind === 'updates' && result.received > 0 && this.listenerCount('updates') > 0
        ? { copy: this.lane.arena.copy(t.buffer, t.descriptors, result.received), ctx: t.ctx, watch: q.watch }
        : undefined;
    this.done.set(t.seq, { result, peer: q.peer, flush: flush ? q.resolve : undefined, flushAll, watched });
    // What the batches handed on below wrote is then within this thread's views.
    this.views.sync();
    while (this.done.has(this.nextToEmit)) {
      const at = this.nextToEmit;
      const d = this.done.get(at)!;
      this.done.delete(this.nextToEmit++);
      if (d.flushAll && this.faulted.has(d.peer) && this.lastSeq[d.peer] === at) this.emptied(d.peer);
      try {
        this.emit('changes', d.result, d.peer);
      } catch (e) {
        // A listener's failure must not stop the batches after this one from being handed on.
        this.emit('listenerError', e);
      }
      if (d.watched) this.lane.add(d.peer, d.watched.ctx, d.watched.copy, d.watched.watch);
      d.flush?.(d.result);
      while (this.barriers.length && this.barriers[0][0] <= this.nextToEmit) {
        try {
          this.barriers.shift()![1]();
        } catch (e) {
          this.emit('listenerError', e);
        }
      }
    }
    if (!flush) q.resolve(result);
  }

  /**
   * A peer that lost a batch has had its paths flushed, with no task of it after the flush:
   * it holds no path. Its count is set right, in case the worker died between a path and its
   * count.
   */
  private emptied(peer: number): void {
    this.faulted.delete(peer);
    Atomics.store(this.views.peers, peer * PEER_WORDS + PEER_PATHS, 0);
  }

  /**
   * Resolves once every batch submitted before the call has been applied and its changes
   * handed on: a reader of shared memory then sees all of them (BMP's table after a tap).
   */
  applied(): Promise<void> {
    return new Promise((resolve) => this.afterHandedOn(resolve));
  }

  async close(): Promise<void> {
    for (const [, fn] of this.barriers.splice(0)) fn(); // nobody waits past the end
    await this.lane.close();
    await this.pool.destroy();
  }
}
