// The RIB's tables start small and grow as they fill: the attribute index doubled between
// batches (no set lost or interned twice across the moves), the attribute sets, their bytes and
// each shard's path records grown in place by the workers, the main thread reading beside them.
// A process holding a RIB reserves address space for the machine's memory and can still start
// another process.
import { describe, expect, it } from 'vitest';
import { type PeerContext } from '../../src/rib/apply.js';
import { RibPipeline } from '../../src/rib/pipeline.js';
import { AttrType } from '../../src/packet/index.js';
import { announce, attrs, O } from '../helpers/lab.js';
import { countPaths, locRib } from '../../src/rib/query.js';
import { allocateRib, ARENA_START, PATHS_START, RibViews, SETS_START } from '../../src/rib/memory.js';
import { spawnSync } from 'node:child_process';

const LOCAL_AS = 65000;
const START_SLOTS = 1024;

const announceWithMed = (prefix: string, path: number[], med: number): Uint8Array =>
  announce(attrs(path, [{ type: AttrType.MULTI_EXIT_DISC, flags: O, med }]), [prefix]);

/** The messages in one shared buffer and its (offset, length) pairs, in batches of `per`. */
function batches(msgs: Uint8Array[], per: number): { sab: SharedArrayBuffer; batches: Uint32Array[] } {
  const sab = new SharedArrayBuffer(msgs.reduce((s, m) => s + m.length, 0));
  const bytes = new Uint8Array(sab);
  const out: Uint32Array[] = [];
  let at = 0;
  for (let i = 0; i < msgs.length; i += per) {
    const d: number[] = [];
    for (const m of msgs.slice(i, i + per)) {
      bytes.set(m, at);
      d.push(at, m.length);
      at += m.length;
    }
    out.push(Uint32Array.from(d));
  }
  return { sab, batches: out };
}

describe('the attribute index', () => {
  it('grows from 1,024 slots to hold 20,000 sets from two peers, each set interned once', async () => {
    const rib = new RibPipeline({ localAs: LOCAL_AS, workers: 2, sizing: { shards: 2, prefixes: 65536, paths: 65536, attributeSets: 65536, attributeIndex: START_SLOTS } });
    const grown: number[] = [];
    rib.on('attributeIndexGrown', (slots) => grown.push(slots));
    try {
      const ctx: PeerContext = { asn4: true, ebgp: true, addPath: false, import: 'accept' };
      const N = 10_000;
      const prefix = (k: number) => `10.${k >> 8}.${k & 255}.0/24`;
      const peers = [64601, 64602].map((asn, i) => ({ asn, index: rib.addPeer({ asn, routerId: 0x0a000001 + i, address: 0x7f006401 + i, ibgp: false }) }));
      // Every UPDATE its own attribute set (MED k), the two peers' sets distinct (first AS).
      const feeds = peers.map((p) => batches(Array.from({ length: N }, (_, k) => announceWithMed(prefix(k), [p.asn, 100 + (k % 50)], k)), 250));
      const submitAll = () => Promise.all(feeds.flatMap((f, i) => f.batches.map((d) => rib.submitUpdates(peers[i].index, ctx, f.sab, d))));
      const first = await submitAll();
      expect(first.filter((r) => r.error)).toEqual([]);
      expect(first.reduce((s, r) => s + r.pathDelta, 0)).toBe(2 * N);
      expect(grown.length, 'times the index doubled').toBeGreaterThanOrEqual(5);
      expect(rib.views.attrIndex.length).toBe(grown.at(-1));
      expect(rib.views.attrIndex.length).toBeGreaterThanOrEqual(2 * 2 * N);
      expect(rib.views.attributeSets, 'sets interned (none twice)').toBe(2 * N);
      // The same UPDATEs again find every set where the moves put it: nothing new, nothing changed.
      const changes: number[] = [];
      rib.on('changes', (r) => changes.push(r.changes.length));
      const again = await submitAll();
      expect(again.filter((r) => r.error)).toEqual([]);
      expect(again.reduce((s, r) => s + r.pathDelta, 0)).toBe(0);
      expect(changes.reduce((s, n) => s + n, 0), 'change records').toBe(0);
      expect(rib.views.attributeSets).toBe(2 * N);
      expect(countPaths(rib.views)).toEqual({ prefixes: N, paths: 2 * N });
      // The attribute sets, their bytes and the two shards' path records grew past where they started.
      expect(rib.buffers.attrMeta.byteLength).toBeGreaterThan(SETS_START * 48);
      expect(rib.buffers.attrArena.byteLength).toBeGreaterThan(ARENA_START);
      for (const b of rib.buffers.shardPaths) expect(b.byteLength).toBeGreaterThan(PATHS_START * 20);
      // Every best path reads back whole: its attribute bytes hold the AS of its peer, first.
      const best = locRib(rib.views);
      expect(best.size).toBe(N);
      const asOf = new Map(peers.map((p) => [p.index, p.asn.toString(16).padStart(8, '0')]));
      let wrong = 0;
      // ORIGIN IGP, then an AS_PATH of one AS_SEQUENCE of two, the first its peer's AS.
      for (const [, e] of best) if (!e.attributes.startsWith(`4001010040020a0202${asOf.get(e.peer)}`)) wrong++;
      expect(wrong, 'best paths whose attributes do not read back').toBe(0);

    } finally {
      await rib.close();
    }
  });

  it('leaves a process that holds a RIB able to start another', () => {
    const views = new RibViews(allocateRib(LOCAL_AS));
    const r = spawnSync(process.execPath, ['-e', 'process.exit(7)']);
    expect(r.error?.message).toBeUndefined();
    expect(r.status).toBe(7);
    expect(views.paths.length).toBeGreaterThan(0);
  });
});
