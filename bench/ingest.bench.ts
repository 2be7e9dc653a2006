// Ingest of one full feed into a complete Loc-RIB with 1, 2 and 3 RIB workers: the table is
// already in shared memory (no sockets), so this measures the pipeline alone.
// Run: npm run bench:ingest [-- PREFIXES]

import { RibPipeline } from '../src/rib/pipeline.js';
import { countPaths } from '../src/rib/query.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { fmt, shareTable } from './common.js';

const prefixes = Number(process.argv[2] ?? 1_000_000);
const table = shareTable(generateTable({ seed: 3, ipv4Prefixes: prefixes, ipv6Prefixes: 0, senderAs: 65010 }));
const ctx = { asn4: true, ebgp: true, addPath: false, import: 'accept' as const };
console.log(`table: ${fmt(table.messages)} UPDATEs, ${fmt(table.prefixes)} prefixes in ${table.batches.length} batches`);
const results: Array<[number, number]> = [];
for (const workers of [1, 2, 3]) {
  const rib = new RibPipeline({ localAs: 65000, workers });
  rib.setPeer(1, { asn: 65010, routerId: 1, address: 1, ibgp: false });
  await Promise.all([rib.flushPeer(99)]); // the pool is up and warm before timing
  const t0 = performance.now();
  await Promise.all(table.batches.map((d) => rib.submitUpdates(1, ctx, table.buffer, d)));
  const s = (performance.now() - t0) / 1000;
  const held = countPaths(rib.views).prefixes;
  await rib.close();
  if (held !== table.prefixes) throw new Error(`Loc-RIB holds ${held} of ${table.prefixes} prefixes`);
  results.push([workers, s]);
  console.log(`${workers} worker(s): ${s.toFixed(2)} s, ${fmt(table.prefixes / s)} prefixes/s, Loc-RIB complete (${fmt(held)})`);
}
console.log(`speed-up 2 vs 1 worker: ${(results[0][1] / results[1][1]).toFixed(2)}x, 3 vs 1: ${(results[0][1] / results[2][1]).toFixed(2)}x (2 cores)`);
