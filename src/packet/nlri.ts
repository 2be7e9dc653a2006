// NLRI encoding (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3): [path id] length prefix-octets.

import { formatPrefix, parsePrefix, type Prefix } from './address.js';
import { BgpError, ErrorCode } from './errors.js';

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
  const max = afi === 1 ? 32 : 128;
  const out: Prefix[] = [];
  let p = start;
  while (p < end) {
    let pathId: number | undefined;
    if (addPath) {
      if (p + 4 > end) throw new BgpError(ErrorCode.UpdateMessage, subcode, undefined, 'truncated path identifier');
      pathId = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
      p += 4;
    }
    if (p >= end) throw new BgpError(ErrorCode.UpdateMessage, subcode, undefined, 'truncated prefix');
    const length = buf[p++];
    if (length > max) throw new BgpError(ErrorCode.UpdateMessage, subcode, undefined, `prefix length ${length}`);
    const n = (length + 7) >> 3;
    if (p + n > end) throw new BgpError(ErrorCode.UpdateMessage, subcode, undefined, 'prefix overruns its field');
    const bytes = new Uint8Array(afi === 1 ? 4 : 16);
    bytes.set(buf.subarray(p, p + n));
    p += n;
    const prefix = formatPrefix(afi, bytes, length);
    out.push(pathId === undefined ? { prefix } : { prefix, pathId });
  }
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
