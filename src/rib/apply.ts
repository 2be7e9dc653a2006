// Applying a batch of UPDATEs to the RIB, in two phases. Phase 1 (parallel across workers):
// check and parse the UPDATE bytes (parse.ts), intern attribute sets, turn prefixes into
// per-shard operations and run the import rules over them (importRules.ts). Phase 2 (ordered):
// visit every shard in turn; a batch takes a shard only after the previous batch released it,
// so one peer's announcements and withdrawals apply in the order sent, while different batches
// work on different shards at the same time.

import { BgpError } from '../packet/index.js';
import { decideWithAdded, lostEarly, selectBest } from './decision.js';
import { ImportRules } from './importRules.js';
import {
  H_PATHS,
  H_SEQ,
  HEADER_WORDS,
  IPV6,
  keyHash,
  P_ATTR,
  P_PEER,
  PATH_WORDS,
  PEER_LIMIT,
  PEER_PATHS,
  PEER_RESET,
  PEER_WORDS,
  type RibViews,
} from './memory.js';
import { faultShard, injectFault, type FaultHow } from './fault.js';
import { FAMILY_SHIFT, OP_WORDS, Ops, WITHDRAW } from './ops.js';
import { UpdateParser, type PeerContext } from './parse.js';
import { CHANGE_WORDS, C_ATTR, C_KEY, C_LEN, C_PEER, C_PREV_ATTR, C_PREV_PEER, C_REF, emptyResult, type BatchResult } from './result.js';
import { rebuildShard } from './repair.js';
import { markStale, removePath, removePeer, slotFor, TOUCHED, upsertPath } from './shard.js';

export * from './result.js';
export type { PeerContext, PolicyRef } from './parse.js';

/** What a batch did to a prefix it touched, as settle() decides it again. */
const TOUCHED_NONE = 0; // nothing the decision looks at (an unchanged path, a withdrawal of none)
const TOUCHED_LOST_EARLY = 1; // paths removed that had lost in the first three steps
const TOUCHED_ADDED = 2; // one path added (touchedRec), or one that had lost early replaced
const TOUCHED_FULL = 3; // anything else: every step again

/** `a` copied into a new array of the same kind, `n` long. */
function grown<T extends Uint8Array | Int32Array | Uint32Array>(a: T, n: number): T {
  const g = new (a.constructor as new (n: number) => T)(n);
  g.set(a);
  return g;
}

export class BatchApplier {
  private readonly ops = new Ops();
  private readonly parser: UpdateParser;
  private readonly rules: ImportRules;
  private sorted = new Uint32Array(OP_WORDS * 65536);
  private readonly counts: Int32Array;
  private readonly starts: Int32Array;
  private changes = new Uint32Array(CHANGE_WORDS * 4096);
  private nChanges = 0;
  private touched = new Int32Array(4096);
  private touchedFamily = new Uint8Array(4096);
  /** What the batch did to each touched prefix (Touched*), the record concerned, the best path record before. */
  private touchedKind = new Uint8Array(4096);
  private touchedRec = new Int32Array(4096);
  private touchedBestRec = new Int32Array(4096);
  /** Per family, a touched slot's index in touched[] (valid while its TOUCHED bit is set). */
  private readonly touchAt: Int32Array[];
  private readonly key = new Uint32Array(4);
  private touchedBest = new Uint32Array(4096 * 2);
  private nTouched = 0;
  private pathDelta = 0;
  private pathDelta6 = 0;
  /** A fault to inject into the next batch (fault.ts, tests only); null otherwise. */
  fault: FaultHow | null = null;
  /**
   * Speaker mode: prefixes a batch changes are marked and decided again at the end of their
   * shard's turn. Collector mode (`RibBuffers.collector`): nothing is marked, no best path is
   * chosen, no change is recorded; paths, counts, limits and stale marks are kept as ever.
   */
  private readonly decide: boolean;

  constructor(private readonly v: RibViews) {
    this.decide = !v.buffers.collector;
    this.counts = new Int32Array(v.buffers.sizing.shards + 1);
    this.starts = new Int32Array(v.buffers.sizing.shards + 1);
    this.parser = new UpdateParser(v, this.ops);
    this.touchAt = v.families.map((f) => new Int32Array(f.mask + 1));
    this.rules = new ImportRules(v, this.ops);
  }

  /**
   * Runs a batch: check and parse every message, then apply shard by shard in sequence order
   * `seq`. All or nothing: a message that ends the session leaves the whole batch unapplied,
   * and so does every later batch of the peer until its paths are flushed (RFC 4271 §6: the
   * session is closed at once; what it sent after the error does not count).
   */
  applyUpdates(seq: number, peer: number, ctx: PeerContext, buf: Uint8Array, descriptors: Uint32Array): BatchResult {
    const result = emptyResult();
    this.ops.n = 0;
    let i = 0;
    try {
      for (; i < descriptors.length; i += 2) this.parser.parse(buf, descriptors[i], descriptors[i + 1], ctx, result);
    } catch (e) {
      const err = e instanceof BgpError ? e : new BgpError(6, 8, undefined, String((e as Error)?.stack ?? e));
      result.error = { code: err.code, subcode: err.subcode, data: [...err.data], detail: err.message };
      this.ops.n = 0;
      // Before this batch takes its first shard turn: every later batch of the peer sees it.
      Atomics.store(this.v.peers, peer * PEER_WORDS + PEER_RESET, 1);
    }
    result.received = i >> 1;
    if (ctx.maxAsPath && this.ops.n) this.rules.maxAsPath(ctx.maxAsPath, result);
    if (ctx.otc && this.ops.n) this.rules.otc(ctx.otc, ctx.ebgp, result);
    if (ctx.policy && this.ops.n) this.rules.policy(ctx.policy, ctx.ebgp, result);
    this.applyOps(seq, peer, result);
    return result;
  }

  /**
   * Removes every path of a peer whose session went down, or with `how` 'stale' only those
   * still stale (graceful restart sweep), or with 'mark' keeps them all marked stale. In
   * sequence like any batch.
   */
  flushPeer(seq: number, peer: number, how: 'all' | 'stale' | 'mark' = 'all'): BatchResult {
    const result = emptyResult();
    this.beginChanges();
    this.visitShards(seq, result, (s) => this.flushShard(s, peer, how, result));
    result.changes = this.changes.subarray(0, this.nChanges * CHANGE_WORDS);
    return result;
  }

  private flushShard(s: number, peer: number, how: 'all' | 'stale' | 'mark', result: BatchResult): void {
    // Every batch before this one has passed shard 0: the peer's next session starts clean.
    if (s === 0) Atomics.store(this.v.peers, peer * PEER_WORDS + PEER_RESET, 0);
    for (const f of this.v.families) {
      const before = this.v.headers[s * HEADER_WORDS + H_PATHS];
      if (how === 'mark') markStale(this.v, f, s, peer);
      else removePeer(this.v, f, s, peer, (slot) => this.touchFull(f.id, s, slot), how === 'stale');
      // The shard is ours for this turn: what its path count lost were this peer's paths.
      const lost = before - this.v.headers[s * HEADER_WORDS + H_PATHS];
      Atomics.sub(this.v.peers, peer * PEER_WORDS + PEER_PATHS, lost);
      result.pathDelta -= lost;
      if (f.id === IPV6) result.pathDelta6 -= lost;
    }
  }

  /**
   * Completes batch `seq` after the worker running it died or threw out of its shard loop:
   * takes the turns it had not released (a shard whose H_SEQ is already past `seq` was done),
   * rebuilds the first of them, where it may have stopped half-way (repair.ts), and releases
   * them, so the batches behind it go on. A flush is completed (`redo`): its peer's session
   * is gone already. A batch of UPDATEs is not: the pipeline resets the peer's session.
   */
  recover(seq: number, peer: number, redo?: 'all' | 'stale' | 'mark'): BatchResult {
    const result = emptyResult();
    this.beginChanges();
    let rebuilt = false;
    for (let s = 0; s < this.v.buffers.sizing.shards; s++) {
      if (((Atomics.load(this.v.headers, s * HEADER_WORDS + H_SEQ) - seq) | 0) > 0) continue;
      this.waitTurn(s, seq);
      this.v.syncPaths(s); // the last holder of the turn may have grown its records
      try {
        this.nTouched = 0;
        if (!rebuilt) {
          rebuilt = true;
          rebuildShard(this.v, s, (f, slot) => this.touchFull(f.id, s, slot));
        }
        if (redo) this.flushShard(s, peer, redo, result);
        this.settle(s);
      } catch (e) {
        result.error = { code: 6, subcode: 8, data: [], detail: `RIB: ${(e as Error).message}`, internal: true };
      } finally {
        this.releaseTurn(s, seq);
      }
    }
    result.changes = this.changes.subarray(0, this.nChanges * CHANGE_WORDS);
    return result;
  }

  private applyOps(seq: number, peer: number, result: BatchResult): void {
    const shards = this.v.buffers.sizing.shards;
    const starts = this.sortByShard();
    this.beginChanges();
    this.pathDelta = 0;
    this.pathDelta6 = 0;
    this.batchPeer = peer;
    this.limited = Atomics.load(this.v.peers, peer * PEER_WORDS + PEER_LIMIT) !== 0;
    this.now = Math.floor(Date.now() / 1000); // the time of every path this batch changes
    this.refused = 0;
    this.refused6 = 0;
    let apply = this.ops.n > 0;
    const fault = this.fault;
    this.fault = null;
    const faultAt = fault === null ? -1 : faultShard(fault, starts, shards);
    const faultIn = fault === 'shard' || fault === 'exit' ? faultAt : -1;
    this.visitShards(seq, result, (s) => {
      // A batch of this peer found an error before us: its session is ending (see PEER_RESET),
      // and nothing of this batch counts, not even what nothing would be applied for.
      if (s === 0 && !result.error && Atomics.load(this.v.peers, peer * PEER_WORDS + PEER_RESET) !== 0) {
        apply = false;
        result.received = 0;
      }
      if (!apply) return;
      // An injected fault (tests) stops after half the shard's operations.
      const end = s === faultIn ? (starts[s] + starts[s + 1] + 1) >> 1 : starts[s + 1];
      try {
        this.readAhead(s, starts[s], end);
        for (let i = starts[s]; i < end; i++) this.applyOne(s, i * OP_WORDS, peer);
      } finally {
        this.countPeerPaths();
      }
      if (s === faultIn) injectFault(fault!);
    }, fault === 'throw' ? faultAt : -1);
    result.pathDelta = this.pathDelta;
    result.pathDelta6 = this.pathDelta6;
    result.filtered += this.refused;
    result.filtered6 += this.refused6;
    result.changes = this.changes.subarray(0, this.nChanges * CHANGE_WORDS);
  }

  /**
   * Copies the batch's operations into `sorted`, grouped by shard, each shard's in arrival
   * order (a counting sort); returns where each shard's operations start (`shards + 1`
   * entries, valid until the next batch).
   */
  private sortByShard(): Int32Array {
    const shards = this.v.buffers.sizing.shards;
    const ops = this.ops.words;
    const n = this.ops.n;
    const counts = this.counts;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[ops[i * OP_WORDS] + 1]++;
    for (let s = 0; s < shards; s++) counts[s + 1] += counts[s];
    this.starts.set(counts);
    if (this.sorted.length < ops.length) this.sorted = new Uint32Array(ops.length);
    const sorted = this.sorted;
    for (let i = 0; i < n; i++) {
      const from = i * OP_WORDS;
      const to = counts[ops[from]]++ * OP_WORDS;
      for (let w = 0; w < OP_WORDS; w++) sorted[to + w] = ops[from + w];
    }
    return this.starts;
  }

  /**
   * Reads the first slot each of the shard's operations `from` to `to` will look at, one after
   * another before any is applied: their cache misses overlap instead of coming one per
   * operation. Leaves each key's hash in word 0 of its sorted operation (the shard is known).
   */
  private readAhead(s: number, from: number, to: number): void {
    const ops = this.sorted;
    const k = this.key;
    let sink = 0;
    for (let i = from; i < to; i++) {
      const o = i * OP_WORDS;
      const lenFlags = ops[o + 1];
      const f = this.v.families[lenFlags >>> FAMILY_SHIFT];
      k[0] = ops[o + 2];
      k[1] = ops[o + 3];
      k[2] = ops[o + 4];
      k[3] = ops[o + 5];
      const hash = keyHash(f.id, k, lenFlags & 0xff);
      ops[o] = hash;
      sink |= f.slots[s][((hash >>> 6) & f.mask) * f.words + f.lenAt];
    }
    this.readAheadSink = sink;
  }

  /** What readAhead() read, kept (and public) so that the compiler cannot drop the reads. */
  readAheadSink = 0;

  /**
   * Takes every shard's turn for batch `seq` in order and runs `work` on it. Every shard is
   * released even after a failure, or all later batches would wait forever.
   */
  private visitShards(seq: number, result: BatchResult, work: (shard: number) => void, throwAfter = -1): void {
    for (let s = 0; s < this.v.buffers.sizing.shards; s++) {
      this.waitTurn(s, seq);
      this.v.syncPaths(s); // the last holder of the turn may have grown its records
      try {
        if (result.error?.code === 6) continue; // a local failure: skip the rest, keep the order
        this.nTouched = 0;
        work(s);
        this.settle(s);
      } catch (e) {
        result.error = { code: 6, subcode: 8, data: [], detail: `RIB: ${(e as Error).message}`, internal: true };
        this.repair(s);
      } finally {
        this.releaseTurn(s, seq);
      }
      if (s === throwAfter) injectFault('throw');
    }
  }

  /**
   * The shard a failure stopped half-way, made whole before its turn is released: the best
   * paths of what it touched chosen again, its counts and free list rebuilt (repair.ts).
   */
  private repair(s: number): void {
    try {
      this.settle(s);
    } catch {
      // rebuildShard below finds what settle() left marked
    }
    this.nTouched = 0;
    rebuildShard(this.v, s, (f, slot) => this.touchFull(f.id, s, slot));
    this.settle(s);
  }

  private applyOne(s: number, o: number, peer: number): void {
    const ops = this.sorted;
    const lenFlags = ops[o + 1];
    const len = lenFlags & 0xff;
    const v = this.v;
    const f = v.families[lenFlags >>> FAMILY_SHIFT];
    const k = this.key;
    k[0] = ops[o + 2];
    k[1] = ops[o + 3];
    k[2] = ops[o + 4];
    k[3] = ops[o + 5];
    const slot = slotFor(v, f, s, k, len, ops[o]);
    const t = this.touch(f.id, s, slot);
    if (lenFlags & WITHDRAW) {
      const r = removePath(v, f, s, slot, peer, ops[o + 6]);
      if (r !== 0) {
        this.pathDelta--;
        if (f.id === IPV6) this.pathDelta6--;
        this.peerPaths--;
        // A path that lost in the first three steps never met the others: the best stays.
        if (t >= 0) {
          const kind = this.touchedKind[t];
          const early = (kind === TOUCHED_NONE || kind === TOUCHED_LOST_EARLY) && r !== this.touchedBestRec[t] && lostEarly(v.paths[s][r * PATH_WORDS + P_PEER]);
          this.touchedKind[t] = early ? TOUCHED_LOST_EARLY : TOUCHED_FULL;
        }
      }
    } else {
      const before = v.headers[s * HEADER_WORDS + H_PATHS];
      // With a limit, admit() counts the new path; without one it is counted here.
      if (this.limited) this.admitFamily = f.id;
      const r = upsertPath(v, f, s, slot, peer, ops[o + 6], ops[o + 7], this.now, this.limited ? this.admit : undefined);
      if (v.headers[s * HEADER_WORDS + H_PATHS] !== before) {
        this.pathDelta++;
        if (f.id === IPV6) this.pathDelta6++;
        if (!this.limited) this.peerPaths++;
      }
      if (r !== 0 && t >= 0) {
        // One path added, or one that had lost in the first three steps replaced: decided
        // against the best alone (decideWithAdded); anything more, by every step.
        const rec = Math.abs(r);
        const one = this.touchedKind[t] === TOUCHED_NONE && (r > 0 || (rec !== this.touchedBestRec[t] && lostEarly(v.paths[s][rec * PATH_WORDS + P_PEER])));
        this.touchedKind[t] = one ? TOUCHED_ADDED : TOUCHED_FULL;
        this.touchedRec[t] = rec;
      }
    }
  }

  /**
   * Paths the batch's peer gained (negative: lost) in the shard turn in hand and not yet in its
   * PEER_PATHS: added once per turn rather than with an atomic operation per path.
   */
  private peerPaths = 0;

  private countPeerPaths(): void {
    if (this.peerPaths === 0) return;
    Atomics.add(this.v.peers, this.batchPeer * PEER_WORDS + PEER_PATHS, this.peerPaths);
    this.peerPaths = 0;
  }

  /** The peer of the batch being applied has a max-prefix block (PEER_LIMIT); its paths are counted in PEER_PATHS. */
  private limited = false;
  /** This batch's time, seconds since the epoch: what a path it adds or changes records. */
  private now = 0;
  /** The peer whose batch is being applied. */
  private batchPeer = 0;
  private refused = 0;
  private refused6 = 0;
  /** The family of the path admit() is asked about. */
  private admitFamily = 0;

  /** Admits one more path of a blocked peer while it holds fewer than its limit (exact across workers). */
  private readonly admit = (): boolean => {
    this.countPeerPaths(); // the batch's own withdrawals so far count
    const at = this.batchPeer * PEER_WORDS;
    const peers = this.v.peers;
    if (Atomics.add(peers, at + PEER_PATHS, 1) < peers[at + PEER_LIMIT]) return true;
    Atomics.sub(peers, at + PEER_PATHS, 1);
    this.refused++;
    if (this.admitFamily === IPV6) this.refused6++;
    return false;
  };

  /** Touched by something other than one UPDATE's path (a flush, a repair): decided by every step. */
  private touchFull(fam: number, s: number, slot: number): void {
    const t = this.touch(fam, s, slot);
    if (t >= 0) this.touchedKind[t] = TOUCHED_FULL;
  }

  /** The prefix's index among those touched in this shard turn (-1 in collector mode). */
  private touch(fam: number, s: number, slot: number): number {
    if (!this.decide) return -1; // collector mode: nothing to decide again, nothing to record
    // Remember each prefix's best before its first change in this batch; the TOUCHED bit in
    // its length word marks it until settle() (lookups mask it out).
    const f = this.v.families[fam];
    const slots = f.slots[s];
    const o = slot * f.words;
    if (slots[o + f.lenAt] & TOUCHED) return this.touchAt[fam][slot];
    slots[o + f.lenAt] |= TOUCHED;
    if (this.nTouched === this.touched.length) {
      const n = this.touched.length * 2;
      this.touched = grown(this.touched, n);
      this.touchedFamily = grown(this.touchedFamily, n);
      this.touchedBest = grown(this.touchedBest, n * 2);
      this.touchedKind = grown(this.touchedKind, n);
      this.touchedRec = grown(this.touchedRec, n);
      this.touchedBestRec = grown(this.touchedBestRec, n);
    }
    const best = slots[o + f.bestAt];
    const paths = this.v.paths[s];
    this.touched[this.nTouched] = slot;
    this.touchedFamily[this.nTouched] = fam;
    this.touchedBest[this.nTouched * 2] = best ? paths[best * PATH_WORDS + P_ATTR] : 0;
    this.touchedBest[this.nTouched * 2 + 1] = best ? paths[best * PATH_WORDS + P_PEER] & 0xffff : 0;
    this.touchedBestRec[this.nTouched] = best;
    this.touchedKind[this.nTouched] = TOUCHED_NONE;
    this.touchAt[fam][slot] = this.nTouched;
    return this.nTouched++;
  }

  /** Re-runs the decision for every prefix touched in shard s and records real changes. */
  private settle(s: number): void {
    const v = this.v;
    const paths = v.paths[s];
    for (let t = 0; t < this.nTouched; t++) {
      const slot = this.touched[t];
      const f = v.families[this.touchedFamily[t]];
      const slots = f.slots[s];
      const o = slot * f.words;
      slots[o + f.lenAt] &= ~TOUCHED;
      const before = this.touchedBestRec[t];
      const kind = this.touchedKind[t];
      const best =
        kind === TOUCHED_NONE || kind === TOUCHED_LOST_EARLY
          ? before // nothing the decision looks at changed, or only what lost before MED
          : kind === TOUCHED_ADDED && before !== 0
            ? decideWithAdded(v, paths, slots[o + f.headAt], before, this.touchedRec[t])
            : selectBest(v, paths, slots[o + f.headAt]);
      slots[o + f.bestAt] = best;
      const attr = best ? paths[best * PATH_WORDS + P_ATTR] : 0;
      const from = best ? paths[best * PATH_WORDS + P_PEER] & 0xffff : 0;
      if (attr === this.touchedBest[t * 2] && from === this.touchedBest[t * 2 + 1]) continue;
      this.addChange(f.id, slots, o, f.keyWords, slots[o + f.lenAt] - 1, attr, from, (s << 22) | slot, this.touchedBest[t * 2], this.touchedBest[t * 2 + 1]);
    }
  }



  private beginChanges(): void {
    this.nChanges = 0;
  }

  private addChange(fam: number, slots: Uint32Array, o: number, keyWords: number, len: number, attr: number, peer: number, ref: number, prevAttr: number, prevPeer: number): void {
    if ((this.nChanges + 1) * CHANGE_WORDS > this.changes.length) {
      const c = new Uint32Array(this.changes.length * 2);
      c.set(this.changes);
      this.changes = c;
    }
    const c = this.changes;
    const at = this.nChanges++ * CHANGE_WORDS;
    c[at + C_LEN] = len | (fam << 8);
    for (let w = 0; w < 4; w++) c[at + C_KEY + w] = w < keyWords ? slots[o + w] : 0;
    c[at + C_ATTR] = attr;
    c[at + C_PEER] = peer;
    c[at + C_REF] = ref >>> 0;
    c[at + C_PREV_ATTR] = prevAttr;
    c[at + C_PREV_PEER] = prevPeer;
  }

  private waitTurn(s: number, seq: number): void {
    const h = this.v.headers;
    const i = s * HEADER_WORDS + H_SEQ;
    for (;;) {
      const cur = Atomics.load(h, i);
      if (cur === seq) return;
      Atomics.wait(h, i, cur, 100);
    }
  }

  private releaseTurn(s: number, seq: number): void {
    const i = s * HEADER_WORDS + H_SEQ;
    Atomics.store(this.v.headers, i, seq + 1);
    Atomics.notify(this.v.headers, i);
  }
}
