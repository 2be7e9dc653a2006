// Rewriting a stored attribute set for one receiver (RFC 4271 §5.1, RFC 4456 §8, RFC 7947 §2,
// RFC 6793 §4.2.2), column by column from the attribute table.

import { decodeUpdate } from '../update.js';
import { encodeAttribute, type PathAttribute } from '../attributes.js';
import { AttrFlag, AttrType, MessageType } from '../constants.js';
import { encodeMessage } from '../header.js';
import { ATTRIBUTES, OnExport, Receiver, unknownExport } from './table.js';
import { AttrWalker, attrBytes, be32, writeAttrHeader } from './walk.js';

/** RFC 4271 §5.1.5: the LOCAL_PREF a route gets towards iBGP when it has none of its own. */
export const DEFAULT_LOCAL_PREF = 100;

/** What the export rewrite needs to know of the receiving session. */
export interface ExportRules {
  localAs: number;
  ibgp: boolean;
  /** RFC 7947: no own AS prepended, next hop and MED unchanged. */
  routeServerClient: boolean;
  /** Next hop self towards eBGP, as u32. */
  nextHop: number;
  /** IPv6 next hop self (16 octets). */
  nextHop6: Uint8Array;
  /** The receiver has the 4-octet AS capability (RFC 6793). */
  asn4: boolean;
  /** LOCAL_PREF for routes without one (default DEFAULT_LOCAL_PREF). */
  localPref?: number;
  /** RFC 9234 §5: towards a customer, peer or RS-client, OTC = this AS on routes without one. */
  addOtc?: number;
}

export function receiverKind(t: ExportRules): Receiver {
  return t.ibgp ? Receiver.Ibgp : t.routeServerClient ? Receiver.RouteServerClient : Receiver.Ebgp;
}

/**
 * A stored (4-octet AS, NLRI-free) attribute block as `t` is sent it. An IPv6 path's
 * MP_REACH_NLRI goes last, with the Extended Length bit, for the writer to append NLRI to.
 */
export function exportAttributes(src: Uint8Array, t: ExportRules): Uint8Array {
  return t.asn4 ? export4(src, t) : toTwoOctetAs(export4(src, t));
}

const walker = new AttrWalker();

function export4(src: Uint8Array, t: ExportRules): Uint8Array {
  const kind = receiverKind(t);
  const out = Buffer.allocUnsafe(src.length + 96);
  let o = 0;
  let hasLocalPref = false;
  let hasOtc = false;
  let mpReach: Uint8Array | null = null;
  const w = walker.reset(src);
  while (w.next()) {
    const { type, flags, value: v, length: len } = w;
    const s = ATTRIBUTES[type];
    const action = s ? s.export[kind] : unknownExport(flags);
    if (action === OnExport.Drop) continue;
    if (type === AttrType.MP_REACH_NLRI) {
      // An IPv6 path's next hop: ours when rewritten, else as learnt.
      const nh = action === OnExport.Rewrite ? t.nextHop6 : src.subarray(v + 4, v + 4 + src[v + 3]);
      mpReach = new Uint8Array(5 + nh.length);
      mpReach.set(src.subarray(v, v + 3));
      mpReach[3] = nh.length;
      mpReach.set(nh, 4);
      continue;
    }
    if (type === AttrType.LOCAL_PREF) hasLocalPref = true;
    if (type === AttrType.OTC) hasOtc = true;
    if (action === OnExport.Rewrite && type === AttrType.AS_PATH) {
      o = prepend(out, o, flags, src, v, len, t.localAs);
      continue;
    }
    if (action === OnExport.Rewrite && type === AttrType.NEXT_HOP) {
      o = writeAttrHeader(out, o, flags, type, 4);
      out.writeUInt32BE(t.nextHop >>> 0, o);
      o += 4;
      continue;
    }
    // Kept (LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST too: reflect() extends the last two).
    // An unrecognised transitive attribute is passed on marked Partial (RFC 4271 §5).
    o = writeAttrHeader(out, o, s ? flags : flags | AttrFlag.Partial, type, len);
    out.set(src.subarray(v, v + len), o);
    o += len;
  }
  if (kind === Receiver.Ibgp && !hasLocalPref) {
    o = writeAttrHeader(out, o, AttrFlag.Transitive, AttrType.LOCAL_PREF, 4);
    out.writeUInt32BE((t.localPref ?? DEFAULT_LOCAL_PREF) >>> 0, o);
    o += 4;
  }
  if (t.addOtc !== undefined && !hasOtc) {
    o = writeAttrHeader(out, o, AttrFlag.Optional | AttrFlag.Transitive, AttrType.OTC, 4);
    out.writeUInt32BE(t.addOtc >>> 0, o);
    o += 4;
  }
  if (mpReach) {
    out[o++] = AttrFlag.Optional | AttrFlag.ExtendedLength;
    out[o++] = AttrType.MP_REACH_NLRI;
    out.writeUInt16BE(mpReach.length, o);
    o += 2;
    out.set(mpReach, o);
    o += mpReach.length;
  }
  return out.subarray(0, o);
}

/** AS_PATH with `asn` in front (RFC 4271 §5.1.2): joins the first AS_SEQUENCE when it has room. */
function prepend(out: Buffer, o: number, flags: number, src: Uint8Array, v: number, len: number, asn: number): number {
  const joins = len >= 2 && src[v] === 2 && src[v + 1] < 255;
  o = writeAttrHeader(out, o, flags, AttrType.AS_PATH, joins ? len + 4 : len + 6);
  out[o++] = 2;
  out[o++] = joins ? src[v + 1] + 1 : 1;
  out.writeUInt32BE(asn >>> 0, o);
  o += 4;
  const from = joins ? v + 2 : v;
  out.set(src.subarray(from, v + len), o);
  return o + (v + len - from);
}

/**
 * RFC 6793 §4.2.2: for a peer without the 4-octet AS capability, AS numbers above 65535
 * become AS_TRANS and the real path travels in AS4_PATH / AS4_AGGREGATOR. Rare, so it goes
 * through the codec.
 */
export function toTwoOctetAs(block: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + block.length);
  body[2] = block.length >> 8;
  body[3] = block.length & 0xff;
  body.set(block, 4);
  const attrs = decodeUpdate(encodeMessage(MessageType.UPDATE, body), { asn4: true }).attributes;
  const extra: PathAttribute[] = [];
  for (const a of attrs) {
    if (a.type === AttrType.AS_PATH && 'segments' in a && a.segments.some((s) => s.asns.some((x) => x > 0xffff))) {
      extra.push({ type: AttrType.AS4_PATH, flags: AttrFlag.Optional | AttrFlag.Transitive, segments: a.segments });
    }
    if (a.type === AttrType.AGGREGATOR && 'asn' in a && a.asn > 0xffff) {
      extra.push({ type: AttrType.AS4_AGGREGATOR, flags: AttrFlag.Optional | AttrFlag.Transitive, asn: a.asn, address: a.address });
    }
  }
  // MP_REACH_NLRI stays last: the IPv6 writer appends the NLRI to it.
  const mp = attrs.filter((a) => a.type === AttrType.MP_REACH_NLRI);
  const rest = attrs.filter((a) => a.type !== AttrType.MP_REACH_NLRI);
  return Buffer.concat([...rest, ...extra, ...mp].map((a) => encodeAttribute(a, { asn4: false })));
}

/**
 * Route reflection (RFC 4456 §8): ORIGINATOR_ID set to the route's iBGP source unless it has
 * one, and our cluster id put in front of CLUSTER_LIST. MP_REACH_NLRI stays last.
 */
export function reflect(src: Uint8Array, sourceId: number, clusterId: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let mp: Uint8Array | null = null;
  let hasOriginator = false;
  let cluster: Uint8Array | null = null;
  const w = walker.reset(src);
  while (w.next()) {
    if (w.type === AttrType.ORIGINATOR_ID) hasOriginator = true;
    if (w.type === AttrType.CLUSTER_LIST) cluster = src.subarray(w.value, w.value + w.length);
    else if (w.type === AttrType.MP_REACH_NLRI) mp = w.whole();
    else parts.push(w.whole());
  }
  if (!hasOriginator) parts.push(attrBytes(AttrFlag.Optional, AttrType.ORIGINATOR_ID, be32(sourceId)));
  const list = new Uint8Array(4 + (cluster?.length ?? 0));
  list.set(be32(clusterId));
  if (cluster) list.set(cluster, 4);
  parts.push(attrBytes(AttrFlag.Optional, AttrType.CLUSTER_LIST, list));
  if (mp) parts.push(mp);
  return Buffer.concat(parts);
}

/** Where the last attribute of a block starts (the MP_REACH_NLRI export puts last). */
export function lastAttrAt(b: Uint8Array): number {
  let at = 0;
  const w = walker.reset(b);
  while (w.next()) at = w.at;
  return at;
}
