// What the import side decides about checked announcements, in the workers and on the raw
// attribute bytes: a maximum AS_PATH length, RFC 9234 §5 (Only to Customer) and the neighbor's
// import policy. A filtered prefix becomes a withdrawal; a rewritten attribute set is interned
// like any other.

import { unpack } from 'msgpackr';
import { AttrFlag, AttrType } from '../packet/index.js';
import { attrBytes, be32, u32Attribute, withAttribute } from '../packet/attr/walk.js';
import type { OtcIngress } from '../policy/otc.js';
import { applyActions, attributesMatch, prefixMatches, type Policy } from '../policy/policy.js';
import { attributeBytes, internAttributes } from './attrs.js';
import { F_HAS_OTC, IPV6, M_AS_PATH_LEN, M_FLAGS, META_WORDS, type RibViews } from './memory.js';
import { FAMILY_SHIFT, OP_WORDS, Ops, WITHDRAW } from './ops.js';
import type { PolicyRef } from './parse.js';
import type { BatchResult } from './result.js';

export class ImportRules {
  constructor(
    private readonly v: RibViews,
    private readonly ops: Ops,
  ) {}

  /**
   * The neighbor's maximum AS_PATH length (FRR's `bgp maxas-limit`): a longer path is filtered,
   * read from the length the decision process uses, kept beside each attribute set.
   */
  maxAsPath(limit: number, result: BatchResult): void {
    const ops = this.ops.words;
    const meta = this.v.attrMeta;
    for (let i = 0; i < this.ops.n; i++) {
      const o = i * OP_WORDS;
      const attr = ops[o + 7];
      if (ops[o + 1] & WITHDRAW || attr === 0 || meta[attr * META_WORDS + M_AS_PATH_LEN] <= limit) continue;
      this.ops.filter(i);
      result.filtered++;
      if (ops[o + 1] >>> FAMILY_SHIFT === IPV6) result.filtered6++;
    }
  }

  /** Per neighbor AS: attribute sets with OTC added (RFC 9234 §5), and OTC values read. */
  private readonly otcMarked = new Map<number, Map<number, number>>();
  private readonly otcValue = new Map<number, number>();

  /**
   * RFC 9234 §5 ingress: a route leak (OTC from a customer or RS-client, or from a peer with an
   * OTC other than its AS) is filtered; a route without OTC from a provider, peer or route
   * server gets OTC = the neighbor's AS.
   */
  otc(otc: OtcIngress, ebgp: boolean, result: BatchResult): void {
    const ops = this.ops.words;
    const meta = this.v.attrMeta;
    let marked = this.otcMarked.get(otc.asn);
    if (!marked) this.otcMarked.set(otc.asn, (marked = new Map()));
    if (marked.size > 65536) marked.clear();
    if (this.otcValue.size > 65536) this.otcValue.clear();
    for (let i = 0; i < this.ops.n; i++) {
      const o = i * OP_WORDS;
      const attr = ops[o + 7];
      if (ops[o + 1] & WITHDRAW || attr === 0) continue;
      if (meta[attr * META_WORDS + M_FLAGS] & F_HAS_OTC) {
        let value = this.otcValue.get(attr);
        if (value === undefined) this.otcValue.set(attr, (value = u32Attribute(attributeBytes(this.v, attr), AttrType.OTC)));
        if (otc.leak === 'any' || (otc.leak === 'not-peer-as' && value !== otc.asn)) {
          this.ops.filter(i); // a leak
          result.filtered++;
          if (ops[o + 1] >>> FAMILY_SHIFT === IPV6) result.filtered6++;
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
  policy(ref: PolicyRef, ebgp: boolean, result: BatchResult): void {
    const cache = this.policyFor(ref);
    const policy = cache.policy;
    const ops = this.ops.words;
    const rules = policy.rules;
    const nRules = rules.length;
    for (let i = 0; i < this.ops.n; i++) {
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
        this.ops.filter(i);
        result.filtered++;
        if (fam === IPV6) result.filtered6++;
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
}
