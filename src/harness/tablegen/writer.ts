// Packs prefixes that share a path attribute block into as few UPDATE messages as fit
// (RFC 4271 §4.3), as real speakers do, writing straight into one growing Buffer.
//
// IPv4 prefixes go in the trailing NLRI field. For other families the block ends with an
// MP_REACH_NLRI head (RFC 4760 §3) and prefixes are appended to it: it is the last attribute,
// so its NLRI and the message's end coincide, and only three lengths need patching per message.

import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MessageType } from '../../packet/constants.js';

/** Header, Withdrawn Routes Length and Total Path Attribute Length. */
const FIXED = HEADER_LENGTH + 4;

export class UpdateWriter {
  private buf: Buffer;
  private pos = 0;
  /** Messages written so far. */
  messages = 0;

  private attrs: Uint8Array = new Uint8Array(0);
  private attrStart = 0;
  private attrLen = 0;
  private mpReachAt = -1;
  /** Start of the open message, or -1 when none is open. */
  private msgStart = -1;
  private msgLimit = 0;

  constructor(
    readonly maxMessageLength: number,
    initialBytes = 1 << 20,
  ) {
    if (!(maxMessageLength >= 256 && maxMessageLength <= MAX_EXTENDED_MESSAGE_LENGTH)) {
      throw new RangeError(`maxMessageLength ${maxMessageLength} outside 256..65535`);
    }
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, maxMessageLength));
  }

  /** Whether a block of `attrLen` octets leaves room for at least one prefix of `nlriLen` octets. */
  fits(attrLen: number, nlriLen: number): boolean {
    return FIXED + attrLen + nlriLen <= this.maxMessageLength;
  }

  /**
   * Starts a group of prefixes sharing attrs[start, start + len). `mpReachAt` is the offset of
   * the trailing MP_REACH_NLRI inside the block, or -1 for IPv4 NLRI. The block is read again
   * for every message of the group, so it must stay unchanged until the next startGroup.
   */
  startGroup(attrs: Uint8Array, start: number, len: number, mpReachAt: number): void {
    this.close();
    this.attrs = attrs;
    this.attrStart = start;
    this.attrLen = len;
    this.mpReachAt = mpReachAt;
  }

  /** Ends the group: the next prefix will need a new startGroup. */
  endGroup(): void {
    this.close();
  }

  /** Makes room for an n-octet prefix, starting a new message when the open one is full. */
  private room(n: number): number {
    if (this.msgStart < 0 || this.pos + n > this.msgLimit) {
      this.close();
      this.open();
    }
    const p = this.pos;
    this.pos = p + n;
    return p;
  }

  addPrefix4(addr: number, len: number): void {
    const n = (len + 7) >> 3;
    const p = this.room(1 + n);
    const b = this.buf;
    b[p] = len;
    if (n > 0) b[p + 1] = addr >>> 24;
    if (n > 1) b[p + 2] = (addr >>> 16) & 0xff;
    if (n > 2) b[p + 3] = (addr >>> 8) & 0xff;
    if (n > 3) b[p + 4] = addr & 0xff;
  }

  /** An IPv6 prefix of at most /48: address bits 0-31 in `hi`, 32-47 in `mid`. */
  addPrefix6(hi: number, mid: number, len: number): void {
    const n = (len + 7) >> 3;
    const p = this.room(1 + n);
    const b = this.buf;
    b[p] = len;
    for (let i = 0; i < n; i++) b[p + 1 + i] = i < 4 ? (hi >>> (24 - 8 * i)) & 0xff : (mid >>> (8 * (5 - i))) & 0xff;
  }

  /** A prefix already in NLRI form (length octet, then the network octets) at src[off, off + n). */
  addNlri(src: Uint8Array, off: number, n: number): void {
    const p = this.room(n);
    this.buf.set(src.subarray(off, off + n), p);
  }

  private open(): void {
    const max = this.maxMessageLength;
    this.ensure(max);
    const b = this.buf;
    const p = this.pos;
    b.fill(0xff, p, p + 16);
    b[p + 18] = MessageType.UPDATE;
    b[p + 19] = 0; // no withdrawn routes
    b[p + 20] = 0;
    b.set(this.attrs.subarray(this.attrStart, this.attrStart + this.attrLen), p + FIXED);
    this.msgStart = p;
    this.pos = p + FIXED + this.attrLen;
    this.msgLimit = p + max;
  }

  /** Patches the lengths of the open message, if any. */
  private close(): void {
    const p = this.msgStart;
    if (p < 0) return;
    const b = this.buf;
    const total = this.pos - p;
    b[p + 16] = total >> 8;
    b[p + 17] = total & 0xff;
    const nlriLen = total - FIXED - this.attrLen;
    const attrTotal = this.mpReachAt < 0 ? this.attrLen : this.attrLen + nlriLen;
    b[p + 21] = attrTotal >> 8;
    b[p + 22] = attrTotal & 0xff;
    if (this.mpReachAt >= 0) {
      const mp = p + FIXED + this.mpReachAt;
      const valueLen = this.attrLen - this.mpReachAt - 4 + nlriLen;
      b[mp + 2] = valueLen >> 8;
      b[mp + 3] = valueLen & 0xff;
    }
    this.messages++;
    this.msgStart = -1;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    // msgLimit is relative to buf positions, which the copy preserves.
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** All messages, trimmed to size (copied only when the slack would be large). */
  finish(): Buffer {
    this.close();
    if (this.pos * 1.25 >= this.buf.length) return this.buf.subarray(0, this.pos);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
