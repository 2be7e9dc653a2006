// The Adj-RIB-Out on the main thread. What a peer was last sent is not stored per peer: it is
// the export of the previous best path (which every change carries) under that peer's rules.
// Changes go out as packed UPDATEs, prefixes sharing attributes together.

import { MAX_MESSAGE_LENGTH, MessageType } from '../packet/index.js';
import { exportAttributes, lastAttrAt, reflect, type ExportRules } from '../packet/attr/export.js';
import { attributeBytes } from './attrs.js';
import { applyActions, attributesMatch, prefixMatches, type Policy } from '../policy/policy.js';
import { C_ATTR, C_KEY, C_LEN, C_PEER, C_PREV_ATTR, C_PREV_PEER, C_REF, CHANGE_WORDS } from './apply.js';
import {
  F_NO_ADVERTISE,
  F_NO_EXPORT,
  F_HAS_OTC,
  F_NO_PEER,
  IPV6,
  M_FLAGS,
  META_WORDS,
  P_ATTR,
  P_PEER,
  PATH_WORDS,
  PEER_FLAGS,
  PEER_ID,
  PEER_WORDS,
  PF_IBGP,
  PF_RR_CLIENT,
  type RibViews,
} from './memory.js';

export interface ExportTarget extends ExportRules {
  /** RIB peer index of the receiving neighbor. */
  peer: number;
  /** Our BGP Identifier (u32): ORIGINATOR_ID / cluster id when reflecting. */
  routerId: number;
  /** Negotiated families, by family id: [IPv4 unicast, IPv6 unicast]. */
  families: [boolean, boolean];
  /** RFC 7911 send negotiated, by family id. */
  addPathSend: [boolean, boolean];
  maxMessageLength: number;
  /** RFC 4456: this peer is a route-reflector client. */
  rrClient: boolean;
  /** RFC 8212: an eBGP peer gets nothing unless an export policy allows it. */
  exportAllowed: boolean;
  /** RFC 9234 §5: no route carrying OTC goes to this peer (a provider, peer or route server). */
  otcBlock?: boolean;
  /** Rules that filter or change what this peer is sent (absent: everything, unchanged). */
  exportPolicy?: Policy;
  send(bytes: Uint8Array, messages: number): void;
}

/**
 * A batch of best-path changes as runs of one attribute set and one family each (the workers
 * sort them by attribute id): group g is changes [starts[g], starts[g + 1]), all with attribute
 * attrs[g] and of the family of its first change.
 */
export class GroupedChanges {
  attrs = new Int32Array(1024);
  starts = new Int32Array(1025);
  groups = 0;

  constructor(public changes: Uint32Array = new Uint32Array(0)) {}

  group(changes: Uint32Array): this {
    this.changes = changes;
    const n = changes.length / CHANGE_WORDS;
    let groups = 0;
    let prev = -1;
    let prevFamily = -1;
    for (let i = 0; i < n; i++) {
      const a = changes[i * CHANGE_WORDS + C_ATTR];
      // A set belongs to one family; withdrawals (attribute 0) of both are split by family.
      const family = changes[i * CHANGE_WORDS + C_LEN] >>> 8;
      if (a === prev && family === prevFamily) continue;
      prevFamily = family;
      if (groups + 1 >= this.attrs.length) {
        const g = new Int32Array(this.attrs.length * 2);
        g.set(this.attrs);
        this.attrs = g;
        const s = new Int32Array(this.attrs.length + 1);
        s.set(this.starts);
        this.starts = s;
      }
      this.attrs[groups] = a;
      this.starts[groups++] = i;
      prev = a;
    }
    this.starts[groups] = n;
    this.groups = groups;
    return this;
  }
}

const MEMO_MASK = 8191;

/** Export bytes shared by peers that would get the same attributes (same AS, next hop, kind). */
export type ExportCache = Map<string, Map<number, Uint8Array>>;

/**
 * Every prefix with a best path (of one family, or both), as change records with nothing
 * before them: the table a new session is sent, or a ROUTE-REFRESH answered. Read from the
 * shared RIB while workers write to it: a prefix changing meanwhile is sent again when its
 * change arrives, so the peer ends up right.
 */
export function tableSnapshot(v: RibViews, family?: number): Uint32Array {
  const out: number[] = [];
  for (const f of v.families) {
    if (family !== undefined && f.id !== family) continue;
    for (let s = 0; s < f.slots.length; s++) {
      const slots = f.slots[s];
      const paths = v.paths[s];
      for (let i = 0; i <= f.mask; i++) {
        const at = i * f.words;
        const best = slots[at + f.bestAt];
        if (!best) continue;
        out.push(((slots[at + f.lenAt] & 0x7fffffff) - 1) | (f.id << 8));
        for (let w = 0; w < 4; w++) out.push(w < f.keyWords ? slots[at + w] : 0);
        out.push(paths[best * PATH_WORDS + P_ATTR], paths[best * PATH_WORDS + P_PEER] & 0xffff, (s << 22) | i, 0, 0);
      }
    }
  }
  return Uint32Array.from(out);
}

/**
 * Changes held back for one peer (MRAI, or a socket that is not draining), collapsed to one
 * per prefix: the best path before the first and after the last, which is all the peer needs.
 */
export class DeferredChanges {
  private parts: Uint32Array[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(c: Uint32Array): void {
    if (c.length === 0) return;
    this.parts.push(c);
    this.count += c.length / CHANGE_WORDS;
  }

  take(): Uint32Array {
    const at = new Map<number, number>();
    const out = new Uint32Array(this.count * CHANGE_WORDS);
    let n = 0;
    for (const c of this.parts) {
      for (let i = 0; i < c.length; i += CHANGE_WORDS) {
        const key = c[i + C_REF] * 2 + (c[i + C_LEN] >>> 8);
        const j = at.get(key);
        if (j === undefined) {
          at.set(key, n);
          out.set(c.subarray(i, i + CHANGE_WORDS), n * CHANGE_WORDS);
          n++;
        } else {
          // Keep the first change's previous path; take the newest best path.
          out[j * CHANGE_WORDS + C_ATTR] = c[i + C_ATTR];
          out[j * CHANGE_WORDS + C_PEER] = c[i + C_PEER];
        }
      }
    }
    this.parts = [];
    this.count = 0;
    return out.subarray(0, n * CHANGE_WORDS);
  }
}

export class AdjRibOut {
  private sentPrefixes = 0;
  /** Changes waiting for the advertisement interval or for the socket to drain. */
  readonly deferred = new DeferredChanges();
  private readonly exportClass: string;
  /** Scratch for one group's announcements and the batch's withdrawals (IPv4: 2 words a prefix, IPv6: 5). */
  private ann = new Uint32Array(5120);
  private wd4 = new Uint32Array(2048);
  private wd6 = new Uint32Array(5120);
  private annRule = new Int16Array(2048);
  private readonly memoTag = new Uint32Array(MEMO_MASK + 1);
  private readonly memoVal = new Uint8Array(MEMO_MASK + 1);

  constructor(
    private readonly v: RibViews,
    readonly target: ExportTarget,
  ) {
    const t = target;
    this.exportClass = `${t.localAs}/${t.nextHop}/${Buffer.from(t.nextHop6).toString('hex')}/${t.ibgp}/${t.routeServerClient}/${t.asn4}/${t.addOtc}`;
  }

  /** Prefixes this peer currently holds from us. */
  get advertised(): number {
    return this.sentPrefixes;
  }

  /** Attribute-based export rules: well-known communities and the RFC 8212 default. */
  private attrExportable(attr: number): boolean {
    if (attr === 0) return false;
    // A small direct-mapped memo: previous best paths repeat across a batch's changes.
    const k = attr & MEMO_MASK;
    if (this.memoTag[k] === attr) return this.memoVal[k] === 1;
    const t = this.target;
    const flags = this.v.attrMeta[attr * META_WORDS + M_FLAGS];
    const ok = !(flags & F_NO_ADVERTISE) && (t.ibgp || (!(flags & (F_NO_EXPORT | F_NO_PEER)) && t.exportAllowed && !(t.otcBlock && flags & F_HAS_OTC)));
    this.memoTag[k] = attr;
    this.memoVal[k] = ok ? 1 : 0;
    return ok;
  }

  private readonly policyMatch = new Map<number, boolean>();

  /**
   * Export bytes with a rule's actions applied; MP_REACH_NLRI stays last. LOCAL_PREF is only
   * for iBGP: the rewrite would otherwise put it back on an eBGP session.
   */
  private ruleBytes(bytes: Uint8Array, r: number): Uint8Array {
    const rule = this.target.exportPolicy!.rules[r];
    const effective = this.target.ibgp ? rule : { ...rule, setLocalPref: undefined };
    return applyActions(effective, bytes, this.target.localAs);
  }

  /**
   * The export policy for one prefix with attribute set `attr`: -2 rejected, -1 accepted by
   * default, else the index of the rule that accepted it (its actions apply).
   */
  private exportRule(attr: number, c: Uint32Array, i: number): number {
    const p = this.target.exportPolicy!;
    const fam = c[i + C_LEN] >>> 8;
    const len = c[i + C_LEN] & 0xff;
    for (let r = 0; r < p.rules.length; r++) {
      if (!prefixMatches(p.rules[r], fam, c.subarray(i + C_KEY, i + C_KEY + 4), len)) continue;
      const k = attr * 64 + r;
      let m = this.policyMatch.get(k);
      if (m === undefined) this.policyMatch.set(k, (m = attributesMatch(p.rules[r], attributeBytes(this.v, attr))));
      if (m) return p.rules[r].action === 'reject' ? -2 : r;
    }
    return p.default === 'reject' ? -2 : -1;
  }

  /** Source-based rules: never back to the source, and iBGP split horizon (RFC 4456 §6). */
  private sourceAllowed(from: number): boolean {
    const t = this.target;
    if (from === t.peer) return false;
    if (!t.ibgp) return true;
    const fromFlags = this.v.peers[from * PEER_WORDS + PEER_FLAGS];
    return !(fromFlags & PF_IBGP) || t.rrClient || (fromFlags & PF_RR_CLIENT) !== 0;
  }

  /**
   * Exports a batch of best-path changes, grouped once for every peer, as packed UPDATEs.
   * `mode`: 'initial' sends the whole table to a new session, 'resend' again after a
   * ROUTE-REFRESH (every prefix goes out as if the peer had nothing; counts stay).
   */
  apply(g: GroupedChanges, cache: ExportCache, mode: 'changes' | 'initial' | 'resend' = 'changes'): void {
    const initial = mode !== 'changes';
    const c = g.changes;
    const n = c.length / CHANGE_WORDS;
    if (this.ann.length < n * 5) {
      this.ann = new Uint32Array(n * 5);
      this.annRule = new Int16Array(n);
      this.wd4 = new Uint32Array(n * 2);
      this.wd6 = new Uint32Array(n * 5);
    }
    let classCache = cache.get(this.exportClass);
    if (!classCache) cache.set(this.exportClass, (classCache = new Map()));
    const out = new UpdateWriter(this.target.maxMessageLength || MAX_MESSAGE_LENGTH, this.target.addPathSend);
    const t = this.target;
    const ann = this.ann;
    let nWd4 = 0;
    let nWd6 = 0;
    for (let k = 0; k < g.groups; k++) {
      const attr = g.attrs[k];
      const start = g.starts[k];
      const end = g.starts[k + 1];
      // An attribute set belongs to one family: everything per group is hoisted out of the loop.
      const fam = c[start * CHANGE_WORDS + C_LEN] >>> 8;
      if (!t.families[fam]) continue;
      const attrOk = this.attrExportable(attr);
      const v6 = fam === IPV6;
      const policy = t.exportPolicy && t.exportPolicy.rules.length ? t.exportPolicy : null;
      let nAnn = 0;
      let entries = 0;
      for (let i = start * CHANGE_WORDS; i < end * CHANGE_WORDS; i += CHANGE_WORDS) {
        const from = c[i + C_PEER];
        let want = attrOk && (from !== t.peer && (!t.ibgp || this.sourceAllowed(from))) ? attr : 0;
        let rule = -1;
        if (want && policy) {
          rule = this.exportRule(attr, c, i);
          if (rule === -2) want = 0;
        }
        let had = 0;
        if (!initial) {
          // What this peer holds is what it was sent for the previous best path, which the
          // change carries: no per-peer state and no lookup in a table the size of the RIB.
          const prev = c[i + C_PREV_ATTR];
          if (prev !== 0) {
            const prevFrom = c[i + C_PREV_PEER];
            if (prevFrom !== t.peer && (!t.ibgp || this.sourceAllowed(prevFrom)) && this.attrExportable(prev)) {
              had = policy && this.exportRule(prev, c, i) === -2 ? 0 : prev;
            }
          }
        }
        if (want === had) continue;
        if (want === 0) {
          this.sentPrefixes--;
          if (v6) {
            for (let w = 0; w < 4; w++) this.wd6[nWd6++] = c[i + C_KEY + w];
            this.wd6[nWd6++] = c[i + C_LEN] & 0xff;
          } else {
            this.wd4[nWd4++] = c[i + C_KEY];
            this.wd4[nWd4++] = c[i + C_LEN] & 0xff;
          }
          continue;
        }
        if (had === 0 && mode !== 'resend') this.sentPrefixes++;
        if (v6) for (let w = 0; w < 4; w++) ann[nAnn++] = c[i + C_KEY + w];
        else ann[nAnn++] = c[i + C_KEY];
        ann[nAnn++] = c[i + C_LEN] & 0xff;
        this.annRule[entries++] = rule;
      }
      if (nAnn === 0) continue;
      let bytes = classCache.get(attr);
      if (!bytes) classCache.set(attr, (bytes = exportAttributes(attributeBytes(this.v, attr), t)));
      // An attribute set comes from one peer: the last change's source stands for the group.
      const source = c[(end - 1) * CHANGE_WORDS + C_PEER];
      if (t.ibgp && this.v.peers[source * PEER_WORDS + PEER_FLAGS] & PF_IBGP) {
        bytes = reflect(bytes, this.v.peers[source * PEER_WORDS + PEER_ID], t.routerId);
      }
      if (!policy) {
        if (v6) out.announce6(bytes, ann, nAnn);
        else out.announce(bytes, ann, nAnn);
        continue;
      }
      // With export rules, prefixes of one attribute set may leave with different actions.
      const stride = v6 ? 5 : 2;
      for (const r of new Set(this.annRule.subarray(0, entries))) {
        const sub = new Uint32Array(nAnn);
        let n = 0;
        for (let e = 0; e < entries; e++) {
          if (this.annRule[e] !== r) continue;
          sub.set(ann.subarray(e * stride, e * stride + stride), n);
          n += stride;
        }
        const withActions = r < 0 ? bytes : this.ruleBytes(bytes, r);
        if (v6) out.announce6(withActions, sub, n);
        else out.announce(withActions, sub, n);
      }
    }
    out.withdraw(this.wd4, nWd4);
    out.withdraw6(this.wd6, nWd6);
    const msg = out.finish();
    if (msg) this.target.send(msg.bytes, msg.messages);
  }
}

/** Packs prefixes into UPDATEs of at most maxLength octets. */
class UpdateWriter {
  /** One scratch buffer reused for every batch; what is sent is copied out at its exact size. */
  private static scratch = Buffer.allocUnsafe(1 << 20);
  private buf = UpdateWriter.scratch;
  private o = 0;
  private messages = 0;

  constructor(
    private readonly max: number,
    /** ADD-PATH send negotiated, per family. */
    private readonly addPath: [boolean, boolean] = [false, false],
  ) {}

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(bigger, 0, 0, this.o);
    this.buf = UpdateWriter.scratch = bigger;
  }

  private header(at: number): void {
    this.buf.fill(0xff, at, at + 16);
    this.buf.writeUInt16BE(this.o - at, at + 16);
    this.buf[at + 18] = MessageType.UPDATE;
    this.messages++;
  }

  /**
   * RFC 7911 path identifier. Only the best path is advertised, always with identifier 1, so
   * a peer that negotiated ADD-PATH receive gets well-formed NLRI (one path per prefix).
   */
  private pathId(): void {
    this.buf.writeUInt32BE(1, this.o);
    this.o += 4;
  }

  /** Writes prefixes [addr, len] pairs p[0, n) from the current position; returns how many fit. */
  private prefixes(p: Uint32Array, from: number, n: number, limit: number): number {
    const b = this.buf;
    const id = this.addPath[0] ? 4 : 0;
    let i = from;
    while (i < n) {
      const len = p[i + 1];
      const bytes = (len + 7) >> 3;
      if (this.o + id + 1 + bytes > limit) break;
      const addr = p[i];
      if (id) this.pathId();
      b[this.o++] = len;
      for (let k = 0; k < bytes; k++) b[this.o++] = (addr >>> (24 - 8 * k)) & 0xff;
      i += 2;
    }
    return i;
  }

  announce(attrs: Uint8Array, p: Uint32Array, n: number): void {
    for (let i = 0; i < n; ) {
      this.room(this.max);
      const start = this.o;
      this.buf.writeUInt16BE(0, start + 19);
      this.buf.writeUInt16BE(attrs.length, start + 21);
      this.buf.set(attrs, start + 23);
      this.o = start + 23 + attrs.length;
      i = this.prefixes(p, i, n, start + this.max);
      this.header(start);
    }
  }

  /** IPv6 prefixes [k0..k3, len] from p[from, n) until `limit`; returns where it stopped. */
  private prefixes6(p: Uint32Array, from: number, n: number, limit: number): number {
    const b = this.buf;
    const id = this.addPath[1] ? 4 : 0;
    let i = from;
    while (i < n) {
      const len = p[i + 4];
      const bytes = (len + 7) >> 3;
      if (this.o + id + 1 + bytes > limit) break;
      if (id) this.pathId();
      b[this.o++] = len;
      for (let k = 0; k < bytes; k++) b[this.o++] = (p[i + (k >> 2)] >>> (24 - 8 * (k & 3))) & 0xff;
      i += 5;
    }
    return i;
  }

  /** IPv6 announcements: `attrs` ends with an MP_REACH_NLRI (extended length) that gets the NLRI. */
  announce6(attrs: Uint8Array, p: Uint32Array, n: number): void {
    // The export puts MP_REACH_NLRI last.
    const mpAt = lastAttrAt(attrs);
    for (let i = 0; i < n; ) {
      this.room(this.max);
      const start = this.o;
      this.buf.writeUInt16BE(0, start + 19);
      this.buf.set(attrs, start + 23);
      this.o = start + 23 + attrs.length;
      i = this.prefixes6(p, i, n, start + this.max);
      const mpLen = this.o - (start + 23 + mpAt + 4);
      this.buf.writeUInt16BE(mpLen, start + 23 + mpAt + 2);
      this.buf.writeUInt16BE(this.o - start - 23, start + 21);
      this.header(start);
    }
  }

  /** IPv6 withdrawals in MP_UNREACH_NLRI (RFC 4760 §4). */
  withdraw6(p: Uint32Array, n: number): void {
    for (let i = 0; i < n; ) {
      this.room(this.max);
      const start = this.o;
      const b = this.buf;
      b.writeUInt16BE(0, start + 19);
      b[start + 23] = 0x90;
      b[start + 24] = 15;
      b.writeUInt16BE(2, start + 27);
      b[start + 29] = 1;
      this.o = start + 30;
      i = this.prefixes6(p, i, n, start + this.max);
      b.writeUInt16BE(this.o - (start + 27), start + 25);
      b.writeUInt16BE(this.o - start - 23, start + 21);
      this.header(start);
    }
  }

  withdraw(p: Uint32Array, n: number): void {
    for (let i = 0; i < n; ) {
      this.room(this.max);
      const start = this.o;
      this.o = start + 21;
      i = this.prefixes(p, i, n, start + this.max - 2);
      this.buf.writeUInt16BE(this.o - start - 21, start + 19);
      this.buf.writeUInt16BE(0, this.o);
      this.o += 2;
      this.header(start);
    }
  }

  finish(): { bytes: Uint8Array; messages: number } | null {
    if (!this.messages) return null;
    return { bytes: Buffer.from(this.buf.subarray(0, this.o)), messages: this.messages };
  }
}
