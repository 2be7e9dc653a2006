// Capacity planning: measure the RIB at a few small sizes, each in a fresh process, fit memory
// (per prefix, per path) and ingest speed, and project them to the size asked for.

import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RibPipeline } from '../../rib/pipeline.js';
import { countPaths } from '../../rib/query.js';
import { generateTable } from '../tablegen/index.js';

export interface Probe {
  peers: number;
  prefixes: number;
  paths: number;
  attributeSets: number;
  /** Resident set with the tables loaded, after GC, minus the process before the RIB existed. */
  rssBytes: number;
  /** The process itself before the RIB (Node, modules, the test tables). */
  baseRssBytes: number;
  /** Ingest time of all peers' tables (already in memory) into a complete Loc-RIB. */
  seconds: number;
  workers: number;
}

/** Runs inside the probe process: loads `peers` x `prefixes` and reports what it cost. */
export async function probe(peers: number, prefixes: number, workers: number): Promise<Probe> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const tables = Array.from({ length: peers }, (_, i) => generateTable({ seed: 5, ipv4Prefixes: prefixes, ipv6Prefixes: 0, variant: i, senderAs: 65010 + i }));
  const shared = tables.map((t) => {
    const sab = new SharedArrayBuffer(t.updates.length);
    new Uint8Array(sab).set(t.updates);
    const d: number[] = [];
    for (let o = 0; o < t.updates.length; o += t.updates.readUInt16BE(o + 16)) d.push(o, t.updates.readUInt16BE(o + 16));
    return { sab, batches: Array.from({ length: Math.ceil(d.length / 2000) }, (_, k) => Uint32Array.from(d.slice(k * 2000, (k + 1) * 2000))) };
  });
  gc();
  const before = process.memoryUsage().rss;
  const rib = new RibPipeline({ localAs: 65000, workers, sizing: { prefixes: Math.ceil(prefixes * 1.2), paths: Math.ceil(peers * prefixes * 1.2) + 1024, attributeSets: Math.ceil((peers * prefixes) / 2) + 1024 } });
  await rib.flushPeer(1000); // the workers are up before the clock starts
  const t0 = performance.now();
  await Promise.all(
    shared.map((s, i) => {
      rib.setPeer(i + 1, { asn: 65010 + i, routerId: i + 1, address: i + 1, ibgp: false });
      return Promise.all(s.batches.map((d) => rib.submitUpdates(i + 1, { asn4: true, ebgp: true, addPath: false, import: 'accept' as const }, s.sab, d)));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const { paths } = countPaths(rib.views);
  const attributeSets = Atomics.load(rib.views.attrCounters, 0) - 1;
  gc();
  const rssBytes = process.memoryUsage().rss - before;
  await rib.close();
  return { peers, prefixes, paths, attributeSets, rssBytes, baseRssBytes: before, seconds, workers };
}

function runProbe(peers: number, prefixes: number, workers: number): Promise<Probe> {
  const bin = fileURLToPath(new URL('../../../../bin/ribstorm.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', bin, 'plan', '--probe', `${peers}x${prefixes}`, '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Probe) : reject(new Error(`probe ${peers}x${prefixes} exited with ${code}`))));
  });
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

export interface Plan {
  probes: Probe[];
  /** Memory model: bytes = fixed + perPrefix x prefixes + perPath x paths. */
  fixedBytes: number;
  bytesPerPrefix: number;
  bytesPerPath: number;
  /** Largest relative error of the memory model on the probes. */
  memoryFitError: number;
  /** Paths per second into the Loc-RIB with `workers` workers (from the largest probe). */
  pathsPerSecond: number;
  workers: number;
  cores: number;
  target: { peers: number; prefixes: number; paths: number; ramBytes: number; ingestSeconds: number };
  /** The smallest process seen before its RIB: a floor for the process itself. */
  processBytes: number;
}

export async function plan(peers: number, prefixes: number, workers = Math.max(1, availableParallelism()), onProbe?: (p: Probe) => void): Promise<Plan> {
  const probes: Probe[] = [];
  for (const [p, n] of [[1, 100_000], [2, 100_000], [1, 200_000], [2, 200_000], [1, 400_000], [2, 400_000]] as const) {
    const r = await runProbe(p, n, workers);
    onProbe?.(r);
    probes.push(r);
  }
  const [fixed, perPrefix, perPath] = leastSquares(probes.map((p) => [1, p.prefixes, p.paths]), probes.map((p) => p.rssBytes));
  const model = (pre: number, pa: number) => fixed + perPrefix * pre + perPath * pa;
  const memoryFitError = Math.max(...probes.map((p) => Math.abs(model(p.prefixes, p.paths) - p.rssBytes) / p.rssBytes));
  const largest = probes.reduce((a, b) => (b.paths > a.paths ? b : a));
  const pathsPerSecond = largest.paths / largest.seconds;
  const paths = peers * prefixes;
  return {
    probes,
    fixedBytes: fixed,
    bytesPerPrefix: perPrefix,
    bytesPerPath: perPath,
    memoryFitError,
    pathsPerSecond,
    workers,
    cores: availableParallelism(),
    target: { peers, prefixes, paths, ramBytes: model(prefixes, paths), ingestSeconds: paths / pathsPerSecond },
    processBytes: Math.min(...probes.map((q) => q.baseRssBytes)),
  };
}
