// A synthetic AS number space: a realistic mix of 2- and 4-octet ASes, and a transit
// hierarchy for building AS_PATHs that look like the ones a full-table peer sends.

/** Transit-free networks, all 2-octet: what the first hop after a transit peer usually is. */
export const TIER1: readonly number[] = [
  174, 209, 701, 1239, 1299, 2914, 3257, 3320, 3356, 3491, 5511, 6453, 6461, 6762, 6830, 6939, 7018, 12956,
];

/** Share of origin ASes with 4-octet numbers (RFC 6793): in 2024 over 40% of origins. */
const FOUR_OCTET_IN_20 = 9;

// Usable 2-octet numbers, 1..64296 with AS_TRANS (23456) mapped to 64297: the IANA-reserved
// 64298-64495, documentation (64496-64511), private (64512-65534) and 65535 stay unused.
const TWO_OCTET_SPAN = 64296;
const TWO_OCTET_STEP = 40507; // coprime with the span, so j -> asn is one-to-one
// RIR-allocated 4-octet numbers start at 131072; 270,000 of them reach into ARIN's 39xxxx.
const FOUR_OCTET_BASE = 131072;
const FOUR_OCTET_SPAN = 270000;
const FOUR_OCTET_STEP = 104729;

/** The j-th 2-octet AS (one-to-one for j < 64296). */
export function twoOctetAsn(j: number): number {
  const asn = 1 + ((j * TWO_OCTET_STEP + 7919) % TWO_OCTET_SPAN);
  return asn === 23456 ? 64297 : asn;
}

/** The j-th 4-octet AS (one-to-one for j < 270000). */
export function fourOctetAsn(j: number): number {
  return FOUR_OCTET_BASE + ((j * FOUR_OCTET_STEP + 104723) % FOUR_OCTET_SPAN);
}

/** The k-th AS of the pool: 9 of every 20 are 4-octet. Distinct for k below ~580,000. */
export function poolAsn(k: number): number {
  const block = Math.floor(k / 20);
  const r = k % 20;
  return r < FOUR_OCTET_IN_20
    ? fourOctetAsn(block * FOUR_OCTET_IN_20 + r)
    : twoOctetAsn(block * (20 - FOUR_OCTET_IN_20) + r - FOUR_OCTET_IN_20);
}

/** Regional transit providers: older networks, so 2-octet. */
export const MID_TIER_COUNT = 3000;
/** The origin's own upstream: any AS from the first part of the pool. */
export const UPSTREAM_COUNT = 20000;
