// Shared by the benchmarks: tables placed in shared memory and cut into batches the way the
// receive ring hands them to the RIB.

import type { EncodedTable } from '../src/harness/tablegen/index.js';

export interface SharedTable {
  buffer: SharedArrayBuffer;
  /** One (offset, length) descriptor list per batch. */
  batches: Uint32Array[];
  messages: number;
  prefixes: number;
}

export function shareTable(t: EncodedTable, batchBytes = 256 * 1024): SharedTable {
  const buffer = new SharedArrayBuffer(t.updates.length);
  const bytes = new Uint8Array(buffer);
  bytes.set(t.updates);
  const batches: Uint32Array[] = [];
  let cur: number[] = [];
  let size = 0;
  for (let o = 0; o < bytes.length; ) {
    const len = (bytes[o + 16] << 8) | bytes[o + 17];
    cur.push(o, len);
    size += len;
    o += len;
    if (size >= batchBytes) {
      batches.push(Uint32Array.from(cur));
      cur = [];
      size = 0;
    }
  }
  if (cur.length) batches.push(Uint32Array.from(cur));
  return { buffer, batches, messages: t.messageCount, prefixes: t.ipv4Prefixes };
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
