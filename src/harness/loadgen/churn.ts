// Churn for a load test: the withdrawal of a whole table, pre-encoded like the table itself
// (withdrawn-routes fields packed into as few UPDATEs as fit).

import { MAX_MESSAGE_LENGTH } from '../../packet/index.js';

/** Every IPv4 prefix announced in `updates` (concatenated UPDATEs), withdrawn. */
export function withdrawalsOf(updates: Buffer, maxLength = MAX_MESSAGE_LENGTH): Buffer {
  const out = Buffer.allocUnsafe(updates.length + 4096);
  let o = 0;
  let start = -1;
  const close = () => {
    if (start < 0) return;
    out.writeUInt16BE(o - start - 21, start + 19); // withdrawn routes length
    out.writeUInt16BE(0, o); // no path attributes
    o += 2;
    out.fill(0xff, start, start + 16);
    out.writeUInt16BE(o - start, start + 16);
    out[start + 18] = 2;
    start = -1;
  };
  for (let off = 0; off < updates.length; ) {
    const len = updates.readUInt16BE(off + 16);
    const wLen = updates.readUInt16BE(off + 19);
    const aLen = updates.readUInt16BE(off + 21 + wLen);
    for (let p = off + 23 + wLen + aLen; p < off + len; ) {
      const size = 1 + ((updates[p] + 7) >> 3);
      if (start >= 0 && o + size + 2 > start + maxLength) close();
      if (start < 0) {
        start = o;
        o += 21;
      }
      updates.copy(out, o, p, p + size);
      o += size;
      p += size;
    }
    off += len;
  }
  close();
  return out.subarray(0, o);
}
