// One RIB shard: per address family an open-addressing table of prefixes, each with a singly
// linked list of candidate paths (fixed-size records, shared by both families) and its best
// path. Only the worker holding the shard's turn (see apply.ts) writes to it.

import {
  H_FREE,
  H_PATH_TOP,
  H_PATHS,
  H_PREFIXES,
  H_ROUTED,
  HEADER_WORDS,
  keyHash,
  P_ATTR,
  P_NEXT,
  P_PATH_ID,
  P_PEER,
  P_TIME,
  PATH_WORDS,
  STALE,
  type Family,
  type RibViews,
} from './memory.js';

/** Marks a slot changed by the batch in hand (high bit of its length word). */
export const TOUCHED = 0x80000000;

export function shardOf(v: RibViews, f: Family, key: Uint32Array | number[], len: number): number {
  return keyHash(f.id, key, len) & v.shardMask;
}

function sameKey(slots: Uint32Array, o: number, f: Family, key: Uint32Array | number[]): boolean {
  for (let w = 0; w < f.keyWords; w++) if (slots[o + w] !== key[w]) return false;
  return true;
}

/** The slot of the prefix in its shard, or -1. */
export function findSlot(f: Family, shard: number, key: Uint32Array | number[], len: number): number {
  const slots = f.slots[shard];
  let i = (keyHash(f.id, key, len) >>> 6) & f.mask;
  for (;;) {
    const o = i * f.words;
    const l = slots[o + f.lenAt] & ~TOUCHED;
    if (l === 0) return -1;
    if (l === len + 1 && sameKey(slots, o, f, key)) return i;
    i = (i + 1) & f.mask;
  }
}

/**
 * The slot of the prefix, created empty if new. Slots are never removed (prefixes come back).
 * `hash`: keyHash() of the prefix, when the caller has it already.
 */
export function slotFor(v: RibViews, f: Family, shard: number, key: Uint32Array | number[], len: number, hash = keyHash(f.id, key, len)): number {
  const slots = f.slots[shard];
  let i = (hash >>> 6) & f.mask;
  for (;;) {
    const o = i * f.words;
    const l = slots[o + f.lenAt] & ~TOUCHED;
    if (l === 0) {
      const h = shard * HEADER_WORDS + H_PREFIXES + f.id * 3; // IPv6 count kept in word 6
      if ((v.headers[h] + 1) * 4 > (f.mask + 1) * 3) throw new Error(`prefix table full: raise rib ${f.id ? 'prefixes6' : 'prefixes'}`);
      for (let w = 0; w < f.keyWords; w++) slots[o + w] = key[w];
      slots[o + f.lenAt] = len + 1;
      v.headers[h]++;
      return i;
    }
    if (l === len + 1 && sameKey(slots, o, f, key)) return i;
    i = (i + 1) & f.mask;
  }
}

function allocPath(v: RibViews, shard: number): number {
  const h = shard * HEADER_WORDS;
  const free = v.headers[h + H_FREE];
  v.headers[h + H_PATHS]++;
  if (free !== 0) {
    v.headers[h + H_FREE] = v.paths[shard][free * PATH_WORDS + P_NEXT];
    return free;
  }
  const r = v.headers[h + H_PATH_TOP];
  if ((r + 1) * PATH_WORDS > v.paths[shard].length && !v.growPaths(shard, r)) {
    v.headers[h + H_PATHS]--;
    throw new Error(`path table full: ${r} paths in shard ${shard} ([rib] paths)`);
  }
  v.headers[h + H_PATH_TOP]++;
  return r;
}

function freePath(v: RibViews, shard: number, r: number): void {
  const h = shard * HEADER_WORDS;
  v.paths[shard][r * PATH_WORDS + P_NEXT] = v.headers[h + H_FREE];
  v.headers[h + H_FREE] = r;
  v.headers[h + H_PATHS]--;
}

/** Marks every path of `peer` in the shard stale (graceful restart: kept, not yet confirmed). */
export function markStale(v: RibViews, f: Family, shard: number, peer: number): void {
  const slots = f.slots[shard];
  const paths = v.paths[shard];
  const n = f.mask + 1;
  for (let i = 0; i < n; i++) {
    for (let r = slots[i * f.words + f.headAt]; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
      if ((paths[r * PATH_WORDS + P_PEER] & 0xffff) === peer) paths[r * PATH_WORDS + P_PEER] |= STALE;
    }
  }
}

/**
 * Adds or replaces the path of (peer, pathId): its record when added, minus its record when
 * replaced (its reason word kept: what it lost to before), 0 when nothing changed; `now`
 * (seconds since the epoch) is then its time. A new path is added only when `admit()` agrees
 * (a max-prefix block).
 */
export function upsertPath(v: RibViews, f: Family, shard: number, slot: number, peer: number, pathId: number, attr: number, now: number, admit?: () => boolean): number {
  const slots = f.slots[shard];
  const paths = v.paths[shard];
  const head = slot * f.words + f.headAt;
  for (let r = slots[head]; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
    const q = r * PATH_WORDS;
    if ((paths[q + P_PEER] & 0xffff) === peer && paths[q + P_PATH_ID] === pathId) {
      paths[q + P_PEER] &= ~STALE; // announced again by the new session
      if (paths[q + P_ATTR] === attr) return 0;
      paths[q + P_ATTR] = attr;
      paths[q + P_TIME] = now;
      return -r;
    }
  }
  if (admit && !admit()) return 0;
  const r = allocPath(v, shard);
  const records = v.paths[shard]; // the table may have grown for it
  const q = r * PATH_WORDS;
  records[q + P_PEER] = peer;
  records[q + P_PATH_ID] = pathId;
  records[q + P_ATTR] = attr;
  records[q + P_TIME] = now;
  records[q + P_NEXT] = slots[head];
  if (slots[head] === 0) v.headers[shard * HEADER_WORDS + H_ROUTED + f.id * 2]++;
  slots[head] = r;
  return r;
}

/**
 * Removes the path (peer, pathId) of the prefix in `slot`: the record it had (freed, its reason
 * word still readable until the record is taken again), or 0 when it was not there.
 */
export function removePath(v: RibViews, f: Family, shard: number, slot: number, peer: number, pathId: number): number {
  const slots = f.slots[shard];
  const paths = v.paths[shard];
  const head = slot * f.words + f.headAt;
  let prev = 0;
  for (let r = slots[head]; r !== 0; prev = r, r = paths[r * PATH_WORDS + P_NEXT]) {
    const q = r * PATH_WORDS;
    if ((paths[q + P_PEER] & 0xffff) !== peer || paths[q + P_PATH_ID] !== pathId) continue;
    if (prev === 0) slots[head] = paths[q + P_NEXT];
    else paths[prev * PATH_WORDS + P_NEXT] = paths[q + P_NEXT];
    if (slots[head] === 0) v.headers[shard * HEADER_WORDS + H_ROUTED + f.id * 2]--;
    if (slots[slot * f.words + f.bestAt] === r) slots[slot * f.words + f.bestAt] = 0;
    freePath(v, shard, r);
    return r;
  }
  return 0;
}

/**
 * Removes every path of `peer` in the shard (its session went down), or only its stale ones,
 * calling `touched` per prefix first.
 */
export function removePeer(v: RibViews, f: Family, shard: number, peer: number, touched: (slot: number) => void, onlyStale = false): void {
  const match = (w: number) => (w & 0xffff) === peer && (!onlyStale || (w & STALE) !== 0);
  const slots = f.slots[shard];
  const paths = v.paths[shard];
  const n = f.mask + 1;
  for (let i = 0; i < n; i++) {
    const o = i * f.words;
    if (slots[o + f.lenAt] === 0 || slots[o + f.headAt] === 0) continue;
    let has = false;
    for (let r = slots[o + f.headAt]; r !== 0 && !has; r = paths[r * PATH_WORDS + P_NEXT]) has = match(paths[r * PATH_WORDS + P_PEER]);
    if (!has) continue;
    touched(i); // before the removal, so the caller sees the best as it was
    let prev = 0;
    for (let r = slots[o + f.headAt]; r !== 0; ) {
      const q = r * PATH_WORDS;
      const next = paths[q + P_NEXT];
      if (match(paths[q + P_PEER])) {
        if (prev === 0) slots[o + f.headAt] = next;
        else paths[prev * PATH_WORDS + P_NEXT] = next;
        if (slots[o + f.bestAt] === r) slots[o + f.bestAt] = 0;
        freePath(v, shard, r);
      } else prev = r;
      r = next;
    }
    if (slots[o + f.headAt] === 0) v.headers[shard * HEADER_WORDS + H_ROUTED + f.id * 2]--;
  }
}
