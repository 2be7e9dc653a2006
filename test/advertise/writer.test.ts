// UPDATE packing hands its output over in pieces of about PIECE_BYTES, each a run of whole
// UPDATEs: a whole table sent to a new session is not one buffer the size of the table.
import { describe, expect, it } from 'vitest';
import { PIECE_BYTES, UpdateWriter } from '../../src/advertise/writer.js';

/** The UPDATEs in `bytes`, walked by their headers: how many, and whether they end exactly. */
function walk(bytes: Uint8Array): { messages: number; prefixes: number; whole: boolean } {
  let o = 0;
  let messages = 0;
  let prefixes = 0;
  while (o + 19 <= bytes.length) {
    const len = (bytes[o + 16] << 8) | bytes[o + 17];
    if (bytes[o] !== 0xff || bytes[o + 18] !== 2 || len < 23) return { messages, prefixes, whole: false };
    const wd = (bytes[o + 19] << 8) | bytes[o + 20];
    const attrs = (bytes[o + 21 + wd] << 8) | bytes[o + 22 + wd];
    for (let p = o + 23 + wd + attrs; p < o + len; p += 1 + ((bytes[p] + 7) >> 3)) prefixes++;
    messages++;
    o += len;
  }
  return { messages, prefixes, whole: o === bytes.length };
}

/** ORIGIN IGP, AS_PATH [65001], NEXT_HOP 192.0.2.1. */
const ATTRS = Uint8Array.from([0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, 0x40, 3, 4, 192, 0, 2, 1]);

function prefixes(n: number): Uint32Array {
  const p = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    p[i * 2] = (0x0a000000 + i * 256) >>> 0;
    p[i * 2 + 1] = 24;
  }
  return p;
}

describe('UpdateWriter pieces', () => {
  it('a small batch is one piece', () => {
    const w = new UpdateWriter(4096);
    w.announce(ATTRS, prefixes(100), 200);
    const pieces = w.finish();
    expect(pieces.length).toBe(1);
    expect(walk(pieces[0].bytes)).toEqual({ messages: pieces[0].messages, prefixes: 100, whole: true });
  });

  it('a table-sized batch comes in pieces of whole UPDATEs, none much above PIECE_BYTES', () => {
    const n = 600_000;
    const w = new UpdateWriter(4096);
    w.announce(ATTRS, prefixes(n), n * 2);
    const pieces = w.finish();
    expect(pieces.length).toBeGreaterThan(1);
    let prefixCount = 0;
    for (const piece of pieces) {
      const seen = walk(piece.bytes);
      expect(seen.whole).toBe(true);
      expect(seen.messages).toBe(piece.messages);
      expect(piece.bytes.length).toBeLessThan(PIECE_BYTES + 4096);
      prefixCount += seen.prefixes;
    }
    expect(prefixCount).toBe(n);
  });

  it('nothing written: no piece', () => {
    expect(new UpdateWriter(4096).finish()).toEqual([]);
  });
});
