// The shared-memory RIB (Piscina workers, shards, batches interleaved across peers) and the
// plain reference RIB are fed the same random streams and must hold identical Loc-RIBs.
import { afterAll, describe, expect, it } from 'vitest';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  encodeUpdate,
  ipv4ToNumber,
  ipv6FromBytes,
  ipv6ToBytes,
  type PathAttribute,
} from '../../src/packet/index.js';
import { ReferenceRib } from '../../src/rib/reference.js';
import type { PeerInfo } from '../../src/rib/pipeline.js';
import { RibPipeline } from '../../src/rib/pipeline.js';
import { locRib, pathsAt, prefixAt } from '../../src/rib/query.js';
import { selectBest } from '../../src/rib/decision.js';

const LOCAL_AS = 65000;
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: T[]) => xs[Math.floor(next() * xs.length)] };
}

interface Peer extends PeerInfo {
  index: number;
  ebgp: boolean;
}

const PEERS: Peer[] = [
  { index: 1, asn: 65001, routerId: ipv4ToNumber('10.0.0.9'), address: ipv4ToNumber('192.0.2.1'), ibgp: false, ebgp: true },
  { index: 2, asn: 65002, routerId: ipv4ToNumber('10.0.0.2'), address: ipv4ToNumber('192.0.2.2'), ibgp: false, ebgp: true },
  { index: 3, asn: 65001, routerId: ipv4ToNumber('10.0.0.3'), address: ipv4ToNumber('192.0.2.3'), ibgp: false, ebgp: true },
  { index: 4, asn: LOCAL_AS, routerId: ipv4ToNumber('10.0.0.4'), address: ipv4ToNumber('192.0.2.4'), ibgp: true, ebgp: false },
  { index: 5, asn: LOCAL_AS, routerId: ipv4ToNumber('10.0.0.1'), address: ipv4ToNumber('192.0.2.5'), ibgp: true, ebgp: false },
];

function prefixPool6(r: ReturnType<typeof rng>, n: number): string[] {
  const out = new Set<string>();
  while (out.size < n) {
    const len = r.pick([32, 36, 44, 48, 48, 48, 56, 64]);
    const groups = Array.from({ length: 8 }, (_, i) => (i === 0 ? 0x2001 : i === 1 ? 0x0db8 : r.int(0x10000)));
    // Clear the host bits group by group.
    for (let g = 0; g < 8; g++) {
      const keep = Math.max(0, Math.min(16, len - 16 * g));
      groups[g] = keep === 0 ? 0 : groups[g] & (0xffff << (16 - keep)) & 0xffff;
    }
    out.add(`${groups.map((x) => x.toString(16)).join(':')}/${len}`);
  }
  // The codec prints RFC 5952 text: normalise through it so both RIBs key the same string.
  return [...out].map((p) => {
    const [a, l] = p.split('/');
    return `${ipv6FromBytes(ipv6ToBytes(a))}/${l}`;
  });
}

function prefixPool(r: ReturnType<typeof rng>, n: number): string[] {
  const out = new Set<string>();
  while (out.size < n) {
    const len = r.pick([8, 16, 19, 20, 22, 23, 24, 24, 24, 32]);
    const addr = (r.int(200) + 11) * 2 ** 24 + r.int(2 ** 24);
    const masked = len === 32 ? addr : Math.floor(addr / 2 ** (32 - len)) * 2 ** (32 - len);
    out.add(`${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${len}`);
  }
  return [...out];
}

function randomAttributes(r: ReturnType<typeof rng>, p: Peer): PathAttribute[] {
  const first = p.ebgp ? p.asn : r.pick([65001, 65002, 65003]);
  const path = [first, ...Array.from({ length: r.int(3) }, () => r.pick([3356, 1299, 174, 65010, 65011, r.next() < 0.05 ? LOCAL_AS : 2914]))];
  const segments = [{ type: AsPathSegmentType.AS_SEQUENCE, asns: path }];
  if (r.next() < 0.1) segments.push({ type: AsPathSegmentType.AS_SET, asns: [64512, 64513] });
  const attrs: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: r.int(3) },
    { type: AttrType.AS_PATH, flags: T, segments },
    { type: AttrType.NEXT_HOP, flags: T, nextHop: `198.18.0.${p.index}` },
  ];
  if (r.next() < 0.6) attrs.push({ type: AttrType.MULTI_EXIT_DISC, flags: O, med: r.pick([0, 10, 20]) });
  if (!p.ebgp) attrs.push({ type: AttrType.LOCAL_PREF, flags: T, localPref: r.pick([100, 100, 200, 50]) });
  if (r.next() < 0.3) attrs.push({ type: AttrType.COMMUNITIES, flags: O | T, communities: [r.int(1 << 30)] });
  if (!p.ebgp && r.next() < 0.3) {
    attrs.push({ type: AttrType.ORIGINATOR_ID, flags: O, originatorId: r.pick(['10.0.0.7', '10.0.0.1', '10.0.0.200']) });
    attrs.push({ type: AttrType.CLUSTER_LIST, flags: O, clusterList: Array.from({ length: 1 + r.int(2) }, (_, i) => `10.9.0.${i}`) });
  }
  return attrs;
}

/** One random IPv6 UPDATE (MP_REACH_NLRI / MP_UNREACH_NLRI, RFC 4760). */
function randomUpdate6(r: ReturnType<typeof rng>, p: Peer, pool: string[]): Uint8Array {
  const pick = () => [...new Set(Array.from({ length: 1 + r.int(5) }, () => r.pick(pool)))].map((prefix) => ({ prefix }));
  if (r.next() < 0.3) {
    return encodeUpdate({ withdrawn: [], attributes: [{ type: AttrType.MP_UNREACH_NLRI, flags: O, afi: 2, safi: 1, withdrawn: pick() }], nlri: [] }, { asn4: true });
  }
  const attrs = randomAttributes(r, p).filter((a) => a.type !== AttrType.NEXT_HOP);
  const nextHops = [`2001:db8:ffff::${p.index}`, ...(r.next() < 0.3 ? ['fe80::1'] : [])];
  attrs.push({ type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops, nlri: pick() });
  return encodeUpdate({ withdrawn: [], attributes: attrs, nlri: [] }, { asn4: true });
}

/** One random UPDATE from peer p: announcements, withdrawals, or a treat-as-withdraw error. */
function randomUpdate(r: ReturnType<typeof rng>, p: Peer, pool: string[]): Uint8Array {
  const pick = () => Array.from(new Set(Array.from({ length: 1 + r.int(6) }, () => ({ prefix: r.pick(pool) })).map((x) => x.prefix))).map((prefix) => ({ prefix }));
  const roll = r.next();
  if (roll < 0.25) return encodeUpdate({ withdrawn: pick(), attributes: [], nlri: [] }, { asn4: true });
  const attrs = randomAttributes(r, p);
  if (roll > 0.97) (attrs[0] as { origin: number }).origin = 7; // undefined ORIGIN: RFC 7606 treat-as-withdraw
  return encodeUpdate({ withdrawn: roll < 0.35 ? pick() : [], attributes: attrs, nlri: pick() }, { asn4: true, ebgp: p.ebgp });
}

const pipelines: RibPipeline[] = [];
afterAll(async () => {
  for (const p of pipelines) await p.close();
});

describe('shared-memory RIB vs reference RIB', () => {
  it.each([1, 2, 3, 4, 5, 6])('identical Loc-RIB for random stream %i', async (seed) => {
    const r = rng(seed);
    const pool = prefixPool(r, 150);
    const pool6 = prefixPool6(r, 80);
    const pipeline = new RibPipeline({ localAs: LOCAL_AS, workers: 3, sizing: { shards: 8, prefixes: 4096, prefixes6: 2048, paths: 65536, attributeSets: 65536 } });
    pipelines.push(pipeline);
    const peers = new Map<number, PeerInfo>();
    for (const p of PEERS) {
      pipeline.setPeer(p.index, p);
      peers.set(p.index, p);
    }
    const ref = new ReferenceRib(LOCAL_AS, peers);
    const pending: Promise<unknown>[] = [];
    for (let round = 0; round < 60; round++) {
      const p = r.pick(PEERS);
      const ctx = { asn4: true, ebgp: p.ebgp, addPath: false };
      if (r.next() < 0.04) {
        ref.flush(p.index);
        pending.push(pipeline.flushPeer(p.index));
        continue;
      }
      // One batch: several UPDATEs of one peer placed in shared memory, as the ingest ring does.
      const msgs = Array.from({ length: 1 + r.int(12) }, () => (r.next() < 0.3 ? randomUpdate6(r, p, pool6) : randomUpdate(r, p, pool)));
      const total = msgs.reduce((s, m) => s + m.length, 0);
      const sab = new SharedArrayBuffer(total + 7);
      const bytes = new Uint8Array(sab);
      const desc = new Uint32Array(msgs.length * 2);
      let off = 3; // not at offset 0, as in a ring
      msgs.forEach((m, i) => {
        bytes.set(m, off);
        desc[i * 2] = off;
        desc[i * 2 + 1] = m.length;
        off += m.length;
        ref.apply(p.index, ctx, m);
      });
      pending.push(pipeline.submitUpdates(p.index, ctx, sab, desc));
    }
    const results = (await Promise.all(pending)) as Array<{ error?: unknown }>;
    expect(results.filter((x) => x.error)).toEqual([]);
    const got = locRib(pipeline.views);
    const want = ref.locRib();
    expect(got.size).toBeGreaterThan(20);
    expect([...got.keys()].filter((k) => k.includes(':')).length).toBeGreaterThan(5); // IPv6 too
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...want].sort()));
    // What the batches kept (best paths chosen against the best before where the first three
    // steps decide) is what every step over all candidates chooses, reasons included.
    const v = pipeline.views;
    v.sync();
    let prefixes = 0;
    const differing: string[] = [];
    for (const f of v.families) {
      for (let s = 0; s < f.slots.length; s++) {
        for (let i = 0; i <= f.mask; i++) {
          const o = i * f.words;
          if (f.slots[s][o + f.lenAt] === 0 || f.slots[s][o + f.headAt] === 0) continue;
          prefixes++;
          const kept = pathsAt(v, f, s, i).map((p) => `${p.peer}:${p.best ? 'best' : p.reason}`);
          const best = selectBest(v, v.paths[s], f.slots[s][o + f.headAt]);
          f.slots[s][o + f.bestAt] = best;
          const full = pathsAt(v, f, s, i).map((p) => `${p.peer}:${p.best ? 'best' : p.reason}`);
          if (kept.join() !== full.join()) differing.push(`${prefixAt(f, s, i)}: kept ${kept.join(' ')}, every step ${full.join(' ')}`);
        }
      }
    }
    expect(prefixes).toBeGreaterThan(20);
    expect(differing).toEqual([]);
  });
});
