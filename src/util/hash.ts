// Small integer hashing shared by the RIB's tables and the table generator.

/** murmur3's 32-bit finaliser: a cheap avalanche over one word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
