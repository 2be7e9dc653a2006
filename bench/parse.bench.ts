// Parse rate of one RIB worker (tinybench): UPDATEs/s and prefixes/s on a table of the real
// shape, for the full object codec and for the worker's path (parse, intern attributes, apply
// to the shards, decide). Run: npm run bench:parse

import { Bench } from 'tinybench';
import { decodeUpdate } from '../src/packet/index.js';
import { BatchApplier } from '../src/rib/apply.js';
import { allocateRib, RibViews } from '../src/rib/memory.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { fmt, shareTable } from './common.js';

const PREFIXES = 100_000;
const table = shareTable(generateTable({ seed: 7, ipv4Prefixes: PREFIXES, ipv6Prefixes: 0, senderAs: 65010 }));
const bytes = new Uint8Array(table.buffer);
const ctx = { asn4: true, ebgp: true, addPath: false, import: 'accept' as const };
let views: RibViews;
let applier: BatchApplier;
let seq = 0;

const bench = new Bench({ iterations: 10, warmupIterations: 2 });
bench
  .add('codec decodeUpdate (objects)', () => {
    for (const d of table.batches) for (let i = 0; i < d.length; i += 2) decodeUpdate(bytes.subarray(d[i], d[i] + d[i + 1]), { asn4: true, ebgp: true });
  })
  .add(
    'worker: parse + intern + apply + decide (fresh RIB)',
    () => {
      for (const d of table.batches) applier.applyUpdates(seq++, 1, ctx, bytes, d);
    },
    {
      beforeEach() {
        views = new RibViews(allocateRib(65000, { shards: 64, prefixes: PREFIXES * 2, prefixes6: 1024, paths: PREFIXES * 2, attributeSets: PREFIXES, attributeBytes: 128 }));
        applier = new BatchApplier(views);
        seq = 0;
      },
    },
  );
await bench.run();
console.log(`table: ${fmt(table.messages)} UPDATEs, ${fmt(table.prefixes)} prefixes (synthetic, real shape)`);
for (const t of bench.tasks) {
  const ms = t.result!.latency.mean;
  console.log(`${t.name}: ${fmt((table.messages / ms) * 1000)} UPDATEs/s, ${fmt((table.prefixes / ms) * 1000)} prefixes/s (mean ${ms.toFixed(1)} ms per table, ±${t.result!.latency.rme.toFixed(1)}%)`);
}
