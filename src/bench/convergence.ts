// One full-table convergence run through a target router: N sending peers blast pre-encoded
// tables into it, one sink peer receives what it advertises. Measured from the first UPDATE
// byte written to the moment the sink holds every prefix, never polling the target.

import type { EncodedTable } from '../tablegen/index.js';
import { LoadPeer, PrefixSet } from '../loadgen/peer.js';
import { createTarget, type TargetKind } from './targets.js';

export interface ConvergenceOptions {
  target: TargetKind;
  tables: EncodedTable[];
  /** Distinct prefixes the sink must end up holding. */
  expected: number;
  workers?: number;
  /** A run that makes no progress for this long ends as stalled. */
  stallMs?: number;
  onProgress?: (held: number, elapsedMs: number) => void;
}

export interface ConvergenceResult {
  target: string;
  peers: number;
  prefixes: number;
  /** First UPDATE byte written -> sink holds every prefix; null when it never did. */
  seconds: number | null;
  /** First UPDATE byte written -> last UPDATE at the sink (the table settled). */
  settledSeconds: number;
  prefixesAtSink: number;
  /** Paths in per second of convergence (peers x prefixes / seconds). */
  pathsPerSecond: number | null;
  peakRssMB: number;
  cpuSeconds: number;
  updatesAtSink: number;
  verdict: 'converged' | 'stalled' | 'timeout';
  /** Prefixes held at the sink over time: [ms since start, prefixes]. */
  curve: Array<[number, number]>;
}

const ADDR = { target: '127.0.5.1', sink: '127.0.5.2', sender: (i: number) => `127.0.5.${10 + i}` };
const PORT = 1790;
const TARGET_AS = 65000;
const SINK_AS = 65001;
const SENDER_AS = (i: number) => 65010 + i;

export async function runConvergence(o: ConvergenceOptions): Promise<ConvergenceResult> {
  const peers = o.tables.map((_, i) => ({ address: ADDR.sender(i), asn: SENDER_AS(i) }));
  const target = createTarget(o.target, {
    address: ADDR.target,
    port: PORT,
    asn: TARGET_AS,
    routerId: '10.255.255.1',
    peers: [{ address: ADDR.sink, asn: SINK_AS }, ...peers],
    workers: o.workers,
  });
  const open: LoadPeer[] = [];
  try {
    await target.start();
    const held = new PrefixSet();
    const sink = await LoadPeer.open({ host: ADDR.target, port: PORT, localAddress: ADDR.sink, asn: SINK_AS, routerId: ADDR.sink });
    open.push(sink);
    sink.onUpdate = (b, off, len) => held.apply(b, off, len);
    const senders = await Promise.all(peers.map((p) => LoadPeer.open({ host: ADDR.target, port: PORT, localAddress: p.address, asn: p.asn, routerId: p.address })));
    open.push(...senders);
    const cpu0 = target.cpuSeconds();
    const t0 = performance.now();
    const curve: Array<[number, number]> = [[0, 0]];
    const writes = senders.map(async (s, i) => {
      await s.write(o.tables[i].updates);
      await s.write(o.tables[i].endOfRib);
    });
    let last = 0;
    let lastProgressAt = t0;
    let doneAt: number | null = null;
    let verdict: ConvergenceResult['verdict'] = 'converged';
    const stallMs = o.stallMs ?? 30_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      const now = performance.now();
      if (held.size !== last) {
        last = held.size;
        lastProgressAt = now;
        curve.push([Math.round(now - t0), last]);
        o.onProgress?.(last, now - t0);
      }
      if (doneAt === null && held.size >= o.expected) doneAt = held.lastUpdateAt;
      // Settled: everything is there and nothing has arrived for a second.
      if (doneAt !== null && now - held.lastUpdateAt > 1000) break;
      if (now - lastProgressAt > stallMs && now - held.lastUpdateAt > stallMs) {
        verdict = 'stalled';
        break;
      }
      if (now - t0 > 600_000) {
        verdict = 'timeout';
        break;
      }
    }
    await Promise.race([Promise.all(writes), new Promise((r) => setTimeout(r, 1000))]);
    const seconds = doneAt === null ? null : (doneAt - t0) / 1000;
    const paths = o.tables.length * o.expected;
    return {
      target: target.name,
      peers: o.tables.length,
      prefixes: o.expected,
      seconds,
      settledSeconds: (held.lastUpdateAt - t0) / 1000,
      prefixesAtSink: held.size,
      pathsPerSecond: seconds ? Math.round(paths / seconds) : null,
      peakRssMB: Math.round(target.peakRss() / 1e6),
      cpuSeconds: Math.round((target.cpuSeconds() - cpu0) * 100) / 100,
      updatesAtSink: held.updates,
      verdict: doneAt === null ? verdict : 'converged',
      curve,
    };
  } finally {
    for (const p of open) p.close();
    await target.stop();
  }
}
