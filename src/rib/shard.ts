// One RIB shard: an open-addressing table of prefixes, each with a singly linked list of
// candidate paths (fixed-size records) and its best path. Only the worker holding the shard's
// turn (see apply.ts) writes to it.

import {
  H_FREE,
  H_PATH_TOP,
  H_PATHS,
  H_PREFIXES,
  HEADER_WORDS,
  P_ATTR,
  P_NEXT,
  P_PATH_ID,
  P_PEER,
  PATH_WORDS,
  prefixHash,
  S_ADDR,
  S_BEST,
  S_HEAD,
  S_LEN,
  SLOT_WORDS,
  type RibViews,
} from './memory.js';

/** Marks a slot changed by the batch in hand (high bit of its length word). */
export const TOUCHED = 0x80000000;

export function shardOf(v: RibViews, addr: number, len: number): number {
  return prefixHash(addr, len) & v.shardMask;
}

/** The slot of the prefix in its shard, or -1. */
export function findSlot(v: RibViews, shard: number, addr: number, len: number): number {
  const slots = v.slots[shard];
  const mask = v.slotMask;
  let i = (prefixHash(addr, len) >>> 6) & mask;
  for (;;) {
    const o = i * SLOT_WORDS;
    const l = slots[o + S_LEN] & ~TOUCHED;
    if (l === 0) return -1;
    if (l === len + 1 && slots[o + S_ADDR] === addr) return i;
    i = (i + 1) & mask;
  }
}

/** The slot of the prefix, created empty if new. Slots are never removed (prefixes come back). */
export function slotFor(v: RibViews, shard: number, addr: number, len: number): number {
  const slots = v.slots[shard];
  const mask = v.slotMask;
  let i = (prefixHash(addr, len) >>> 6) & mask;
  for (let probes = 0; ; probes++) {
    const o = i * SLOT_WORDS;
    const l = slots[o + S_LEN] & ~TOUCHED;
    if (l === 0) {
      const h = shard * HEADER_WORDS;
      if ((v.headers[h + H_PREFIXES] + 1) * 4 > (mask + 1) * 3) throw new Error('prefix table full: raise rib sizing prefixes');
      slots[o + S_ADDR] = addr;
      slots[o + S_LEN] = len + 1;
      v.headers[h + H_PREFIXES]++;
      return i;
    }
    if (l === len + 1 && slots[o + S_ADDR] === addr) return i;
    i = (i + 1) & mask;
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
  const r = v.headers[h + H_PATH_TOP]++;
  if (r >= v.pathCapacity) throw new Error('path table full: raise rib sizing paths');
  return r;
}

function freePath(v: RibViews, shard: number, r: number): void {
  const h = shard * HEADER_WORDS;
  v.paths[shard][r * PATH_WORDS + P_NEXT] = v.headers[h + H_FREE];
  v.headers[h + H_FREE] = r;
  v.headers[h + H_PATHS]--;
}

/**
 * Adds or replaces the path (peer, pathId) of the prefix in `slot`. Returns true if anything
 * changed (a re-announcement with the same attributes changes nothing).
 */
export function upsertPath(v: RibViews, shard: number, slot: number, peer: number, pathId: number, attr: number): boolean {
  const slots = v.slots[shard];
  const paths = v.paths[shard];
  const o = slot * SLOT_WORDS;
  for (let r = slots[o + S_HEAD]; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
    const q = r * PATH_WORDS;
    if ((paths[q + P_PEER] & 0xffff) === peer && paths[q + P_PATH_ID] === pathId) {
      if (paths[q + P_ATTR] === attr) return false;
      paths[q + P_ATTR] = attr;
      return true;
    }
  }
  const r = allocPath(v, shard);
  const q = r * PATH_WORDS;
  paths[q + P_PEER] = peer;
  paths[q + P_PATH_ID] = pathId;
  paths[q + P_ATTR] = attr;
  paths[q + P_NEXT] = slots[o + S_HEAD];
  slots[o + S_HEAD] = r;
  return true;
}

/** Removes the path (peer, pathId) of the prefix in `slot`; true if it was there. */
export function removePath(v: RibViews, shard: number, slot: number, peer: number, pathId: number): boolean {
  const slots = v.slots[shard];
  const paths = v.paths[shard];
  const o = slot * SLOT_WORDS;
  let prev = 0;
  for (let r = slots[o + S_HEAD]; r !== 0; prev = r, r = paths[r * PATH_WORDS + P_NEXT]) {
    const q = r * PATH_WORDS;
    if ((paths[q + P_PEER] & 0xffff) !== peer || paths[q + P_PATH_ID] !== pathId) continue;
    if (prev === 0) slots[o + S_HEAD] = paths[q + P_NEXT];
    else paths[prev * PATH_WORDS + P_NEXT] = paths[q + P_NEXT];
    if (slots[o + S_BEST] === r) slots[o + S_BEST] = 0;
    freePath(v, shard, r);
    return true;
  }
  return false;
}

/** Removes every path of `peer` in the shard (its session went down), calling `touched` per prefix first. */
export function removePeer(v: RibViews, shard: number, peer: number, touched: (slot: number) => void): void {
  const slots = v.slots[shard];
  const paths = v.paths[shard];
  const n = v.slotMask + 1;
  for (let i = 0; i < n; i++) {
    const o = i * SLOT_WORDS;
    if (slots[o + S_LEN] === 0 || slots[o + S_HEAD] === 0) continue;
    let has = false;
    for (let r = slots[o + S_HEAD]; r !== 0 && !has; r = paths[r * PATH_WORDS + P_NEXT]) has = (paths[r * PATH_WORDS + P_PEER] & 0xffff) === peer;
    if (!has) continue;
    touched(i); // before the removal, so the caller sees the best as it was
    let prev = 0;
    for (let r = slots[o + S_HEAD]; r !== 0; ) {
      const q = r * PATH_WORDS;
      const next = paths[q + P_NEXT];
      if ((paths[q + P_PEER] & 0xffff) === peer) {
        if (prev === 0) slots[o + S_HEAD] = next;
        else paths[prev * PATH_WORDS + P_NEXT] = next;
        if (slots[o + S_BEST] === r) slots[o + S_BEST] = 0;
        freePath(v, shard, r);
      } else prev = r;
      r = next;
    }
  }
}
