// Path attributes (RFC 4271 §4.3, §5) with the per-attribute error handling of RFC 7606 §7.

import { ipv4FromBytes, ipv4ToBytes, ipv6FromBytes, ipv6ToBytes, type Prefix } from './address.js';
import { attrSpec, isKnownAttribute, OnError } from './attr/table.js';
import { checkAttribute, lastReason, prefixFamily, type AttrContext } from './attr/validate.js';
import { attrBytes, be32, u32 } from './attr/walk.js';
import { AS_TRANS, AsPathSegmentType, AttrFlag, AttrType } from './constants.js';
import { BgpError, ErrorCode, UpdateSubcode } from './errors.js';
import { decodeNlri, encodeNlri } from './nlri.js';
import { concat } from './open.js';

export interface AsPathSegment {
  type: AsPathSegmentType;
  asns: number[];
}

export type PathAttribute =
  | { type: AttrType.ORIGIN; flags: number; origin: number }
  | AsPathAttribute
  | { type: AttrType.NEXT_HOP; flags: number; nextHop: string }
  | { type: AttrType.MULTI_EXIT_DISC; flags: number; med: number }
  | { type: AttrType.LOCAL_PREF; flags: number; localPref: number }
  | { type: AttrType.ATOMIC_AGGREGATE; flags: number }
  | AggregatorAttribute
  | { type: AttrType.COMMUNITIES; flags: number; communities: number[] }
  | { type: AttrType.ORIGINATOR_ID; flags: number; originatorId: string }
  | { type: AttrType.CLUSTER_LIST; flags: number; clusterList: string[] }
  | { type: AttrType.MP_REACH_NLRI; flags: number; afi: number; safi: number; nextHops: string[]; nlri: Prefix[] }
  | { type: AttrType.MP_UNREACH_NLRI; flags: number; afi: number; safi: number; withdrawn: Prefix[] }
  | { type: AttrType.EXTENDED_COMMUNITIES; flags: number; extendedCommunities: Uint8Array[] }
  | { type: AttrType.LARGE_COMMUNITY; flags: number; largeCommunities: Array<[number, number, number]> }
  | { type: AttrType.OTC; flags: number; otc: number }
  | UnknownAttribute;

export interface UnknownAttribute {
  type: number;
  flags: number;
  data: Uint8Array;
}

export interface AsPathAttribute {
  type: AttrType.AS_PATH | AttrType.AS4_PATH;
  flags: number;
  segments: AsPathSegment[];
}

export interface AggregatorAttribute {
  type: AttrType.AGGREGATOR | AttrType.AS4_AGGREGATOR;
  flags: number;
  asn: number;
  address: string;
}

/** The session's side of the codec: 4-octet AS numbers, an external peer, ADD-PATH per family. */
export type CodecContext = AttrContext;

export { defaultFlags, isKnownAttribute } from './attr/table.js';

/** What RFC 7606 asks for when one attribute is malformed. */
export type ErrorAction = 'treat-as-withdraw' | 'attribute-discard';

/** A malformed attribute the caller must handle as `action` says (RFC 7606 §2). */
export class AttributeError extends Error {
  constructor(
    readonly type: number,
    readonly action: ErrorAction,
    reason: string,
  ) {
    super(reason);
  }
}

/** Segments of a value checkAttribute() found well-formed. */
function decodeAsPath(v: Uint8Array, asSize: 2 | 4): AsPathSegment[] {
  const segments: AsPathSegment[] = [];
  for (let p = 0; p < v.length; ) {
    const segType = v[p];
    const count = v[p + 1];
    p += 2;
    const asns: number[] = new Array(count);
    for (let i = 0; i < count; i++, p += asSize) asns[i] = asSize === 4 ? u32(v, p) : (v[p] << 8) | v[p + 1];
    segments.push({ type: segType, asns });
  }
  return segments;
}

function encodeAsPath(segments: readonly AsPathSegment[], asSize: 2 | 4): Uint8Array {
  const size = segments.reduce((s, g) => s + 2 + g.asns.length * asSize, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const g of segments) {
    out[p] = g.type;
    out[p + 1] = g.asns.length;
    p += 2;
    for (const asn of g.asns) {
      if (asSize === 4) dv.setUint32(p, asn >>> 0);
      else dv.setUint16(p, asn > 0xffff ? AS_TRANS : asn);
      p += asSize;
    }
  }
  return out;
}

/**
 * Decodes one attribute's value after checking it against the attribute table. Throws
 * AttributeError for errors RFC 7606 handles without a session reset, BgpError for those
 * that still reset the session (MP_REACH/MP_UNREACH).
 */
export function decodeAttribute(type: number, flags: number, v: Uint8Array, ctx: CodecContext): PathAttribute {
  const s = attrSpec(type);
  if (!s) return { type, flags, data: v.slice() };
  const action = checkAttribute(s, flags, v, 0, v.length, ctx);
  if (action === OnError.Reset) throw mpError(lastReason);
  if (action !== 0) throw new AttributeError(type, action === OnError.Discard ? 'attribute-discard' : 'treat-as-withdraw', lastReason);
  const len = v.length;
  switch (type) {
    case AttrType.ORIGIN:
      return { type, flags, origin: v[0] };
    case AttrType.AS_PATH:
      return { type, flags, segments: decodeAsPath(v, ctx.asn4 ? 4 : 2) };
    case AttrType.AS4_PATH:
      // RFC 6793 §6: confederation segments in AS4_PATH are dropped, the rest kept.
      return { type, flags, segments: decodeAsPath(v, 4).filter((g) => g.type === AsPathSegmentType.AS_SEQUENCE || g.type === AsPathSegmentType.AS_SET) };
    case AttrType.NEXT_HOP:
      return { type, flags, nextHop: ipv4FromBytes(v) };
    case AttrType.MULTI_EXIT_DISC:
      return { type, flags, med: u32(v, 0) };
    case AttrType.LOCAL_PREF:
      return { type, flags, localPref: u32(v, 0) };
    case AttrType.ATOMIC_AGGREGATE:
      return { type, flags };
    case AttrType.AGGREGATOR: {
      const asSize = ctx.asn4 ? 4 : 2;
      const asn = asSize === 4 ? u32(v, 0) : (v[0] << 8) | v[1];
      return { type, flags, asn, address: ipv4FromBytes(v, asSize) };
    }
    case AttrType.AS4_AGGREGATOR:
      return { type, flags, asn: u32(v, 0), address: ipv4FromBytes(v, 4) };
    case AttrType.COMMUNITIES: {
      const communities = new Array<number>(len / 4);
      for (let i = 0; i < communities.length; i++) communities[i] = u32(v, i * 4);
      return { type, flags, communities };
    }
    case AttrType.ORIGINATOR_ID:
      return { type, flags, originatorId: ipv4FromBytes(v) };
    case AttrType.CLUSTER_LIST: {
      const clusterList: string[] = [];
      for (let o = 0; o < len; o += 4) clusterList.push(ipv4FromBytes(v, o));
      return { type, flags, clusterList };
    }
    case AttrType.MP_REACH_NLRI:
      return decodeMpReach(flags, v, ctx);
    case AttrType.MP_UNREACH_NLRI: {
      const afi = (v[0] << 8) | v[1];
      const safi = v[2];
      const withdrawn = prefixFamily(afi, safi) ? decodeNlri(v, 3, len, afi, addPathFor(ctx, afi), UpdateSubcode.OptionalAttributeError) : [];
      return { type, flags, afi, safi, withdrawn };
    }
    case AttrType.EXTENDED_COMMUNITIES: {
      const extendedCommunities: Uint8Array[] = [];
      for (let o = 0; o < len; o += 8) extendedCommunities.push(v.slice(o, o + 8));
      return { type, flags, extendedCommunities };
    }
    case AttrType.LARGE_COMMUNITY: {
      const largeCommunities: Array<[number, number, number]> = [];
      for (let o = 0; o < len; o += 12) largeCommunities.push([u32(v, o), u32(v, o + 4), u32(v, o + 8)]);
      return { type, flags, largeCommunities };
    }
    case AttrType.OTC:
      return { type, flags, otc: u32(v, 0) };
    default:
      return { type, flags, data: v.slice() };
  }
}

function mpError(reason: string): BgpError {
  // RFC 7606 §7.11 / RFC 4760 §7: MP_REACH/MP_UNREACH errors reset the session.
  return new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.OptionalAttributeError, undefined, reason);
}

function addPathFor(ctx: CodecContext, afi: number): boolean {
  return afi === 1 ? !!ctx.addPath?.ipv4 : afi === 2 ? !!ctx.addPath?.ipv6 : false;
}

/** MP_REACH_NLRI whose framing checkAttribute() found well-formed. */
function decodeMpReach(flags: number, v: Uint8Array, ctx: CodecContext): PathAttribute {
  const afi = (v[0] << 8) | v[1];
  const safi = v[2];
  const nhLen = v[3];
  const nextHops: string[] = [];
  if (afi === 1 && nhLen === 4) nextHops.push(ipv4FromBytes(v, 4));
  else if ((afi === 1 || afi === 2) && (nhLen === 16 || nhLen === 32)) {
    // IPv6, or IPv6 for IPv4 NLRI (RFC 8950); a second, link-local address may follow.
    nextHops.push(ipv6FromBytes(v, 4));
    if (nhLen === 32) nextHops.push(ipv6FromBytes(v, 20));
  } else nextHops.push(Buffer.from(v.subarray(4, 4 + nhLen)).toString('hex'));
  // One reserved octet (RFC 4760 §3), ignored on receipt.
  const nlriStart = 4 + nhLen + 1;
  const nlri = prefixFamily(afi, safi) ? decodeNlri(v, nlriStart, v.length, afi, addPathFor(ctx, afi), UpdateSubcode.OptionalAttributeError) : [];
  return { type: AttrType.MP_REACH_NLRI, flags, afi, safi, nextHops, nlri };
}

function nextHopBytes(afi: number, hops: string[]): Uint8Array {
  return concat(hops.map((h) => (h.includes(':') ? ipv6ToBytes(h) : afi === 1 ? ipv4ToBytes(h) : ipv6ToBytes(h))));
}

/** Encodes one attribute's value (without its header). */
export function encodeAttributeValue(a: PathAttribute, ctx: CodecContext): Uint8Array {
  const x = a as any;
  switch (a.type) {
    case AttrType.ORIGIN:
      return Uint8Array.of(x.origin);
    case AttrType.AS_PATH:
      return encodeAsPath(x.segments, ctx.asn4 ? 4 : 2);
    case AttrType.AS4_PATH:
      return encodeAsPath(x.segments, 4);
    case AttrType.NEXT_HOP:
      return ipv4ToBytes(x.nextHop);
    case AttrType.MULTI_EXIT_DISC:
      return be32(x.med);
    case AttrType.LOCAL_PREF:
      return be32(x.localPref);
    case AttrType.ATOMIC_AGGREGATE:
      return new Uint8Array(0);
    case AttrType.AGGREGATOR: {
      const asn4 = ctx.asn4;
      const out = new Uint8Array(asn4 ? 8 : 6);
      const dv = new DataView(out.buffer);
      if (asn4) dv.setUint32(0, x.asn >>> 0);
      else dv.setUint16(0, x.asn > 0xffff ? AS_TRANS : x.asn);
      out.set(ipv4ToBytes(x.address), asn4 ? 4 : 2);
      return out;
    }
    case AttrType.AS4_AGGREGATOR: {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setUint32(0, x.asn >>> 0);
      out.set(ipv4ToBytes(x.address), 4);
      return out;
    }
    case AttrType.COMMUNITIES: {
      const out = new Uint8Array(x.communities.length * 4);
      const dv = new DataView(out.buffer);
      x.communities.forEach((c: number, i: number) => dv.setUint32(i * 4, c >>> 0));
      return out;
    }
    case AttrType.ORIGINATOR_ID:
      return ipv4ToBytes(x.originatorId);
    case AttrType.CLUSTER_LIST: {
      const out = new Uint8Array(x.clusterList.length * 4);
      x.clusterList.forEach((c: string, i: number) => out.set(ipv4ToBytes(c), i * 4));
      return out;
    }
    case AttrType.MP_REACH_NLRI: {
      const nh = nextHopBytes(x.afi, x.nextHops);
      const nlri = encodeNlri(x.nlri, addPathFor(ctx, x.afi));
      const out = new Uint8Array(5 + nh.length + nlri.length);
      out[0] = x.afi >> 8;
      out[1] = x.afi & 0xff;
      out[2] = x.safi;
      out[3] = nh.length;
      out.set(nh, 4);
      out.set(nlri, 5 + nh.length);
      return out;
    }
    case AttrType.MP_UNREACH_NLRI: {
      const nlri = encodeNlri(x.withdrawn, addPathFor(ctx, x.afi));
      const out = new Uint8Array(3 + nlri.length);
      out[0] = x.afi >> 8;
      out[1] = x.afi & 0xff;
      out[2] = x.safi;
      out.set(nlri, 3);
      return out;
    }
    case AttrType.EXTENDED_COMMUNITIES: {
      const out = new Uint8Array(x.extendedCommunities.length * 8);
      x.extendedCommunities.forEach((c: Uint8Array, i: number) => out.set(c, i * 8));
      return out;
    }
    case AttrType.LARGE_COMMUNITY: {
      const out = new Uint8Array(x.largeCommunities.length * 12);
      const dv = new DataView(out.buffer);
      x.largeCommunities.forEach((c: number[], i: number) => {
        dv.setUint32(i * 12, c[0] >>> 0);
        dv.setUint32(i * 12 + 4, c[1] >>> 0);
        dv.setUint32(i * 12 + 8, c[2] >>> 0);
      });
      return out;
    }
    case AttrType.OTC:
      return be32(x.otc);
    default:
      return x.data;
  }
}

/** Encodes one attribute with its header; the Extended Length bit is set when needed or asked. */
export function encodeAttribute(a: PathAttribute, ctx: CodecContext): Uint8Array {
  const value = encodeAttributeValue(a, ctx);
  // Asked for explicitly, the Extended Length bit stays even on a short value (fixtures keep it).
  if (value.length <= 255 && a.flags & AttrFlag.ExtendedLength) {
    const out = new Uint8Array(4 + value.length);
    out[0] = a.flags;
    out[1] = a.type;
    out[3] = value.length;
    out.set(value, 4);
    return out;
  }
  return attrBytes(a.flags, a.type, value);
}

/**
 * The attributes as they are passed on to another peer (RFC 4271 §5): unrecognised optional
 * transitive attributes keep their value and gain the Partial bit; unrecognised optional
 * non-transitive ones are dropped.
 */
export function forPropagation(attrs: readonly PathAttribute[]): PathAttribute[] {
  const out: PathAttribute[] = [];
  for (const a of attrs) {
    if (isKnownAttribute(a.type)) out.push(a);
    else if (a.flags & AttrFlag.Transitive) out.push({ ...a, flags: a.flags | AttrFlag.Partial });
  }
  return out;
}
