// Capacity planning from measured runs: full-table convergence through `ribstorm run` (the
// bench's layout: N sending peers, one receiver) at a few feed counts on this machine, a model
// of time and peak memory fitted to them, each point's error stated by leaving it out of the
// fit, and the model projected to the size asked for.

import { availableParallelism } from 'node:os';
import { BENCH_LAYOUT, runConvergence, type ConvergenceResult } from './convergence.js';
import { loadTables } from './tables.js';
import { median } from './stats.js';

/** One measured run: `peers` full feeds of `prefixes`. */
export interface PlanPoint {
  peers: number;
  prefixes: number;
  paths: number;
  /** First UPDATE byte in to the receiver holding every prefix. */
  seconds: number;
  /** ribstorm's peak resident set (VmHWM), bytes. */
  peakRssBytes: number;
}

/** time = a + b x paths + c x paths x peers (each path meets the others at its prefix). */
export interface TimeModel {
  fixedSeconds: number;
  secondsPerPath: number;
  secondsPerPathPeer: number;
}

/** peak RSS = fixed + perPath x paths (the prefix count is that of the runs). */
export interface MemoryModel {
  fixedBytes: number;
  bytesPerPath: number;
}

/** Relative errors at one point (+: the model says more than was measured). */
export interface PlanError {
  peers: number;
  time: number;
  memory: number;
}

export interface PlanFit {
  time: TimeModel;
  memory: MemoryModel;
  /** Per point: the model fitted to every point, at it. */
  residuals: PlanError[];
  /** Per point: the model fitted without it, predicting it (the stricter figure). */
  errors: PlanError[];
}

export interface Plan extends PlanFit {
  points: PlanPoint[];
  workers: number | undefined;
  cores: number;
  target: { peers: number; prefixes: number; paths: number; seconds: number; peakRssBytes: number; extrapolated: boolean };
}

/** Least squares for y = X·beta (small systems, normal equations). */
function leastSquares(X: number[][], y: number[]): number[] {
  const k = X[0].length;
  const A = Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => X.reduce((s, r) => s + r[i] * r[j], 0)));
  const b = Array.from({ length: k }, (_, i) => X.reduce((s, r, n) => s + r[i] * y[n], 0));
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    [b[c], b[p]] = [b[p], b[c]];
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let j = c; j < k; j++) A[r][j] -= f * A[c][j];
      b[r] -= f * b[c];
    }
  }
  return b.map((v, i) => v / A[i][i]);
}

const timeRow = (p: { paths: number; peers: number }) => [1, p.paths, p.paths * p.peers];

function fitTime(points: PlanPoint[]): TimeModel {
  // Three terms need three points; with two, the straight line.
  const rows = points.map((p) => (points.length >= 3 ? timeRow(p) : timeRow(p).slice(0, 2)));
  const [a, b, c = 0] = leastSquares(rows, points.map((p) => p.seconds));
  return { fixedSeconds: a, secondsPerPath: b, secondsPerPathPeer: c };
}

function fitMemory(points: PlanPoint[]): MemoryModel {
  const [f, p] = leastSquares(points.map((q) => [1, q.paths]), points.map((q) => q.peakRssBytes));
  return { fixedBytes: f, bytesPerPath: p };
}

export const projectTime = (m: TimeModel, peers: number, paths: number): number => m.fixedSeconds + m.secondsPerPath * paths + m.secondsPerPathPeer * paths * peers;
export const projectMemory = (m: MemoryModel, paths: number): number => m.fixedBytes + m.bytesPerPath * paths;

function errorAt(p: PlanPoint, time: TimeModel, memory: MemoryModel): PlanError {
  return { peers: p.peers, time: projectTime(time, p.peers, p.paths) / p.seconds - 1, memory: projectMemory(memory, p.paths) / p.peakRssBytes - 1 };
}

/** The models over every point, their residuals, and each point predicted by the models fitted to the others. */
export function fitPlan(points: PlanPoint[]): PlanFit {
  if (points.length < 2) throw new Error('a plan needs runs at two feed counts at least');
  const time = fitTime(points);
  const memory = fitMemory(points);
  const errors = points.map((p) => {
    const others = points.filter((q) => q !== p);
    // With two points, leaving one out leaves nothing to fit: the in-sample error then.
    const basis = others.length >= 2 ? others : points;
    return errorAt(p, fitTime(basis), fitMemory(basis));
  });
  return { time, memory, residuals: points.map((p) => errorAt(p, time, memory)), errors };
}

/** One point of several runs at the same feed count: the median time and the median peak RSS. */
export function medianPoint(runs: PlanPoint[]): PlanPoint {
  return { ...runs[0], seconds: median(runs.map((r) => r.seconds)), peakRssBytes: median(runs.map((r) => r.peakRssBytes)) };
}

export const PLAN_FEEDS = [1, 2, 4, 8];

/**
 * Measures `ribstorm run` at each of `feeds` full feeds of `prefixes` synthetic IPv4 prefixes
 * (alone on the machine), fits the models and projects them to `peers` feeds.
 */
export async function plan(o: { peers: number; prefixes: number; feeds?: number[]; rounds?: number; workers?: number; onRun?: (p: PlanPoint, r: ConvergenceResult) => void; onTables?: (text: string) => void }): Promise<Plan> {
  const feeds = [...(o.feeds ?? PLAN_FEEDS)].sort((a, b) => a - b);
  const set = await loadTables({ peers: feeds.at(-1)!, prefixes: o.prefixes, firstAs: 65010, targetAs: BENCH_LAYOUT.target.asn });
  o.onTables?.(set.description);
  const runs = new Map<number, PlanPoint[]>(feeds.map((n) => [n, []]));
  // Round after round over the feed counts, so that a slow spell of the machine spreads.
  for (let round = 0; round < (o.rounds ?? 3); round++) {
    for (const n of feeds) {
      const r = await runConvergence({ target: 'ribstorm', tables: set.tables.slice(0, n), expected: set.expected, workers: o.workers });
      if (r.seconds === null) throw new Error(`the run with ${n} feed(s) did not converge (${r.verdict}, ${r.prefixesAtSink} of ${r.prefixes} prefixes at the receiver)`);
      const p: PlanPoint = { peers: n, prefixes: o.prefixes, paths: n * o.prefixes, seconds: r.seconds, peakRssBytes: r.peakRssMB * 1e6 };
      o.onRun?.(p, r);
      runs.get(n)!.push(p);
    }
  }
  const points = feeds.map((n) => medianPoint(runs.get(n)!));
  const fit = fitPlan(points);
  const paths = o.peers * o.prefixes;
  return {
    ...fit,
    points,
    workers: o.workers,
    cores: availableParallelism(),
    target: { peers: o.peers, prefixes: o.prefixes, paths, seconds: projectTime(fit.time, o.peers, paths), peakRssBytes: projectMemory(fit.memory, paths), extrapolated: o.peers > feeds.at(-1)! || o.peers < feeds[0] },
  };
}
