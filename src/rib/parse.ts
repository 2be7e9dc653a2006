// Phase 1 of a batch, for one UPDATE at a time: the checks of RFC 4271 §6.3 and RFC 7606
// (the attribute table's, whatever the import policy), attribute sets interned, prefixes turned
// into operations. From 4-octet-AS peers IPv4 and IPv6 unicast (MP_REACH_NLRI / MP_UNREACH_NLRI,
// multiprotocol.ts) go through the bytes directly; 2-octet-AS peers and other families through
// the codec, to the same verdicts, stored sets and operations.

import {
  AttrFlag,
  AttrType,
  BgpError,
  decodeUpdate,
  encodeAttribute,
  mergeAs4,
  parsePrefix,
  PrefixWalker,
  UpdateSubcode,
  type PathAttribute,
  type Prefix,
} from '../packet/index.js';
import { OnError } from '../packet/attr/table.js';
import { BlockVerdict, checkAttributes, type AttrContext } from '../packet/attr/validate.js';
import type { OtcIngress } from '../policy/otc.js';
import { internAttributes, lastIntern, NEEDS_CODEC, SESSION_RESET, TREAT_AS_WITHDRAW, verdict } from './attrs.js';
import { IPV4, IPV6, keyHash, prefixHash, type RibViews } from './memory.js';
import { ipv6Unicast, mpReachNlri, mpUnreachWithdrawn, StoredSetWriter } from './multiprotocol.js';
import { FAMILY_SHIFT, Ops, WITHDRAW } from './ops.js';
import type { BatchResult } from './result.js';

/** Problems reported per batch; the counters hold the rest. */
const MAX_PROBLEMS = 4;

export class UpdateParser {
  private readonly key = new Uint32Array(4);
  private readonly walker = new PrefixWalker();
  private readonly mpVerdict = new BlockVerdict();
  private readonly stored = new StoredSetWriter();
  private readonly trustedContext = { ebgp: { asn4: true, ebgp: true }, ibgp: { asn4: true, ebgp: false } };

  /**
   * false: every UPDATE with MP_REACH_NLRI / MP_UNREACH_NLRI goes through the codec (the
   * comparison the tests hold the byte path to).
   */
  mpFromBytes = true;
  /** UPDATEs taken by the multiprotocol byte path and by the codec, since construction. */
  readonly taken = { mpBytes: 0, codec: 0 };

  constructor(
    private readonly v: RibViews,
    private readonly ops: Ops,
  ) {}

  /**
   * IPv4 prefixes in b[start, end), as operations (RFC 4271 §4.3; RFC 7911 when addPath).
   * A prefix longer than 32 bits or running past the field ends the session (RFC 7606 §5.3),
   * found by the codec's own prefix walker.
   */
  private prefixes(b: Uint8Array, start: number, end: number, addPath: boolean, attr: number, withdraw: boolean): number {
    const mask = this.v.shardMask;
    const w = this.walker.reset(b, start, end, 1, addPath);
    let n = 0;
    while (w.next()) {
      const len = w.length;
      const p = w.at;
      const bytes = (len + 7) >> 3;
      let addr = 0;
      for (let i = 0; i < 4; i++) addr = (addr << 8) | (i < bytes ? b[p + i] : 0);
      addr = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
      this.ops.push(prefixHash(addr, len) & mask, withdraw ? len | WITHDRAW : len, addr, 0, 0, 0, addPath ? w.pathId : 0, attr);
      n++;
    }
    if (w.error) throw new BgpError(3, UpdateSubcode.InvalidNetworkField, undefined, w.error);
    return n;
  }

  /** IPv4 prefixes in b[start, end), counted, as the codec checks the NLRI field before it takes any. */
  private countPrefixes(b: Uint8Array, start: number, end: number, addPath: boolean): number {
    const w = this.walker.reset(b, start, end, 1, addPath);
    let n = 0;
    while (w.next()) n++;
    if (w.error) throw new BgpError(3, UpdateSubcode.InvalidNetworkField, undefined, w.error);
    return n;
  }

  /**
   * IPv6 prefixes in b[start, end) (RFC 4760 §5; RFC 7911 when addPath), as operations: the
   * network's 128 bits in four words, host bits cleared. The field passed checkAttributes.
   */
  private prefixes6(b: Uint8Array, start: number, end: number, addPath: boolean, attr: number, withdraw: boolean): number {
    const mask = this.v.shardMask;
    const k = this.key;
    const flags = (withdraw ? WITHDRAW : 0) | (IPV6 << FAMILY_SHIFT);
    const w = this.walker.reset(b, start, end, 2, addPath);
    let n = 0;
    while (w.next()) {
      const len = w.length;
      const p = w.at;
      const bytes = (len + 7) >> 3;
      k[0] = k[1] = k[2] = k[3] = 0;
      for (let j = 0; j < bytes; j++) k[j >> 2] |= b[p + j] << (24 - 8 * (j & 3));
      if (len & 31) k[len >> 5] &= 0xffffffff << (32 - (len & 31)); // host bits of the last word
      this.ops.push(keyHash(IPV6, k, len) & mask, len | flags, k[0], k[1], k[2], k[3], addPath ? w.pathId : 0, attr);
      n++;
    }
    if (w.error) throw new BgpError(3, UpdateSubcode.OptionalAttributeError, undefined, w.error);
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
      this.ops.push(shard, length | (withdraw ? WITHDRAW : 0) | (fam << FAMILY_SHIFT), k[0], k[1], k[2], k[3], pathId ?? 0, attr);
    }
  }

  /** The attribute context of the peer whose batch is being parsed, made once per batch. */
  private attrContext(peer: PeerContext): AttrContext {
    if (peer !== this.contextOf) {
      this.contextOf = peer;
      this.context = codecContext(peer);
    }
    return this.context;
  }

  private contextOf: PeerContext | null = null;
  private context: AttrContext = { asn4: true };

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
    this.discards = 0;
    if (!checked || r === NEEDS_CODEC) return r;
    if (r === SESSION_RESET) throw new BgpError(3, verdict.subcode, verdict.data, verdict.reason);
    // Counted once the whole UPDATE has passed (its NLRI may still reset the session).
    this.discards = verdict.discarded.length;
    for (const p of verdict.problems) this.problem(result, p);
    return r;
  }

  /** Attributes the last attributeSet() discarded. */
  private discards = 0;

  /**
   * Phase 1 for one UPDATE message msg = b[off, off+len): checks it whole (RFC 4271 §6.3,
   * RFC 7606) and turns it into operations, or throws BgpError for a session-level error.
   * The checks run in the codec's order (RFC 4271 §6.3): lengths, attributes, withdrawn routes, NLRI.
   */
  parse(b: Uint8Array, off: number, len: number, peer: PeerContext, result: BatchResult): void {
    if (!peer.asn4) {
      this.fromCodec(b, off, len, peer, result); // AS4_PATH merged back (RFC 6793)
      return;
    }
    const mark = this.ops.n;
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
      // No NLRI field: withdrawals only, or MP_REACH / MP_UNREACH.
      if (aLen > 0) this.multiprotocol(b, off, len, wStart, wStart + wLen, aStart, aEnd, peer, result);
      else {
        const withdrawn = this.prefixes(b, wStart, wStart + wLen, peer.addPath, 0, true);
        if (peer.import === 'deny') this.ops.n = mark;
        else result.withdrawn += withdrawn;
      }
      return;
    }
    // RFC 4271 §6.3 in the codec's order: attributes, then the Withdrawn Routes and NLRI fields.
    const attr = this.attributeSet(b, aStart, aEnd, peer, result);
    if (attr === NEEDS_CODEC) {
      this.multiprotocol(b, off, len, wStart, wStart + wLen, aStart, aEnd, peer, result);
      return;
    }
    const withdrawn = this.prefixes(b, wStart, wStart + wLen, peer.addPath, 0, true);
    const nlriAt = this.ops.n;
    const announced = this.prefixes(b, aEnd, end, peer.addPath, 0, false);
    result.discarded4 += this.discards;
    if (attr === TREAT_AS_WITHDRAW) {
      result.tawUpdates4++;
      result.treatedAsWithdraw += announced;
    }
    if (peer.import === 'deny') {
      this.ops.n = mark; // RFC 8212 / reject: nothing of this peer is kept
      if (attr >= 0) result.filtered += announced;
      return;
    }
    result.withdrawn += withdrawn;
    if (attr === TREAT_AS_WITHDRAW) {
      this.ops.setAnnouncements(nlriAt, 0);
    } else {
      result.announced += announced;
      this.ops.setAnnouncements(nlriAt, attr);
    }
  }

  /**
   * An UPDATE msg = b[off, off+len) from a 4-octet-AS peer whose attributes b[aStart, aEnd)
   * carry MP_REACH_NLRI / MP_UNREACH_NLRI, or that has attributes and no NLRI field. IPv6
   * unicast from the bytes; any other family through the codec. Everything as fromCodec() does
   * it: checks in RFC 4271 §6.3's order, verdicts, counters, problems, the stored sets
   * (multiprotocol.ts) interned in the same order, operations in the same order.
   */
  private multiprotocol(b: Uint8Array, off: number, len: number, wStart: number, wEnd: number, aStart: number, aEnd: number, peer: PeerContext, result: BatchResult): void {
    if (!this.mpFromBytes) {
      this.fromCodec(b, off, len, peer, result);
      return;
    }
    const end = off + len;
    const c = checkAttributes(b, aStart, aEnd, this.attrContext(peer), aEnd < end, this.mpVerdict);
    if (c.verdict === OnError.Reset) throw new BgpError(3, c.subcode, c.data, c.reason);
    if ((c.mpReach >= 0 && !ipv6Unicast(b, c.mpReach)) || (c.mpUnreach >= 0 && !ipv6Unicast(b, c.mpUnreach))) {
      this.fromCodec(b, off, len, peer, result);
      return;
    }
    this.taken.mpBytes++;
    // The Withdrawn Routes and NLRI fields, then RFC 7606 §5.2: nothing to treat as withdrawn.
    const mark = this.ops.n;
    const withdrawn4 = this.prefixes(b, wStart, wEnd, peer.addPath, 0, true);
    const nlri4 = this.countPrefixes(b, aEnd, end, peer.addPath);
    const reach6 = c.mpReach >= 0 ? c.mpReachPrefixes : 0;
    const taw = c.verdict === OnError.TreatAsWithdraw;
    if (taw && nlri4 === 0 && reach6 === 0 && c.pathAttributes) {
      throw new BgpError(3, c.withdrawSubcode, undefined, `${c.reason}, and no NLRI (RFC 7606 §5.2)`);
    }
    for (const p of c.problems) this.problem(result, p);
    if (reach6 || c.mpUnreach >= 0) result.discarded6 += c.discarded.length;
    else result.discarded4 += c.discarded.length;
    if (taw && nlri4 + reach6) {
      if (nlri4) result.tawUpdates4++;
      if (reach6) result.tawUpdates6++;
      result.treatedAsWithdraw += nlri4;
      result.tawPrefixes6 += reach6;
    }
    if (peer.import === 'deny') {
      this.ops.n = mark;
      if (!taw) {
        result.filtered += nlri4 + reach6;
        result.filtered6 += reach6;
      }
      return;
    }
    const addPath6 = !!peer.addPath6;
    let withdrawn = withdrawn4;
    if (c.mpUnreach >= 0) withdrawn += this.prefixes6(b, mpUnreachWithdrawn(c.mpUnreach), c.mpUnreach + c.mpUnreachLength, addPath6, 0, true);
    result.withdrawn += withdrawn;
    const reachStart = reach6 ? mpReachNlri(b, c.mpReach) : 0;
    const reachEnd = reach6 ? c.mpReach + c.mpReachLength : 0;
    if (taw) {
      if (nlri4) this.prefixes(b, aEnd, end, peer.addPath, 0, true);
      if (reach6) this.prefixes6(b, reachStart, reachEnd, addPath6, 0, true);
      return;
    }
    // The stored sets: as the codec writes them, interned in its order (IPv4, then IPv6).
    const ctx = peer.ebgp ? this.trustedContext.ebgp : this.trustedContext.ibgp;
    if (nlri4) {
      const set = this.stored.write(b, aStart, aEnd, c.drop, -1);
      const attr = internAttributes(this.v, set, 0, set.length, ctx, IPV4, true);
      this.prefixes(b, aEnd, end, peer.addPath, attr, false);
      result.announced += nlri4;
    }
    if (reach6) {
      const set = this.stored.write(b, aStart, aEnd, c.drop, c.mpReach);
      const attr = internAttributes(this.v, set, 0, set.length, ctx, IPV6, true);
      this.prefixes6(b, reachStart, reachEnd, addPath6, attr, false);
      result.announced += reach6;
    }
  }

  /**
   * The general path through the full codec: 2-octet-AS peers (AS4_PATH merged back), and
   * MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760) of a family other than IPv6 unicast. Same
   * checks, same verdicts.
   */
  private fromCodec(b: Uint8Array, off: number, len: number, peer: PeerContext, result: BatchResult): void {
    this.taken.codec++;
    const msg = b.subarray(off, off + len);
    const u = decodeUpdate(msg, this.attrContext(peer));
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
      if (!u.treatAsWithdraw) {
        result.filtered += announced.length;
        result.filtered6 += reach6;
      }
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
}

/** The codec's view of a session (4-octet AS numbers, eBGP, ADD-PATH receive per family). */
export function codecContext(peer: PeerContext): AttrContext {
  return { asn4: peer.asn4, ebgp: peer.ebgp, addPath: { ipv4: peer.addPath, ipv6: peer.addPath6 } };
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
  /** Announcements with a longer AS_PATH (as the decision process counts it) are filtered. */
  maxAsPath?: number;
}
