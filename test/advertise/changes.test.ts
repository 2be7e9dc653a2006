// Large sets of best-path changes leave the advertiser a chunk at a time, in attribute order,
// and held changes are collapsed before they are copied out: no array the size of every change
// held, nor a second sorted copy of a whole table.
import { describe, expect, it } from 'vitest';
import { CHUNK_RECORDS, DeferredChanges, sortedChunks } from '../../src/advertise/changes.js';
import { C_ATTR, C_LEN, C_PEER, C_PREV_ATTR, C_PREV_PEER, C_REF, CHANGE_WORDS, sortByAttribute } from '../../src/rib/apply.js';

function change(ref: number, attr: number, peer: number, prevAttr = 0, prevPeer = 0): number[] {
  const c = new Array<number>(CHANGE_WORDS).fill(0);
  c[C_LEN] = 24;
  c[C_REF] = ref;
  c[C_ATTR] = attr;
  c[C_PEER] = peer;
  c[C_PREV_ATTR] = prevAttr;
  c[C_PREV_PEER] = prevPeer;
  return c;
}

describe('sortedChunks', () => {
  it('hands out what sortByAttribute gives, in chunks of at most CHUNK_RECORDS', () => {
    const n = CHUNK_RECORDS * 2 + 1234;
    const c = new Uint32Array(n * CHANGE_WORDS);
    let x = 99;
    for (let i = 0; i < n; i++) c.set(change(i, (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 5000, 1 + (i % 3)), i * CHANGE_WORDS);
    const parts: Uint32Array[] = [];
    sortedChunks(c, (chunk) => parts.push(chunk.slice()));
    expect(parts.map((p) => p.length / CHANGE_WORDS)).toEqual([CHUNK_RECORDS, CHUNK_RECORDS, 1234]);
    const all = new Uint32Array(c.length);
    parts.reduce((o, p) => (all.set(p, o), o + p.length), 0);
    expect(all).toEqual(sortByAttribute(c));
    // A smaller set after it: the kept keys and chunk are reused.
    const small = c.slice(0, 10 * CHANGE_WORDS);
    const again: Uint32Array[] = [];
    sortedChunks(small, (chunk) => again.push(chunk.slice()));
    expect(again).toEqual([sortByAttribute(small)]);
  });

  it('nothing: no chunk', () => {
    let calls = 0;
    sortedChunks(new Uint32Array(0), () => calls++);
    expect(calls).toBe(0);
  });
});

describe('DeferredChanges', () => {
  it('collapses to one change per prefix, written at the collapsed size into the room given', () => {
    const d = new DeferredChanges();
    d.add(Uint32Array.from([...change(7, 10, 1, 3, 2), ...change(8, 11, 1)]));
    d.add(Uint32Array.from([...change(7, 12, 4, 10, 1), ...change(9, 0, 0, 5, 2), ...change(7, 13, 5, 12, 4)]));
    expect(d.size).toBe(5);
    const room = new Uint32Array(10 * CHANGE_WORDS);
    let asked = -1;
    const out = d.take((records) => ((asked = records), room));
    expect(asked).toBe(3);
    expect(out.buffer).toBe(room.buffer);
    expect(out.length).toBe(3 * CHANGE_WORDS);
    const rec = (i: number) => [out[i * CHANGE_WORDS + C_REF], out[i * CHANGE_WORDS + C_ATTR], out[i * CHANGE_WORDS + C_PEER], out[i * CHANGE_WORDS + C_PREV_ATTR], out[i * CHANGE_WORDS + C_PREV_PEER]];
    // Prefix 7: the first change's previous path, the last change's best path.
    expect([rec(0), rec(1), rec(2)]).toEqual([
      [7, 13, 5, 3, 2],
      [8, 11, 1, 0, 0],
      [9, 0, 0, 5, 2],
    ]);
    expect(d.size).toBe(0);
  });

  it('without room, or too little, a new array', () => {
    const d = new DeferredChanges();
    d.add(Uint32Array.from([...change(1, 10, 1), ...change(2, 10, 1)]));
    const small = new Uint32Array(CHANGE_WORDS);
    const out = d.take(() => small);
    expect(out.buffer).not.toBe(small.buffer);
    expect(out.length).toBe(2 * CHANGE_WORDS);
  });
});
