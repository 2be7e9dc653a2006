// The operations phase 1 turns a batch's UPDATEs into and phase 2 applies shard by shard:
// one per prefix, in the order the peer sent them.

/** One operation: shard, length | WITHDRAW | family << 9, network (4 words), path id, attribute id. */
export const OP_WORDS = 8;
export const WITHDRAW = 0x100;
export const FAMILY_SHIFT = 9;

export class Ops {
  words = new Uint32Array(OP_WORDS * 65536);
  n = 0;

  push(shard: number, lenFlags: number, k0: number, k1: number, k2: number, k3: number, pathId: number, attr: number): void {
    if ((this.n + 1) * OP_WORDS > this.words.length) {
      const bigger = new Uint32Array(this.words.length * 2);
      bigger.set(this.words);
      this.words = bigger;
    }
    const o = this.n++ * OP_WORDS;
    const w = this.words;
    w[o] = shard;
    w[o + 1] = lenFlags;
    w[o + 2] = k0;
    w[o + 3] = k1;
    w[o + 4] = k2;
    w[o + 5] = k3;
    w[o + 6] = pathId;
    w[o + 7] = attr;
  }

  /** The operations from `from` on get attribute set `attr`; 0 makes them withdrawals. */
  setAnnouncements(from: number, attr: number): void {
    const w = this.words;
    for (let i = from; i < this.n; i++) {
      const o = i * OP_WORDS;
      w[o + 7] = attr;
      if (attr === 0) w[o + 1] |= WITHDRAW;
    }
  }

  /** Turns announcement `i` into a withdrawal (filtered: an earlier accepted path goes too). */
  filter(i: number): void {
    const o = i * OP_WORDS;
    this.words[o + 1] |= WITHDRAW;
    this.words[o + 7] = 0;
  }
}
