// Per-prefix ingest speed of IPv6 unicast (MP_REACH_NLRI, RFC 4760) against IPv4 unicast, through
// a RibPipeline with 2 workers; the tables are already in shared memory (no sockets).
//   synthetic: the same generator, 200,000 IPv4-only vs 200,000 IPv6-only prefixes, one peer,
//              alternating IPv4 / IPv6, 3 rounds, medians
//   real:      a RIB dump's IPv6 table (real attribute shapes: mostly one prefix per UPDATE),
//              each dump peer one RIB peer, its UPDATEs replayed until about as many
//              announcements as the synthetic run (replays replace a path with the same one);
//              the IPv4 dump beside it (…-inet.mrt) the same way when it is there
// Run: npm run bench:family [-- MRT_PATH [PREFIXES]]

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipv4ToNumber } from '../src/packet/address.js';
import { RibPipeline } from '../src/rib/pipeline.js';
import type { PeerContext } from '../src/rib/parse.js';
import { countPaths } from '../src/rib/query.js';
import { generateTable, readRibDump } from '../src/harness/tablegen/index.js';
import { fmt, shareTable } from './common.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = process.env.RIBSTORM_SHARED ?? path.join(REPO, '../shared');
const mrtPath = process.argv[2] ?? path.join(SHARED, 'data/mrt/rib/namex-bgpd-rib-inet6.mrt');
const PREFIXES = Number(process.argv[3] ?? 200_000);
const ROUNDS = 3;
const WORKERS = 2;
const ctx: PeerContext = { asn4: true, ebgp: true, addPath: false, addPath6: false, import: 'accept' };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Feed {
  name: string;
  /** Per RIB peer: its bytes in shared memory and its batches. */
  peers: Array<{ index: number; asn: number; routerId: number; buffer: SharedArrayBuffer; batches: Uint32Array[] }>;
  /** Prefix announcements in all batches together. */
  announcements: number;
  /** Paths the Loc-RIB holds afterwards. */
  paths: number;
}

/** One timed run into a new pipeline: prefixes/s. */
async function run(feed: Feed): Promise<number> {
  const rib = new RibPipeline({ localAs: 65000, workers: WORKERS });
  for (const p of feed.peers) rib.setPeer(p.index, { asn: p.asn, routerId: p.routerId, address: p.index, ibgp: false });
  await rib.flushPeer(1000); // the pool is up and warm before timing
  const t0 = performance.now();
  const pending: Promise<unknown>[] = [];
  // Round-robin over the peers, as their sessions would deliver.
  const most = Math.max(...feed.peers.map((p) => p.batches.length));
  for (let i = 0; i < most; i++) {
    for (const p of feed.peers) if (i < p.batches.length) pending.push(rib.submitUpdates(p.index, ctx, p.buffer, p.batches[i]));
  }
  const results = (await Promise.all(pending)) as Array<{ error?: { detail: string } }>;
  const s = (performance.now() - t0) / 1000;
  const failed = results.find((r) => r.error);
  const held = countPaths(rib.views).paths;
  await rib.close();
  if (failed) throw new Error(`${feed.name}: ${failed.error!.detail}`);
  if (held !== feed.paths) throw new Error(`${feed.name}: the RIB holds ${held} of ${feed.paths} paths`);
  return feed.announcements / s;
}

function synthetic(family: 'IPv4' | 'IPv6'): Feed {
  const t = generateTable({ seed: 3, ipv4Prefixes: family === 'IPv4' ? PREFIXES : 0, ipv6Prefixes: family === 'IPv6' ? PREFIXES : 0, senderAs: 65010 });
  const shared = shareTable(t);
  const n = t.ipv4Prefixes + t.ipv6Prefixes;
  console.log(`synthetic ${family}: ${fmt(t.messageCount)} UPDATEs, ${fmt(n)} prefixes, ${fmt(t.attributeSets)} attribute sets`);
  return { name: `synthetic ${family}`, peers: [{ index: 1, asn: 65010, routerId: 1, ...shared }], announcements: n, paths: n };
}

/** A RIB dump's peers, each one RIB peer, each peer's UPDATEs replayed to about PREFIXES announcements in all. */
async function dump(file: string, family: string): Promise<Feed | null> {
  if (!existsSync(file)) {
    console.log(`${file}: absent, the real ${family} table is left out`);
    return null;
  }
  const d = await readRibDump(file);
  const tables = d.peers.filter((p) => p.table.messageCount > 0);
  const paths = tables.reduce((s, p) => s + p.table.ipv4Prefixes + p.table.ipv6Prefixes, 0);
  const repeat = Math.max(1, Math.round(PREFIXES / paths));
  const peers = tables.map((p, i) => {
    const shared = shareTable(p.table);
    // The same messages again and again: descriptors may point at the same bytes.
    const all = shared.batches.flatMap((b) => [...b]);
    const perBatch = 2048; // 1,024 UPDATEs a batch
    const desc: number[] = [];
    for (let r = 0; r < repeat; r++) desc.push(...all);
    const batches: Uint32Array[] = [];
    for (let o = 0; o < desc.length; o += perBatch) batches.push(Uint32Array.from(desc.slice(o, o + perBatch)));
    return { index: i + 1, asn: p.asn, routerId: ipv4ToNumber(p.bgpId) || i + 1, buffer: shared.buffer, batches };
  });
  const messages = tables.reduce((s, p) => s + p.table.messageCount, 0);
  console.log(`${path.basename(file)}: ${tables.length} peers, ${fmt(messages)} UPDATEs, ${fmt(paths)} paths (${(paths / messages).toFixed(2)} prefixes per UPDATE), replayed ${repeat} times`);
  return { name: path.basename(file), peers, announcements: paths * repeat, paths };
}

async function compare(label: string, v4: Feed | null, v6: Feed | null): Promise<void> {
  const r4: number[] = [];
  const r6: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (v4) r4.push(await run(v4));
    if (v6) r6.push(await run(v6));
    console.log(`  round ${round}:${v4 ? ` IPv4 ${fmt(r4[r4.length - 1])}/s` : ''}${v6 ? ` IPv6 ${fmt(r6[r6.length - 1])}/s` : ''}`);
  }
  const m4 = v4 ? median(r4) : 0;
  const m6 = v6 ? median(r6) : 0;
  const parts = [v4 ? `IPv4 ${fmt(m4)} prefixes/s` : '', v6 ? `IPv6 ${fmt(m6)} prefixes/s` : '', v4 && v6 ? `IPv6/IPv4 ${(m6 / m4).toFixed(2)}` : ''];
  console.log(`${label} (median of ${ROUNDS}, ${WORKERS} workers): ${parts.filter(Boolean).join(', ')}`);
}

await compare('synthetic', synthetic('IPv4'), synthetic('IPv6'));
const real6 = await dump(mrtPath, 'IPv6');
const inet4 = mrtPath.replace(/inet6(\.mrt)$/, 'inet$1');
const real4 = inet4 !== mrtPath ? await dump(inet4, 'IPv4') : null;
if (real6 || real4) await compare('real dumps', real4, real6);
