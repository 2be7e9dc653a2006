// Applying a batch of UPDATEs to the RIB, in two phases. Phase 1 (parallel across workers):
// walk the UPDATE bytes, intern attribute sets and turn prefixes into per-shard operations.
// Phase 2 (ordered): visit every shard in turn; a batch takes a shard only after the previous
// batch released it, so one peer's announcements and withdrawals apply in the order sent,
// while different batches work on different shards at the same time.

import {
  AttrType,
  BgpError,
  decodeUpdate,
  encodeAttribute,
  mergeAs4,
  type PathAttribute,
} from '../packet/index.js';
import { internAttributes, lastError, NEEDS_CODEC, SESSION_RESET, TREAT_AS_WITHDRAW } from './attrs.js';
import { selectBest } from './decision.js';
import {
  H_PATHS,
  H_SEQ,
  HEADER_WORDS,
  P_ATTR,
  P_PEER,
  PATH_WORDS,
  prefixHash,
  S_ADDR,
  S_BEST,
  S_LEN,
  SLOT_WORDS,
  type RibViews,
} from './memory.js';
import { removePath, removePeer, slotFor, TOUCHED, upsertPath } from './shard.js';

export const CHANGE_WORDS = 5;
const RESULT_HEADER = 4;

/** A result without error as one array: counts, then the change records. */
export function packResult(r: BatchResult): Uint32Array {
  const out = new Uint32Array(RESULT_HEADER + r.changes.length);
  out[0] = r.announced;
  out[1] = r.withdrawn;
  out[2] = r.treatedAsWithdraw;
  out[3] = r.pathDelta | 0;
  out.set(r.changes, RESULT_HEADER);
  return out;
}

export function unpackResult(a: Uint32Array): BatchResult {
  return { announced: a[0], withdrawn: a[1], treatedAsWithdraw: a[2], pathDelta: a[3] | 0, changes: a.subarray(RESULT_HEADER) };
}

/**
 * Change records ordered by attribute id (stable), so prefixes that will share an UPDATE are
 * adjacent when the Adj-RIB-Out packs them.
 */
export function sortByAttribute(c: Uint32Array): Uint32Array {
  const n = c.length / CHANGE_WORDS;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = c[i * CHANGE_WORDS + 2] * 4294967296 + i;
  keys.sort();
  const out = new Uint32Array(c.length);
  for (let j = 0; j < n; j++) {
    const i = keys[j] % 4294967296;
    out.set(c.subarray(i * CHANGE_WORDS, (i + 1) * CHANGE_WORDS), j * CHANGE_WORDS);
  }
  return out;
}

/** One operation: shard, network, length | WITHDRAW, path id, attribute id. */
const OP_WORDS = 5;
const WITHDRAW = 0x100;

export interface BatchResult {
  /**
   * Best-path changes, CHANGE_WORDS per prefix: network, length, best attribute id (0: no
   * route left), the best path's peer, and where the prefix lives (shard << 22 | slot).
   */
  changes: Uint32Array;
  announced: number;
  withdrawn: number;
  treatedAsWithdraw: number;
  /** Paths this peer gained (negative: lost) in its Adj-RIB-In. */
  pathDelta: number;
  /** A session-level error in this batch: the NOTIFICATION for the peer, and where it stopped. */
  error?: { code: number; subcode: number; data: number[]; detail: string };
}

export class BatchApplier {
  private ops = new Uint32Array(OP_WORDS * 65536);
  private sorted = new Uint32Array(OP_WORDS * 65536);
  private nOps = 0;
  private readonly counts: Int32Array;
  private changes = new Uint32Array(CHANGE_WORDS * 4096);
  private nChanges = 0;
  private touched = new Int32Array(4096);
  private touchedBest = new Uint32Array(4096 * 2);
  private nTouched = 0;
  private pathDelta = 0;

  constructor(private readonly v: RibViews) {
    this.counts = new Int32Array(v.buffers.sizing.shards + 1);
  }

  private pushOp(shard: number, addr: number, lenFlags: number, pathId: number, attr: number): void {
    if ((this.nOps + 1) * OP_WORDS > this.ops.length) {
      const bigger = new Uint32Array(this.ops.length * 2);
      bigger.set(this.ops);
      this.ops = bigger;
      this.sorted = new Uint32Array(bigger.length);
    }
    const o = this.nOps++ * OP_WORDS;
    this.ops[o] = shard;
    this.ops[o + 1] = addr;
    this.ops[o + 2] = lenFlags;
    this.ops[o + 3] = pathId;
    this.ops[o + 4] = attr;
  }

  /** IPv4 prefixes in b[start, end), as operations (RFC 4271 §4.3; RFC 7911 when addPath). */
  private prefixes(b: Uint8Array, start: number, end: number, addPath: boolean, attr: number, withdraw: boolean): number {
    const mask = this.v.shardMask;
    let p = start;
    let n = 0;
    while (p < end) {
      let pathId = 0;
      if (addPath) {
        pathId = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
        p += 4;
      }
      const len = b[p++];
      if (len > 32 || p + ((len + 7) >> 3) > end) throw new BgpError(3, 10, undefined, `prefix length ${len}`);
      let addr = 0;
      const bytes = (len + 7) >> 3;
      for (let i = 0; i < 4; i++) addr = (addr << 8) | (i < bytes ? b[p + i] : 0);
      p += bytes;
      addr = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
      this.pushOp(prefixHash(addr, len) & mask, addr, withdraw ? len | WITHDRAW : len, pathId, attr);
      n++;
    }
    return n;
  }

  /**
   * Phase 1 for one UPDATE message msg = b[off, off+len). Returns the number of prefixes
   * treated as withdrawn (RFC 7606), or throws BgpError for a session-level error.
   */
  private parse(b: Uint8Array, off: number, len: number, peerFlags: PeerContext, result: BatchResult): void {
    const end = off + len;
    let p = off + 19;
    const wLen = (b[p] << 8) | b[p + 1];
    p += 2;
    if (p + wLen + 2 > end) throw new BgpError(3, 1, undefined, 'withdrawn routes length overruns the message');
    result.withdrawn += this.prefixes(b, p, p + wLen, peerFlags.addPath, 0, true);
    p += wLen;
    const aLen = (b[p] << 8) | b[p + 1];
    p += 2;
    const aStart = p;
    const aEnd = p + aLen;
    if (aEnd > end) throw new BgpError(3, 1, undefined, 'path attribute length overruns the message');
    if (aEnd === end) {
      if (aLen > 0) this.fromCodec(b, off, len, peerFlags, result); // attributes only: MP_REACH/UNREACH
      return;
    }
    let attr = peerFlags.asn4 ? internAttributes(this.v, b, aStart, aEnd, peerFlags.ebgp, true) : NEEDS_CODEC;
    if (attr === NEEDS_CODEC) {
      this.fromCodec(b, off, len, peerFlags, result);
      return;
    }
    if (attr === SESSION_RESET) throw new BgpError(lastError.code, lastError.subcode, undefined, lastError.detail);
    const taw = attr === TREAT_AS_WITHDRAW;
    const n = this.prefixes(b, aEnd, end, peerFlags.addPath, taw ? 0 : attr, taw);
    if (taw) result.treatedAsWithdraw += n;
    else result.announced += n;
  }

  /**
   * The general path through the full codec: 2-octet-AS peers (AS4_PATH merged back),
   * repeated attributes, MP_REACH/MP_UNREACH. The IPv4 part goes on as usual; other families
   * are decoded and checked but not yet kept (IPv4 unicast RIB only).
   */
  private fromCodec(b: Uint8Array, off: number, len: number, peer: PeerContext, result: BatchResult): void {
    const msg = b.subarray(off, off + len);
    const u = decodeUpdate(msg, { asn4: peer.asn4, ebgp: peer.ebgp, addPath: { ipv4: peer.addPath } });
    const toOps = (prefixes: Array<{ prefix: string; pathId?: number }>, attr: number, withdraw: boolean) => {
      for (const { prefix, pathId } of prefixes) {
        const [a, l] = prefix.split('/');
        const addr = a.split('.').reduce((x, o) => ((x << 8) | Number(o)) >>> 0, 0);
        const length = Number(l);
        this.pushOp(prefixHash(addr, length) & this.v.shardMask, addr, withdraw ? length | WITHDRAW : length, pathId ?? 0, attr);
      }
    };
    toOps(u.withdrawn, 0, true);
    result.withdrawn += u.withdrawn.length;
    if (u.nlri.length === 0) return;
    if (u.treatAsWithdraw) {
      toOps(u.nlri, 0, true);
      result.treatedAsWithdraw += u.nlri.length;
      return;
    }
    // Re-encode as a 4-octet-AS block without MP attributes: the form every interned set has.
    const attrs: PathAttribute[] = mergeAs4(u.attributes, peer.asn4).filter(
      (a) => a.type !== AttrType.MP_REACH_NLRI && a.type !== AttrType.MP_UNREACH_NLRI,
    );
    const block = Buffer.concat(attrs.map((a) => encodeAttribute(a, { asn4: true })));
    const attr = internAttributes(this.v, block, 0, block.length, peer.ebgp, true);
    if (attr <= 0) {
      toOps(u.nlri, 0, true);
      result.treatedAsWithdraw += u.nlri.length;
      return;
    }
    toOps(u.nlri, attr, false);
    result.announced += u.nlri.length;
  }

  /** Runs a batch: parse every message, then apply shard by shard in sequence order `seq`. */
  applyUpdates(seq: number, peer: number, ctx: PeerContext, buf: Uint8Array, descriptors: Uint32Array): BatchResult {
    const result: BatchResult = { changes: new Uint32Array(0), announced: 0, withdrawn: 0, treatedAsWithdraw: 0, pathDelta: 0 };
    this.nOps = 0;
    try {
      for (let i = 0; i < descriptors.length; i += 2) this.parse(buf, descriptors[i], descriptors[i + 1], ctx, result);
    } catch (e) {
      const err = e instanceof BgpError ? e : new BgpError(6, 8, undefined, String((e as Error)?.stack ?? e));
      // The operations parsed before the error still apply: the session is reset and the
      // peer's routes flushed after this batch anyway.
      result.error = { code: err.code, subcode: err.subcode, data: [...err.data], detail: err.message };
    }
    this.applyOps(seq, peer, result);
    return result;
  }

  /** Removes every path of a peer whose session went down (in sequence like any batch). */
  flushPeer(seq: number, peer: number): BatchResult {
    const result: BatchResult = { changes: new Uint32Array(0), announced: 0, withdrawn: 0, treatedAsWithdraw: 0, pathDelta: 0 };
    this.beginChanges();
    this.visitShards(seq, result, (s) => removePeer(this.v, s, peer, (slot) => this.touch(s, slot)));
    result.changes = this.sortedChanges();
    return result;
  }

  private applyOps(seq: number, peer: number, result: BatchResult): void {
    const shards = this.v.buffers.sizing.shards;
    // Counting sort by shard keeps each shard's operations in arrival order.
    const counts = this.counts;
    counts.fill(0);
    for (let i = 0; i < this.nOps; i++) counts[this.ops[i * OP_WORDS] + 1]++;
    for (let s = 0; s < shards; s++) counts[s + 1] += counts[s];
    const starts = counts.slice(0, shards + 1);
    for (let i = 0; i < this.nOps; i++) {
      const s = this.ops[i * OP_WORDS];
      this.sorted.set(this.ops.subarray(i * OP_WORDS, i * OP_WORDS + OP_WORDS), counts[s]++ * OP_WORDS);
    }
    this.beginChanges();
    this.pathDelta = 0;
    this.visitShards(seq, result, (s) => {
      for (let i = starts[s]; i < starts[s + 1]; i++) this.applyOne(s, i * OP_WORDS, peer);
    });
    result.pathDelta = this.pathDelta;
    result.changes = this.sortedChanges();
  }

  /**
   * Takes every shard's turn for batch `seq` in order and runs `work` on it. Every shard is
   * released even after a failure, or all later batches would wait forever.
   */
  private visitShards(seq: number, result: BatchResult, work: (shard: number) => void): void {
    for (let s = 0; s < this.v.buffers.sizing.shards; s++) {
      this.waitTurn(s, seq);
      try {
        if (result.error?.code === 6) continue; // a local failure: skip the rest, keep the order
        this.nTouched = 0;
        work(s);
        this.settle(s);
      } catch (e) {
        result.error = { code: 6, subcode: 8, data: [], detail: `RIB: ${(e as Error).message}` };
      } finally {
        this.releaseTurn(s, seq);
      }
    }
  }

  private applyOne(s: number, o: number, peer: number): void {
    const ops = this.sorted;
    const addr = ops[o + 1];
    const lenFlags = ops[o + 2];
    const len = lenFlags & 0xff;
    const v = this.v;
    const slot = slotFor(v, s, addr, len);
    this.touch(s, slot);
    if (lenFlags & WITHDRAW) {
      if (removePath(v, s, slot, peer, ops[o + 3])) this.pathDelta--;
    } else {
      const before = v.headers[s * HEADER_WORDS + H_PATHS];
      upsertPath(v, s, slot, peer, ops[o + 3], ops[o + 4]);
      if (v.headers[s * HEADER_WORDS + H_PATHS] !== before) this.pathDelta++;
    }
  }

  private touch(s: number, slot: number): void {
    // Remember each prefix's best before its first change in this batch; the TOUCHED bit in
    // its length word marks it until settle() (lookups mask it out).
    const slots = this.v.slots[s];
    const o = slot * SLOT_WORDS;
    if (slots[o + S_LEN] & TOUCHED) return;
    slots[o + S_LEN] |= TOUCHED;
    if (this.nTouched === this.touched.length) {
      const t = new Int32Array(this.touched.length * 2);
      t.set(this.touched);
      this.touched = t;
      const b = new Uint32Array(this.touchedBest.length * 2);
      b.set(this.touchedBest);
      this.touchedBest = b;
    }
    const best = slots[o + S_BEST];
    const paths = this.v.paths[s];
    this.touched[this.nTouched] = slot;
    this.touchedBest[this.nTouched * 2] = best ? paths[best * PATH_WORDS + P_ATTR] : 0;
    this.touchedBest[this.nTouched * 2 + 1] = best ? paths[best * PATH_WORDS + P_PEER] & 0xffff : 0;
    this.nTouched++;
  }

  /** Re-runs the decision for every prefix touched in shard s and records real changes. */
  private settle(s: number): void {
    const v = this.v;
    const slots = v.slots[s];
    const paths = v.paths[s];
    for (let t = 0; t < this.nTouched; t++) {
      const slot = this.touched[t];
      const o = slot * SLOT_WORDS;
      slots[o + S_LEN] &= ~TOUCHED;
      const best = selectBest(v, paths, slots[o + 3]);
      slots[o + S_BEST] = best;
      const attr = best ? paths[best * PATH_WORDS + P_ATTR] : 0;
      const from = best ? paths[best * PATH_WORDS + P_PEER] & 0xffff : 0;
      if (attr === this.touchedBest[t * 2] && from === this.touchedBest[t * 2 + 1]) continue;
      this.addChange(slots[o + S_ADDR], slots[o + S_LEN] - 1, attr, from, (s << 22) | slot);
    }
  }

  /** Sorting here costs the workers, not the main thread that packs the UPDATEs. */
  private sortedChanges(): Uint32Array {
    return sortByAttribute(this.changes.subarray(0, this.nChanges * CHANGE_WORDS));
  }

  private beginChanges(): void {
    this.nChanges = 0;
  }

  private addChange(addr: number, len: number, attr: number, peer: number, ref: number): void {
    if ((this.nChanges + 1) * CHANGE_WORDS > this.changes.length) {
      const c = new Uint32Array(this.changes.length * 2);
      c.set(this.changes);
      this.changes = c;
    }
    const o = this.nChanges++ * CHANGE_WORDS;
    this.changes[o] = addr;
    this.changes[o + 1] = len;
    this.changes[o + 2] = attr;
    this.changes[o + 3] = peer;
    this.changes[o + 4] = ref >>> 0;
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

export interface PeerContext {
  asn4: boolean;
  ebgp: boolean;
  addPath: boolean;
}
