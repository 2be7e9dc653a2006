// Rebuilding one shard's bookkeeping from its prefix tables and path lists, after a batch
// stopped in the middle of its turn (an exception, or a worker that died). Path operations
// change a list and then its counts in a few separate statements (shard.ts), and a turn
// settles its prefixes' best paths only at its end (apply.ts), so such a shard can hold
// prefixes still marked TOUCHED with a best path not chosen again, counts one off, and a path
// record unlinked but not yet freed. The lists themselves are whole: a record is linked by
// one store. What is reachable from the prefix slots is taken as the truth; the rest follows
// from it. Runs only on a failure: O(slots + path records) of the one shard.

import { H_FREE, H_PATH_TOP, H_PATHS, H_PREFIXES, H_ROUTED, HEADER_WORDS, P_NEXT, PATH_WORDS, type Family, type RibViews } from './memory.js';
import { TOUCHED } from './shard.js';

/**
 * Recounts shard `s` and rebuilds its free list. Every prefix still marked TOUCHED, or whose
 * best path is no longer in its list, is unmarked and handed to `retouch` (which marks it
 * again to have its best path chosen).
 */
export function rebuildShard(v: RibViews, s: number, retouch: (f: Family, slot: number) => void): void {
  const h = s * HEADER_WORDS;
  const paths = v.paths[s];
  const top = Math.min(Math.max(1, v.headers[h + H_PATH_TOP]), v.paths[s].length / PATH_WORDS);
  const linked = new Uint8Array(top);
  let held = 0;
  for (const f of v.families) {
    const slots = f.slots[s];
    let prefixes = 0;
    let routed = 0;
    for (let i = 0; i <= f.mask; i++) {
      const o = i * f.words;
      const len = slots[o + f.lenAt];
      if (len === 0) continue;
      prefixes++;
      let redo = (len & TOUCHED) !== 0;
      slots[o + f.lenAt] = len & ~TOUCHED;
      const best = slots[o + f.bestAt];
      let bestLinked = best === 0;
      if (slots[o + f.headAt] !== 0) routed++;
      // A list is walked at most as far as there are records: a loop would end here, not hang.
      let steps = 0;
      for (let r = slots[o + f.headAt]; r !== 0 && r < top && steps < top; r = paths[r * PATH_WORDS + P_NEXT], steps++) {
        if (linked[r]) break;
        linked[r] = 1;
        held++;
        if (r === best) bestLinked = true;
      }
      if (!bestLinked) redo = true;
      if (redo) retouch(f, i);
    }
    v.headers[h + H_PREFIXES + f.id * 3] = prefixes;
    v.headers[h + H_ROUTED + f.id * 2] = routed;
  }
  // Record 0 is "none"; every record below the top that no list holds is free.
  let free = 0;
  for (let r = top - 1; r >= 1; r--) {
    if (linked[r]) continue;
    paths[r * PATH_WORDS + P_NEXT] = free;
    free = r;
  }
  v.headers[h + H_FREE] = free;
  v.headers[h + H_PATH_TOP] = top;
  v.headers[h + H_PATHS] = held;
}
