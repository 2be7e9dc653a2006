// What one management-API query costs ribstorm's main thread (the thread that also runs the
// sessions and hands batches to the RIB, so every microsecond of it is one ingest waits for):
// `ribstorm run` (a child process, API on) is fed N IPv4 prefixes by each of three load peers,
// and once every path is held and the process is idle, asked the bench's query loop in turn,
// one request at a time on a kept-alive connection: GET /neighbors, then
// GET /rib?prefix=ADDR&match=longest (addresses inside the table). The main thread's CPU time
// (its /proc schedstat, in nanoseconds; utime + stime as a check) per request of each kind, in
// a few rounds, after a warm-up; the idle thread's own rate for comparison.
//
//   npm run build && node dist/bench/apiQuery.bench.js [PREFIXES_PER_PEER, default 200000] [REQUESTS_PER_KIND, default 5000] [ROUNDS, default 3]
//
// RIBSTORM_NODE_ARGS passes flags to ribstorm's node, e.g. "--cpu-prof --cpu-prof-dir=DIR".

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeUpdate } from '../src/packet/index.js';
import { startRibstorm } from '../src/harness/bench/targets/ribstorm.js';
import { freePort } from '../src/harness/daemons/proc.js';
import { LoadPeer } from '../src/harness/loadgen/peer.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { apiGet, fmt, metric } from './common.js';

const N = Number(process.argv[2] ?? 200_000);
const REQUESTS = Number(process.argv[3] ?? 5_000);
const ROUNDS = Number(process.argv[4] ?? 3);
const WARMUP = 1_000;
const HOST = '127.0.110.1';
const PEERS = [
  { address: '127.0.110.2', asn: 65111 },
  { address: '127.0.110.3', asn: 65112 },
  { address: '127.0.110.4', asn: 65113 },
];

/** Nanoseconds thread `tid` of `pid` has run (schedstat's first field). */
function threadNs(pid: number, tid = pid): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
}

/** The thread's utime and stime, in clock ticks (1/100 s). */
function threadTicks(pid: number, tid = pid): [number, number] {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]), Number(f[12])];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

interface Kind {
  name: string;
  path: (i: number) => string;
  ns: number[];
}

/**
 * `count` requests of each kind, alternating; each request's share is the main thread's time
 * from the previous answer to its own (what the server finishes after answering lands on the
 * next). Returns µs per request of each kind, and utime and stime per request overall.
 */
async function round(api: string, pid: number, kinds: Kind[], count: number): Promise<{ us: number[]; p50: number[]; utimeUs: number; stimeUs: number }> {
  for (const k of kinds) k.ns = [];
  const ticks0 = threadTicks(pid);
  let last = threadNs(pid);
  for (let i = 0; i < count; i++) {
    for (const k of kinds) {
      const res = await apiGet(api, k.path(i));
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${k.path(i)}: HTTP ${res.status}`);
      const now = threadNs(pid);
      k.ns.push(now - last);
      last = now;
    }
  }
  const ticks = threadTicks(pid).map((t, i) => ((t - ticks0[i]) * 10_000) / (count * kinds.length));
  return {
    us: kinds.map((k) => k.ns.reduce((a, b) => a + b, 0) / k.ns.length / 1000),
    p50: kinds.map((k) => median(k.ns) / 1000),
    utimeUs: ticks[0],
    stimeUs: ticks[1],
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ribstorm-api-bench-'));
  const port = await freePort(HOST);
  const apiPort = await freePort(HOST);
  const api = `${HOST}:${apiPort}`;
  const target = await startRibstorm(dir, {
    address: HOST,
    port,
    asn: 65100,
    routerId: '10.0.110.1',
    peers: PEERS,
    api: { address: HOST, port: apiPort },
    load: { prefixes: N, prefixes6: 0, paths: PEERS.length * N, attributeSets: PEERS.length * N },
  });
  const peers: LoadPeer[] = [];
  try {
    const tables = PEERS.map((p, i) => generateTable({ ipv4Prefixes: N, ipv6Prefixes: 0, variant: i, senderAs: p.asn, seed: 1 }));
    await Promise.all(
      PEERS.map(async (p, i) => {
        const peer = await LoadPeer.open({ host: HOST, port, localAddress: p.address, asn: p.asn, routerId: p.address });
        peers.push(peer);
        await peer.write(tables[i].updates);
        await peer.write(tables[i].endOfRib);
      }),
    );
    while ((await metric(api, 'bgp_rib_paths')) < PEERS.length * N) await sleep(200);
    // Addresses inside the first UPDATE's prefixes, as the bench's query loop asks.
    const t = tables[0].updates;
    const lookups = decodeUpdate(t.subarray(0, t.readUInt16BE(16)), { asn4: true }).nlri.slice(0, 64).map((p) => p.prefix.replace(/\/\d+$/, ''));
    const kinds: Kind[] = [
      { name: 'GET /neighbors', path: () => '/neighbors', ns: [] },
      { name: 'GET /rib?prefix=…&match=longest', path: (i) => `/rib?prefix=${encodeURIComponent(lookups[i % lookups.length])}&match=longest`, ns: [] },
    ];
    const pid = target.pid;
    // The load's garbage collected, the workers' and events' threads settled.
    for (let i = 0; i < 10; i++) {
      const idle0 = threadNs(pid);
      await sleep(1000);
      process.stdout.write(`idle ${i}: ${((threadNs(pid) - idle0) / 1000).toFixed(0)} µs/s\n`);
    }
    const idle0 = threadNs(pid);
    await sleep(1000);
    const idleUsPerS = (threadNs(pid) - idle0) / 1000;
    process.stdout.write(`ribstorm: ${PEERS.length} peers x ${fmt(N)} prefixes held; main thread idle ${idleUsPerS.toFixed(0)} µs/s\n`);
    await round(api, pid, kinds, WARMUP);
    const results: number[][] = kinds.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      const x = await round(api, pid, kinds, REQUESTS);
      x.us.forEach((us, k) => results[k].push(us));
      process.stdout.write(
        `round ${r + 1}: ${kinds.map((k, i) => `${k.name} ${x.us[i].toFixed(1)} µs (p50 ${x.p50[i].toFixed(1)})`).join(', ')}; utime ${x.utimeUs.toFixed(1)} + stime ${x.stimeUs.toFixed(1)} µs per request\n`,
      );
    }
    process.stdout.write(`main thread CPU per GET, median of ${ROUNDS} rounds of ${fmt(REQUESTS)} each: ${kinds.map((k, i) => `${k.name} ${median(results[i]).toFixed(1)} µs`).join(', ')}\n`);
  } finally {
    for (const p of peers) p.socket.destroy();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
