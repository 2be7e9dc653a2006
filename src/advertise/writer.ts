// UPDATE packing: prefixes sharing one attribute set go into as few UPDATEs as fit the
// negotiated maximum (4096 octets, or 65535 with RFC 8654 extended messages). IPv4 NLRI and
// withdrawals in the UPDATE body, IPv6 in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760).

import { MessageType } from '../packet/index.js';
import { lastAttrAt } from '../packet/attr/export.js';

/** What finish() copies out at most in one piece (more when one UPDATE is larger). */
export const PIECE_BYTES = 1 << 20;

/** Packs prefixes into UPDATEs of at most maxLength octets. */
export class UpdateWriter {
  /** One scratch buffer reused for every batch; what is sent is copied out at its exact size. */
  private static scratch = Buffer.allocUnsafe(1 << 20);
  private buf = UpdateWriter.scratch;
  private o = 0;
  private messages = 0;
  /** Where the pieces finish() copies out end, with how many UPDATEs each holds: [end, messages]... */
  private readonly cuts: number[] = [];
  private cutAt = 0;
  private cutMessages = 0;

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
    if (this.o - this.cutAt >= PIECE_BYTES) {
      this.cuts.push(this.o, this.messages - this.cutMessages);
      this.cutAt = this.o;
      this.cutMessages = this.messages;
    }
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

  /**
   * The UPDATEs written, copied out of the shared scratch in pieces of about PIECE_BYTES, each
   * ending at an UPDATE's end: a whole table sent to a new session is many buffers of one size,
   * not one the size of the table (which the allocator keeps long after it is written).
   */
  finish(): Array<{ bytes: Uint8Array; messages: number }> {
    if (this.o > this.cutAt) this.cuts.push(this.o, this.messages - this.cutMessages);
    const pieces: Array<{ bytes: Uint8Array; messages: number }> = [];
    for (let i = 0, from = 0; i < this.cuts.length; from = this.cuts[i], i += 2) {
      pieces.push({ bytes: Buffer.from(this.buf.subarray(from, this.cuts[i])), messages: this.cuts[i + 1] });
    }
    return pieces;
  }
}
