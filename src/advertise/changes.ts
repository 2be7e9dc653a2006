// Best-path changes as the advertisement side reads them: grouped by attribute set for one
// export pass shared by every peer, the whole table as changes (initial send, ROUTE-REFRESH),
// changes held back for one peer, collapsed to one per prefix, and large sets of changes
// handed out in attribute order a chunk at a time.

import { C_ATTR, C_LEN, C_PEER, C_PREV_ATTR, C_PREV_PEER, C_REF, CHANGE_WORDS, sortByAttribute } from '../rib/apply.js';
import { P_ATTR, P_PEER, PATH_WORDS, type RibViews } from '../rib/memory.js';

/**
 * A batch of best-path changes as runs of one attribute set and one family each (the workers
 * sort them by attribute id): group g is changes [starts[g], starts[g + 1]), all with attribute
 * attrs[g] and of the family of its first change.
 */
export class GroupedChanges {
  attrs = new Int32Array(1024);
  starts = new Int32Array(1025);
  groups = 0;

  constructor(public changes: Uint32Array = new Uint32Array(0)) {}

  group(changes: Uint32Array): this {
    this.changes = changes;
    const n = changes.length / CHANGE_WORDS;
    let groups = 0;
    let prev = -1;
    let prevFamily = -1;
    for (let i = 0; i < n; i++) {
      const a = changes[i * CHANGE_WORDS + C_ATTR];
      // A set belongs to one family; withdrawals (attribute 0) of both are split by family.
      const family = changes[i * CHANGE_WORDS + C_LEN] >>> 8;
      if (a === prev && family === prevFamily) continue;
      prevFamily = family;
      if (groups + 1 >= this.attrs.length) {
        const g = new Int32Array(this.attrs.length * 2);
        g.set(this.attrs);
        this.attrs = g;
        const s = new Int32Array(this.attrs.length + 1);
        s.set(this.starts);
        this.starts = s;
      }
      this.attrs[groups] = a;
      this.starts[groups++] = i;
      prev = a;
    }
    this.starts[groups] = n;
    this.groups = groups;
    return this;
  }
}

/**
 * Every prefix with a best path (of one family, or both), as change records with nothing
 * before them: the table a new session is sent, or a ROUTE-REFRESH answered. Read from the
 * shared RIB while workers write to it: a prefix changing meanwhile is sent again when its
 * change arrives, so the peer ends up right. Written into `into` when it has room (the result
 * is then a view of it), else into an array of the size counted first: no per-word growth.
 */
export function tableSnapshot(v: RibViews, family?: number, into?: Uint32Array): Uint32Array {
  const fams = v.families.filter((f) => family === undefined || f.id === family);
  let n = 0;
  for (const f of fams) {
    for (const slots of f.slots) for (let at = f.bestAt; at < slots.length; at += f.words) if (slots[at]) n++;
  }
  const out = into && into.length >= n * CHANGE_WORDS ? into.subarray(0, n * CHANGE_WORDS) : new Uint32Array(n * CHANGE_WORDS);
  let o = 0;
  for (const f of fams) {
    for (let s = 0; s < f.slots.length; s++) {
      const slots = f.slots[s];
      let paths = v.paths[s];
      for (let i = 0; i <= f.mask; i++) {
        const at = i * f.words;
        const best = slots[at + f.bestAt];
        // A prefix that gained its best path since the count waits for its change.
        if (!best || o === out.length) continue;
        if ((best + 1) * PATH_WORDS > paths.length) paths = v.pathsWith(s, best);
        out[o] = ((slots[at + f.lenAt] & 0x7fffffff) - 1) | (f.id << 8);
        for (let w = 0; w < 4; w++) out[o + 1 + w] = w < f.keyWords ? slots[at + w] : 0;
        out[o + C_ATTR] = paths[best * PATH_WORDS + P_ATTR];
        out[o + C_PEER] = paths[best * PATH_WORDS + P_PEER] & 0xffff;
        out[o + C_REF] = ((s << 22) | i) >>> 0;
        out[o + C_PREV_ATTR] = 0;
        out[o + C_PREV_PEER] = 0;
        o += CHANGE_WORDS;
      }
    }
  }
  return out.subarray(0, o);
}

/**
 * Changes held back for one peer (MRAI, or a socket that is not draining), collapsed to one
 * per prefix: the best path before the first and after the last, which is all the peer needs.
 */
export class DeferredChanges {
  private parts: Uint32Array[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(c: Uint32Array): void {
    if (c.length === 0) return;
    this.parts.push(c);
    this.count += c.length / CHANGE_WORDS;
  }

  /**
   * The held changes, collapsed. Counted first: `room(records)` may give an array with room for
   * that many (the result is then a view of it), so what is written is the size of the
   * collapsed set, not of every change held.
   */
  take(room?: (records: number) => Uint32Array): Uint32Array {
    const at = new Map<number, number>();
    // Which collapsed record each held change goes to.
    const to = new Int32Array(this.count);
    let n = 0;
    let k = 0;
    for (const c of this.parts) {
      for (let i = 0; i < c.length; i += CHANGE_WORDS) {
        const key = c[i + C_REF] * 2 + (c[i + C_LEN] >>> 8);
        let j = at.get(key);
        if (j === undefined) at.set(key, (j = n++));
        to[k++] = j;
      }
    }
    at.clear();
    const into = room?.(n);
    const out = into && into.length >= n * CHANGE_WORDS ? into.subarray(0, n * CHANGE_WORDS) : new Uint32Array(n * CHANGE_WORDS);
    let next = 0;
    k = 0;
    for (const c of this.parts) {
      for (let i = 0; i < c.length; i += CHANGE_WORDS) {
        const j = to[k++];
        if (j === next) {
          out.set(c.subarray(i, i + CHANGE_WORDS), j * CHANGE_WORDS);
          next++;
        } else {
          // Keep the first change's previous path; take the newest best path.
          out[j * CHANGE_WORDS + C_ATTR] = c[i + C_ATTR];
          out[j * CHANGE_WORDS + C_PEER] = c[i + C_PEER];
        }
      }
    }
    this.parts = [];
    this.count = 0;
    return out;
  }
}

/** Records handed out at once by sortedChunks(). */
export const CHUNK_RECORDS = 1 << 16;

/** sortedChunks()'s sort keys and chunk, kept between calls: grown, never shrunk. */
let chunkKeys = new Float64Array(0);
let chunk = new Uint32Array(0);

/**
 * Change records `c` in attribute order (as sortByAttribute orders them), handed to `each` in
 * chunks of at most CHUNK_RECORDS: a view of scratch, valid during the call. A whole table
 * goes out without a second copy of every record; an attribute set cut by a chunk's end
 * costs one more UPDATE. Past 2^21 records, one sorted copy in a single chunk.
 */
export function sortedChunks(c: Uint32Array, each: (chunk: Uint32Array) => void): void {
  const n = c.length / CHANGE_WORDS;
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (bits > 21) {
    each(sortByAttribute(c));
    return;
  }
  const scale = 2 ** bits;
  if (chunkKeys.length < n) chunkKeys = new Float64Array(n);
  const keys = chunkKeys.subarray(0, n);
  for (let i = 0; i < n; i++) keys[i] = c[i * CHANGE_WORDS + C_ATTR] * scale + i;
  keys.sort();
  if (chunk.length < Math.min(n, CHUNK_RECORDS) * CHANGE_WORDS) chunk = new Uint32Array(CHUNK_RECORDS * CHANGE_WORDS);
  for (let from = 0; from < n; from += CHUNK_RECORDS) {
    const m = Math.min(CHUNK_RECORDS, n - from);
    for (let x = 0; x < m; x++) {
      const i = keys[from + x] % scale;
      chunk.set(c.subarray(i * CHANGE_WORDS, (i + 1) * CHANGE_WORDS), x * CHANGE_WORDS);
    }
    each(chunk.subarray(0, m * CHANGE_WORDS));
  }
}
