// Writes a path attribute block (RFC 4271 §4.3) straight into a reusable scratch buffer: the
// generator builds hundreds of thousands of blocks, and the codec's object form would cost an
// allocation per attribute. AS numbers are always 4 octets (RFC 6793, both sides NEW).
// Callers add attributes in type-code order; MP_REACH_NLRI, when present, goes last so the
// packer can append NLRI to it.

import { AsPathSegmentType, AttrFlag, AttrType } from '../../packet/constants.js';
import { writeAttrHeader } from '../../packet/attr/walk.js';

const WELL_KNOWN = AttrFlag.Transitive;
const OPTIONAL_TRANSITIVE = AttrFlag.Optional | AttrFlag.Transitive;

export class AttrBlockWriter {
  buf: Buffer = Buffer.alloc(4096);
  len = 0;
  /** Offset of the MP_REACH_NLRI attribute in the block, or -1. */
  mpReachAt = -1;

  reset(): void {
    this.len = 0;
    this.mpReachAt = -1;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Attribute header; Extended Length only when the value needs it. Returns the value offset. */
  private header(flags: number, type: number, valueLen: number): number {
    this.ensure(4 + valueLen);
    const p = writeAttrHeader(this.buf, this.len, flags, type, valueLen);
    this.len = p + valueLen;
    return p;
  }

  origin(origin: number): void {
    const p = this.header(WELL_KNOWN, AttrType.ORIGIN, 1);
    this.buf[p] = origin;
  }

  /** One AS_SEQUENCE of asns[0, n), split into segments of at most 255 ASes. */
  asPath(asns: Uint32Array, n: number): void {
    const segments = Math.ceil(n / 255);
    let p = this.header(WELL_KNOWN, AttrType.AS_PATH, segments * 2 + n * 4);
    const b = this.buf;
    for (let i = 0; i < n; i++) {
      if (i % 255 === 0) {
        b[p++] = AsPathSegmentType.AS_SEQUENCE;
        b[p++] = Math.min(255, n - i);
      }
      b.writeUInt32BE(asns[i], p);
      p += 4;
    }
  }

  nextHop(addr: number): void {
    this.buf.writeUInt32BE(addr >>> 0, this.header(WELL_KNOWN, AttrType.NEXT_HOP, 4));
  }

  med(med: number): void {
    this.buf.writeUInt32BE(med >>> 0, this.header(AttrFlag.Optional, AttrType.MULTI_EXIT_DISC, 4));
  }

  atomicAggregate(): void {
    this.header(WELL_KNOWN, AttrType.ATOMIC_AGGREGATE, 0);
  }

  aggregator(asn: number, address: number): void {
    const p = this.header(OPTIONAL_TRANSITIVE, AttrType.AGGREGATOR, 8);
    this.buf.writeUInt32BE(asn >>> 0, p);
    this.buf.writeUInt32BE(address >>> 0, p + 4);
  }

  /** values[0, n): each community as a u32 (RFC 1997: AS << 16 | value). */
  communities(values: Uint32Array, n: number): void {
    let p = this.header(OPTIONAL_TRANSITIVE, AttrType.COMMUNITIES, n * 4);
    for (let i = 0; i < n; i++, p += 4) this.buf.writeUInt32BE(values[i], p);
  }

  /** values[0, 3n): (global administrator, local data 1, local data 2) triples (RFC 8092). */
  largeCommunities(values: Uint32Array, n: number): void {
    let p = this.header(OPTIONAL_TRANSITIVE, AttrType.LARGE_COMMUNITY, n * 12);
    for (let i = 0; i < 3 * n; i++, p += 4) this.buf.writeUInt32BE(values[i], p);
  }

  /**
   * MP_REACH_NLRI (RFC 4760 §3) up to and including the reserved octet, with no NLRI yet;
   * always Extended Length, since the packer grows it past 255 octets. The next hop is
   * nextHop[off, off + len).
   */
  mpReachHead(afi: number, safi: number, nextHop: Uint8Array, off = 0, len = nextHop.length - off): void {
    this.ensure(4 + 5 + len);
    const b = this.buf;
    let p = this.len;
    this.mpReachAt = p;
    const valueLen = 5 + len;
    b[p++] = AttrFlag.Optional | AttrFlag.ExtendedLength;
    b[p++] = AttrType.MP_REACH_NLRI;
    b[p++] = valueLen >> 8;
    b[p++] = valueLen & 0xff;
    b[p++] = afi >> 8;
    b[p++] = afi & 0xff;
    b[p++] = safi;
    b[p++] = len;
    copyBytes(b, p, nextHop, off, off + len);
    p += len;
    b[p++] = 0; // reserved
    this.len = p;
  }

  /**
   * AS_PATH from decoded segments: types[i] and counts[i] per segment, the ASes of all
   * segments one after another in asns.
   */
  asPathSegments(types: Uint8Array, counts: Uint8Array, segments: number, asns: Uint32Array): void {
    let total = 0;
    for (let i = 0; i < segments; i++) total += counts[i];
    let p = this.header(WELL_KNOWN, AttrType.AS_PATH, segments * 2 + total * 4);
    const b = this.buf;
    let k = 0;
    for (let i = 0; i < segments; i++) {
      b[p++] = types[i];
      b[p++] = counts[i];
      for (let j = 0; j < counts[i]; j++, p += 4) b.writeUInt32BE(asns[k++], p);
    }
  }

  /** Appends attributes already encoded elsewhere (used by the MRT reader). */
  raw(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    copyBytes(this.buf, this.len, src, start, end);
    this.len += end - start;
  }
}

/** Copies src[start, end) to dst at `at`; short runs by hand, which beats making a view. */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, start: number, end: number): void {
  if (end - start > 64) {
    dst.set(src.subarray(start, end), at);
    return;
  }
  for (let i = start; i < end; i++) dst[at++] = src[i];
}
