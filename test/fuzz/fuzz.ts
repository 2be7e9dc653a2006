// `npm run fuzz`: the differential UPDATE fuzzer. FUZZ_N cases (default 100000) from FUZZ_SEED
// (default 1). Prints each disagreement (class, case, shrunk hex reproducer), a progress line
// every 10,000 cases, a summary per class, and last `fuzz: N cases, D disagreements`.
// Exits 1 when D > 0.

import { runCampaign } from './campaign.js';
import { Rng, syntheticSeed, traceSeeds } from './mutate.js';

const n = Number(process.env.FUZZ_N ?? 100_000);
const seed = Number(process.env.FUZZ_SEED ?? 1);
const perKind = Number(process.env.FUZZ_SHOW ?? 20);

const seeds = await traceSeeds();
const rng = new Rng(seed ^ 0x5eed);
for (let i = 0; i < 500; i++) seeds.push(syntheticSeed(rng));
console.log(`fuzz: seed ${seed}, ${n} cases, ${seeds.length} seeds (${seeds.filter((s) => s.origin !== 'synthetic').length} from traces)`);

const r = runCampaign({ n, seed, seeds, perKind, log: (l) => console.log(l), progressEvery: 10_000 });
console.log(`fuzz: ${(r.ms / 1000).toFixed(1)} s; disagreement classes:`);
for (const f of [...r.findings.values()].sort((a, b) => b.count - a.count)) {
  console.log(`  ${String(f.count).padStart(7)}  ${f.kind}`);
  console.log(`           e.g. ${f.examples[0].ctx} ${f.examples[0].hex}`);
}
console.log(`fuzz: ${r.cases} cases, ${r.disagreements} disagreements`);
process.exitCode = r.disagreements ? 1 : 0;
