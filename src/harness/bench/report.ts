// The performance report: every throughput, memory and latency goal ribstorm sets itself,
// measured side by side with BIRD in one run (medians of rounds that alternate the targets),
// each with its verdict: met, or missed and by how much.

import { runConvergence, type ConvergenceResult } from './convergence.js';
import { fitPlan, medianPoint, type PlanPoint } from './plan.js';
import { loadTables, type TableSet } from './tables.js';
import { BENCH_LAYOUT } from './convergence.js';
import type { TargetKind } from './targets/index.js';
import type { LatencyReport } from './latency.js';
import { median } from './stats.js';

export interface ReportOptions {
  /** Rounds per measurement; figures are medians. */
  rounds: number;
  /** The real RIB dump whose largest IPv4 view is the one-feed real-table run. */
  mrt: string;
  /** Whether BIRD is installed; the target that is ribstorm in collector mode. */
  bird: boolean;
  collector: TargetKind;
  workers?: number;
  progress: (line: string) => void;
}

/** One row of the report. */
export interface ReportRow {
  goal: string;
  ribstorm: string;
  bird: string;
  measured: string;
  verdict: string;
}

const sec = (s: number) => `${s.toFixed(2)} s`;
const x = (r: number) => `${r.toFixed(2)}x`;
const pct = (e: number) => `${(e * 100).toFixed(1)}%`;

/** "met", or "missed" with how far: for a goal that `value` be at least `goal`. */
function atLeast(value: number, goal: number, unit = 'x'): string {
  return value >= goal ? 'met' : `missed: ${value.toFixed(2)}${unit} of ${goal}${unit} (${pct(1 - value / goal)} short)`;
}

/** For a goal that `value` be at most `goal`. */
function atMost(value: number, goal: number, unit = 'x'): string {
  return value <= goal ? 'met' : `missed: ${value.toFixed(2)}${unit} against at most ${goal}${unit} (${pct(value / goal - 1)} over)`;
}

interface Runs {
  seconds: number[];
  rssMB: number[];
  results: ConvergenceResult[];
}

export class PerformanceReport {
  readonly rows: ReportRow[] = [];
  private readonly runs = new Map<string, Runs>();

  constructor(private readonly o: ReportOptions) {}

  /** Runs `target` on `tables` once and files the result under `key`. */
  private async run(key: string, target: TargetKind, set: TableSet, extra: Partial<Parameters<typeof runConvergence>[0]> = {}): Promise<ConvergenceResult> {
    const r = await runConvergence({ target, tables: set.tables, expected: set.expected, workers: target === 'bird' ? undefined : this.o.workers, ...extra });
    const runs = this.runs.get(key) ?? { seconds: [], rssMB: [], results: [] };
    this.runs.set(key, runs);
    runs.results.push(r);
    if (r.seconds !== null && r.lost === 0 && r.unexpected === 0) {
      runs.seconds.push(r.seconds);
      runs.rssMB.push(r.peakRssMB);
    }
    this.o.progress(`${key}: ${r.seconds === null ? r.verdict : sec(r.seconds)}, peak RSS ${r.peakRssMB} MB${r.lost || r.unexpected ? `, ${r.lost} lost / ${r.unexpected} unexpected` : ''}${r.latency ? `, p99 ${r.latency.announce.p99Ms} / ${r.latency.withdraw.p99Ms} ms` : ''}`);
    return r;
  }

  /** Median seconds and peak RSS of `key`'s runs that converged complete, or null when none did. */
  private figures(key: string): { seconds: number; rssMB: number; failed: number } | null {
    const r = this.runs.get(key);
    if (!r || r.seconds.length === 0) return null;
    return { seconds: median(r.seconds), rssMB: median(r.rssMB), failed: r.results.length - r.seconds.length };
  }

  private failedText(key: string): string {
    const r = this.runs.get(key)?.results.at(-1);
    return r ? `${r.verdict}${r.lost || r.unexpected ? `, ${r.lost} lost / ${r.unexpected} unexpected` : ''}` : 'not run';
  }

  async measure(): Promise<ReportRow[]> {
    const o = this.o;
    const feeds = [1, 2, 4, 8];
    const synthetic = await loadTables({ peers: 16, prefixes: 1_000_000, firstAs: 65010, targetAs: BENCH_LAYOUT.target.asn });
    const first = (n: number): TableSet => ({ ...synthetic, tables: synthetic.tables.slice(0, n) });
    const real = await loadTables({ peers: 1, prefixes: 0, mrt: o.mrt, firstAs: 65010, targetAs: BENCH_LAYOUT.target.asn });
    o.progress(`tables: ${synthetic.description.replace(/^16 x/, 'up to 16 x')}; ${real.description}`);

    for (let round = 1; round <= o.rounds; round++) {
      o.progress(`round ${round} of ${o.rounds}`);
      for (const n of feeds) {
        await this.run(`ribstorm ${n}`, 'ribstorm', first(n));
        if (o.bird) await this.run(`bird ${n}`, 'bird', first(n));
      }
      await this.run('collector 8', o.collector, first(8));
      await this.run('ribstorm real', 'ribstorm', real);
      if (o.bird) await this.run('bird real', 'bird', real);
    }
    await this.run('ribstorm 16', 'ribstorm', first(16));
    if (o.bird) await this.run('bird 16', 'bird', first(16));
    const latency = { latency: { rate: 10_000, count: 50_000 } };
    await this.run('ribstorm latency', 'ribstorm', first(2), { churn: latency });
    if (o.bird) await this.run('bird latency', 'bird', first(2), { churn: latency });

    this.speedRows(feeds);
    this.memoryRows();
    this.sixteenRow();
    this.fasterRow('real', 'the real table, one feed,', 2);
    this.collectorRow();
    this.planRow(feeds);
    this.latencyRow();
    return this.rows;
  }

  /** ribstorm against BIRD at 1, 2 and 8 feeds: at least 3x, 3x and 6x faster. */
  private speedRows(feeds: number[]): void {
    for (const [n, goal] of [[1, 3], [2, 3], [8, 6]] as const) {
      if (feeds.includes(n)) this.fasterRow(`${n}`, `${n} x 1M converged`, goal);
    }
  }

  /** Runs `key` of ribstorm against those of BIRD: at least `goal` times faster. */
  private fasterRow(key: string, what: string, goal: number): void {
    const r = this.figures(`ribstorm ${key}`);
    const b = this.figures(`bird ${key}`);
    const ratio = r && b ? b.seconds / r.seconds : null;
    this.rows.push({
      goal: `${what} at least ${goal}x faster than BIRD`,
      ribstorm: r ? sec(r.seconds) : this.failedText(`ribstorm ${key}`),
      bird: b ? sec(b.seconds) : this.o.bird ? this.failedText(`bird ${key}`) : 'not installed',
      measured: ratio === null ? '-' : `${x(ratio)} faster`,
      verdict: ratio === null ? 'not measured' : atLeast(ratio, goal),
    });
  }

  /** Peak RSS at most BIRD's at 1 and 2 feeds, at most 0.6x at 8. */
  private memoryRows(): void {
    for (const [n, goal] of [[1, 1], [2, 1], [8, 0.6]] as const) {
      const r = this.figures(`ribstorm ${n}`);
      const b = this.figures(`bird ${n}`);
      const ratio = r && b ? r.rssMB / b.rssMB : null;
      this.rows.push({
        goal: `${n} x 1M peak RSS at most ${goal === 1 ? "BIRD's" : `${goal}x BIRD's`}`,
        ribstorm: r ? `${r.rssMB} MB` : '-',
        bird: b ? `${b.rssMB} MB` : '-',
        measured: ratio === null ? '-' : `${x(ratio)} BIRD's`,
        verdict: ratio === null ? 'not measured' : atMost(ratio, goal),
      });
    }
  }

  private sixteenRow(): void {
    const r = this.figures('ribstorm 16');
    const b = this.figures('bird 16');
    this.rows.push({
      goal: '16 x 1M completes with no sizing options',
      ribstorm: r ? `${sec(r.seconds)}, ${r.rssMB} MB` : this.failedText('ribstorm 16'),
      bird: b ? `${sec(b.seconds)}, ${b.rssMB} MB` : '-',
      measured: r && b ? `${x(b.seconds / r.seconds)} faster` : '-',
      verdict: r ? 'met' : `missed: ${this.failedText('ribstorm 16')}`,
    });
  }

  /** Collector mode at 8 feeds in a tenth of BIRD's (full) 8-feed time. */
  private collectorRow(): void {
    const c = this.figures('collector 8');
    const b = this.figures('bird 8');
    const share = c && b ? c.seconds / b.seconds : null;
    this.rows.push({
      goal: "collector mode, 8 x 1M, in a tenth of BIRD's time",
      ribstorm: c ? sec(c.seconds) : this.failedText('collector 8'),
      bird: b ? sec(b.seconds) : '-',
      measured: share === null ? '-' : `${x(share)} BIRD's time`,
      verdict: share === null ? 'not measured' : atMost(share, 0.1),
    });
  }

  /** `ribstorm plan`'s model over these runs: within 15% of each, in time and memory. */
  private planRow(feeds: number[]): void {
    const points: PlanPoint[] = [];
    for (const n of feeds) {
      const runs = this.runs.get(`ribstorm ${n}`);
      if (!runs || runs.seconds.length === 0) continue;
      points.push(medianPoint(runs.seconds.map((s, i) => ({ peers: n, prefixes: 1_000_000, paths: n * 1_000_000, seconds: s, peakRssBytes: runs.rssMB[i] * 1e6 }))));
    }
    if (points.length < 3) {
      this.rows.push({ goal: '`ribstorm plan` within 15% of time and memory at 1-8 feeds', ribstorm: '-', bird: '', measured: '-', verdict: 'not measured' });
      return;
    }
    const fit = fitPlan(points);
    const worst = (e: typeof fit.errors, k: 'time' | 'memory') => Math.max(...e.map((q) => Math.abs(q[k])));
    const t = worst(fit.residuals, 'time');
    const m = worst(fit.residuals, 'memory');
    this.rows.push({
      goal: '`ribstorm plan` within 15% of time and memory at 1-8 feeds',
      ribstorm: fit.residuals.map((e) => `${e.peers}: ${pct(e.time)} / ${pct(e.memory)}`).join(', '),
      bird: '',
      measured: `largest ${pct(t)} (time) / ${pct(m)} (memory); each predicted from the others: ${pct(worst(fit.errors, 'time'))} / ${pct(worst(fit.errors, 'memory'))}`,
      verdict: Math.max(t, m) <= 0.15 ? 'met' : atMost(Math.max(t, m) * 100, 15, '%'),
    });
  }

  /** Churn latency at 10,000 UPDATEs/s on 2 x 1M, route flap and best-path change: p99 under 10 ms. */
  private latencyRow(): void {
    const l = this.runs.get('ribstorm latency')?.results.at(-1)?.latency;
    const b = this.runs.get('bird latency')?.results.at(-1)?.latency;
    const cases = (q: LatencyReport) => [q.announce, q.withdraw, ...(q.better && q.worse ? [q.better, q.worse] : [])];
    const text = (q: LatencyReport | undefined) =>
      q ? `flap p99 ${q.announce.p99Ms} / ${q.withdraw.p99Ms} ms${q.better && q.worse ? `, best-path change p99 ${q.better.p99Ms} / ${q.worse.p99Ms} ms` : ''} (p50 ${cases(q).map((f) => f.p50Ms).join(' / ')})` : '-';
    const p99 = l ? Math.max(...cases(l).map((f) => f.p99Ms)) : null;
    const unseen = l ? cases(l).reduce((n, f) => n + f.sent - f.seen, 0) : 0;
    const both = !!(l?.better && l.worse);
    this.rows.push({
      goal: 'churn of 10,000 UPDATEs/s on 2 x 1M, UPDATE in to change out: p99 under 10 ms (route flap: announce / withdraw; best-path change: better / worse)',
      ribstorm: text(l),
      bird: text(b),
      measured: p99 === null ? '-' : `largest p99 ${p99} ms${unseen ? `, ${unseen} changes NOT SEEN` : ''}`,
      verdict: p99 === null ? 'not measured' : unseen ? `missed: ${unseen} changes not seen` : !both ? 'not measured: no best-path change case' : p99 < 10 ? 'met' : atMost(p99, 10, ' ms'),
    });
  }
}

/** The report as a Markdown table. */
export function reportTable(rows: ReportRow[]): string {
  const lines = ['| goal | ribstorm | BIRD 2.0.12 | measured | verdict |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.goal} | ${r.ribstorm} | ${r.bird} | ${r.measured} | ${r.verdict} |`);
  return lines.join('\n');
}
