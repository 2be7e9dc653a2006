// Shape of the real table, copied from shared/data/mrt/stats.json beside the repository (see its README).
// Full-table shape (prefix lengths, AS_PATH lengths, ORIGIN, aggregation) comes from the
// single-peer 2014 jinx view (AS30844, 497,321 prefixes), the only full modern-era RIB there;
// attribute richness (communities, large communities, MED, IPv6 lengths) from the 2014
// route-views2 multi-peer RIB and the 2024 rrc01 update trace, as the stats' caveat advises.

/** IPv4 distinct prefixes per length, jinx 2014 (`prefix_length_hist_distinct_prefixes`), /0 dropped. */
export const IPV4_LENGTH_COUNTS: Readonly<Record<number, number>> = {
  8: 16, 9: 12, 10: 30, 11: 91, 12: 258, 13: 487, 14: 978, 15: 1707,
  16: 12966, 17: 7004, 18: 11763, 19: 24674, 20: 34446, 21: 37114, 22: 53134, 23: 46372,
  24: 265110, 25: 138, 26: 109, 27: 52, 28: 97, 29: 109, 30: 395, 31: 28, 32: 230,
};

/**
 * IPv6 announced prefixes per length, rrc01 2024 (`prefix_length_hist_announced`): the only
 * modern IPv6 mix in the data. Lengths under /29 are dropped (a few dozen, not in a clean
 * table); nothing is longer than /48, which also keeps a v6 network within 48 bits.
 */
export const IPV6_LENGTH_COUNTS: Readonly<Record<number, number>> = {
  29: 2358, 30: 181, 31: 6, 32: 11276, 33: 997, 34: 934, 35: 3505, 36: 1625, 37: 498, 38: 131,
  39: 202, 40: 2130, 41: 1340, 42: 1099, 43: 3, 44: 3626, 45: 16, 46: 938, 47: 752, 48: 44912,
};

/** AS_PATH length in hops (peer AS included), jinx 2014 `as_path_length_hops.hist`: mean 4.18. */
export const AS_PATH_HOPS: Readonly<Record<number, number>> = {
  1: 379, 2: 22339, 3: 147722, 4: 194301, 5: 73475, 6: 26099, 7: 13842, 8: 7365, 9: 4118,
  10: 2442, 11: 1139, 12: 886, 13: 1815, 14: 626, 15: 209, 16: 125, 17: 82, 18: 45, 19: 50,
  20: 47, 21: 2, 22: 29, 23: 3, 24: 1, 25: 11, 26: 2, 27: 3, 28: 2, 30: 1, 32: 150, 34: 10, 39: 1,
};

/** jinx 2014 `share_with_prepending`: some AS appears more than once in a row. */
export const SHARE_PREPENDED = 0.130258;

/** jinx 2014 `origin_attr`: IGP 476725, EGP 501, INCOMPLETE 20095. */
export const ORIGIN_WEIGHTS: readonly number[] = [476725, 501, 20095];

/** jinx 2014 `share_with_aggregator` / `share_with_atomic_aggregate`. */
export const SHARE_AGGREGATOR = 0.088756;
export const SHARE_ATOMIC_AGGREGATE = 0.064323;

/** rrc01 2024 `share_announcing_updates_with_communities` / `..._large_communities`. */
export const SHARE_COMMUNITIES = 0.785737;
export const SHARE_LARGE_COMMUNITIES = 0.193313;

/**
 * Communities per route among routes that carry any, route-views2 2014
 * `communities_per_route.hist` without its 0 bucket (mean 4.2): index i = i + 1 communities.
 */
export const COMMUNITY_COUNTS: readonly number[] = [
  30669, 20277, 7447, 12047, 27046, 11226, 6770, 2795, 2865, 4758, 1755, 985, 1081, 701, 335, 445,
  109, 139, 61, 53, 34, 33, 6, 2, 4, 2, 8, 28, 9, 7, 9, 285,
];

/**
 * Large communities per route among routes with any. The only RIBs with them are the NAMEX
 * and NL-IX route servers (7 per route there: route-server tags); a transit feed carries
 * fewer, so this spreads 1-7 with most mass low.
 */
export const LARGE_COMMUNITY_COUNTS: readonly number[] = [40, 25, 15, 8, 5, 3, 4];

/** route-views2 2014 multi-peer RIB `share_with_med` (0.384); NAMEX has 0.25. */
export const SHARE_MED = 0.35;

/**
 * Routes per attribute set. Single-peer 2014 views give 5.6-6.3; the 2014 multi-peer RIB
 * with communities gives 3.1 (more attributes, more distinct sets). A modern table with
 * communities on most routes sits between: aim for ~4.5, with half the sets holding one
 * route (jinx: 39,600 of 78,645) and a long tail (jinx p99 77, max 2874).
 */
export const SHARE_SINGLE_ROUTE_SETS = 0.5;
export const MAX_ROUTES_PER_SET = 2874;
/**
 * The other half: floor(2 * U^(-1/alpha)), capped at MAX_ROUTES_PER_SET. alpha 1.25 gives a
 * mean of ~8.5 for them, so ~4.6 overall, p90 ~7, p99 ~45 (measured; jinx: 6.3 / 10 / 77).
 */
export const SET_SIZE_TAIL_ALPHA = 1.25;

/** jinx 2014: 46,984 origin ASes for 497,321 prefixes, ~10.6 prefixes per origin. */
export const PREFIXES_PER_ORIGIN_AS = 10.6;
