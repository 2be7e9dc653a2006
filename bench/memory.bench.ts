// Memory per full feed: resident set after 1, 2, 4 and 8 full peers (each its own variant of
// the table, so paths differ), and the bytes each extra path costs.
// Run: npm run bench:memory [-- PREFIXES]

import { RibPipeline } from '../src/rib/pipeline.js';
import { countPaths } from '../src/rib/query.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { fmt, shareTable } from './common.js';

const prefixes = Number(process.argv[2] ?? 1_000_000);
const rssMB = () => process.memoryUsage().rss / 1e6;
const rib = new RibPipeline({ localAs: 65000, workers: 2, sizing: { paths: 9 * prefixes, attributeSets: 9 * Math.ceil(prefixes / 3) } });
await rib.flushPeer(99);
const base = rssMB();
console.log(`RIB up, no routes: ${base.toFixed(0)} MB RSS`);
let fed = 0;
let prev: { rss: number; paths: number } | null = null;
for (const target of [1, 2, 4, 8]) {
  for (; fed < target; fed++) {
    const peer = fed + 1;
    rib.setPeer(peer, { asn: 65010 + fed, routerId: peer, address: peer, ibgp: false });
    // Each table is generated, fed and dropped before the next, so only the RIB stays resident.
    const table = shareTable(generateTable({ seed: 1, ipv4Prefixes: prefixes, ipv6Prefixes: 0, variant: fed, senderAs: 65010 + fed }));
    await Promise.all(table.batches.map((d) => rib.submitUpdates(peer, { asn4: true, ebgp: true, addPath: false, import: 'accept' as const }, table.buffer, d)));
  }
  (globalThis as { gc?: () => void }).gc?.();
  const paths = countPaths(rib.views).paths;
  const rss = rssMB();
  const attrs = Atomics.load(rib.views.attrCounters, 0) - 1;
  const perPath = prev ? ((rss - prev.rss) * 1e6) / (paths - prev.paths) : null;
  console.log(
    `${target} peer(s): ${fmt(paths)} paths, ${fmt(attrs)} attribute sets, ${rss.toFixed(0)} MB RSS` +
      (perPath === null ? '' : `, ${perPath.toFixed(0)} bytes per extra path`),
  );
  prev = { rss, paths };
}
await rib.close();
