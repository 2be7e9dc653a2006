// A seeded synthetic full table, calibrated to the real one (calibration.ts), pre-encoded as
// the UPDATE stream a full-table eBGP peer would send.
//
// What a variant (another sending peer) shares and what it does not:
// - prefixes, their order and their grouping into attribute sets depend on the seed only;
// - per set, the origin AS, ORIGIN and AGGREGATOR belong to the originating network: same;
// - the transit part of the AS_PATH, its length, prepending, MED and communities are the
//   sending peer's view: drawn per (seed, variant, set), so best-path selection must choose.

import { ipv4ToNumber, ipv6ToBytes } from '../../packet/address.js';
import { Afi, Safi } from '../../packet/constants.js';
import { MID_TIER_COUNT, poolAsn, TIER1, twoOctetAsn, UPSTREAM_COUNT } from './asns.js';
import { AttrBlockWriter } from './attrs.js';
import {
  AS_PATH_HOPS,
  COMMUNITY_COUNTS,
  LARGE_COMMUNITY_COUNTS,
  MAX_ROUTES_PER_SET,
  ORIGIN_WEIGHTS,
  PREFIXES_PER_ORIGIN_AS,
  SET_SIZE_TAIL_ALPHA,
  SHARE_AGGREGATOR,
  SHARE_ATOMIC_AGGREGATE,
  SHARE_COMMUNITIES,
  SHARE_LARGE_COMMUNITIES,
  SHARE_MED,
  SHARE_PREPENDED,
  SHARE_SINGLE_ROUTE_SETS,
} from './calibration.js';
import { generateIpv4, generateIpv6 } from './prefixes.js';
import { cumulative, hash32, Rng } from './random.js';
import { endOfRibMarkers, type EncodedTable } from './table.js';
import { UpdateWriter } from './writer.js';

export type { EncodedTable } from './table.js';

export interface SyntheticOptions {
  seed?: number; // default 1
  ipv4Prefixes?: number; // default 1_040_000
  ipv6Prefixes?: number; // default 225_000 (0 allowed)
  /** Sending-peer index 0, 1, 2...: same prefixes, other paths (longer/shorter AS_PATH, other MED). */
  variant?: number;
  /** First AS of every AS_PATH (the sending peer's own AS, eBGP). */
  senderAs: number;
  /** IPv4 NEXT_HOP, default 198.18.0.1 (never 127/8: daemons reject it). */
  nextHop?: string;
  /** IPv6 MP_REACH next hop, default 2001:db8::1. */
  nextHop6?: string;
  /** 4096 default (65535 with extended messages, RFC 8654). */
  maxMessageLength?: number;
}

interface Resolved {
  seed: number;
  ipv4Prefixes: number;
  ipv6Prefixes: number;
  variant: number;
  senderAs: number;
  nextHop: number;
  nextHop6: Uint8Array;
  maxMessageLength: number;
}

function count(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
  return n;
}

function resolve(o: SyntheticOptions): Resolved {
  if (!Number.isInteger(o.senderAs) || o.senderAs < 1 || o.senderAs > 0xffffffff) {
    throw new RangeError(`senderAs ${o.senderAs} is not an AS number`);
  }
  const nextHop = o.nextHop ?? '198.18.0.1';
  const nh = ipv4ToNumber(nextHop);
  if (nh >>> 24 === 127 || nh === 0) throw new RangeError(`NEXT_HOP ${nextHop} would be rejected by the receiver`);
  return {
    seed: (o.seed ?? 1) >>> 0,
    ipv4Prefixes: count('ipv4Prefixes', o.ipv4Prefixes, 1_040_000),
    ipv6Prefixes: count('ipv6Prefixes', o.ipv6Prefixes, 225_000),
    variant: count('variant', o.variant, 0),
    senderAs: o.senderAs,
    nextHop: nh,
    nextHop6: ipv6ToBytes(o.nextHop6 ?? '2001:db8::1'),
    maxMessageLength: o.maxMessageLength ?? 4096,
  };
}

const HOPS = Object.keys(AS_PATH_HOPS).map(Number);
const HOPS_CUM = cumulative(HOPS.map((h) => AS_PATH_HOPS[h]));
/** Prepending needs three hops or more; scale the share so that it holds over all paths. */
const P_PREPEND = (() => {
  let total = 0;
  let long = 0;
  for (const h of HOPS) {
    total += AS_PATH_HOPS[h];
    if (h >= 3) long += AS_PATH_HOPS[h];
  }
  return SHARE_PREPENDED * (total / long);
})();
const ORIGIN_CUM = cumulative(ORIGIN_WEIGHTS);
const COMMUNITY_CUM = cumulative(COMMUNITY_COUNTS);
const LARGE_CUM = cumulative(LARGE_COMMUNITY_COUNTS);

/** Sizes of attribute sets: half hold one route, the rest follow a capped Pareto tail. */
function setSize(rng: Rng): number {
  if (rng.float() < SHARE_SINGLE_ROUTE_SETS) return 1;
  const u = 1 - rng.float(); // (0, 1]
  return Math.min(MAX_ROUTES_PER_SET, Math.floor(2 * Math.pow(u, -1 / SET_SIZE_TAIL_ALPHA)));
}

// Stream tags for hash32, so that no two kinds of draw share a sequence.
const SIZES = 0x51e5;
const ORIGINS = 0x0a15;
const PATHS = 0x9a75;

/** Builds the attribute block of each set into one scratch writer. */
class PathMaker {
  readonly attrs = new AttrBlockWriter();
  private readonly path = new Uint32Array(64);
  private readonly comm = new Uint32Array(64);
  private readonly large = new Uint32Array(3 * 8);
  private readonly orng = new Rng(0);
  private readonly prng = new Rng(0);
  private readonly originPool: number;

  constructor(private readonly o: Resolved) {
    this.originPool = Math.max(1, Math.round((o.ipv4Prefixes + o.ipv6Prefixes) / PREFIXES_PER_ORIGIN_AS));
  }

  /** The block for set `s` of `family` (4 or 6), as the variant's sending peer sends it. */
  build(family: 4 | 6, s: number): void {
    const { o, attrs, path } = this;
    const orng = this.orng;
    const prng = this.prng;
    orng.reseed(hash32(o.seed, ORIGINS, family, s));
    prng.reseed(hash32(o.seed ^ PATHS, o.variant + 1, family, s));

    // The originating network's own choices: identical from every sending peer.
    let originAs = poolAsn(orng.below(this.originPool));
    // The receiver drops paths holding its own AS; the sender must not reappear either.
    while (originAs === o.senderAs) originAs = poolAsn(orng.below(this.originPool));
    const origin = orng.pick(ORIGIN_CUM);
    const aggregated = orng.float() < SHARE_AGGREGATOR;
    const atomic = orng.float() < SHARE_ATOMIC_AGGREGATE;
    const aggregatorId = (0x01000000 + orng.below(0xdf000000)) >>> 0;

    const n = this.asPath(originAs, prng);

    attrs.reset();
    attrs.origin(origin);
    attrs.asPath(path, n);
    if (family === 4) attrs.nextHop(o.nextHop);
    if (prng.float() < SHARE_MED) attrs.med(this.med(prng));
    if (atomic) attrs.atomicAggregate();
    if (aggregated) attrs.aggregator(originAs, aggregatorId);
    if (prng.float() < SHARE_COMMUNITIES) attrs.communities(this.comm, this.communities(n, prng));
    if (prng.float() < SHARE_LARGE_COMMUNITIES) attrs.largeCommunities(this.large, this.largeCommunities(prng));
    if (family === 6) attrs.mpReachHead(Afi.IPv6, Safi.Unicast, o.nextHop6);
  }

  /** Fills `path` and returns its length in ASes: sender, transit..., origin, with prepending. */
  private asPath(originAs: number, rng: Rng): number {
    const path = this.path;
    const sender = this.o.senderAs;
    const hops = HOPS[rng.pick(HOPS_CUM)];
    if (hops === 1) {
      // The peer originates the route itself.
      path[0] = sender;
      return 1;
    }
    let repeats = 0;
    if (hops >= 3 && rng.float() < P_PREPEND) {
      repeats = 1;
      while (repeats < hops - 2 && repeats < 6 && rng.float() < 0.45) repeats++;
    }
    const unique = hops - repeats;
    const transits = unique - 2;
    let n = 0;
    path[n++] = sender;
    for (let j = 0; j < transits; j++) {
      let asn = 0;
      for (let tries = 0; tries < 32; tries++) {
        if (j === 0 && rng.float() < 0.6) asn = TIER1[rng.below(TIER1.length)];
        else if (j === transits - 1 && transits > 1) asn = poolAsn(rng.below(UPSTREAM_COUNT));
        else asn = twoOctetAsn(rng.below(MID_TIER_COUNT));
        if (asn !== originAs && !seen(path, n, asn)) break;
      }
      path[n++] = asn;
    }
    path[n++] = originAs;
    if (repeats > 0) {
      // Mostly the origin pads its own path; sometimes the peer or a transit does.
      const r = rng.float();
      const at = r < 0.65 ? n - 1 : r < 0.85 || transits === 0 ? 0 : 1 + rng.below(transits);
      path.copyWithin(at + 1 + repeats, at + 1, n);
      path.fill(path[at], at + 1, at + 1 + repeats);
      n += repeats;
    }
    return n;
  }

  private med(rng: Rng): number {
    switch (rng.below(4)) {
      case 0:
        return 0;
      case 1:
        return 10 * (1 + rng.below(10));
      case 2:
        return 100 * (1 + rng.below(50));
      default:
        return rng.below(100_000);
    }
  }

  /** RFC 1997 communities tagged by the 2-octet ASes on the path; sorted, no duplicates. */
  private communities(pathLen: number, rng: Rng): number {
    const path = this.path;
    const c = this.comm;
    const want = 1 + rng.pick(COMMUNITY_CUM);
    let n = 0;
    for (let i = 0; i < want; i++) {
      // The peer tags most routes (where learned, which relationship), others tag a few.
      let asn = path[rng.float() < 0.7 ? 0 : rng.below(pathLen)];
      if (asn > 0xffff) asn = 64512 + rng.below(1000); // 4-octet ASes fall back to private ASNs
      const r = rng.float();
      const value = r < 0.5 ? 1000 + rng.below(3000) : r < 0.8 ? 1 + rng.below(64000) : rng.below(1000);
      const community = ((asn << 16) | value) >>> 0;
      // Insertion into the sorted prefix c[0, n), dropping duplicates.
      let k = n;
      while (k > 0 && c[k - 1] > community) k--;
      if (k > 0 && c[k - 1] === community) continue;
      c.copyWithin(k + 1, k, n);
      c[k] = community;
      n++;
    }
    return n;
  }

  /** RFC 8092 large communities from the peer: (peer AS, function, parameter), one per function. */
  private largeCommunities(rng: Rng): number {
    const l = this.large;
    const n = 1 + rng.pick(LARGE_CUM);
    for (let i = 0; i < n; i++) {
      l[3 * i] = this.o.senderAs;
      l[3 * i + 1] = i + 1;
      l[3 * i + 2] = rng.below(1_000_000);
    }
    return n;
  }
}

function seen(path: Uint32Array, n: number, asn: number): boolean {
  for (let k = 0; k < n; k++) if (path[k] === asn) return true;
  return false;
}

/** Splits n routes into consecutive sets; returns the sizes. */
function setSizes(n: number, seed: number, family: number): Int32Array {
  const rng = new Rng(hash32(seed, SIZES, family));
  const sizes: number[] = [];
  for (let i = 0; i < n; ) {
    const k = Math.min(n - i, setSize(rng));
    sizes.push(k);
    i += k;
  }
  return Int32Array.from(sizes);
}

export function generateTable(opts: SyntheticOptions): EncodedTable {
  const o = resolve(opts);
  const v4 = generateIpv4(o.ipv4Prefixes, o.seed);
  const v6 = generateIpv6(o.ipv6Prefixes, o.seed);
  const sizes4 = setSizes(o.ipv4Prefixes, o.seed, 4);
  const sizes6 = setSizes(o.ipv6Prefixes, o.seed, 6);
  const sets = sizes4.length + sizes6.length;
  // Measured: ~5 octets per IPv4 prefix, ~7 per IPv6 one, ~70 per message of header and attributes.
  const estimate = o.ipv4Prefixes * 5 + o.ipv6Prefixes * 7 + sets * 80 + 65536;
  const writer = new UpdateWriter(o.maxMessageLength, estimate);
  const maker = new PathMaker(o);
  const { attrs } = maker;

  let i = 0;
  for (let s = 0; s < sizes4.length; s++) {
    maker.build(4, s);
    if (!writer.fits(attrs.len, 5)) throw new RangeError(`attributes (${attrs.len} octets) leave no room in ${o.maxMessageLength}-octet messages`);
    writer.startGroup(attrs.buf, 0, attrs.len, -1);
    for (const end = i + sizes4[s]; i < end; i++) writer.addPrefix4(v4.addr[i], v4.len[i]);
  }
  i = 0;
  for (let s = 0; s < sizes6.length; s++) {
    maker.build(6, s);
    if (!writer.fits(attrs.len, 7)) throw new RangeError(`attributes (${attrs.len} octets) leave no room in ${o.maxMessageLength}-octet messages`);
    writer.startGroup(attrs.buf, 0, attrs.len, attrs.mpReachAt);
    for (const end = i + sizes6[s]; i < end; i++) writer.addPrefix6(v6.hi[i], v6.mid[i], v6.len[i]);
  }
  const updates = writer.finish();
  return {
    updates,
    endOfRib: endOfRibMarkers(o.ipv6Prefixes > 0),
    messageCount: writer.messages,
    ipv4Prefixes: o.ipv4Prefixes,
    ipv6Prefixes: o.ipv6Prefixes,
    attributeSets: sets,
  };
}

/** The prefixes, in order, for checking what arrives: IPv4 as [u32 network, length] pairs. */
export function expectedPrefixes(opts: SyntheticOptions): { ipv4: Uint32Array; ipv6Count: number } {
  const o = resolve(opts);
  const v4 = generateIpv4(o.ipv4Prefixes, o.seed);
  const ipv4 = new Uint32Array(2 * o.ipv4Prefixes);
  for (let i = 0; i < o.ipv4Prefixes; i++) {
    ipv4[2 * i] = v4.addr[i];
    ipv4[2 * i + 1] = v4.len[i];
  }
  return { ipv4, ipv6Count: o.ipv6Prefixes };
}
