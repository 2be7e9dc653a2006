// Reading the shared RIB: the Loc-RIB, one peer's Adj-RIB-In, every path of a prefix with the
// step that beat it. Readers run beside the writers; a prefix changing meanwhile may be seen
// before or after the change, never half-written attribute data (ids are published last).

import { formatPrefix, parsePrefix } from '../packet/index.js';
import { attributeBytes } from './attrs.js';
import { Reason } from './decision.js';
import { IPV6, STALE, P_ATTR, P_NEXT, P_PATH_ID, P_PEER, P_TIME, PATH_WORDS, type Family, type RibViews } from './memory.js';
import { findSlot, shardOf, TOUCHED } from './shard.js';

export interface PathView {
  peer: number;
  pathId: number;
  attr: number;
  best: boolean;
  /** Why it lost, when it did (decision.ts Reason). */
  reason: Reason;
  /** Kept from a restarting peer's previous session (RFC 4724). */
  stale: boolean;
  /** When it was learned or last changed, seconds since the epoch. */
  time: number;
}

/** Calls fn for every prefix that has at least one path (both families, or `families`), until it returns false. */
export function forEachPrefix(v: RibViews, fn: (f: Family, shard: number, slot: number) => boolean | void, families: readonly Family[] = v.families): void {
  for (const f of families) {
    for (let s = 0; s < f.slots.length; s++) {
      const slots = f.slots[s];
      const n = f.mask + 1;
      for (let i = 0; i < n; i++) {
        const o = i * f.words;
        if ((slots[o + f.lenAt] & ~TOUCHED) !== 0 && slots[o + f.headAt] !== 0 && fn(f, s, i) === false) return;
      }
    }
  }
}

/**
 * The network of the prefix in a slot, written to `out` (4 or 16 octets, all of them, zeros
 * past the length); returns the prefix length.
 */
export function prefixBytesAt(f: Family, shard: number, slot: number, out: Uint8Array): number {
  const slots = f.slots[shard];
  const o = slot * f.words;
  for (let w = 0; w < f.keyWords; w++) {
    const x = slots[o + w];
    out[w * 4] = x >>> 24;
    out[w * 4 + 1] = (x >>> 16) & 0xff;
    out[w * 4 + 2] = (x >>> 8) & 0xff;
    out[w * 4 + 3] = x & 0xff;
  }
  return (slots[o + f.lenAt] & ~TOUCHED) - 1;
}

/** The prefix in a slot, as text. */
export function prefixAt(f: Family, shard: number, slot: number): string {
  const bytes = new Uint8Array(f.id === IPV6 ? 16 : 4);
  const length = prefixBytesAt(f, shard, slot, bytes);
  return formatPrefix(f.id === IPV6 ? 2 : 1, bytes, length);
}

/** Slots visited between two calls of a walk's `pause`. */
export const SLOTS_PER_CHUNK = 4096;

/**
 * Visits every prefix of `families` that has paths, in chunks of slots: after each chunk in
 * which `visit` returned true at least once, `pause` decides when to go on (false: stop; the
 * walk then resolves false). Never more than a chunk's work between two pauses, so a reader
 * streaming the table holds a chunk, not the table. Readers beside the writers: see above.
 */
export async function walkPrefixes(
  families: readonly Family[],
  visit: (f: Family, shard: number, slot: number) => boolean,
  pause: () => Promise<boolean>,
): Promise<boolean> {
  for (const f of families) {
    const n = f.mask + 1;
    for (let s = 0; s < f.slots.length; s++) {
      for (let start = 0; start < n; start += SLOTS_PER_CHUNK) {
        const slots = f.slots[s];
        let visited = false;
        for (let i = start; i < Math.min(n, start + SLOTS_PER_CHUNK); i++) {
          const o = i * f.words;
          if ((slots[o + f.lenAt] & ~TOUCHED) === 0 || slots[o + f.headAt] === 0) continue;
          if (visit(f, s, i)) visited = true;
        }
        if (visited && !(await pause())) return false;
      }
    }
  }
  return true;
}

export function pathsAt(v: RibViews, f: Family, shard: number, slot: number): PathView[] {
  const slots = f.slots[shard];
  let paths = v.paths[shard];
  const best = slots[slot * f.words + f.bestAt];
  const out: PathView[] = [];
  for (let r = slots[slot * f.words + f.headAt]; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
    // Read beside the workers: a record added since this thread's last look may lie past its view.
    if ((r + 1) * PATH_WORDS > paths.length) paths = v.pathsWith(shard, r);
    const q = r * PATH_WORDS;
    const w = paths[q + P_PEER];
    out.push({ peer: w & 0xffff, pathId: paths[q + P_PATH_ID], attr: paths[q + P_ATTR], best: r === best, reason: (w >>> 16) & 0xff, stale: (w & STALE) !== 0, time: paths[q + P_TIME] });
  }
  return out;
}

/** The network of a prefix as the slots hold it (4 words; IPv4 uses the first). */
export function prefixKey(bytes: Uint8Array, keyWords: number): Uint32Array {
  const key = new Uint32Array(4);
  for (let w = 0; w < keyWords; w++) key[w] = ((bytes[w * 4] << 24) | (bytes[w * 4 + 1] << 16) | (bytes[w * 4 + 2] << 8) | bytes[w * 4 + 3]) >>> 0;
  return key;
}

/** The shard and slot of a prefix, or null when the RIB never held it. */
export function locate(v: RibViews, f: Family, key: Uint32Array, length: number): { shard: number; slot: number } | null {
  const shard = shardOf(v, f, key, length);
  const slot = findSlot(f, shard, key, length);
  return slot < 0 ? null : { shard, slot };
}

/** Every path of one prefix ("192.0.2.0/24" or "2001:db8::/32"). */
export function lookup(v: RibViews, prefix: string): PathView[] {
  const { afi, bytes, length } = parsePrefix(prefix);
  const f = v.families[afi === 2 ? 1 : 0];
  const at = locate(v, f, prefixKey(bytes, f.keyWords), length);
  return at ? pathsAt(v, f, at.shard, at.slot) : [];
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
  forEachPrefix(v, (f, s, slot) => {
    const best = f.slots[s][slot * f.words + f.bestAt];
    if (best === 0) return;
    const q = best * PATH_WORDS;
    const p = v.pathsWith(s, best);
    out.set(prefixAt(f, s, slot), {
      peer: p[q + P_PEER] & 0xffff,
      pathId: p[q + P_PATH_ID],
      attributes: Buffer.from(attributeBytes(v, p[q + P_ATTR])).toString('hex'),
    });
  });
  return out;
}

/** Counts of prefixes with a best path and of paths held (for one peer, or all). */
export function countPaths(v: RibViews, peer?: number): { prefixes: number; paths: number } {
  let prefixes = 0;
  let paths = 0;
  forEachPrefix(v, (f, s, slot) => {
    const slots = f.slots[s];
    let ps = v.paths[s];
    if (slots[slot * f.words + f.bestAt] !== 0) prefixes++;
    for (let r = slots[slot * f.words + f.headAt]; r !== 0; r = ps[r * PATH_WORDS + P_NEXT]) {
      if ((r + 1) * PATH_WORDS > ps.length) ps = v.pathsWith(s, r);
      if (peer === undefined || (ps[r * PATH_WORDS + P_PEER] & 0xffff) === peer) paths++;
    }
  });
  return { prefixes, paths };
}
