// A fuzzing campaign: N cases from one seed, every disagreement classified, the first few of
// each class shrunk to a hex reproducer and reported.

import { LivePath, runCase, shrink, toHex, ctxText, type Disagreement } from './harness.js';
import { makeCase, Rng, type Seed } from './mutate.js';

export interface Finding {
  kind: string;
  count: number;
  /** The first few cases of this class, shrunk. */
  examples: Array<{ index: number; ctx: string; hex: string; detail: string; origin: string; mutations: string }>;
}

export interface CampaignResult {
  cases: number;
  /** Cases with at least one disagreement. */
  disagreements: number;
  findings: Map<string, Finding>;
  ms: number;
}

export interface CampaignOptions {
  n: number;
  seed: number;
  seeds: Seed[];
  /** Reproducers printed (and shrunk) per class. */
  perKind?: number;
  shrink?: boolean;
  log?: (line: string) => void;
  progressEvery?: number;
}

export function runCampaign(o: CampaignOptions): CampaignResult {
  const rng = new Rng(o.seed);
  const live = new LivePath();
  const findings = new Map<string, Finding>();
  const perKind = o.perKind ?? 20;
  const log = o.log ?? (() => {});
  let bad = 0;
  const t0 = Date.now();
  for (let i = 0; i < o.n; i++) {
    const c = makeCase(o.seeds, rng);
    let ds: Disagreement[];
    try {
      ds = runCase(c.msg, c.ctx, live).disagreements;
    } catch (e) {
      live.fresh();
      ds = [{ kind: 'harness: the case threw', detail: String((e as Error)?.stack ?? e).split('\n').slice(0, 4).join(' | ') }];
    }
    if (ds.length) {
      bad++;
      for (const d of ds) {
        let f = findings.get(d.kind);
        if (!f) findings.set(d.kind, (f = { kind: d.kind, count: 0, examples: [] }));
        f.count++;
        if (f.examples.length >= perKind) continue;
        let hex = toHex(c.msg);
        let detail = d.detail;
        if (o.shrink !== false && !d.kind.startsWith('harness')) {
          try {
            const small = shrink(c.msg, c.ctx, d.kind, live);
            hex = toHex(small);
            detail = runCase(small, c.ctx, live).disagreements.find((x) => x.kind === d.kind)?.detail ?? detail;
          } catch {
            /* keep the unshrunk case */
          }
        }
        const ex = { index: i, ctx: ctxText(c.ctx), hex, detail, origin: c.origin, mutations: c.mutations.join(',') || 'none' };
        f.examples.push(ex);
        log(`DISAGREEMENT seed=${o.seed} case=${i} [${d.kind}]`);
        log(`  ${ex.ctx}; from ${ex.origin}, mutations ${ex.mutations}`);
        log(`  ${detail}`);
        log(`  reproducer: ${hex}`);
      }
    }
    if (o.progressEvery && (i + 1) % o.progressEvery === 0) {
      log(`fuzz: ${i + 1}/${o.n} cases, ${bad} disagreements, ${findings.size} classes, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  return { cases: o.n, disagreements: bad, findings, ms: Date.now() - t0 };
}
