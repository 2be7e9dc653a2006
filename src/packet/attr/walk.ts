// The one walk over path attribute bytes (RFC 4271 §4.3): flags, type, length (one or two
// octets, by the Extended Length bit), value. Every reader of attribute bytes goes through it.

import { AttrFlag } from '../constants.js';

/**
 * A cursor over the attributes in b[start, end). After `next()` returns true, `flags`,
 * `type`, `value` (offset of the value), `length` and `at` (offset of the header) describe
 * one attribute. `next()` returns false at the end, or when the next header or value runs past
 * `end`: then `overrun` is true (RFC 7606 §4).
 */
export class AttrWalker {
  b: Uint8Array = new Uint8Array(0);
  end = 0;
  private p = 0;
  at = 0;
  flags = 0;
  type = 0;
  value = 0;
  length = 0;
  overrun = false;

  constructor(b?: Uint8Array, start = 0, end = b?.length ?? 0) {
    if (b) this.reset(b, start, end);
  }

  reset(b: Uint8Array, start = 0, end = b.length): this {
    this.b = b;
    this.p = start;
    this.end = end;
    this.overrun = false;
    return this;
  }

  next(): boolean {
    const b = this.b;
    const p = this.p;
    const end = this.end;
    if (p >= end) return false;
    if (p + 3 > end) return this.stop();
    const flags = b[p];
    const ext = (flags & AttrFlag.ExtendedLength) !== 0;
    if (ext && p + 4 > end) return this.stop();
    const length = ext ? (b[p + 2] << 8) | b[p + 3] : b[p + 2];
    const value = p + (ext ? 4 : 3);
    if (value + length > end) return this.stop();
    this.at = p;
    this.flags = flags;
    this.type = b[p + 1];
    this.value = value;
    this.length = length;
    this.p = value + length;
    return true;
  }

  /** The whole attribute, header included (a view). */
  whole(): Uint8Array {
    return this.b.subarray(this.at, this.value + this.length);
  }

  private stop(): false {
    this.overrun = true;
    this.p = this.end;
    return false;
  }
}

/** The unsigned 32-bit number at b[o] (network order): most attribute values are one or a list. */
export function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** `n` as 4 octets in network order. */
export function be32(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * Writes an attribute header at b[o] for a value of `length` octets: the Extended Length bit
 * only when the value needs it. Returns the offset of the value.
 */
export function writeAttrHeader(b: Uint8Array, o: number, flags: number, type: number, length: number): number {
  if (length > 255) {
    b[o] = flags | AttrFlag.ExtendedLength;
    b[o + 1] = type;
    b[o + 2] = length >> 8;
    b[o + 3] = length & 0xff;
    return o + 4;
  }
  b[o] = flags & ~AttrFlag.ExtendedLength;
  b[o + 1] = type;
  b[o + 2] = length;
  return o + 3;
}

/** One attribute, header and value, as a new array. */
export function attrBytes(flags: number, type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array((value.length > 255 ? 4 : 3) + value.length);
  out.set(value, writeAttrHeader(out, 0, flags, type, value.length));
  return out;
}

/** The offset of the first attribute of `type` in b[start, end), or -1. */
export function findAttr(b: Uint8Array, type: number, start = 0, end = b.length): number {
  const w = new AttrWalker(b, start, end);
  while (w.next()) if (w.type === type) return w.at;
  return -1;
}

/**
 * `block` with the whole attribute `attr` added: before a trailing MP_REACH_NLRI (the writer
 * appends NLRI to it), else at the end.
 */
export function withAttribute(block: Uint8Array, attr: Uint8Array): Uint8Array {
  let last = -1;
  let lastType = -1;
  const w = new AttrWalker(block);
  while (w.next()) {
    last = w.at;
    lastType = w.type;
  }
  const at = lastType === 14 ? last : block.length;
  const out = new Uint8Array(block.length + attr.length);
  out.set(block.subarray(0, at));
  out.set(attr, at);
  out.set(block.subarray(at), at + attr.length);
  return out;
}

/** The 4-octet value of the first attribute of `type` in `block`, or -1. */
export function u32Attribute(block: Uint8Array, type: number): number {
  const w = new AttrWalker(block);
  while (w.next()) {
    if (w.type === type && w.length === 4) return u32(block, w.value);
  }
  return -1;
}
