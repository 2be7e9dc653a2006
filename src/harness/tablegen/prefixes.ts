// Synthetic prefix sets: distinct networks with the real length mix, scattered over public
// unicast space, returned in address order (the order a speaker walking its table sends them).
//
// Distinctness costs nothing: for each length L the networks are a seeded bijection applied
// to 0, 1, 2..., so no two draws of one length can collide, and (network, length) pairs of
// different lengths are distinct by definition.

import { IPV4_LENGTH_COUNTS, IPV6_LENGTH_COUNTS } from './calibration.js';
import { hash32, Permutation, Rng } from './random.js';

export interface Ipv4Prefixes {
  /** Network address as a u32, host bits zero. */
  addr: Uint32Array;
  len: Uint8Array;
}

export interface Ipv6Prefixes {
  /** Address bits 0-31. */
  hi: Uint32Array;
  /** Address bits 32-47 (every length is <= /48, so nothing lies beyond). */
  mid: Uint16Array;
  len: Uint8Array;
}

/** Splits `total` over lengths in proportion to `weights`; the rounding rest goes to the mode. */
export function apportion(weights: Readonly<Record<number, number>>, total: number): Map<number, number> {
  const lengths = Object.keys(weights).map(Number).sort((a, b) => a - b);
  const sum = lengths.reduce((s, l) => s + weights[l], 0);
  const out = new Map<number, number>();
  let given = 0;
  let mode = lengths[0];
  for (const l of lengths) {
    const n = Math.floor((weights[l] / sum) * total);
    out.set(l, n);
    given += n;
    if (weights[l] > weights[mode]) mode = l;
  }
  out.set(mode, out.get(mode)! + total - given);
  return out;
}

// Not routed on the public Internet (RFC 6890), plus the benchmarking and documentation blocks
// the default next hops live in: a route covering its own next hop would not resolve.
const V4_EXCLUDED: ReadonlyArray<[number, number]> = [
  [0x00000000, 8], // 0/8
  [0x0a000000, 8], // 10/8
  [0x64400000, 10], // 100.64/10
  [0x7f000000, 8], // 127/8
  [0xa9fe0000, 16], // 169.254/16
  [0xac100000, 12], // 172.16/12
  [0xc0000000, 24], // 192.0.0/24
  [0xc0000200, 24], // 192.0.2/24
  [0xc0a80000, 16], // 192.168/16
  [0xc6120000, 15], // 198.18/15 (default NEXT_HOP 198.18.0.1)
  [0xc6336400, 24], // 198.51.100/24
  [0xcb007100, 24], // 203.0.113/24
  [0xe0000000, 3], // 224/4 multicast and 240/4 reserved
];

/** First octets that some excluded block touches; the rest need no further check. */
const V4_TOUCHED = new Uint8Array(256);
for (const [net, len] of V4_EXCLUDED) {
  const first = net >>> 24;
  const span = len >= 8 ? 1 : 2 ** (8 - len);
  for (let o = first; o < first + span; o++) V4_TOUCHED[o] = 1;
}

function v4Excluded(addr: number, len: number): boolean {
  if (len >= 8 && V4_TOUCHED[addr >>> 24] === 0) return false;
  for (const [net, elen] of V4_EXCLUDED) {
    const m = Math.min(len, elen);
    // Two prefixes overlap when they agree on the shorter one's bits.
    if (m === 0 || (addr ^ net) >>> (32 - m) === 0) return true;
  }
  return false;
}

// IPv6 blocks as 48-bit numbers (address bits 0-47).
const V6_EXCLUDED: ReadonlyArray<[number, number]> = [
  [0x2001_0000_0000, 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  [0x2001_0db8_0000, 32], // documentation (default next hop 2001:db8::1)
  [0x2002_0000_0000, 16], // 6to4
];

function v6Excluded(top48: number, len: number): boolean {
  for (const [net, elen] of V6_EXCLUDED) {
    const d = 2 ** (48 - Math.min(len, elen));
    if (Math.floor(top48 / d) === Math.floor(net / d)) return true;
  }
  return false;
}

/**
 * Draws `count` networks of each length into `keys` as address * 64 + length (exact in a
 * double: at most 51 bits), which sorts into address order. When a length's space runs out
 * (only for tables far above full size), the rest moves to the next longer length.
 */
function draw(
  counts: Map<number, number>,
  maxLen: number,
  seed: number,
  family: number,
  network: (len: number, v: number, bits: number, rng: Rng) => number,
  excluded: (net: number, len: number) => boolean,
  freeBits: (len: number) => number,
  keys: Float64Array,
): void {
  let k = 0;
  let carry = 0;
  const rng = new Rng(0);
  for (let len = 1; len <= maxLen; len++) {
    const want = (counts.get(len) ?? 0) + carry;
    carry = 0;
    if (want === 0) continue;
    const bits = Math.min(freeBits(len), 32);
    const perm = new Permutation(bits, hash32(seed, family, len, 1));
    rng.reseed(hash32(seed, family, len, 2));
    const domain = 2 ** bits;
    let got = 0;
    for (let i = 0; got < want && i < domain; i++) {
      const net = network(len, perm.apply(i), bits, rng);
      if (excluded(net, len)) continue;
      keys[k++] = net * 64 + len;
      got++;
    }
    carry = want - got;
  }
  if (carry > 0) throw new RangeError(`address space exhausted: ${carry} prefixes left over`);
}

/** `count` distinct public IPv4 prefixes with the jinx 2014 length mix, in address order. */
export function generateIpv4(count: number, seed: number): Ipv4Prefixes {
  const keys = new Float64Array(count);
  draw(
    apportion(IPV4_LENGTH_COUNTS, count),
    32,
    seed,
    4,
    (len, v) => (len === 32 ? v : (v * 2 ** (32 - len))) >>> 0,
    v4Excluded,
    (len) => len,
    keys,
  );
  keys.sort();
  const addr = new Uint32Array(count);
  const len = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const key = keys[i];
    const l = key % 64;
    len[i] = l;
    addr[i] = (key - l) / 64;
  }
  return { addr, len };
}

/** `count` distinct IPv6 prefixes in 2000::/3 with the rrc01 2024 length mix, in address order. */
export function generateIpv6(count: number, seed: number): Ipv6Prefixes {
  const keys = new Float64Array(count);
  const TOP = 2 ** 45; // the 001 of 2000::/3, as bit 2 of a 48-bit number
  draw(
    apportion(IPV6_LENGTH_COUNTS, count),
    48,
    seed,
    6,
    (len, v, bits, rng) => {
      // The permuted value gives the leading network bits (so networks are distinct); any
      // network bits beyond 32 are filled at random.
      const rest = len - 3 - bits;
      const low = rest > 0 ? rng.below(2 ** rest) : 0;
      return TOP + (v * 2 ** rest + low) * 2 ** (48 - len);
    },
    v6Excluded,
    (len) => len - 3,
    keys,
  );
  keys.sort();
  const hi = new Uint32Array(count);
  const mid = new Uint16Array(count);
  const len = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const key = keys[i];
    const l = key % 64;
    const top48 = (key - l) / 64;
    len[i] = l;
    hi[i] = Math.floor(top48 / 65536);
    mid[i] = top48 % 65536;
  }
  return { hi, mid, len };
}
