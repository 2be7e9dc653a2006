// The NATS JetStream feed at scale: three `ribstorm run` collectors, two load peers each
// (N IPv4 prefixes apiece: the same prefixes, other paths per peer), publish to one stream on a
// `nats-server -js` of its own (store directory and port); `ribstorm consume` rebuilds all six
// peers. A seventh `ribstorm run` is fed all six peers directly: the consumer must hold the same
// paths with the same best paths (GET /rib of both, compared row by row). Reported: each
// collector's ingest time against a run of the same collector without the feed, what the
// collectors published and had acknowledged (messages, bytes, rates, drops), and how long the
// consumer took to hold every path.
//
//   npm run bench:nats [-- PREFIXES_PER_PEER, default 100000]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRibstorm } from '../src/harness/bench/targets/ribstorm.js';
import { NatsServer, hasNatsServer } from '../src/harness/daemons/natsServer.js';
import { DaemonProcess, freePort } from '../src/harness/daemons/proc.js';
import { LoadPeer } from '../src/harness/loadgen/peer.js';
import { generateTable, type EncodedTable } from '../src/harness/tablegen/index.js';
import { apiGet, fmt, metric, ribPaths } from './common.js';

const N = Number(process.argv[2] ?? 100_000);
const BIN = fileURLToPath(new URL('../../bin/ribstorm.js', import.meta.url));
const STREAM = 'RIBSTORM_BENCH';
const peerOf = (c: number, k: number) => ({ address: `127.0.81.${10 * (c + 1) + 1 + k}`, asn: 65181 + 2 * c + k });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the speaker at `api` holds `want` paths; seconds since `t0`. */
async function until(api: string, want: number, t0: number, what: string, timeoutS = 600): Promise<number> {
  for (;;) {
    if ((await ribPaths(api)) >= want) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutS * 1000) throw new Error(`${what}: not ${fmt(want)} paths after ${timeoutS}s (${fmt(await ribPaths(api))})`);
    await sleep(200);
  }
}

/** GET /rib as comparable rows: prefix | peer (by `rename`) | path | next hop | best. */
async function rows(api: string, rename: (p: string) => string): Promise<string[]> {
  const text = await (await apiGet(api, '/rib')).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l) as { prefix: string; fromPeer: string; path: string; nextHop: string; best: boolean; pathId: number };
      return `${r.prefix}|${rename(r.fromPeer)}|${r.path}|${r.nextHop}|${r.pathId}|${r.best ? 'best' : ''}`;
    })
    .sort();
}

interface Collector {
  proc: DaemonProcess;
  api: string;
  address: string;
  port: number;
}

async function collector(dir: string, c: number, nats?: string, peers = [peerOf(c, 0), peerOf(c, 1)]): Promise<Collector> {
  const address = `127.0.81.${10 * (c + 1)}`;
  const port = await freePort(address);
  const apiPort = await freePort('127.0.0.1');
  const proc = await startRibstorm(mkdtempSync(join(dir, `c${c}-`)), {
    address, port, asn: 65000, routerId: address,
    peers,
    api: { address: '127.0.0.1', port: apiPort },
    load: { prefixes: N, prefixes6: 0, paths: peers.length * N, attributeSets: peers.length * N },
    ...(nats ? { nats: { url: nats, collector: `c${c}`, stream: STREAM } } : {}),
  });
  return { proc, api: `127.0.0.1:${apiPort}`, address, port };
}

/** Sends a peer's table (and End-of-RIB) to a speaker; the open session is returned. */
async function feed(to: { address: string; port: number }, peer: { address: string; asn: number }, table: EncodedTable): Promise<LoadPeer> {
  const p = await LoadPeer.open({ host: to.address, port: to.port, localAddress: peer.address, asn: peer.asn, routerId: peer.address });
  await p.write(table.updates);
  await p.write(table.endOfRib);
  return p;
}

async function main(): Promise<void> {
  if (!hasNatsServer()) throw new Error('nats-server is not installed (apt install nats-server)');
  const dir = mkdtempSync(join(tmpdir(), 'ribstorm-nats-bench-'));
  const procs: DaemonProcess[] = [];
  const sessions: LoadPeer[] = [];
  const nats = await NatsServer.create();
  try {
    await nats.start();
    const tables = Array.from({ length: 6 }, (_, j) => generateTable({ ipv4Prefixes: N, ipv6Prefixes: 0, variant: j, senderAs: 65181 + j, seed: 1 }));
    const load = async (targets: Collector[]) => {
      const t0 = Date.now();
      await Promise.all(targets.map(async (t, c) => sessions.push(await feed(t, peerOf(c, 0), tables[2 * c]), await feed(t, peerOf(c, 1), tables[2 * c + 1]))));
      return Promise.all(targets.map((t) => until(t.api, 2 * N, t0, `collector ${t.address}`)));
    };

    const stop = async (cs: Collector[]) => {
      sessions.splice(0).forEach((x) => x.socket.destroy());
      for (const c of cs) await c.proc.stop();
    };
    // The three collectors without the feed, for the ingest time to compare with.
    const plain: Collector[] = [];
    for (let c = 0; c < 3; c++) plain.push(await collector(dir, c));
    procs.push(...plain.map((c) => c.proc));
    const base = await load(plain);
    await stop(plain);
    process.stdout.write(`without the feed: 3 collectors ingest 2 x ${fmt(N)} prefixes each in ${base.map((t) => `${t.toFixed(1)}s`).join(', ')}\n`);

    // The same with the feed; the stream is read afterwards, so that only publishing costs here.
    const collectors: Collector[] = [];
    for (let c = 0; c < 3; c++) collectors.push(await collector(dir, c, nats.url));
    procs.push(...collectors.map((c) => c.proc));
    const t0 = Date.now();
    const times = await load(collectors);
    let published = { acked: 0, bytes: 0, dropped: 0, buffered: 1 };
    while (published.buffered > 0) {
      const all = await Promise.all(collectors.map(async (c) => ({
        acked: await metric(c.api, 'ribstorm_nats_acked_total'),
        bytes: await metric(c.api, 'ribstorm_nats_acked_bytes_total'),
        dropped: await metric(c.api, 'ribstorm_nats_dropped_total'),
        buffered: await metric(c.api, 'ribstorm_nats_buffered_bytes'),
      })));
      published = all.reduce((s, x) => ({ acked: s.acked + x.acked, bytes: s.bytes + x.bytes, dropped: s.dropped + x.dropped, buffered: s.buffered + x.buffered }), { acked: 0, bytes: 0, dropped: 0, buffered: 0 });
      if (published.buffered > 0) await sleep(100);
    }
    const allAcked = (Date.now() - t0) / 1000;
    const slowest = (xs: number[]) => Math.max(...xs);
    process.stdout.write(`with the feed: 3 collectors ingest 2 x ${fmt(N)} prefixes each in ${times.map((t) => `${t.toFixed(1)}s`).join(', ')} (slowest ${((slowest(times) / slowest(base) - 1) * 100).toFixed(0)}% slower)\n`);
    process.stdout.write(`published: ${fmt(published.acked)} NATS messages, ${fmt(published.bytes / 2 ** 20)} MiB (${fmt(published.bytes / 6 / N)} bytes per path) acknowledged ${allAcked.toFixed(1)}s after the first route: ${fmt(published.acked / allAcked)} messages/s, ${fmt(published.bytes / 2 ** 20 / allAcked)} MiB/s; ${fmt(published.dropped)} dropped\n`);

    // ribstorm consume reads the stream from its start.
    const consumerApi = `127.0.0.1:${await freePort('127.0.0.1')}`;
    const consumer = new DaemonProcess('ribstorm consume', { runDir: mkdtempSync(join(dir, 'consumer-')), address: '127.0.0.1', port: Number(consumerApi.split(':')[1]) }, join(dir, 'consume.log'));
    const c0 = Date.now();
    await consumer.launch(process.execPath, [BIN, 'consume', '--nats', nats.url, '--stream', STREAM, '--from', 'start', '--api', consumerApi, '--as', '65000'], {
      what: 'ribstorm consume API', until: () => /management API on/.test(consumer.readLog()), timeoutMs: 20_000,
    });
    procs.push(consumer);
    const consumed = await until(consumerApi, 6 * N, c0, 'ribstorm consume');
    process.stdout.write(`ribstorm consume (started, then the stream from its start) holds ${fmt(6 * N)} paths after ${consumed.toFixed(1)}s: ${fmt((6 * N) / consumed)} paths/s, ${fmt(published.acked / consumed)} messages/s\n`);
    // The collectors keep their sessions: stopping them would empty the consumer (RIS_PEER_STATE down).

    // One speaker fed all six peers directly, and the comparison.
    const ref = await collector(dir, 3, undefined, Array.from({ length: 6 }, (_, j) => peerOf(Math.floor(j / 2), j % 2)));
    procs.push(ref.proc);
    const r0 = Date.now();
    for (let j = 0; j < 6; j++) sessions.push(await feed(ref, peerOf(Math.floor(j / 2), j % 2), tables[j]));
    await until(ref.api, 6 * N, r0, 'the reference speaker');
    const names = new Map(Array.from({ length: 6 }, (_, j) => [peerOf(Math.floor(j / 2), j % 2).address, `c${Math.floor(j / 2)}/${peerOf(Math.floor(j / 2), j % 2).address}`]));
    const want = await rows(ref.api, (p) => names.get(p) ?? p);
    const have = await rows(consumerApi, (p) => p);
    const same = want.length === have.length && want.every((r, i) => r === have[i]);
    const best = want.filter((r) => r.endsWith('|best')).length;
    process.stdout.write(`consumer vs one speaker fed all six: ${fmt(have.length)} / ${fmt(want.length)} paths, ${fmt(best)} best paths: ${same ? 'identical' : 'DIFFERENT'}\n`);
    if (!same) process.exitCode = 1;
  } finally {
    for (const s of sessions) s.socket.destroy();
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
