// Timing of the table sources, run by hand after a build:
//   npm run build && node dist/bench/tablegen.bench.js [mrt-file ...]
// Generates the default synthetic table (1.04M IPv4 + 225k IPv6) three times, then reads any
// MRT RIB dumps given.

import { readRibDump } from '../src/harness/tablegen/mrt.js';
import { generateTable } from '../src/harness/tablegen/synthetic.js';

for (let run = 1; run <= 3; run++) {
  const t0 = performance.now();
  const t = generateTable({ senderAs: 64500 });
  const ms = performance.now() - t0;
  console.log(
    `synthetic run ${run}: ${ms.toFixed(0)} ms, ${t.messageCount} UPDATEs, ${(t.updates.length / 1e6).toFixed(1)} MB, ` +
      `${t.attributeSets} attribute sets (${((t.ipv4Prefixes + t.ipv6Prefixes) / t.attributeSets).toFixed(2)} routes/set)`,
  );
}

for (const path of process.argv.slice(2)) {
  const t0 = performance.now();
  const r = await readRibDump(path);
  const ms = performance.now() - t0;
  const routes = r.peers.reduce((s, p) => s + p.table.ipv4Prefixes + p.table.ipv6Prefixes, 0);
  console.log(
    `${path}: ${ms.toFixed(0)} ms, ${r.records} records, ${r.peers.length} peers, ${routes} routes, ` +
      `${r.skippedEntries} skipped${r.truncated ? `, truncated (${r.truncatedDetail})` : ''}`,
  );
}
