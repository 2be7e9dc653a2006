// What one management-API query costs ribstorm's main thread (the thread that also runs the
// sessions and hands batches to the RIB, so every microsecond of it is one ingest waits for):
// `ribstorm run` (a child process, API on) is fed N IPv4 prefixes by each of three load peers,
// and once every path is held and the process is idle, asked the bench's query loop in turn,
// one request at a time on a kept-alive connection: GET /neighbors, then
// GET /rib?prefix=ADDR&match=longest (addresses inside the table). The main thread's CPU time
// (its /proc schedstat, in nanoseconds; utime + stime as a check) per request of each kind, in
// a few rounds, after a warm-up; the idle thread's own rate for comparison.
//
// With --against DIR, a second ribstorm from another checkout's build (DIR/dist, e.g. the
// commit before a change) is loaded the same way beside it, and every request goes to both in
// turn: on a shared machine, whose noise moves a run's figures by half, the two see the same.
//
//   npm run build && node dist/bench/apiQuery.bench.js [PREFIXES_PER_PEER, default 200000] [REQUESTS_PER_KIND, default 5000] [ROUNDS, default 3] [--against DIR]
//
// RIBSTORM_NODE_ARGS passes flags to ribstorm's node, e.g. "--cpu-prof --cpu-prof-dir=DIR".

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeUpdate } from '../src/packet/index.js';
import { startRibstorm } from '../src/harness/bench/targets/ribstorm.js';
import type { DaemonProcess } from '../src/harness/daemons/proc.js';
import { freePort, sleep } from '../src/harness/daemons/proc.js';
import { statFields } from '../src/harness/daemons/procfs.js';
import { LoadPeer } from '../src/harness/loadgen/peer.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { apiGet, fmt, metric } from './common.js';

const args = process.argv.slice(2);
const againstAt = args.indexOf('--against');
const AGAINST = againstAt >= 0 ? resolve(args.splice(againstAt, 2)[1]) : null;
const N = Number(args[0] ?? 200_000);
const REQUESTS = Number(args[1] ?? 5_000);
const ROUNDS = Number(args[2] ?? 3);
const WARMUP = 1_000;

/** Nanoseconds the main thread of `pid` (tid == pid) has run (schedstat's first field). */
function threadNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** The main thread's utime and stime, in clock ticks (1/100 s). */
function threadTicks(pid: number): [number, number] {
  const f = statFields(`${pid}/task/${pid}`);
  return [Number(f[11]), Number(f[12])];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

interface Kind {
  name: string;
  path: (i: number) => string;
}

type Start = typeof startRibstorm;

/** One ribstorm under test: its API, its main thread (tid == pid), its figures by kind. */
interface Target {
  name: string;
  api: string;
  pid: number;
  proc: DaemonProcess;
  peers: LoadPeer[];
  dir: string;
  ns: number[][];
  last: number;
  ticks0: [number, number];
}

/** `ribstorm run` on HOST 127.0.110.`base`, its three peers on the next addresses, loaded. */
async function startTarget(name: string, start: Start, base: number): Promise<{ target: Target; lookups: string[] }> {
  const host = `127.0.110.${base}`;
  const peers = [1, 2, 3].map((i) => ({ address: `127.0.110.${base + i}`, asn: 65110 + i }));
  const dir = mkdtempSync(join(tmpdir(), 'ribstorm-api-bench-'));
  const port = await freePort(host);
  const apiPort = await freePort(host);
  const api = `${host}:${apiPort}`;
  const proc = await start(dir, {
    address: host,
    port,
    asn: 65100,
    routerId: '10.0.110.1',
    peers,
    api: { address: host, port: apiPort },
    load: { prefixes: N, prefixes6: 0, paths: peers.length * N, attributeSets: peers.length * N },
  });
  const target: Target = { name, api, pid: proc.pid, proc, peers: [], dir, ns: [], last: 0, ticks0: [0, 0] };
  const tables = peers.map((p, i) => generateTable({ ipv4Prefixes: N, ipv6Prefixes: 0, variant: i, senderAs: p.asn, seed: 1 }));
  await Promise.all(
    peers.map(async (p, i) => {
      const peer = await LoadPeer.open({ host, port, localAddress: p.address, asn: p.asn, routerId: p.address });
      target.peers.push(peer);
      await peer.write(tables[i].updates);
      await peer.write(tables[i].endOfRib);
    }),
  );
  while ((await metric(api, 'bgp_rib_paths')) < peers.length * N) await sleep(200);
  // Addresses inside the first UPDATE's prefixes.
  const t = tables[0].updates;
  const lookups = decodeUpdate(t.subarray(0, t.readUInt16BE(16)), { asn4: true }).nlri.slice(0, 64).map((p) => p.prefix.replace(/\/\d+$/, ''));
  return { target, lookups };
}

async function stopTarget(t: Target): Promise<void> {
  for (const p of t.peers) p.socket.destroy();
  await t.proc.stop();
  rmSync(t.dir, { recursive: true, force: true });
}

/**
 * `count` requests of each kind, alternating, each sent to every target in turn; each
 * request's share is the target's main-thread time from its previous answer to this one (what
 * the server finishes after answering lands on the next). Returns, per target, µs per request
 * of each kind (mean and median), and utime and stime per request overall.
 */
async function round(targets: Target[], kinds: Kind[], count: number) {
  for (const t of targets) {
    t.ns = kinds.map(() => []);
    t.ticks0 = threadTicks(t.pid);
    t.last = threadNs(t.pid);
  }
  for (let i = 0; i < count; i++) {
    for (const [k, kind] of kinds.entries()) {
      for (const t of targets) {
        const res = await apiGet(t.api, kind.path(i));
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${t.name} ${kind.path(i)}: HTTP ${res.status}`);
        const now = threadNs(t.pid);
        t.ns[k].push(now - t.last);
        t.last = now;
      }
    }
  }
  return targets.map((t) => {
    const ticks = threadTicks(t.pid).map((x, i) => ((x - t.ticks0[i]) * 10_000) / (count * kinds.length));
    return {
      us: t.ns.map((ns) => ns.reduce((a, b) => a + b, 0) / ns.length / 1000),
      p50: t.ns.map((ns) => median(ns) / 1000),
      utimeUs: ticks[0],
      stimeUs: ticks[1],
    };
  });
}

async function main(): Promise<void> {
  const targets: Target[] = [];
  try {
    const { target, lookups } = await startTarget('this build', startRibstorm, 1);
    targets.push(target);
    if (AGAINST) {
      const other = (await import(pathToFileURL(join(AGAINST, 'dist/src/harness/bench/targets/ribstorm.js')).href)) as { startRibstorm: Start };
      targets.push((await startTarget(AGAINST, other.startRibstorm, 11)).target);
    }
    const kinds: Kind[] = [
      { name: 'GET /neighbors', path: () => '/neighbors' },
      { name: 'GET /rib?prefix=…&match=longest', path: (i) => `/rib?prefix=${encodeURIComponent(lookups[i % lookups.length])}&match=longest` },
    ];
    await sleep(3000); // the load's garbage collected, the workers' and events' threads settled
    const idle0 = targets.map((t) => threadNs(t.pid));
    await sleep(1000);
    for (const [i, t] of targets.entries()) {
      process.stdout.write(`${t.name}: 3 peers x ${fmt(N)} prefixes held; main thread idle ${((threadNs(t.pid) - idle0[i]) / 1000).toFixed(0)} µs/s\n`);
    }
    await round(targets, kinds, WARMUP);
    const means = targets.map(() => kinds.map((): number[] => []));
    const p50s = targets.map(() => kinds.map((): number[] => []));
    for (let r = 0; r < ROUNDS; r++) {
      const x = await round(targets, kinds, REQUESTS);
      for (const [ti, t] of targets.entries()) {
        x[ti].us.forEach((us, k) => means[ti][k].push(us));
        x[ti].p50.forEach((us, k) => p50s[ti][k].push(us));
        process.stdout.write(
          `round ${r + 1}, ${t.name}: ${kinds.map((k, i) => `${k.name} ${x[ti].us[i].toFixed(1)} µs (p50 ${x[ti].p50[i].toFixed(1)})`).join(', ')}; utime ${x[ti].utimeUs.toFixed(1)} + stime ${x[ti].stimeUs.toFixed(1)} µs per request\n`,
        );
      }
    }
    for (const [ti, t] of targets.entries()) {
      process.stdout.write(
        `${t.name}: main thread CPU per GET, median of ${ROUNDS} rounds of ${fmt(REQUESTS)} each: ${kinds.map((k, i) => `${k.name} ${median(means[ti][i]).toFixed(1)} µs (p50 ${median(p50s[ti][i]).toFixed(1)})`).join(', ')}\n`,
      );
    }
  } finally {
    for (const t of targets) await stopTarget(t);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
