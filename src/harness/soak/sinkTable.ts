// What a receiving peer holds, for the soak's final comparison: per IPv4 prefix, the AS that
// ribstorm learned it from (the second AS of the AS_PATH it advertised: its own, then its
// neighbor's), rebuilt from every UPDATE the sink receives.

import { AttrType } from '../../packet/constants.js';
import { AttrWalker } from '../../packet/attr/walk.js';

/** A prefix as one number: network × 64 + length (exact below 2^53). */
export function prefixKey(network: number, length: number): number {
  return network * 64 + length;
}

export function prefixText(key: number): string {
  const n = Math.floor(key / 64);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${key % 64}`;
}

export function parsePrefixKey(prefix: string): number {
  const [addr, len] = prefix.split('/');
  const n = addr.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  return prefixKey(n, Number(len));
}

export class SinkTable {
  /** prefix key -> neighbor AS of the path held (0: the path was one AS long). */
  readonly routes = new Map<number, number>();
  updates = 0;
  lastUpdateAt = 0;

  /** Applies one UPDATE (4-octet AS_PATH, IPv4, no ADD-PATH): withdrawals, then NLRI. */
  apply(b: Buffer, off: number, len: number): void {
    this.updates++;
    this.lastUpdateAt = performance.now();
    const end = off + len;
    let p = off + 19;
    const wLen = b.readUInt16BE(p);
    p += 2;
    for (const key of prefixKeys(b, p, p + wLen)) this.routes.delete(key);
    p += wLen;
    const aLen = b.readUInt16BE(p);
    const aStart = p + 2;
    const nlri = prefixKeys(b, aStart + aLen, end);
    if (nlri.length === 0) return;
    const neighborAs = secondAs(b, aStart, aStart + aLen);
    for (const key of nlri) this.routes.set(key, neighborAs);
  }
}

/** The IPv4 prefixes (as prefixKey) of a Withdrawn Routes or NLRI field, b[p, end). */
export function prefixKeys(b: Buffer, p: number, end: number): number[] {
  const out: number[] = [];
  while (p < end) {
    const l = b[p];
    const octets = (l + 7) >> 3;
    let n = 0;
    for (let i = 0; i < 4; i++) n = n * 256 + (i < octets ? b[p + 1 + i] : 0);
    out.push(prefixKey(n, l));
    p += 1 + octets;
  }
  return out;
}

/** The second AS of the first AS_PATH segment (AS_SEQUENCE of 4-octet ASes), or 0. */
function secondAs(b: Buffer, start: number, end: number): number {
  const w = new AttrWalker(b, start, end);
  while (w.next()) {
    if (w.type !== AttrType.AS_PATH || w.length < 2) continue;
    const count = b[w.value + 1];
    return count >= 2 ? b.readUInt32BE(w.value + 2 + 4) : 0;
  }
  return 0;
}
