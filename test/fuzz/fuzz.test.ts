// The differential UPDATE fuzzer inside `npm test`: a short fixed-seed run and the reproducers
// in fixtures/, each of which the reference decoder, the codec and the live RIB path must
// agree on. `npm run fuzz` runs the long campaign (FUZZ_N, FUZZ_SEED).

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCampaign } from './campaign.js';
import { fromHex, LivePath, parseCtx, runCase } from './harness.js';
import { Rng, syntheticSeed, traceSeeds } from './mutate.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('differential UPDATE fuzzing (reference / codec / live RIB path)', () => {
  it('2,000 cases from seed 1 show no disagreement', async () => {
    const seeds = await traceSeeds(200);
    if (seeds.length === 0) console.log('*** fuzz: no update traces in ../shared/data/mrt/updates (set RIBSTORM_SHARED): synthetic seeds only ***');
    const rng = new Rng(7);
    for (let i = 0; i < 200; i++) seeds.push(syntheticSeed(rng));
    const r = runCampaign({ n: 2000, seed: 1, seeds, perKind: 1 });
    const classes = [...r.findings.values()].map((f) => `${f.count} x ${f.kind} - e.g. ${f.examples[0].ctx} ${f.examples[0].hex} (${f.examples[0].detail})`);
    expect(classes).toEqual([]);
    expect(r.disagreements).toBe(0);
  });

  const live = new LivePath();
  for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith('.hex')).sort()) {
    const text = readFileSync(path.join(FIXTURES, name), 'utf8');
    const checks = /^# checks: (.*)$/m.exec(text)?.[1] ?? name;
    const ctx = parseCtx(/^# ctx: (.*)$/m.exec(text)?.[1] ?? '');
    const hex = text.split('\n').filter((l) => l.trim() && !l.startsWith('#')).join('');
    it(`${name}: ${checks}`, () => {
      const r = runCase(fromHex(hex), ctx, live);
      expect(r.disagreements.map((d) => `${d.kind}: ${d.detail}`)).toEqual([]);
    });
  }
});
