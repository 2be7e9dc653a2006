// Reading the shared RIB: the Loc-RIB, one peer's Adj-RIB-In, every path of a prefix with the
// step that beat it. Readers run beside the writers; a prefix changing meanwhile may be seen
// before or after the change, never half-written attribute data (ids are published last).

import { ipv4FromNumber } from '../packet/index.js';
import { attributeBytes } from './attrs.js';
import { Reason } from './decision.js';
import {
  P_ATTR,
  P_NEXT,
  P_PATH_ID,
  P_PEER,
  PATH_WORDS,
  S_ADDR,
  S_BEST,
  S_HEAD,
  S_LEN,
  SLOT_WORDS,
  type RibViews,
} from './memory.js';
import { findSlot, shardOf, TOUCHED } from './shard.js';

export interface PathView {
  peer: number;
  pathId: number;
  attr: number;
  best: boolean;
  /** Why it lost, when it did (decision.ts Reason). */
  reason: Reason;
}

/** Calls fn for every prefix that has at least one path. */
export function forEachPrefix(v: RibViews, fn: (addr: number, len: number, shard: number, slot: number) => void): void {
  for (let s = 0; s < v.slots.length; s++) {
    const slots = v.slots[s];
    const n = v.slotMask + 1;
    for (let i = 0; i < n; i++) {
      const o = i * SLOT_WORDS;
      const l = slots[o + S_LEN] & ~TOUCHED;
      if (l !== 0 && slots[o + S_HEAD] !== 0) fn(slots[o + S_ADDR], l - 1, s, i);
    }
  }
}

export function pathsAt(v: RibViews, shard: number, slot: number): PathView[] {
  const slots = v.slots[shard];
  const paths = v.paths[shard];
  const best = slots[slot * SLOT_WORDS + S_BEST];
  const out: PathView[] = [];
  for (let r = slots[slot * SLOT_WORDS + S_HEAD]; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
    const q = r * PATH_WORDS;
    out.push({ peer: paths[q + P_PEER] & 0xffff, pathId: paths[q + P_PATH_ID], attr: paths[q + P_ATTR], best: r === best, reason: (paths[q + P_PEER] >>> 16) & 0xff });
  }
  return out;
}

export function lookup(v: RibViews, addr: number, len: number): PathView[] {
  const shard = shardOf(v, addr, len);
  const slot = findSlot(v, shard, addr, len);
  return slot < 0 ? [] : pathsAt(v, shard, slot);
}

export interface LocRibEntry {
  peer: number;
  pathId: number;
  /** The best path's attribute block, hex. */
  attributes: string;
}

/** The whole Loc-RIB as prefix text -> best path (for tests and dumps; allocates per prefix). */
export function locRib(v: RibViews): Map<string, LocRibEntry> {
  const out = new Map<string, LocRibEntry>();
  forEachPrefix(v, (addr, len, s, slot) => {
    const best = v.slots[s][slot * SLOT_WORDS + S_BEST];
    if (best === 0) return;
    const q = best * PATH_WORDS;
    const p = v.paths[s];
    out.set(`${ipv4FromNumber(addr)}/${len}`, {
      peer: p[q + P_PEER] & 0xffff,
      pathId: p[q + P_PATH_ID],
      attributes: Buffer.from(attributeBytes(v, p[q + P_ATTR])).toString('hex'),
    });
  });
  return out;
}

/** Counts of prefixes with a best path and of paths held for one peer. */
export function countPaths(v: RibViews, peer?: number): { prefixes: number; paths: number } {
  let prefixes = 0;
  let paths = 0;
  forEachPrefix(v, (_a, _l, s, slot) => {
    const slots = v.slots[s];
    const ps = v.paths[s];
    if (slots[slot * SLOT_WORDS + S_BEST] !== 0) prefixes++;
    for (let r = slots[slot * SLOT_WORDS + S_HEAD]; r !== 0; r = ps[r * PATH_WORDS + P_NEXT]) {
      if (peer === undefined || (ps[r * PATH_WORDS + P_PEER] & 0xffff) === peer) paths++;
    }
  });
  return { prefixes, paths };
}
