// The Adj-RIB-Out of one peer: which best-path changes it is sent, and with which attributes.
// What a peer was last sent is not stored per peer: it is the export of the previous best path
// (which every change carries) under that peer's rules. Changes go out as packed UPDATEs,
// prefixes sharing attributes together.

import { MAX_MESSAGE_LENGTH } from '../packet/index.js';
import { exportAttributes, reflect, type ExportRules } from '../packet/attr/export.js';
import { attributeBytes } from '../rib/attrs.js';
import { applyActions, attributesMatch, prefixMatches, type Policy } from '../policy/policy.js';
import { C_KEY, C_LEN, C_PEER, C_PREV_ATTR, C_PREV_PEER, CHANGE_WORDS } from '../rib/apply.js';
import {
  F_NO_ADVERTISE,
  F_NO_EXPORT,
  F_HAS_OTC,
  F_NO_PEER,
  IPV6,
  M_FLAGS,
  META_WORDS,
  PEER_FLAGS,
  PEER_ID,
  PEER_WORDS,
  PF_IBGP,
  PF_RR_CLIENT,
  type RibViews,
} from '../rib/memory.js';
import type { GroupedChanges } from './changes.js';
import { UpdateWriter } from './writer.js';

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

const MEMO_MASK = 8191;

/** Export bytes shared by peers that would get the same attributes (same AS, next hop, kind). */
export type ExportCache = Map<string, Map<number, Uint8Array>>;

export class AdjRibOut {
  private sentPrefixes = 0;
  private sentPrefixes6 = 0;
  private readonly exportClass: string;
  /**
   * Scratch for one group's announcements and the batch's withdrawals (IPv4: 2 words a prefix,
   * IPv6: 5), shared by every Adj-RIB-Out (apply() runs to the end before the next one starts)
   * and grown to what a batch needs, never shrunk: a whole table sent to a new session does
   * not leave each session its own table-sized arrays.
   */
  private static ann = new Uint32Array(5120);
  private static wd4 = new Uint32Array(2048);
  private static wd6 = new Uint32Array(5120);
  private static annRule = new Int16Array(2048);
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

  /** The IPv6 share of `advertised`. */
  get advertised6(): number {
    return this.sentPrefixes6;
  }

  /** Attribute-based export rules: well-known communities and the RFC 8212 default. */
  private attrExportable(attr: number): boolean {
    if (attr === 0) return false;
    // A small direct-mapped memo: previous best paths repeat across a batch's changes.
    const k = attr & MEMO_MASK;
    if (this.memoTag[k] === attr) return this.memoVal[k] === 1;
    const t = this.target;
    const flags = this.v.metaWith(attr)[attr * META_WORDS + M_FLAGS];
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

  /** Whether this peer is sent the best path `attr` from peer `from` of the change at `i` in `c`. */
  exports(attr: number, from: number, c: Uint32Array, i: number): boolean {
    const t = this.target;
    if (!this.attrExportable(attr) || from === t.peer || (t.ibgp && !this.sourceAllowed(from))) return false;
    return !t.exportPolicy?.rules.length || this.exportRule(attr, c, i) !== -2;
  }

  /**
   * The shared scratch, with room for the batch `g`: announcements for its largest group,
   * withdrawals for each family's changes.
   */
  private static scratch(g: GroupedChanges): { ann: Uint32Array; wd4: Uint32Array; wd6: Uint32Array; annRule: Int16Array } {
    const c = g.changes;
    let group = 0;
    let n6 = 0;
    for (let k = 0; k < g.groups; k++) {
      const size = g.starts[k + 1] - g.starts[k];
      if (size > group) group = size;
      if (c[g.starts[k] * CHANGE_WORDS + C_LEN] >>> 8 === IPV6) n6 += size;
    }
    const n4 = c.length / CHANGE_WORDS - n6;
    const grow = <T extends Uint32Array | Int16Array>(a: T, need: number, make: (n: number) => T): T => (a.length >= need ? a : make(Math.max(need, a.length * 2)));
    AdjRibOut.ann = grow(AdjRibOut.ann, group * 5, (n) => new Uint32Array(n));
    AdjRibOut.annRule = grow(AdjRibOut.annRule, group, (n) => new Int16Array(n));
    AdjRibOut.wd4 = grow(AdjRibOut.wd4, n4 * 2, (n) => new Uint32Array(n));
    AdjRibOut.wd6 = grow(AdjRibOut.wd6, n6 * 5, (n) => new Uint32Array(n));
    return { ann: AdjRibOut.ann, wd4: AdjRibOut.wd4, wd6: AdjRibOut.wd6, annRule: AdjRibOut.annRule };
  }

  /**
   * Exports a batch of best-path changes, grouped once for every peer, as packed UPDATEs.
   * `mode`: 'initial' sends the whole table to a new session, 'resend' again after a
   * ROUTE-REFRESH (every prefix goes out as if the peer had nothing; counts stay). With
   * `previous` (the peer's rules before they changed), 'initial' also withdraws what those
   * rules sent and these do not.
   */
  apply(g: GroupedChanges, cache: ExportCache, mode: 'changes' | 'initial' | 'resend' = 'changes', previous?: AdjRibOut): void {
    const initial = mode !== 'changes';
    const c = g.changes;
    const { ann, wd4, wd6, annRule } = AdjRibOut.scratch(g);
    let classCache = cache.get(this.exportClass);
    if (!classCache) cache.set(this.exportClass, (classCache = new Map()));
    const out = new UpdateWriter(this.target.maxMessageLength || MAX_MESSAGE_LENGTH, this.target.addPathSend);
    const t = this.target;
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
        } else if (previous && want === 0 && previous.exports(attr, from, c, i)) had = attr;
        if (want === had) continue;
        if (want === 0) {
          if (!initial) {
            this.sentPrefixes--;
            if (v6) this.sentPrefixes6--;
          }
          if (v6) {
            for (let w = 0; w < 4; w++) wd6[nWd6++] = c[i + C_KEY + w];
            wd6[nWd6++] = c[i + C_LEN] & 0xff;
          } else {
            wd4[nWd4++] = c[i + C_KEY];
            wd4[nWd4++] = c[i + C_LEN] & 0xff;
          }
          continue;
        }
        if (had === 0 && mode !== 'resend') {
          this.sentPrefixes++;
          if (v6) this.sentPrefixes6++;
        }
        if (v6) for (let w = 0; w < 4; w++) ann[nAnn++] = c[i + C_KEY + w];
        else ann[nAnn++] = c[i + C_KEY];
        ann[nAnn++] = c[i + C_LEN] & 0xff;
        annRule[entries++] = rule;
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
      for (const r of new Set(annRule.subarray(0, entries))) {
        const sub = new Uint32Array(nAnn);
        let n = 0;
        for (let e = 0; e < entries; e++) {
          if (annRule[e] !== r) continue;
          sub.set(ann.subarray(e * stride, e * stride + stride), n);
          n += stride;
        }
        const withActions = r < 0 ? bytes : this.ruleBytes(bytes, r);
        if (v6) out.announce6(withActions, sub, n);
        else out.announce(withActions, sub, n);
      }
    }
    out.withdraw(wd4, nWd4);
    out.withdraw6(wd6, nWd6);
    for (const piece of out.finish()) this.target.send(piece.bytes, piece.messages);
  }
}
