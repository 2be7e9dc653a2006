// The main thread's side of the RIB: a Piscina pool of workers over the shared RIB, batch
// sequence numbers, and best-path changes handed on in sequence order.

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { pack } from 'msgpackr';
import type { Policy } from '../policy/policy.js';
import { emptyResult, unpackResult, type BatchResult, type PeerContext, type PolicyRef } from './apply.js';
import {
  allocateRib,
  DEFAULT_SIZING,
  MAX_PEERS,
  PEER_ADDR,
  PEER_AS,
  PEER_FLAGS,
  PEER_ID,
  PEER_LIMIT,
  PEER_WORDS,
  PF_ALLOWAS_SHIFT,
  PF_IBGP,
  PF_RR_CLIENT,
  RibViews,
  type RibBuffers,
  type RibSizing,
} from './memory.js';
import { UpdateEventBatch, type UpdateEventMode, type UpdateWatch } from './events.js';
import type { RibTask, RibTaskOutput } from './worker.js';

/**
 * Worker threads load compiled JavaScript. Run from the TypeScript sources (the tests), this
 * module finds the build of the same tree in dist/ (npm test builds it first).
 */
function workerUrl(): string {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/src/rib/worker.js', here).href : new URL('./worker.js', here).href;
}

export interface RibOptions {
  localAs: number;
  /** Our BGP Identifier as u32: the cluster id when reflecting routes. */
  routerId?: number;
  workers?: number;
  sizing?: Partial<RibSizing>;
  alwaysCompareMed?: boolean;
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
   * The UPDATEs of one batch as received (events.ts), while watchUpdates() asks for them:
   * right after the batch's 'changes', so the RIB already holds what they brought.
   */
  updates: [peer: number, events: UpdateEventBatch];
  /** A 'changes' or 'updates' listener threw. */
  listenerError: [error: unknown];
}

export class RibPipeline extends EventEmitter<RibPipelineEvents> {
  readonly buffers: RibBuffers;
  readonly views: RibViews;
  readonly pool: Piscina;
  readonly workers: number;
  private seq = 0;
  private nextToEmit = 0;
  private readonly done = new Map<number, { result: BatchResult; peer: number; events?: string }>();
  private inFlight = 0;
  private running = 0;
  private readonly queue: Array<{ task: RibTask; peer: number; resolve: (r: BatchResult) => void }> = [];
  private readonly freePeers: number[] = [];
  private nextPeer = 1; // peer index 0 means "none"

  constructor(opts: RibOptions) {
    super();
    this.buffers = allocateRib(opts.localAs, { ...DEFAULT_SIZING, ...opts.sizing }, opts.alwaysCompareMed ?? false, opts.routerId ?? 0);
    this.views = new RibViews(this.buffers);
    this.workers = opts.workers ?? Math.max(1, availableParallelism());
    const options = {
      filename: workerUrl(),
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: 60_000,
      // Batches block on each other's shard turns: more than one per thread could deadlock.
      concurrentTasksPerWorker: 1,
      workerData: { rib: this.buffers },
      // Workers keep their data in shared memory and allocate little of their own: a small
      // young generation keeps their heaps from growing to V8's defaults.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    };
    // Piscina require()s the worker file first and import()s it when that fails; the preload
    // and the first task can do so at once, and Node 20's require(esm) then aborts the
    // process. Without require(esm) both import. A process started with options a worker may
    // not take (--expose-gc: `ribstorm plan`'s probes) keeps the inherited ones.
    try {
      this.pool = new Piscina({ ...options, execArgv: [...process.execArgv, '--no-experimental-require-module'] });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
      this.pool = new Piscina(options);
    }
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
   * Asks the workers for an 'updates' event per batch submitted from now on ('decoded' or
   * 'raw'), or for none ('off', the default: no decoding at all), on behalf of `who` (the
   * route stream, a NATS feed...): batches carry what the most demanding watcher asks, and
   * none once every watcher said 'off'. Batches already submitted keep their mode.
   */
  watchUpdates(mode: UpdateEventMode, who: object = this): void {
    if (mode === 'off') this.watchers.delete(who);
    else this.watchers.set(who, mode);
    let m: UpdateEventMode = 'off';
    for (const w of this.watchers.values()) if (w === 'raw' || m === 'off') m = w;
    this.watch = m;
  }

  /** Callbacks waiting for a batch to be handed on: [seq, fn], in seq order. */
  private readonly barriers: Array<[number, () => void]> = [];

  /**
   * Runs `fn` once every batch submitted so far has been handed on ('changes' and 'updates'
   * emitted), right after the last of them, synchronously: what it does lands between those
   * batches' events and the next ones (a peer's going down after its last UPDATEs).
   */
  afterHandedOn(fn: () => void): void {
    if (this.nextToEmit >= this.seq) fn();
    else this.barriers.push([this.seq, fn]);
  }

  /** Applies the UPDATEs at `descriptors` (offset, length pairs) in `buffer` for `peer`. */
  submitUpdates(peer: number, ctx: PeerContext, buffer: SharedArrayBuffer, descriptors: Uint32Array): Promise<BatchResult> {
    if (this.watch === 'off') return this.run({ kind: 'updates', seq: this.seq++, peer, ctx, buffer, descriptors }, peer);
    const watch: UpdateWatch = { raw: this.watch === 'raw', time: Date.now() / 1000 };
    return this.run({ kind: 'updates', seq: this.seq++, peer, ctx, buffer, descriptors, watch }, peer);
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
  private run(task: RibTask, peer: number): Promise<BatchResult> {
    this.inFlight++;
    return new Promise<BatchResult>((resolve) => {
      this.queue.push({ task, peer, resolve });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.workers && this.queue.length) {
      const { task, peer, resolve } = this.queue.shift()!;
      this.running++;
      this.pool.run(task).then(
        (r: BatchResult | Uint32Array | RibTaskOutput) => {
          if (r instanceof Uint32Array) this.finish(task.seq, peer, unpackResult(r), resolve);
          else if ('events' in r) this.finish(task.seq, peer, r.result instanceof Uint32Array ? unpackResult(r.result) : r.result, resolve, r.events);
          else this.finish(task.seq, peer, r, resolve);
        },
        // A worker failure must not stall later batches or lose the error.
        (e) => this.finish(task.seq, peer, { ...emptyResult(), error: { code: 6, subcode: 8, data: [], detail: String(e) } }, resolve),
      );
    }
  }

  private finish(seq: number, peer: number, result: BatchResult, resolve: (r: BatchResult) => void, events?: string): void {
    this.running--;
    this.inFlight--;
    // The next batch goes to the free worker before this one's changes are exported, so the
    // workers are not idle while the main thread packs UPDATEs.
    this.pump();
    this.done.set(seq, { result, peer, events });
    while (this.done.has(this.nextToEmit)) {
      const d = this.done.get(this.nextToEmit)!;
      this.done.delete(this.nextToEmit++);
      try {
        this.emit('changes', d.result, d.peer);
      } catch (e) {
        // A listener's failure must not stop the batches after this one from being handed on.
        this.emit('listenerError', e);
      }
      if (d.events !== undefined && this.listenerCount('updates') > 0) {
        try {
          this.emit('updates', d.peer, new UpdateEventBatch(d.events));
        } catch (e) {
          this.emit('listenerError', e);
        }
      }
      while (this.barriers.length && this.barriers[0][0] <= this.nextToEmit) {
        try {
          this.barriers.shift()![1]();
        } catch (e) {
          this.emit('listenerError', e);
        }
      }
    }
    resolve(result);
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
    await this.pool.destroy();
  }
}
