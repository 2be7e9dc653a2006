// One full-table convergence run through a target router: N sending peers blast pre-encoded
// tables into it, one sink peer receives what it advertises. Measured from the first UPDATE
// byte written to the moment the sink holds every prefix, never polling the target. A target
// that advertises nothing (ribstorm in collector mode) has no sink: it is measured until its
// API shows every path held (heldPaths.ts).

import type { EncodedTable } from '../tablegen/index.js';
import { withdrawalsOf } from '../loadgen/churn.js';
import { measureLatency, type LatencyReport } from './latency.js';
import type { Trace } from '../loadgen/replay.js';
import { LoadPeer, PrefixSet } from '../loadgen/peer.js';
import { freePort } from '../daemons/proc.js';
import { decodeUpdate } from '../../packet/index.js';
import { CLIENT_NICE, startApiLoad, type ApiClients, type ApiLoad, type ApiLoadReport } from './apiLoad.js';
import { createTarget, isCollectorTarget, type DataOut, type Target, type TargetKind, type TargetLoad } from './targets/index.js';
import { HeldPaths } from './heldPaths.js';

/** Where the peers and the target are: the bench's own loopback plan, or the user's. */
export interface Layout {
  /** `port` 0: a port found free on `address` when the run starts. */
  target: { address: string; port: number; asn: number };
  sink: { address: string; asn: number };
  sender: (i: number) => { address: string; asn: number };
}

/**
 * Sending peers at most: their addresses, 127.0.5.10 to .19 and then from .28 on (past the
 * extra sinks' .21 to .27), stay within 127.0.5.0/24.
 */
export const MAX_SENDERS = 236;

/** Receiving peers at most: the first sink, then 127.0.5.21 to .27. */
export const MAX_SINKS = 8;

export const BENCH_LAYOUT: Layout = {
  target: { address: '127.0.5.1', port: 0, asn: 65000 },
  sink: { address: '127.0.5.2', asn: 65001 },
  sender: (i) => ({ address: `127.0.5.${i < 10 ? 10 + i : 18 + i}`, asn: 65010 + i }),
};

/** Several sinks seen as one: complete when the emptiest is, quiet when all are. */
class Sinks {
  constructor(readonly sets: PrefixSet[]) {}
  get size(): number {
    return Math.min(...this.sets.map((s) => s.size));
  }
  get lastUpdateAt(): number {
    return Math.max(...this.sets.map((s) => s.lastUpdateAt));
  }
  get updates(): number {
    return this.sets.reduce((n, s) => n + s.updates, 0);
  }
  countMissingFrom(other: PrefixSet): number {
    return Math.max(...this.sets.map((s) => s.countMissingFrom(other)));
  }
}

/** The extra sinks' addresses, after the first: 127.0.5.21, .22, ... in the first sink's AS. */
export function sinkAt(layout: Layout, i: number): { address: string; asn: number } {
  return i === 0 ? layout.sink : { address: `127.0.5.${20 + i}`, asn: layout.sink.asn };
}

export interface ConvergenceOptions {
  /** Receiving peers (default 1); the run ends when every one holds the whole table. */
  sinks?: number;
  /** A router the run starts and stops itself, or one already running (loadtest). */
  target: TargetKind | Target;
  layout?: Layout;
  tables: EncodedTable[];
  /** Distinct prefixes the sink must end up holding. */
  expected: number;
  workers?: number;
  /** A run that makes no progress for this long ends as stalled. */
  stallMs?: number;
  /**
   * After convergence: 'withdraw-all', every sender withdraws its whole table (timed until the
   * sink is empty); a trace the first sender replays at `speed` times its pace; or `latency`:
   * new prefixes announced then withdrawn at `rate` UPDATEs a second (latency.ts).
   */
  churn?: 'withdraw-all' | 'flap' | { trace: Trace; speed: number } | { latency: { rate: number; count: number } };
  /** `held` of `of`: prefixes at the sink, or a collector's paths. */
  onProgress?: (held: number, elapsedMs: number, of: number) => void;
  /** ribstorm only: its API on, one client querying it in a loop and one taking the whole stream. */
  apiClients?: ApiClients;
  /** The stream client's nice value (default 19: the lowest priority, as if on another host; 0: the bench's). */
  clientNice?: number;
  /** ribstorm only: route data it writes out meanwhile (update logs). */
  dataOut?: DataOut;
}

/** What ribstorm wrote out during a run, from its log. */
export interface DataOutReport {
  kind: DataOut;
  files: number;
  records: number;
  /** Before and after compression. */
  bytes: number;
  compressedBytes: number;
  dropped: number;
}

/** Sums the "MRT update log FILE: R records, B bytes, C compressed[, D DROPPED]" lines. */
export function dataOutReport(kind: DataOut, log: string): DataOutReport {
  const r: DataOutReport = { kind, files: 0, records: 0, bytes: 0, compressedBytes: 0, dropped: 0 };
  for (const m of log.matchAll(/MRT update log \S+: (\d+) records, (\d+) bytes, (\d+) compressed(?:, (\d+) DROPPED)?/g)) {
    r.files++;
    r.records += Number(m[1]);
    r.bytes += Number(m[2]);
    r.compressedBytes += Number(m[3]);
    r.dropped += Number(m[4] ?? 0);
  }
  return r;
}

export interface ConvergenceResult {
  target: string;
  peers: number;
  sinks: number;
  prefixes: number;
  /** First UPDATE byte written -> sink holds every prefix (a collector: every path); null when it never did. */
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
  /** With churn withdraw-all: first withdrawal byte written -> the sink holds nothing. */
  withdrawnSeconds?: number | null;
  /** With churn flap: first withdrawal byte written -> the sink holds the whole table again. */
  reconvergedSeconds?: number | null;
  /** Prefixes the sink should hold but does not, and holds but no sender announced. */
  lost: number;
  unexpected: number;
  /** With a trace: how long the replay took, and how long the sink took to settle after it. */
  replay?: { messages: number; seconds: number; sinkUpdates: number; settleSeconds: number };
  /** With churn latency: from an UPDATE in to the change out, announcements and withdrawals. */
  latency?: LatencyReport;
  /** With apiClients: what the API's clients got during the run. */
  api?: ApiLoadReport;
  /** With dataOut: what ribstorm wrote out. */
  dataOut?: DataOutReport;
  /** A collector (no sink): the paths its API showed held at the end, of how many sent. */
  held?: { paths: number; of: number };
}

/**
 * What a run puts into the target at most: every sender's paths, the distinct prefixes, the
 * attribute sets (a replayed trace may bring a new one with each UPDATE).
 */
function runLoad(o: ConvergenceOptions): TargetLoad {
  // A trace or the latency run may bring a new prefix and attribute set with each UPDATE.
  const trace = typeof o.churn !== 'object' ? 0 : 'trace' in o.churn ? o.churn.trace.messages.length : o.churn.latency.count;
  const sum = (f: (t: EncodedTable) => number) => o.tables.reduce((s, t) => s + f(t), 0);
  return {
    prefixes: o.expected + trace,
    prefixes6: sum((t) => t.ipv6Prefixes),
    paths: sum((t) => t.ipv4Prefixes + t.ipv6Prefixes) + trace,
    attributeSets: sum((t) => t.attributeSets) + trace,
  };
}

/** Addresses inside 64 prefixes spread over the table (an UPDATE's first each), for the API client's longest-match lookups. */
export function sampleLookups(t: EncodedTable | undefined): string[] {
  if (!t) return [];
  const u = t.updates;
  const starts: number[] = [];
  for (let at = 0; at + 19 <= u.length && u.readUInt16BE(at + 16) >= 19; at += u.readUInt16BE(at + 16)) starts.push(at);
  const k = Math.min(64, starts.length);
  const out: string[] = [];
  for (let i = 0; i < k; i++) {
    const at = starts[Math.floor((i * starts.length) / k)];
    const first = decodeUpdate(u.subarray(at, at + u.readUInt16BE(at + 16)), { asn4: true }).nlri[0];
    if (first) out.push(first.prefix.replace(/\/\d+$/, ''));
  }
  return out;
}

export async function runConvergence(o: ConvergenceOptions): Promise<ConvergenceResult> {
  const layout = o.layout ?? BENCH_LAYOUT;
  const { address } = layout.target;
  const port = layout.target.port || (await freePort(address));
  const peers = o.tables.map((_, i) => layout.sender(i));
  // A collector advertises nothing: no sink, and what it holds is asked of its API.
  const collector = typeof o.target === 'string' && isCollectorTarget(o.target);
  const sinkCount = collector ? 0 : (o.sinks ?? 1);
  const api = (o.apiClients && o.target === 'ribstorm') || collector ? { address: '127.0.0.1', port: await freePort('127.0.0.1') } : undefined;
  const target = typeof o.target !== 'string' ? o.target : createTarget(o.target, {
    address,
    port,
    asn: layout.target.asn,
    routerId: '10.255.255.1',
    peers: [...Array.from({ length: sinkCount }, (_, i) => sinkAt(layout, i)), ...peers],
    workers: o.workers,
    load: runLoad(o),
    api,
    dataOut: o.dataOut,
  });
  const open: LoadPeer[] = [];
  let polled: HeldPaths | null = null;
  let clients: ApiLoad | null = null;
  let result: ConvergenceResult;
  try {
    await target.start();
    const sets = Array.from({ length: sinkCount }, () => new PrefixSet());
    /** Who else reads the first sink's UPDATEs (the latency run). */
    const watchers = new Set<(b: Buffer, off: number, len: number) => void>();
    const sinks = new Sinks(sets);
    // Paths for a collector (every sender's table), prefixes at the sinks otherwise.
    const expected = collector ? o.tables.reduce((n, t) => n + t.ipv4Prefixes + t.ipv6Prefixes, 0) : o.expected;
    const held: { readonly size: number; readonly lastUpdateAt: number; readonly updates: number } = collector
      ? (polled = new HeldPaths(`${api!.address}:${api!.port}`, peers.map((p) => p.address)))
      : sinks;
    for (let i = 0; i < sets.length; i++) {
      const at = sinkAt(layout, i);
      const sink = await LoadPeer.open({ host: address, port, localAddress: at.address, asn: at.asn, routerId: at.address });
      open.push(sink);
      sink.onUpdate = (b, off, len) => {
        sets[i].apply(b, off, len);
        if (i === 0) for (const f of watchers) f(b, off, len);
      };
    }
    const senders = await Promise.all(peers.map((p) => LoadPeer.open({ host: address, port, localAddress: p.address, asn: p.asn, routerId: p.address })));
    open.push(...senders);
    clients = api && o.apiClients ? await startApiLoad(`${api.address}:${api.port}`, o.apiClients!, sampleLookups(o.tables[0]), o.clientNice ?? CLIENT_NICE) : null;
    polled?.start();
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
        o.onProgress?.(last, now - t0, expected);
      }
      if (doneAt === null && held.size >= expected) doneAt = held.lastUpdateAt;
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
    await clients?.settle(
      o.tables.reduce((n, t) => n + t.ipv4Prefixes + t.ipv6Prefixes, 0),
      performance.timeOrigin + (doneAt ?? performance.now()),
    );
    // With the latency churn the stream client stays, and times the phase's UPDATEs.
    const timesChurn = typeof o.churn === 'object' && 'latency' in o.churn && doneAt !== null;
    let apiReport = timesChurn ? undefined : await clients?.stop();
    const seconds = doneAt === null ? null : (doneAt - t0) / 1000;
    const paths = collector ? expected : o.tables.length * o.expected;
    const settledSeconds = (held.lastUpdateAt - t0) / 1000;
    let withdrawnSeconds: number | null | undefined;
    // Lost and unexpected at convergence: the sink's table against what the senders announced.
    let unexpected = Math.max(0, held.size - expected);
    if (!collector) {
      const sent = new PrefixSet();
      for (const t of o.tables) for (let off = 0; off < t.updates.length; off += t.updates.readUInt16BE(off + 16)) sent.apply(t.updates, off, t.updates.readUInt16BE(off + 16));
      unexpected = sinks.countMissingFrom(sent);
    }
    const lost = Math.max(0, expected - (held.size - unexpected));
    let reconvergedSeconds: number | null | undefined;
    if (o.churn === 'flap' && doneAt !== null) {
      const streams = o.tables.map((t) => withdrawalsOf(t.updates));
      const t1 = performance.now();
      await Promise.all(senders.map((s, i) => s.write(streams[i]).then(() => s.write(o.tables[i].updates))));
      reconvergedSeconds = null;
      let progressAt = t1;
      let seen = -1;
      while (performance.now() - progressAt < (o.stallMs ?? 30_000)) {
        await new Promise((r) => setTimeout(r, 20));
        // Whole again and quiet for a second, after the flap reached the sink (or was absorbed
        // by the target: no change for a table withdrawn and announced again in one go).
        const now = performance.now();
        if (held.size >= o.expected && now - held.lastUpdateAt > 1000 && (held.lastUpdateAt > t1 || now - t1 > 2000)) {
          reconvergedSeconds = Math.max(0, held.lastUpdateAt - t1) / 1000;
          break;
        }
        if (held.updates !== seen) {
          seen = held.updates;
          progressAt = performance.now();
          curve.push([Math.round(performance.now() - t0), held.size]);
        }
      }
    }
    if (o.churn === 'withdraw-all' && doneAt !== null) {
      const streams = o.tables.map((t) => withdrawalsOf(t.updates));
      const t1 = performance.now();
      await Promise.all(senders.map((s, i) => s.write(streams[i])));
      withdrawnSeconds = null;
      let progressAt = t1;
      let seen = held.size;
      while (performance.now() - progressAt < (o.stallMs ?? 30_000)) {
        await new Promise((r) => setTimeout(r, 20));
        if (held.size === 0) {
          withdrawnSeconds = (held.lastUpdateAt - t1) / 1000;
          curve.push([Math.round(held.lastUpdateAt - t0), 0]); // the curve ends at the empty table
          break;
        }
        if (held.size !== seen) {
          seen = held.size;
          progressAt = performance.now();
          curve.push([Math.round(performance.now() - t0), seen]);
        }
      }
    }
    let latency: LatencyReport | undefined;
    if (typeof o.churn === 'object' && 'latency' in o.churn && doneAt !== null) {
      clients?.mark();
      latency = await measureLatency({
        senders,
        senderAs: peers.map((p) => p.asn),
        tables: o.tables,
        ...o.churn.latency,
        watch: (fn) => (watchers.add(fn), () => watchers.delete(fn)),
      });
      apiReport = await clients?.stop();
    }
    let replay: ConvergenceResult['replay'];
    if (typeof o.churn === 'object' && 'trace' in o.churn && doneAt !== null) {
      const { trace, speed } = o.churn;
      const before = held.updates;
      const t1 = performance.now();
      for (let i = 0; i < trace.messages.length; i++) {
        const due = t1 + (trace.offsets[i] * 1000) / speed;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        await senders[0].write(trace.messages[i]);
      }
      const sent = performance.now();
      while (performance.now() - held.lastUpdateAt < 1000) await new Promise((r) => setTimeout(r, 50));
      replay = {
        messages: trace.messages.length,
        seconds: (sent - t1) / 1000,
        sinkUpdates: held.updates - before,
        settleSeconds: Math.max(0, (held.lastUpdateAt - sent) / 1000),
      };
    }
    result = {
      target: target.name,
      peers: o.tables.length,
      sinks: sets.length,
      prefixes: o.expected,
      seconds,
      settledSeconds,
      prefixesAtSink: collector ? 0 : held.size,
      pathsPerSecond: seconds ? Math.round(paths / seconds) : null,
      peakRssMB: Math.round(target.peakRss() / 1e6),
      cpuSeconds: Math.round((target.cpuSeconds() - cpu0) * 100) / 100,
      updatesAtSink: collector ? 0 : held.updates,
      verdict: doneAt === null ? verdict : 'converged',
      curve,
      withdrawnSeconds,
      reconvergedSeconds,
      replay,
      ...(latency ? { latency } : {}),
      lost,
      unexpected,
      ...(apiReport ? { api: apiReport } : {}),
      ...(collector ? { held: { paths: held.size, of: expected } } : {}),
    };
  } finally {
    // A run that failed on the way still ends its API clients (stop() answers once).
    await clients?.stop();
    await polled?.stop();
    for (const p of open) p.close();
    await target.stop();
  }
  // Files are complete once the target has stopped.
  if (o.dataOut) result.dataOut = dataOutReport(o.dataOut, target.log?.() ?? '');
  return result;
}
