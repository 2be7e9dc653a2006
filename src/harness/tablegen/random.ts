// Seeded, order-independent randomness: every draw is a pure function of (seed, stream, index),
// so a table is reproducible byte for byte and variants can share what they must share.

import { fmix32 } from '../../util/hash.js';

export { fmix32 };

/** Hashes up to four words into one seed. */
export function hash32(a: number, b = 0, c = 0, d = 0): number {
  let h = fmix32(a ^ 0x9e3779b9);
  h = fmix32(h ^ Math.imul(b, 0x27d4eb2f) ^ 0x165667b1);
  h = fmix32(h ^ Math.imul(c, 0x61c88647) ^ 0x3c6ef372);
  h = fmix32(h ^ Math.imul(d, 0x7feb352d) ^ 0xa54ff53a);
  return h;
}

/** splitmix32: one add and two multiplies per draw, good enough for workload shaping. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  reseed(seed: number): void {
    this.s = seed >>> 0;
  }

  u32(): number {
    this.s = (this.s + 0x9e3779b9) | 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n) for n <= 2^32. */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Index drawn from a cumulative weight table (last entry = total). */
  pick(cumulative: Float64Array): number {
    const x = this.float() * cumulative[cumulative.length - 1];
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Running sums of a weight list, for Rng.pick. */
export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) out[i] = s += weights[i];
  return out;
}

/**
 * A seeded bijection on [0, 2^bits): distinct inputs give distinct outputs, so counting
 * 0, 1, 2... through it yields distinct, well-scattered values with no duplicate check.
 * Built from steps each invertible modulo 2^bits (add, multiply by odd, xor-shift right).
 */
export class Permutation {
  private readonly mask: number;
  private readonly shift: number;
  private readonly k: Uint32Array;

  constructor(readonly bits: number, seed: number) {
    if (bits < 1 || bits > 32) throw new RangeError(`permutation width ${bits}`);
    this.mask = bits === 32 ? 0xffffffff : (2 ** bits - 1) >>> 0;
    this.shift = Math.max(1, bits >> 1);
    const r = new Rng(seed);
    this.k = new Uint32Array(6);
    for (let i = 0; i < 6; i++) this.k[i] = i % 2 === 0 ? r.u32() | 1 : r.u32();
  }

  apply(x: number): number {
    const m = this.mask;
    const s = this.shift;
    const k = this.k;
    for (let i = 0; i < 6; i += 2) {
      x = (x + k[i + 1]) & m;
      x = Math.imul(x, k[i]) & m;
      x = (x ^ (x >>> s)) & m;
    }
    return x >>> 0;
  }
}
