// NLRI encoding (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3): [path id] length prefix-octets.

import { formatPrefix, parsePrefix, type Prefix } from './address.js';
import { BgpError, ErrorCode } from './errors.js';

/**
 * A cursor over the prefixes in b[start, end) (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3): after
 * `next()` returns true, `pathId`, `length` and `at` (offset of the prefix octets) describe one
 * prefix. `next()` returns false at the end, or when a prefix is longer than the family allows
 * or runs past the field: then `error` says why (RFC 7606 §5.3: the session is reset). Every
 * reader of NLRI goes through it: the codec, the RFC 7606 checks and the workers.
 */
export class PrefixWalker {
  private b: Uint8Array = new Uint8Array(0);
  private p = 0;
  private end = 0;
  private max = 32;
  private addPath = false;
  pathId = 0;
  length = 0;
  at = 0;
  error: string | null = null;

  reset(b: Uint8Array, start: number, end: number, afi: number, addPath: boolean): this {
    this.b = b;
    this.p = start;
    this.end = end;
    this.max = afi === 1 ? 32 : 128;
    this.addPath = addPath;
    this.error = null;
    return this;
  }

  next(): boolean {
    const b = this.b;
    let p = this.p;
    const end = this.end;
    if (p >= end) return false;
    if (this.addPath) {
      if (p + 4 > end) return this.fail('truncated path identifier');
      this.pathId = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      p += 4;
    }
    if (p >= end) return this.fail('truncated prefix');
    const length = b[p++];
    if (length > this.max) return this.fail(`prefix length ${length}`);
    const n = (length + 7) >> 3;
    if (p + n > end) return this.fail('prefix overruns its field');
    this.length = length;
    this.at = p;
    this.p = p + n;
    return true;
  }

  private fail(reason: string): false {
    this.error = reason;
    this.p = this.end;
    return false;
  }
}

/**
 * Decodes the prefixes in buf[start, end). `afi` 1 or 2; `addPath` true when the RFC 7911
 * path identifier precedes each prefix. A prefix that is too long or overruns the field is a
 * session-level error (RFC 7606 §5.3), reported with `subcode`.
 */
export function decodeNlri(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: number,
  addPath: boolean,
  subcode: number,
): Prefix[] {
  const out: Prefix[] = [];
  const w = new PrefixWalker().reset(buf, start, end, afi, addPath);
  while (w.next()) {
    const bytes = new Uint8Array(afi === 1 ? 4 : 16);
    bytes.set(buf.subarray(w.at, w.at + ((w.length + 7) >> 3)));
    const prefix = formatPrefix(afi, bytes, w.length);
    out.push(addPath ? { prefix, pathId: w.pathId } : { prefix });
  }
  if (w.error) throw new BgpError(ErrorCode.UpdateMessage, subcode, undefined, w.error);
  return out;
}

/** Encoded size of one prefix. */
export function nlriSize(length: number, addPath: boolean): number {
  return (addPath ? 4 : 0) + 1 + ((length + 7) >> 3);
}

export function encodeNlri(prefixes: readonly Prefix[], addPath: boolean): Uint8Array {
  const parsed = prefixes.map((p) => ({ ...parsePrefix(p.prefix), pathId: p.pathId ?? 0 }));
  const size = parsed.reduce((s, p) => s + nlriSize(p.length, addPath), 0);
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parsed) {
    if (addPath) {
      new DataView(out.buffer).setUint32(o, p.pathId >>> 0);
      o += 4;
    }
    out[o++] = p.length;
    const n = (p.length + 7) >> 3;
    out.set(p.bytes.subarray(0, n), o);
    o += n;
  }
  return out;
}
