// Interns attribute blocks: equal bytes (and family) get one small integer id, so routes can
// be grouped into shared UPDATEs. Blocks live in one arena and are found through an
// open-addressing hash table, with no object or string per route.

export class BlockInterner {
  private arena = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  /** Per id: where the block is in `bytes`, its length, its MP_REACH_NLRI offset, its family. */
  offset: Int32Array = new Int32Array(1024);
  length: Int32Array = new Int32Array(1024);
  mpReachAt: Int32Array = new Int32Array(1024);
  family = new Uint8Array(1024);
  private hashes: Int32Array = new Int32Array(1024);
  count = 0;
  private slots = new Int32Array(4096).fill(-1);

  /** The arena the offsets point into (it moves when it grows). */
  get bytes(): Buffer {
    return this.arena;
  }

  /** The id of block[0, len) of `family`, adding it if new. */
  intern(block: Buffer, len: number, mpReachAt: number, family: number): number {
    // FNV-1a: a byte at a time is fast enough next to decompression.
    let h = 0x811c9dc5 ^ family;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ block[i], 0x01000193);
    const mask = this.slots.length - 1;
    let s = h & mask;
    for (;;) {
      const id = this.slots[s];
      if (id < 0) break;
      if (
        this.hashes[id] === h &&
        this.length[id] === len &&
        this.family[id] === family &&
        block.compare(this.arena, this.offset[id], this.offset[id] + len, 0, len) === 0
      ) {
        return id;
      }
      s = (s + 1) & mask;
    }
    const id = this.add(block, len, mpReachAt, family, h);
    this.slots[s] = id;
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  private add(block: Buffer, len: number, mpReachAt: number, family: number, h: number): number {
    if (this.used + len > this.arena.length) {
      const next = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.used + len));
      this.arena.copy(next, 0, 0, this.used);
      this.arena = next;
    }
    block.copy(this.arena, this.used, 0, len);
    const id = this.count++;
    if (id === this.offset.length) {
      const n = id * 2;
      this.offset = grow(this.offset, n);
      this.length = grow(this.length, n);
      this.mpReachAt = grow(this.mpReachAt, n);
      this.hashes = grow(this.hashes, n);
      const f = new Uint8Array(n);
      f.set(this.family);
      this.family = f;
    }
    this.offset[id] = this.used;
    this.length[id] = len;
    this.mpReachAt[id] = mpReachAt;
    this.family[id] = family;
    this.hashes[id] = h;
    this.used += len;
    return id;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      let s = this.hashes[id] & mask;
      while (slots[s] >= 0) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.slots = slots;
  }
}

export function grow(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(n);
  out.set(a.subarray(0, Math.min(a.length, n)));
  return out;
}
