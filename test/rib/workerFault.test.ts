// A RIB worker that throws or dies in the middle of a batch (RIBSTORM_FAULT, src/rib/fault.ts):
// the batch ends as Cease / Out of Resources for its peer, every later batch is still applied,
// and once the peer is flushed and has announced again, the shared RIB equals the reference
// RIB, down to every shard's counts, free list and the peers' path counts.
import { afterAll, describe, expect, it } from 'vitest';
import { AsPathSegmentType, AttrFlag, AttrType, encodeUpdate, ipv4ToNumber, type PathAttribute } from '../../src/packet/index.js';
import {
  H_FREE,
  H_PATH_TOP,
  H_PATHS,
  H_PREFIXES,
  H_ROUTED,
  H_SEQ,
  HEADER_WORDS,
  P_NEXT,
  P_PEER,
  PATH_WORDS,
  PEER_PATHS,
  PEER_WORDS,
  allocateRib,
  RibViews,
} from '../../src/rib/memory.js';
import type { BatchResult } from '../../src/rib/apply.js';
import { RibPipeline, type PeerInfo, type WorkerFault } from '../../src/rib/pipeline.js';
import { locRib } from '../../src/rib/query.js';
import { ReferenceRib } from '../../src/rib/reference.js';
import { rebuildShard } from '../../src/rib/repair.js';
import { shardOf, slotFor, TOUCHED, upsertPath } from '../../src/rib/shard.js';

const LOCAL_AS = 65000;
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;
const FAULTY = 2;

const PEERS: Array<PeerInfo & { index: number }> = [1, 2, 3].map((i) => ({
  index: i,
  asn: 65100 + i,
  routerId: ipv4ToNumber(`10.0.0.${i}`),
  address: ipv4ToNumber(`192.0.2.${i}`),
  ibgp: false,
}));

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const POOL = Array.from({ length: 160 }, (_, i) => `10.${60 + (i >> 6)}.${(i & 63) * 4}.0/22`);

function update(r: ReturnType<typeof rng>, peer: number, count: number, withdrawShare: number): Uint8Array {
  const pick = () => [...new Set(Array.from({ length: count }, () => POOL[r.int(POOL.length)]))].map((prefix) => ({ prefix }));
  if (r.next() < withdrawShare) return encodeUpdate({ withdrawn: pick(), attributes: [], nlri: [] }, { asn4: true });
  const attrs: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: r.int(2) },
    { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [65100 + peer, ...Array.from({ length: r.int(3) }, () => 3356)] }] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop: `198.18.0.${peer}` },
    { type: AttrType.MULTI_EXIT_DISC, flags: O, med: r.int(3) * 10 },
  ];
  return encodeUpdate({ withdrawn: [], attributes: attrs, nlri: pick() }, { asn4: true, ebgp: true });
}

/** Every shard's bookkeeping against its lists, and each peer's path count against its paths. */
function checkShards(v: RibViews, peers: number[]): string[] {
  const wrong: string[] = [];
  const perPeer = new Map<number, number>();
  for (let s = 0; s < v.buffers.sizing.shards; s++) {
    const h = s * HEADER_WORDS;
    const paths = v.paths[s];
    let held = 0;
    for (const f of v.families) {
      let prefixes = 0;
      let routed = 0;
      for (let i = 0; i <= f.mask; i++) {
        const o = i * f.words;
        const len = f.slots[s][o + f.lenAt];
        if (len & TOUCHED) wrong.push(`shard ${s} slot ${i}: still TOUCHED`);
        if (len === 0) continue;
        prefixes++;
        if (f.slots[s][o + f.headAt] !== 0) routed++;
        for (let r = f.slots[s][o + f.headAt]; r !== 0; r = paths[r * PATH_WORDS + P_NEXT]) {
          held++;
          const p = paths[r * PATH_WORDS + P_PEER] & 0xffff;
          perPeer.set(p, (perPeer.get(p) ?? 0) + 1);
        }
      }
      if (v.headers[h + H_PREFIXES + f.id * 3] !== prefixes) wrong.push(`shard ${s} family ${f.id}: H_PREFIXES ${v.headers[h + H_PREFIXES + f.id * 3]}, ${prefixes} in the table`);
      if (v.headers[h + H_ROUTED + f.id * 2] !== routed) wrong.push(`shard ${s} family ${f.id}: H_ROUTED ${v.headers[h + H_ROUTED + f.id * 2]}, ${routed} routed`);
    }
    if (v.headers[h + H_PATHS] !== held) wrong.push(`shard ${s}: H_PATHS ${v.headers[h + H_PATHS]}, ${held} in lists`);
    let free = 0;
    for (let r = v.headers[h + H_FREE]; r !== 0 && free <= paths.length / PATH_WORDS; r = paths[r * PATH_WORDS + P_NEXT]) free++;
    if (1 + held + free !== v.headers[h + H_PATH_TOP]) wrong.push(`shard ${s}: ${held} held + ${free} free + 1 != top ${v.headers[h + H_PATH_TOP]}`);
  }
  for (const p of peers) {
    const counted = v.peers[p * PEER_WORDS + PEER_PATHS];
    if (counted !== (perPeer.get(p) ?? 0)) wrong.push(`peer ${p}: PEER_PATHS ${counted}, ${perPeer.get(p) ?? 0} paths held`);
  }
  return wrong;
}

/** Resolves with the promise's value, or rejects after `ms` (a stalled RIB). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms (the RIB stalled)`)), ms))]);
}

const pipelines: RibPipeline[] = [];
afterAll(async () => {
  for (const p of pipelines) await p.close();
});

describe('a RIB worker that throws or dies mid-batch', () => {
  it.each([
    ['shard', 'throws inside a shard turn', 1],
    ['exit', 'exits (process.exit) inside a shard turn', 2],
    ['throw', 'throws between two shard turns', 3],
    ['exit', 'exits inside a shard turn (another stream)', 4],
  ] as const)('%s: %s', async (how, _what, seed) => {
    const r = rng(seed);
    // Each peer's first batch: 4 UPDATEs of 40 prefixes. The faulty peer's batches after it
    // carry 3 UPDATEs: the fault hits its second one, in its third batch.
    const nth = 4 + 3 + 2;
    const pipeline = new RibPipeline({ localAs: LOCAL_AS, workers: 2, fault: `${how}:${FAULTY}:${nth}`, sizing: { shards: 8, prefixes: 4096, prefixes6: 1024, paths: 65536, attributeSets: 65536 } });
    pipelines.push(pipeline);
    const faults: WorkerFault[] = [];
    pipeline.on('workerFault', (f) => faults.push(f));
    const peers = new Map<number, PeerInfo>();
    for (const p of PEERS) {
      pipeline.setPeer(p.index, p);
      peers.set(p.index, p);
    }
    const ref = new ReferenceRib(LOCAL_AS, peers);
    const ctx = { asn4: true, ebgp: true, addPath: false };
    const deltas = new Map<number, number>();
    const submit = (peer: number, msgs: Uint8Array[], toRef = true): Promise<BatchResult> => {
      if (toRef) for (const m of msgs) ref.apply(peer, ctx, m);
      return pipeline.submitMessages(peer, ctx, msgs).then((res) => {
        deltas.set(peer, (deltas.get(peer) ?? 0) + res.pathDelta);
        return res;
      });
    };
    const flush = (peer: number) => {
      ref.flush(peer);
      return pipeline.flushPeer(peer).then((res) => {
        deltas.set(peer, (deltas.get(peer) ?? 0) + res.pathDelta);
        return res;
      });
    };
    // Everyone's table, the same prefixes with different paths.
    await Promise.all(PEERS.map((p) => submit(p.index, Array.from({ length: 4 }, () => update(r, p.index, 40, 0)))));
    // Batches of all three interleaved; the faulty peer's third is the one that fails. Its
    // session would be reset then: the flush goes in right behind it, as the speaker's does.
    const pending: Array<Promise<BatchResult>> = [];
    let faulty: Promise<BatchResult> | undefined;
    let faultyBatches = 1;
    for (let round = 0; round < 30; round++) {
      const peer = round % 3 === 1 && faultyBatches < 3 ? FAULTY : round % 2 === 0 ? 1 : 3;
      const msgs = Array.from({ length: 3 }, () => update(r, peer, 12, 0.3));
      if (peer !== FAULTY) {
        pending.push(submit(peer, msgs));
        continue;
      }
      faultyBatches++;
      if (faultyBatches < 3) pending.push(submit(peer, msgs));
      else {
        faulty = submit(peer, msgs, false);
        pending.push(flush(FAULTY));
      }
    }
    const lost = await within(faulty!, 10_000, 'the failed batch');
    expect(lost.error, 'the failed batch ends in Cease / Out of Resources').toMatchObject({ code: 6, subcode: 8, internal: true });
    const results = await within(Promise.all(pending), 10_000, 'the batches after the failed one');
    expect(results.filter((x) => x.error)).toEqual([]);
    expect(faults.map((f) => ({ peer: f.peer, task: f.task, how: f.how }))).toEqual([{ peer: FAULTY, task: 'updates', how: how === 'shard' ? 'shard' : 'died' }]);
    expect(pipeline.faults).toBe(1);
    expect(checkShards(pipeline.views, [1, 2, 3])).toEqual([]);
    expect(pipeline.views.peers[FAULTY * PEER_WORDS + PEER_PATHS], 'the faulty peer holds nothing after its flush').toBe(0);
    // Every shard's turn passed every batch: nothing is left waiting.
    const next = Atomics.load(pipeline.views.headers, H_SEQ);
    for (let s = 0; s < 8; s++) expect(Atomics.load(pipeline.views.headers, s * HEADER_WORDS + H_SEQ)).toBe(next);
    // The faulty peer comes back and announces its table again; the others go on.
    await within(Promise.all([submit(FAULTY, Array.from({ length: 4 }, () => update(r, FAULTY, 40, 0))), submit(1, [update(r, 1, 10, 0.5)])]), 10_000, 'the re-announcement');
    expect(checkShards(pipeline.views, [1, 2, 3])).toEqual([]);
    const got = locRib(pipeline.views);
    expect(got.size).toBeGreaterThan(100);
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...ref.locRib()].sort()));
    // The other peers' path counts as their results told them (the faulty one's lost batch told nothing).
    for (const p of [1, 3]) expect(deltas.get(p), `peer ${p}'s reported paths`).toBe(pipeline.views.peers[p * PEER_WORDS + PEER_PATHS]);
    if (how === 'exit') expect(pipeline.pool.threads.length, 'the dead worker replaced').toBe(2);
  }, 30_000);
});

describe('rebuilding a shard a batch stopped in', () => {
  it('recounts it, frees what no list holds, and hands on every prefix whose best path must be chosen again', () => {
    const v = new RibViews(allocateRib(LOCAL_AS, { shards: 4, prefixes: 256, prefixes6: 64, paths: 1024, attributeSets: 64, attributeBytes: 64 }));
    const f = v.families[0];
    const slots: number[] = [];
    for (let a = 0; slots.length < 6; a++) {
      const key = [(0x0a000000 + a * 256) >>> 0];
      if (shardOf(v, f, key, 24) !== 1) continue;
      const slot = slotFor(v, f, 1, key, 24);
      for (const peer of [1, 2]) upsertPath(v, f, 1, slot, peer, 0, peer + 10, 0);
      f.slots[1][slot * f.words + f.bestAt] = f.slots[1][slot * f.words + f.headAt];
      slots.push(slot);
    }
    const h = HEADER_WORDS;
    const headOf = (slot: number) => slot * f.words + f.headAt;
    expect(checkShards(v, [])).toEqual([]);
    // Stopped between taking a record and linking it.
    v.headers[h + H_PATHS]++;
    v.headers[h + H_PATH_TOP]++;
    // Stopped between unlinking the best path and freeing it (and clearing the best).
    const s0 = f.slots[1];
    s0[headOf(slots[0])] = v.paths[1][s0[headOf(slots[0])] * PATH_WORDS + P_NEXT];
    // Stopped before the turn settled a prefix it changed.
    s0[slots[1] * f.words + f.lenAt] |= TOUCHED;
    // Stopped between emptying a prefix's list and counting it unrouted.
    s0[headOf(slots[2])] = 0;
    expect(checkShards(v, []).length).toBeGreaterThan(3);
    const retouched: number[] = [];
    rebuildShard(v, 1, (fam, slot) => retouched.push(fam.id * 1e6 + slot));
    expect(retouched.sort((a, b) => a - b)).toEqual([slots[0], slots[1], slots[2]].sort((a, b) => a - b));
    expect(checkShards(v, [])).toEqual([]);
    // 12 paths made, 1 unlinked from slot 0 and 2 from slot 2: 9 held, the rest (and the leaked one) free.
    expect(v.headers[h + H_PATHS]).toBe(9);
    expect(v.headers[h + H_ROUTED]).toBe(5);
  });
});
