// Applying a batch of UPDATEs to the RIB, in two phases. Phase 1 (parallel across workers):
// walk the UPDATE bytes, intern attribute sets and turn prefixes into per-shard operations.
// Phase 2 (ordered): visit every shard in turn; a batch takes a shard only after the previous
// batch released it, so one peer's announcements and withdrawals apply in the order sent,
// while different batches work on different shards at the same time.

import {
  AttrFlag,
  AttrType,
  BgpError,
  decodeUpdate,
  encodeAttribute,
  mergeAs4,
  parsePrefix,
  UpdateSubcode,
  type PathAttribute,
  type Prefix,
} from '../packet/index.js';
import { unpack } from 'msgpackr';
import { OnError } from '../packet/attr/table.js';
import { checkAttributes, type AttrContext } from '../packet/attr/validate.js';
import { attrBytes, u32Attribute, withAttribute } from '../packet/attr/walk.js';
import type { OtcIngress } from '../policy/otc.js';
import { attributeBytes, internAttributes, lastIntern, NEEDS_CODEC, SESSION_RESET, TREAT_AS_WITHDRAW, verdict } from './attrs.js';
import { selectBest } from './decision.js';
import {
  H_PATHS,
  H_SEQ,
  HEADER_WORDS,
  IPV4,
  IPV6,
  keyHash,
  P_ATTR,
  P_PEER,
  F_HAS_OTC,
  M_FLAGS,
  META_WORDS,
  PATH_WORDS,
  PEER_LIMIT,
  PEER_PATHS,
  PEER_RESET,
  PEER_WORDS,
  prefixHash,
  type RibViews,
} from './memory.js';
import { markStale, removePath, removePeer, slotFor, TOUCHED, upsertPath } from './shard.js';
import { applyActions, attributesMatch, prefixMatches, type Policy } from '../policy/policy.js';

/**
 * A best-path change: length | family << 8, the network (4 words; IPv4 uses the first), the
 * best path's attribute id (0: no route left) and peer, where the prefix lives
 * (shard << 22 | slot), and the best path it replaces (attribute id, peer).
 */
export const CHANGE_WORDS = 10;
export const C_LEN = 0;
export const C_KEY = 1;
export const C_ATTR = 5;
export const C_PEER = 6;
export const C_REF = 7;
/** The best path before this change (what every Adj-RIB-Out last exported from). */
export const C_PREV_ATTR = 8;
export const C_PREV_PEER = 9;

/** The counts a batch reports, in the order they travel in front of its change records. */
const COUNTS = [
  'announced',
  'withdrawn',
  'treatedAsWithdraw',
  'pathDelta',
  'filtered',
  'tawUpdates4',
  'tawUpdates6',
  'tawPrefixes6',
  'discarded4',
  'discarded6',
] as const;
type Count = (typeof COUNTS)[number];
const RESULT_HEADER = COUNTS.length;

export function emptyResult(): BatchResult {
  const r = { changes: new Uint32Array(0), problems: [] } as unknown as BatchResult;
  for (const k of COUNTS) r[k] = 0;
  return r;
}

/**
 * A result without error or problems as one array to transfer: counts, then the change records
 * sorted by attribute (the one copy made of them).
 */
export function packResult(r: BatchResult): Uint32Array {
  const out = sortByAttribute(r.changes, RESULT_HEADER);
  COUNTS.forEach((k, i) => (out[i] = r[k] | 0));
  return out;
}

export function unpackResult(a: Uint32Array): BatchResult {
  const r = emptyResult();
  COUNTS.forEach((k, i) => (r[k] = k === 'pathDelta' ? a[i] | 0 : a[i]));
  r.changes = a.subarray(RESULT_HEADER);
  return r;
}

/**
 * Change records ordered by attribute id (stable), so prefixes that will share an UPDATE are
 * adjacent when the Adj-RIB-Out packs them; `lead` words are left free in front.
 */
export function sortByAttribute(c: Uint32Array, lead = 0): Uint32Array {
  const n = c.length / CHANGE_WORDS;
  const out = new Uint32Array(lead + c.length);
  const put = (i: number, j: number) => out.set(c.subarray(i * CHANGE_WORDS, (i + 1) * CHANGE_WORDS), lead + j * CHANGE_WORDS);
  // One float sort on attribute id * 2^bits + position: exact while the key fits in 53 bits
  // (32-bit ids, up to 2^21 records); larger sets take a stable comparison sort.
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (bits <= 21) {
    const scale = 2 ** bits;
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = c[i * CHANGE_WORDS + C_ATTR] * scale + i;
    keys.sort();
    for (let j = 0; j < n; j++) put(keys[j] % scale, j);
    return out;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => c[a * CHANGE_WORDS + C_ATTR] - c[b * CHANGE_WORDS + C_ATTR] || a - b);
  order.forEach((i, j) => put(i, j));
  return out;
}

/** One operation: shard, length | WITHDRAW | family << 9, network (4 words), path id, attribute id. */
const OP_WORDS = 8;
const WITHDRAW = 0x100;
const FAMILY_SHIFT = 9;

export interface BatchResult extends Record<Count, number> {
  /**
   * Best-path changes, CHANGE_WORDS per prefix (see C_*). From BatchApplier a view of its
   * scratch, valid until the next batch; packResult sorts and copies them once.
   */
  changes: Uint32Array;
  /** Prefixes announced / withdrawn in the batch's UPDATEs (after RFC 7606, before policy). */
  announced: number;
  withdrawn: number;
  /** IPv4 prefixes handled as withdrawn under RFC 7606 (IPv6: tawPrefixes6). */
  treatedAsWithdraw: number;
  /** Paths this peer gained (negative: lost) in its Adj-RIB-In. */
  pathDelta: number;
  /** Announcements the import policy (or RFC 8212, or a max-prefix block) kept out. */
  filtered: number;
  /** RFC 7606 outcomes per family: UPDATEs treated as withdraw, attributes discarded. */
  tawUpdates4: number;
  tawUpdates6: number;
  discarded4: number;
  discarded6: number;
  /** What RFC 7606 found, one line per problem (at most a few per batch), for the log. */
  problems: string[];
  /** A session-level error in this batch: the NOTIFICATION for the peer. Nothing of the batch is applied. */
  error?: { code: number; subcode: number; data: number[]; detail: string };
}

const be32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** Problems reported per batch; the counters hold the rest. */
const MAX_PROBLEMS = 4;

export class BatchApplier {
  private ops = new Uint32Array(OP_WORDS * 65536);
  private sorted = new Uint32Array(OP_WORDS * 65536);
  private nOps = 0;
  private readonly counts: Int32Array;
  private changes = new Uint32Array(CHANGE_WORDS * 4096);
  private nChanges = 0;
  private touched = new Int32Array(4096);
  private touchedFamily = new Uint8Array(4096);
  private readonly key = new Uint32Array(4);
  private touchedBest = new Uint32Array(4096 * 2);
  private nTouched = 0;
  private pathDelta = 0;

  constructor(private readonly v: RibViews) {
    this.counts = new Int32Array(v.buffers.sizing.shards + 1);
  }

  private pushOp(shard: number, lenFlags: number, k0: number, k1: number, k2: number, k3: number, pathId: number, attr: number): void {
    if ((this.nOps + 1) * OP_WORDS > this.ops.length) {
      const bigger = new Uint32Array(this.ops.length * 2);
      bigger.set(this.ops);
      this.ops = bigger;
      this.sorted = new Uint32Array(bigger.length);
    }
    const o = this.nOps++ * OP_WORDS;
    const ops = this.ops;
    ops[o] = shard;
    ops[o + 1] = lenFlags;
    ops[o + 2] = k0;
    ops[o + 3] = k1;
    ops[o + 4] = k2;
    ops[o + 5] = k3;
    ops[o + 6] = pathId;
    ops[o + 7] = attr;
  }

  /**
   * IPv4 prefixes in b[start, end), as operations (RFC 4271 §4.3; RFC 7911 when addPath).
   * A prefix longer than 32 bits or running past the field ends the session (RFC 7606 §5.3),
   * checked exactly as the codec's decodeNlri checks it.
   */
  private prefixes(b: Uint8Array, start: number, end: number, addPath: boolean, attr: number, withdraw: boolean): number {
    const mask = this.v.shardMask;
    let p = start;
    let n = 0;
    while (p < end) {
      let pathId = 0;
      if (addPath) {
        if (p + 4 > end) throw new BgpError(3, UpdateSubcode.InvalidNetworkField, undefined, 'truncated path identifier');
        pathId = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
        p += 4;
      }
      if (p >= end) throw new BgpError(3, UpdateSubcode.InvalidNetworkField, undefined, 'truncated prefix');
      const len = b[p++];
      if (len > 32) throw new BgpError(3, UpdateSubcode.InvalidNetworkField, undefined, `prefix length ${len}`);
      const bytes = (len + 7) >> 3;
      if (p + bytes > end) throw new BgpError(3, UpdateSubcode.InvalidNetworkField, undefined, 'prefix overruns its field');
      let addr = 0;
      for (let i = 0; i < 4; i++) addr = (addr << 8) | (i < bytes ? b[p + i] : 0);
      p += bytes;
      addr = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
      this.pushOp(prefixHash(addr, len) & mask, withdraw ? len | WITHDRAW : len, addr, 0, 0, 0, pathId, attr);
      n++;
    }
    return n;
  }

  /** Prefixes decoded by the codec (text form), as operations of their family. */
  private prefixOps(list: Prefix[], attr: number, withdraw: boolean): void {
    const k = this.key;
    for (const { prefix, pathId } of list) {
      const { afi, bytes, length } = parsePrefix(prefix);
      const fam = afi === 2 ? IPV6 : IPV4;
      const words = fam === IPV6 ? 4 : 1;
      k.fill(0);
      // Only the network bits count: clear the rest so equal prefixes meet in one slot.
      for (let w = 0; w < words; w++) {
        const bits = Math.min(32, Math.max(0, length - 32 * w));
        const word = ((bytes[w * 4] << 24) | (bytes[w * 4 + 1] << 16) | (bytes[w * 4 + 2] << 8) | bytes[w * 4 + 3]) >>> 0;
        k[w] = bits === 0 ? 0 : bits === 32 ? word : (word & (0xffffffff << (32 - bits))) >>> 0;
      }
      const shard = keyHash(fam, k, length) & this.v.shardMask;
      this.pushOp(shard, length | (withdraw ? WITHDRAW : 0) | (fam << FAMILY_SHIFT), k[0], k[1], k[2], k[3], pathId ?? 0, attr);
    }
  }

  private attrContext(peer: PeerContext): AttrContext {
    return { asn4: true, ebgp: peer.ebgp, addPath: { ipv4: peer.addPath, ipv6: peer.addPath6 } };
  }

  private problem(result: BatchResult, text: string): void {
    if (result.problems.length < MAX_PROBLEMS) result.problems.push(text);
  }

  /**
   * The attribute set of an IPv4 UPDATE's block b[start, end), checked (RFC 7606) whatever the
   * peer's import: an id (> 0); 0 when valid but not kept (import denied); or
   * TREAT_AS_WITHDRAW / NEEDS_CODEC / SESSION_RESET.
   */
  private attributeSet(b: Uint8Array, start: number, end: number, peer: PeerContext, result: BatchResult): number {
    let r: number;
    let checked = true;
    if (peer.import === undefined || peer.import === 'accept') {
      r = internAttributes(this.v, b, start, end, this.attrContext(peer));
      checked = lastIntern.checked;
    } else {
      const c = checkAttributes(b, start, end, this.attrContext(peer), true, verdict);
      r = c.verdict === OnError.Reset ? SESSION_RESET : c.mpReach >= 0 || c.mpUnreach >= 0 ? NEEDS_CODEC : c.verdict === OnError.TreatAsWithdraw ? TREAT_AS_WITHDRAW : 0;
    }
    if (!checked || r === NEEDS_CODEC) return r;
    if (r === SESSION_RESET) throw new BgpError(3, verdict.subcode, verdict.data, verdict.reason);
    result.discarded4 += verdict.discarded.length;
    for (const p of verdict.problems) this.problem(result, p);
    return r;
  }

  /**
   * Phase 1 for one UPDATE message msg = b[off, off+len): checks it whole (RFC 4271 §6.3,
   * RFC 7606) and turns it into operations, or throws BgpError for a session-level error.
   * The checks run in the codec's order: lengths, withdrawn routes, NLRI, attributes.
   */
  private parse(b: Uint8Array, off: number, len: number, peer: PeerContext, result: BatchResult): void {
    if (!peer.asn4) {
      this.fromCodec(b, off, len, peer, result); // AS4_PATH merged back (RFC 6793)
      return;
    }
    const mark = this.nOps;
    const end = off + len;
    let p = off + 19;
    const wLen = (b[p] << 8) | b[p + 1];
    p += 2;
    if (p + wLen + 2 > end) throw new BgpError(3, UpdateSubcode.MalformedAttributeList, undefined, 'withdrawn routes length overruns the message');
    const wStart = p;
    p += wLen;
    const aLen = (b[p] << 8) | b[p + 1];
    p += 2;
    const aStart = p;
    const aEnd = p + aLen;
    if (aEnd > end) throw new BgpError(3, UpdateSubcode.MalformedAttributeList, undefined, 'path attribute length overruns the message');
    if (aEnd === end) {
      // No NLRI field: withdrawals only, or MP_REACH / MP_UNREACH (the codec takes those).
      if (aLen > 0) this.fromCodec(b, off, len, peer, result);
      else {
        const withdrawn = this.prefixes(b, wStart, wStart + wLen, peer.addPath, 0, true);
        if (peer.import === 'deny') this.nOps = mark;
        else result.withdrawn += withdrawn;
      }
      return;
    }
    // RFC 4271 §6.3 in the codec's order: attributes, then the Withdrawn Routes and NLRI fields.
    const attr = this.attributeSet(b, aStart, aEnd, peer, result);
    if (attr === NEEDS_CODEC) {
      this.fromCodec(b, off, len, peer, result);
      return;
    }
    const withdrawn = this.prefixes(b, wStart, wStart + wLen, peer.addPath, 0, true);
    const nlriAt = this.nOps;
    const announced = this.prefixes(b, aEnd, end, peer.addPath, 0, false);
    if (peer.import === 'deny') {
      this.nOps = mark; // RFC 8212 / reject: nothing of this peer is kept
      if (attr >= 0) result.filtered += announced;
      return;
    }
    result.withdrawn += withdrawn;
    if (attr === TREAT_AS_WITHDRAW) {
      result.tawUpdates4++;
      result.treatedAsWithdraw += announced;
      this.setAnnouncements(nlriAt, 0);
    } else {
      result.announced += announced;
      this.setAnnouncements(nlriAt, attr);
    }
  }

  /** The operations from `from` on get attribute set `attr`; 0 makes them withdrawals. */
  private setAnnouncements(from: number, attr: number): void {
    const ops = this.ops;
    for (let i = from; i < this.nOps; i++) {
      const o = i * OP_WORDS;
      ops[o + 7] = attr;
      if (attr === 0) ops[o + 1] |= WITHDRAW;
    }
  }

  /**
   * The general path through the full codec: 2-octet-AS peers (AS4_PATH merged back), and
   * IPv6 in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760). Same checks, same verdicts.
   */
  private fromCodec(b: Uint8Array, off: number, len: number, peer: PeerContext, result: BatchResult): void {
    const msg = b.subarray(off, off + len);
    const u = decodeUpdate(msg, { asn4: peer.asn4, ebgp: peer.ebgp, addPath: { ipv4: peer.addPath, ipv6: peer.addPath6 } });
    const unreach = u.attributes.find((a) => a.type === AttrType.MP_UNREACH_NLRI) as { afi: number; safi: number; withdrawn: Prefix[] } | undefined;
    const reach = u.attributes.find((a) => a.type === AttrType.MP_REACH_NLRI) as { afi: number; safi: number; nextHops: string[]; nlri: Prefix[] } | undefined;
    const unicast = (m?: { afi: number; safi: number }) => !!m && (m.afi === 1 || m.afi === 2) && m.safi === 1;
    const reach4 = unicast(reach) && reach!.afi === 1 ? reach!.nlri.length : 0;
    const reach6 = unicast(reach) && reach!.afi === 2 ? reach!.nlri.length : 0;
    for (const p of u.problems) this.problem(result, p);
    // Discards count in the family the UPDATE carries.
    if (reach6 || (unicast(unreach) && unreach!.afi === 2)) result.discarded6 += u.discarded.length;
    else result.discarded4 += u.discarded.length;
    const announced = [...u.nlri, ...(unicast(reach) ? reach!.nlri : [])];
    if (u.treatAsWithdraw && announced.length) {
      if (u.nlri.length + reach4) result.tawUpdates4++;
      if (reach6) result.tawUpdates6++;
      result.treatedAsWithdraw += u.nlri.length + reach4;
      result.tawPrefixes6 += reach6;
    }
    if (peer.import === 'deny') {
      if (!u.treatAsWithdraw) result.filtered += announced.length;
      return;
    }
    const withdrawn = [...u.withdrawn, ...(unicast(unreach) ? unreach!.withdrawn : [])];
    this.prefixOps(withdrawn, 0, true);
    result.withdrawn += withdrawn.length;
    if (announced.length === 0) return;
    if (u.treatAsWithdraw) {
      this.prefixOps(announced, 0, true);
      return;
    }
    // Interned sets hold 4-octet AS numbers and no NLRI: the form every stored path has.
    const common: PathAttribute[] = mergeAs4(u.attributes, peer.asn4).filter(
      (a) => a.type !== AttrType.MP_REACH_NLRI && a.type !== AttrType.MP_UNREACH_NLRI,
    );
    const intern = (attrs: PathAttribute[], fam: number) => {
      const block = Buffer.concat(attrs.map((a) => encodeAttribute(a, { asn4: true })));
      return internAttributes(this.v, block, 0, block.length, { asn4: true, ebgp: peer.ebgp }, fam, true);
    };
    if (u.nlri.length) {
      this.prefixOps(u.nlri, intern(common, IPV4), false);
      result.announced += u.nlri.length;
    }
    if (unicast(reach) && reach!.nlri.length) {
      // The MP_REACH next hop is part of the path: kept as an MP_REACH_NLRI without NLRI.
      const nh: PathAttribute = { type: AttrType.MP_REACH_NLRI, flags: AttrFlag.Optional, afi: reach!.afi, safi: 1, nextHops: reach!.nextHops, nlri: [] };
      this.prefixOps(reach!.nlri, intern([...common.filter((a) => a.type !== AttrType.NEXT_HOP), nh], reach!.afi === 2 ? IPV6 : IPV4), false);
      result.announced += reach!.nlri.length;
    }
  }

  /**
   * Runs a batch: check and parse every message, then apply shard by shard in sequence order
   * `seq`. All or nothing: a message that ends the session leaves the whole batch unapplied,
   * and so does every later batch of the peer until its paths are flushed (RFC 4271 §6: the
   * session is closed at once; what it sent after the error does not count).
   */
  applyUpdates(seq: number, peer: number, ctx: PeerContext, buf: Uint8Array, descriptors: Uint32Array): BatchResult {
    const result = emptyResult();
    this.nOps = 0;
    try {
      for (let i = 0; i < descriptors.length; i += 2) this.parse(buf, descriptors[i], descriptors[i + 1], ctx, result);
    } catch (e) {
      const err = e instanceof BgpError ? e : new BgpError(6, 8, undefined, String((e as Error)?.stack ?? e));
      result.error = { code: err.code, subcode: err.subcode, data: [...err.data], detail: err.message };
      this.nOps = 0;
      // Before this batch takes its first shard turn: every later batch of the peer sees it.
      Atomics.store(this.v.peers, peer * PEER_WORDS + PEER_RESET, 1);
    }
    if (ctx.otc && this.nOps) this.ingressOtc(ctx.otc, ctx.ebgp, result);
    if (ctx.policy && this.nOps) this.importPolicy(ctx.policy, ctx.ebgp, result);
    this.applyOps(seq, peer, result);
    return result;
  }

  /** Per neighbor AS: attribute sets with OTC added (RFC 9234 §5), and OTC values read. */
  private readonly otcMarked = new Map<number, Map<number, number>>();
  private readonly otcValue = new Map<number, number>();

  /**
   * RFC 9234 §5 ingress: a route leak (OTC from a customer or RS-client, or from a peer with an
   * OTC other than its AS) is filtered; a route without OTC from a provider, peer or route
   * server gets OTC = the neighbor's AS.
   */
  private ingressOtc(otc: OtcIngress, ebgp: boolean, result: BatchResult): void {
    const ops = this.ops;
    const meta = this.v.attrMeta;
    let marked = this.otcMarked.get(otc.asn);
    if (!marked) this.otcMarked.set(otc.asn, (marked = new Map()));
    if (marked.size > 65536) marked.clear();
    if (this.otcValue.size > 65536) this.otcValue.clear();
    for (let i = 0; i < this.nOps; i++) {
      const o = i * OP_WORDS;
      const attr = ops[o + 7];
      if (ops[o + 1] & WITHDRAW || attr === 0) continue;
      if (meta[attr * META_WORDS + M_FLAGS] & F_HAS_OTC) {
        let value = this.otcValue.get(attr);
        if (value === undefined) this.otcValue.set(attr, (value = u32Attribute(attributeBytes(this.v, attr), AttrType.OTC)));
        if (otc.leak === 'any' || (otc.leak === 'not-peer-as' && value !== otc.asn)) {
          ops[o + 1] |= WITHDRAW; // a leak: as if withdrawn, so an earlier path of it goes too
          ops[o + 7] = 0;
          result.filtered++;
        }
        continue;
      }
      if (!otc.mark) continue;
      let next = marked.get(attr);
      if (next === undefined) {
        const block = withAttribute(attributeBytes(this.v, attr), attrBytes(AttrFlag.Optional | AttrFlag.Transitive, AttrType.OTC, be32(otc.asn)));
        next = internAttributes(this.v, block, 0, block.length, { asn4: true, ebgp }, ops[o + 1] >>> FAMILY_SHIFT, true);
        marked.set(attr, next);
      }
      ops[o + 7] = next;
    }
  }

  /** Per policy (by its id): attribute-condition results and rewritten attribute sets. */
  private readonly policyCache = new Map<number, { policy: Policy; match: Map<number, boolean>; rewritten: Map<number, number> }>();

  private policyFor(ref: PolicyRef) {
    let cache = this.policyCache.get(ref.id);
    if (!cache) {
      if (this.policyCache.size > 64) this.policyCache.clear();
      this.policyCache.set(ref.id, (cache = { policy: unpack(new Uint8Array(ref.bytes).slice()) as Policy, match: new Map(), rewritten: new Map() }));
    }
    return cache;
  }

  /**
   * The import policy over this batch's announcements: the first rule that matches decides;
   * a rejected prefix becomes a withdrawal, an accepted one may get a rewritten attribute set
   * (interned like any other).
   */
  private importPolicy(ref: PolicyRef, ebgp: boolean, result: BatchResult): void {
    const cache = this.policyFor(ref);
    const policy = cache.policy;
    const ops = this.ops;
    const rules = policy.rules;
    const nRules = rules.length;
    for (let i = 0; i < this.nOps; i++) {
      const o = i * OP_WORDS;
      const attr = ops[o + 7];
      if (ops[o + 1] & WITHDRAW || attr === 0) continue;
      const fam = ops[o + 1] >>> FAMILY_SHIFT;
      const len = ops[o + 1] & 0xff;
      let decided = -1;
      for (let r = 0; r < nRules && decided < 0; r++) {
        if (!prefixMatches(rules[r], fam, ops.subarray(o + 2, o + 6), len)) continue;
        const mk = attr * nRules + r;
        let m = cache.match.get(mk);
        if (m === undefined) cache.match.set(mk, (m = attributesMatch(rules[r], attributeBytes(this.v, attr))));
        if (m) decided = r;
      }
      const rule = decided >= 0 ? rules[decided] : null;
      if ((rule ? rule.action : policy.default) === 'reject') {
        ops[o + 1] |= WITHDRAW; // filtered: as if withdrawn, so an earlier accepted path goes too
        ops[o + 7] = 0;
        result.filtered++;
        continue;
      }
      if (!rule) continue;
      const rk = attr * nRules + decided;
      let next = cache.rewritten.get(rk);
      if (next === undefined) {
        const src = attributeBytes(this.v, attr);
        const block = applyActions(rule, src, this.v.buffers.localAs);
        // Our own policy's output: stored as written (a LOCAL_PREF it sets counts even on eBGP).
        next = block === src ? attr : internAttributes(this.v, Buffer.from(block), 0, block.length, { asn4: true, ebgp }, fam, true);
        cache.rewritten.set(rk, next);
      }
      if (next > 0) ops[o + 7] = next;
    }
  }

  /**
   * Removes every path of a peer whose session went down, or with `how` 'stale' only those
   * still stale (graceful restart sweep), or with 'mark' keeps them all marked stale. In
   * sequence like any batch.
   */
  flushPeer(seq: number, peer: number, how: 'all' | 'stale' | 'mark' = 'all'): BatchResult {
    const result = emptyResult();
    this.beginChanges();
    this.visitShards(seq, result, (s) => {
      // Every batch before this one has passed shard 0: the peer's next session starts clean.
      if (s === 0) Atomics.store(this.v.peers, peer * PEER_WORDS + PEER_RESET, 0);
      const before = this.v.headers[s * HEADER_WORDS + H_PATHS];
      for (const f of this.v.families) {
        if (how === 'mark') markStale(this.v, f, s, peer);
        else removePeer(this.v, f, s, peer, (slot) => this.touch(f.id, s, slot), how === 'stale');
      }
      // The shard is ours for this turn: what its path count lost were this peer's paths.
      Atomics.sub(this.v.peers, peer * PEER_WORDS + PEER_PATHS, before - this.v.headers[s * HEADER_WORDS + H_PATHS]);
    });
    result.changes = this.changes.subarray(0, this.nChanges * CHANGE_WORDS);
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
    this.limitPeer = peer;
    this.limited = Atomics.load(this.v.peers, peer * PEER_WORDS + PEER_LIMIT) !== 0;
    this.refused = 0;
    let apply = this.nOps > 0;
    this.visitShards(seq, result, (s) => {
      // A batch of this peer found an error before us: its session is ending (see PEER_RESET).
      if (s === 0 && apply && Atomics.load(this.v.peers, peer * PEER_WORDS + PEER_RESET) !== 0) apply = false;
      if (!apply) return;
      for (let i = starts[s]; i < starts[s + 1]; i++) this.applyOne(s, i * OP_WORDS, peer);
    });
    result.pathDelta = this.pathDelta;
    result.filtered += this.refused;
    result.changes = this.changes.subarray(0, this.nChanges * CHANGE_WORDS);
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
    const lenFlags = ops[o + 1];
    const len = lenFlags & 0xff;
    const v = this.v;
    const f = v.families[lenFlags >>> FAMILY_SHIFT];
    const k = this.key;
    k[0] = ops[o + 2];
    k[1] = ops[o + 3];
    k[2] = ops[o + 4];
    k[3] = ops[o + 5];
    const slot = slotFor(v, f, s, k, len);
    this.touch(f.id, s, slot);
    const count = peer * PEER_WORDS + PEER_PATHS;
    if (lenFlags & WITHDRAW) {
      if (removePath(v, f, s, slot, peer, ops[o + 6])) {
        this.pathDelta--;
        Atomics.sub(v.peers, count, 1);
      }
    } else {
      const before = v.headers[s * HEADER_WORDS + H_PATHS];
      // With a limit, admit() counts the new path; without one it is counted here.
      upsertPath(v, f, s, slot, peer, ops[o + 6], ops[o + 7], this.limited ? this.admit : undefined);
      if (v.headers[s * HEADER_WORDS + H_PATHS] !== before) {
        this.pathDelta++;
        if (!this.limited) Atomics.add(v.peers, count, 1);
      }
    }
  }

  /** The peer of the batch being applied has a max-prefix block (PEER_LIMIT); its paths are counted in PEER_PATHS. */
  private limited = false;
  private limitPeer = 0;
  private refused = 0;

  /** Admits one more path of a blocked peer while it holds fewer than its limit (exact across workers). */
  private readonly admit = (): boolean => {
    const at = this.limitPeer * PEER_WORDS;
    const peers = this.v.peers;
    if (Atomics.add(peers, at + PEER_PATHS, 1) < peers[at + PEER_LIMIT]) return true;
    Atomics.sub(peers, at + PEER_PATHS, 1);
    this.refused++;
    return false;
  };

  private touch(fam: number, s: number, slot: number): void {
    // Remember each prefix's best before its first change in this batch; the TOUCHED bit in
    // its length word marks it until settle() (lookups mask it out).
    const f = this.v.families[fam];
    const slots = f.slots[s];
    const o = slot * f.words;
    if (slots[o + f.lenAt] & TOUCHED) return;
    slots[o + f.lenAt] |= TOUCHED;
    if (this.nTouched === this.touched.length) {
      const t = new Int32Array(this.touched.length * 2);
      t.set(this.touched);
      this.touched = t;
      const tf = new Uint8Array(this.touched.length);
      tf.set(this.touchedFamily);
      this.touchedFamily = tf;
      const b = new Uint32Array(this.touchedBest.length * 2);
      b.set(this.touchedBest);
      this.touchedBest = b;
    }
    const best = slots[o + f.bestAt];
    const paths = this.v.paths[s];
    this.touched[this.nTouched] = slot;
    this.touchedFamily[this.nTouched] = fam;
    this.touchedBest[this.nTouched * 2] = best ? paths[best * PATH_WORDS + P_ATTR] : 0;
    this.touchedBest[this.nTouched * 2 + 1] = best ? paths[best * PATH_WORDS + P_PEER] & 0xffff : 0;
    this.nTouched++;
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
      const best = selectBest(v, paths, slots[o + f.headAt]);
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

/** An import policy as the workers get it: msgpack bytes in shared memory, decoded once per id. */
export interface PolicyRef {
  id: number;
  bytes: SharedArrayBuffer;
}

export interface PeerContext {
  asn4: boolean;
  ebgp: boolean;
  /** RFC 7911 path identifiers on received IPv4 / IPv6 prefixes. */
  addPath: boolean;
  addPath6?: boolean;
  /**
   * What becomes of checked announcements: 'accept' (through `policy` when there is one) or
   * 'deny' (nothing kept: RFC 8212 or a reject policy); absent: 'accept'. Every UPDATE is
   * checked the same way whatever this says. (A max-prefix block is PEER_LIMIT, in the RIB.)
   */
  import?: 'accept' | 'deny';
  /** The import policy's rules; absent: accept everything unchanged. */
  policy?: PolicyRef;
  /** RFC 9234 §5 on ingress, when the session has a role. */
  otc?: OtcIngress;
}
