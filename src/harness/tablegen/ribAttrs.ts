// Turns the path attributes of one MRT RIB entry into the block a NEW (4-octet AS) speaker
// sends for it (RFC 6793), ready to be interned and packed:
// - AS_PATH in 4-octet form. TABLE_DUMP_V2 stores it so already (RFC 6396 §4.3.4); TABLE_DUMP
//   v1 stores the 2-octet form, merged here with AS4_PATH as RFC 6793 §4.2.3 says.
// - AS4_PATH, AS4_AGGREGATOR, MP_UNREACH_NLRI dropped; AGGREGATOR widened to 4 octets.
// - IPv4: NEXT_HOP kept or replaced. IPv6: NEXT_HOP dropped and MP_REACH_NLRI rebuilt last,
//   with no NLRI, from the dump's next hop (RFC 6396 §4.3.4 keeps only the next hop there;
//   older Quagga writers keep the full attribute, both are read) or the replacement.
// - Everything else copied as received, in received order, with the RFC's flag bits on known
//   attributes; unknown attributes not marked optional are dropped.

import { AS_TRANS, AsPathSegmentType, AttrFlag, AttrType } from '../../packet/constants.js';
import { defaultFlags, isKnownAttribute } from '../../packet/attributes.js';
import { AttrWalker } from '../../packet/attr/walk.js';
import { AttrBlockWriter } from './attrs.js';

export interface ReplayRewrite {
  /** Replacement IPv4 NEXT_HOP as a u32, or null to keep the dump's. */
  nextHop: number | null;
  /** Replacement IPv6 next hop (16 octets), or null to keep the dump's. */
  nextHop6: Uint8Array | null;
  /** An AS to put in front of every AS_PATH (the replaying session's own AS), or null. */
  prependAs: number | null;
}

/** Decoded AS_PATH segments: types and counts per segment, ASes flattened. */
class Segments {
  types = new Uint8Array(256);
  counts = new Uint8Array(256);
  asns = new Uint32Array(256 * 255);
  n = 0;
  total = 0;

  /** Decodes src[start, end) with `asSize`-octet ASes; false if it does not parse exactly. */
  decode(src: Uint8Array, start: number, end: number, asSize: number): boolean {
    this.n = 0;
    this.total = 0;
    let p = start;
    while (p < end) {
      if (p + 2 > end || this.n === 256) return false;
      const type = src[p];
      const count = src[p + 1];
      p += 2;
      if (type < 1 || type > 4 || count === 0 || p + count * asSize > end) return false;
      this.types[this.n] = type;
      this.counts[this.n++] = count;
      for (let i = 0; i < count; i++, p += asSize) {
        this.asns[this.total++] =
          asSize === 4 ? ((src[p] << 24) | (src[p + 1] << 16) | (src[p + 2] << 8) | src[p + 3]) >>> 0 : (src[p] << 8) | src[p + 1];
      }
    }
    return true;
  }

  /** RFC 6793 §4.2.3 path length: an AS_SET counts one, confederation segments none. */
  length(): number {
    let n = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.types[i] === AsPathSegmentType.AS_SEQUENCE) n += this.counts[i];
      else if (this.types[i] === AsPathSegmentType.AS_SET) n += 1;
    }
    return n;
  }

  push(type: number, asns: Uint32Array, from: number, count: number): void {
    this.types[this.n] = type;
    this.counts[this.n++] = count;
    for (let i = 0; i < count; i++) this.asns[this.total++] = asns[from + i];
  }

  /** Puts `asn` first, in the leading AS_SEQUENCE if it has room. */
  prepend(asn: number): void {
    this.asns.copyWithin(1, 0, this.total);
    this.asns[0] = asn;
    this.total++;
    if (this.n > 0 && this.types[0] === AsPathSegmentType.AS_SEQUENCE && this.counts[0] < 255) {
      this.counts[0]++;
      return;
    }
    this.types.copyWithin(1, 0, this.n);
    this.counts.copyWithin(1, 0, this.n);
    this.types[0] = AsPathSegmentType.AS_SEQUENCE;
    this.counts[0] = 1;
    this.n++;
  }
}

/** Where each attribute of interest sits: value offset and length, -1 when absent. */
const Slot = { AS_PATH: 0, AS4_PATH: 1, AGGREGATOR: 2, AS4_AGGREGATOR: 3, NEXT_HOP: 4, MP_REACH: 5, COUNT: 6 } as const;

function slotOf(type: number): number {
  switch (type) {
    case AttrType.AS_PATH:
      return Slot.AS_PATH;
    case AttrType.AS4_PATH:
      return Slot.AS4_PATH;
    case AttrType.AGGREGATOR:
      return Slot.AGGREGATOR;
    case AttrType.AS4_AGGREGATOR:
      return Slot.AS4_AGGREGATOR;
    case AttrType.NEXT_HOP:
      return Slot.NEXT_HOP;
    case AttrType.MP_REACH_NLRI:
      return Slot.MP_REACH;
    default:
      return -1;
  }
}

/**
 * The Optional and Transitive bits RFC 4271 / RFC 7606 §3(c) require for a known attribute:
 * some writers get them wrong in dumps (BIRD writes 0 for LOCAL_PREF and LARGE_COMMUNITY),
 * and a receiver treats such routes as withdrawn.
 */
function normalFlags(type: number, flags: number): number {
  const expected = defaultFlags(type);
  const optionalTransitive = AttrFlag.Optional | AttrFlag.Transitive;
  const partial = (expected & optionalTransitive) === optionalTransitive ? flags & AttrFlag.Partial : 0;
  return expected | partial | (flags & AttrFlag.ExtendedLength);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export class RibAttrRewriter {
  readonly out = new AttrBlockWriter();
  private readonly path = new Segments();
  private readonly path4 = new Segments();
  private readonly merged = new Segments();
  private readonly at = new Int32Array(Slot.COUNT);
  private readonly len = new Int32Array(Slot.COUNT);
  /** Per attribute type, the call that last saw it: finds repeats without clearing. */
  private readonly seenIn = new Int32Array(256);
  private readonly walker = new AttrWalker();
  private call = 0;

  constructor(private readonly r: ReplayRewrite) {}

  /**
   * Rewrites src[start, end), whose AS numbers are `asSize` octets, for a route of `family`
   * (4 or 6) into `out`. Returns false when the entry cannot be replayed: malformed
   * attributes, or no next hop to send.
   */
  rewrite(src: Uint8Array, start: number, end: number, asSize: 2 | 4, family: 4 | 6): boolean {
    const { at, len, seenIn, out, r } = this;
    const call = ++this.call;
    at.fill(-1);

    // Pass 1: find the attributes that are rewritten rather than copied.
    const w = this.walker.reset(src, start, end);
    while (w.next()) {
      const slot = slotOf(w.type);
      if (slot >= 0 && at[slot] < 0) {
        at[slot] = w.value;
        len[slot] = w.length;
      }
    }
    if (w.overrun) return false;

    // AS_PATH: 4-octet, merged with AS4_PATH when the dump holds the 2-octet form.
    const path = this.path;
    let asPath = path;
    if (at[Slot.AS_PATH] >= 0) {
      if (!path.decode(src, at[Slot.AS_PATH], at[Slot.AS_PATH] + len[Slot.AS_PATH], asSize)) return false;
    } else {
      path.n = path.total = 0;
    }
    let aggAsn = -1;
    let aggAddr = 0;
    let agg2 = false;
    if (at[Slot.AGGREGATOR] >= 0) {
      const a = at[Slot.AGGREGATOR];
      if (len[Slot.AGGREGATOR] === 8) {
        aggAsn = u32(src, a);
        aggAddr = u32(src, a + 4);
      } else if (len[Slot.AGGREGATOR] === 6) {
        aggAsn = (src[a] << 8) | src[a + 1];
        aggAddr = u32(src, a + 2);
        agg2 = true;
      }
    }
    // RFC 6793 §4.2.3: AGGREGATOR (2-octet, not AS_TRANS) beside AS4_AGGREGATOR voids both AS4_
    // attributes. (OpenBGPD's TABLE_DUMP v1 writes a 4-octet AGGREGATOR beside a 2-octet AS_PATH: no veto.)
    if (asSize === 2 && !(agg2 && aggAsn !== AS_TRANS && at[Slot.AS4_AGGREGATOR] >= 0)) {
      if (agg2 && at[Slot.AS4_AGGREGATOR] >= 0 && len[Slot.AS4_AGGREGATOR] === 8) {
        aggAsn = u32(src, at[Slot.AS4_AGGREGATOR]);
        aggAddr = u32(src, at[Slot.AS4_AGGREGATOR] + 4);
      }
      if (at[Slot.AS4_PATH] >= 0 && this.path4.decode(src, at[Slot.AS4_PATH], at[Slot.AS4_PATH] + len[Slot.AS4_PATH], 4)) {
        asPath = this.merge() ?? path;
      }
    }
    if (r.prependAs !== null) {
      if (asPath.n === 256) return false;
      asPath.prepend(r.prependAs);
    }
    // Widened to 4 octets, a huge 2-octet path could outgrow an attribute's 16-bit length.
    if (asPath.n * 2 + asPath.total * 4 > 0xffff) return false;

    // The next hop, before anything is written.
    let nhAt = -1;
    let nhLen = 0;
    if (family === 4) {
      if (r.nextHop === null) {
        if (at[Slot.NEXT_HOP] >= 0 && len[Slot.NEXT_HOP] === 4) {
          nhAt = at[Slot.NEXT_HOP];
        } else {
          if (!this.mpNextHop(src) || this.mpLen !== 4) return false;
          nhAt = this.mpAt;
        }
      }
    } else if (r.nextHop6 === null) {
      if (!this.mpNextHop(src) || (this.mpLen !== 16 && this.mpLen !== 32)) return false;
      nhAt = this.mpAt;
      nhLen = this.mpLen;
    }

    // Pass 2: write the block.
    out.reset();
    let wroteNextHop = false;
    let wrotePath = false;
    w.reset(src, start, end);
    while (w.next()) {
      const f = w.flags;
      const type = w.type;
      const p = w.at;
      const next = w.value + w.length;
      const repeat = seenIn[type] === call;
      seenIn[type] = call;
      if (!repeat) {
        switch (type) {
          case AttrType.AS_PATH:
            out.asPathSegments(asPath.types, asPath.counts, asPath.n, asPath.asns);
            wrotePath = true;
            break;
          case AttrType.AGGREGATOR:
            if (aggAsn >= 0) out.aggregator(aggAsn, aggAddr);
            break;
          case AttrType.NEXT_HOP:
            if (family === 4) {
              this.writeNextHop4(src, nhAt);
              wroteNextHop = true;
            }
            break;
          case AttrType.AS4_PATH:
          case AttrType.AS4_AGGREGATOR:
          case AttrType.MP_REACH_NLRI:
          case AttrType.MP_UNREACH_NLRI:
            break;
          default:
            if (isKnownAttribute(type)) {
              out.raw(src, p, next);
              out.buf[out.len - (next - p)] = normalFlags(type, f);
            } else if (f & AttrFlag.Optional) {
              out.raw(src, p, next);
            }
          // An unknown well-known attribute would make the receiver reset the session.
        }
      }
    }
    if (!wrotePath) out.asPathSegments(asPath.types, asPath.counts, asPath.n, asPath.asns);
    if (family === 4 && !wroteNextHop) this.writeNextHop4(src, nhAt);
    if (family === 6) {
      if (r.nextHop6 !== null) out.mpReachHead(2, 1, r.nextHop6, 0, 16);
      else out.mpReachHead(2, 1, src, nhAt, nhLen);
    }
    return true;
  }

  private writeNextHop4(src: Uint8Array, nhAt: number): void {
    this.out.nextHop(this.r.nextHop !== null ? this.r.nextHop : u32(src, nhAt));
  }

  private mpAt = 0;
  private mpLen = 0;

  /** Finds MP_REACH_NLRI's next hop, in the RFC 6396 short form or the full RFC 4760 one. */
  private mpNextHop(src: Uint8Array): boolean {
    const a = this.at[Slot.MP_REACH];
    const l = this.len[Slot.MP_REACH];
    if (a < 0 || l < 1) return false;
    if (src[a] + 1 === l) {
      this.mpAt = a + 1;
      this.mpLen = src[a];
      return true;
    }
    // Full form: AFI (2), SAFI (1), next hop length (1), next hop, reserved, NLRI.
    if (l < 5 || 4 + src[a + 3] > l) return false;
    this.mpAt = a + 4;
    this.mpLen = src[a + 3];
    return true;
  }

  /** RFC 6793 §4.2.3: leading (n2 - n4) ASes of AS_PATH, then all of AS4_PATH; null if n2 < n4. */
  private merge(): Segments | null {
    const { path, path4, merged } = this;
    let keep = path.length() - path4.length();
    if (keep < 0) return null;
    merged.n = merged.total = 0;
    for (let i = 0, k = 0; i < path.n; k += path.counts[i], i++) {
      const type = path.types[i];
      const count = path.counts[i];
      // Confederation segments count for nothing: they stay with the leading part.
      if (keep <= 0 && (type === AsPathSegmentType.AS_SEQUENCE || type === AsPathSegmentType.AS_SET)) break;
      if (type === AsPathSegmentType.AS_SEQUENCE) {
        const take = Math.min(count, keep);
        merged.push(type, path.asns, k, take);
        keep -= take;
      } else {
        merged.push(type, path.asns, k, count);
        if (type === AsPathSegmentType.AS_SET) keep -= 1;
      }
    }
    for (let i = 0, k = 0; i < path4.n; k += path4.counts[i], i++) {
      if (merged.n === 256) return null;
      merged.push(path4.types[i], path4.asns, k, path4.counts[i]);
    }
    return merged;
  }
}
