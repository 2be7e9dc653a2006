// What a BMP station costs ingest: `ribstorm run` (a child process, API on) is fed N IPv4
// prefixes by each of two load peers (the synthetic table generator, a variant per peer), once
// without a station, once exporting pre-policy Route Monitoring to a station that reads and
// discards, and once to Debian's pmbmpd (message log as JSON in its run directory); the time
// until the RIB holds every path, CPU seconds of ribstorm (and pmbmpd), and what the
// station was sent (ribstorm's /metrics) and logged; then pmbmpd's log, once it stops growing,
// replayed route by route (peer, prefix, AS path, next hop) against `GET /rib`.
//
//   npm run build && node dist/bench/bmp.bench.js [PREFIXES_PER_PEER, default 1000000]

import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRibstorm } from '../src/harness/bench/targets/ribstorm.js';
import { Pmbmpd, unavailable } from '../src/harness/daemons/pmbmpd.js';
import { freePort } from '../src/harness/daemons/proc.js';
import { LoadPeer } from '../src/harness/loadgen/peer.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { apiGet, fmt, metric } from './common.js';

/**
 * pmbmpd's view against the RIB: the pre-policy routes its log holds per peer (announcements
 * less withdrawals) and `GET /rib`'s rows, keyed peer|prefix|AS path|next hop.
 */
async function compareWithStation(msglog: string, api: string): Promise<{ station: number; rib: number; differing: number; example: string }> {
  const held = new Map<string, string>();
  for await (const line of createInterface({ input: createReadStream(msglog) })) {
    if (!line.includes('route_monitor')) continue;
    const e = JSON.parse(line) as { log_type?: string; is_loc?: number; peer_ip?: string; ip_prefix?: string; as_path?: string; bgp_nexthop?: string };
    if (e.is_loc || !e.ip_prefix) continue;
    const at = `${e.peer_ip}|${e.ip_prefix}`;
    if (e.log_type === 'update') held.set(at, `${at}|${e.as_path}|${e.bgp_nexthop}`);
    else if (e.log_type === 'withdraw') held.delete(at);
  }
  const station = held.size;
  let rib = 0;
  let differing = 0;
  let example = '';
  const res = await apiGet(api, '/rib?family=ipv4&format=ndjson');
  let rest = '';
  const decoder = new TextDecoder();
  const take = (l: string) => {
    if (!l) return;
    const r = JSON.parse(l) as { prefix: string; fromPeer: string; path: string; nextHop: string };
    rib++;
    const at = `${r.fromPeer}|${r.prefix}`;
    if (held.get(at) !== `${at}|${r.path}|${r.nextHop}`) {
      differing++;
      example ||= `${at}: RIB ${r.path} via ${r.nextHop}, station ${held.get(at) ?? 'nothing'}`;
    }
    held.delete(at);
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = parts.pop()!;
    parts.forEach(take);
  }
  take(rest);
  differing += held.size;
  return { station, rib, differing, example };
}

/** Waits until `file` has not grown for `quietMs`. */
async function settled(file: string, quietMs = 3000): Promise<void> {
  let size = -1;
  let since = Date.now();
  for (;;) {
    const now = statSync(file).size;
    if (now !== size) [size, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const N = Number(process.argv[2] ?? 1_000_000);
const HOST = '127.0.81.1';
const PEERS = [
  { address: '127.0.81.2', asn: 65091 },
  { address: '127.0.81.3', asn: 65092 },
];

/**
 * A station that reads and discards, in a process of its own (not on the load generator's
 * event loop): what exporting costs ribstorm, without a station's own work.
 */
async function discardStation(): Promise<{ port: number; stop: () => Promise<void> }> {
  const code = "const s=require('net').createServer((c)=>{c.on('data',()=>{});c.on('error',()=>{})});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`discarding station exited (${c})`)));
  });
  return { port, stop: async () => void child.kill() };
}

type Station = 'none' | 'discard' | 'pmbmpd';
const LABEL: Record<Station, string> = { none: 'no station   ', discard: 'discarding   ', pmbmpd: 'with pmbmpd  ' };

async function run(kind: Station): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ribstorm-bmp-bench-'));
  const station = kind === 'pmbmpd' ? await Pmbmpd.start('127.0.0.1') : null;
  const discard = kind === 'discard' ? await discardStation() : null;
  const port = await freePort(HOST);
  const apiPort = await freePort('127.0.0.1');
  const api = `127.0.0.1:${apiPort}`;
  const target = await startRibstorm(dir, {
    address: HOST,
    port,
    asn: 65000,
    routerId: '10.0.0.1',
    peers: PEERS,
    api: { address: '127.0.0.1', port: apiPort },
    load: { prefixes: N, prefixes6: 0, paths: 2 * N, attributeSets: 2 * N },
    bmp: station ? [`127.0.0.1:${station.port}`] : discard ? [`127.0.0.1:${discard.port}`] : [],
  });
  const peers: LoadPeer[] = [];
  try {
    if (kind !== 'none') while ((await metric(api, 'ribstorm_bmp_station_up')) !== 1) await new Promise((r) => setTimeout(r, 100));
    const tables = PEERS.map((p, i) => generateTable({ ipv4Prefixes: N, ipv6Prefixes: 0, variant: i, senderAs: p.asn, seed: 1 }));
    const t0 = Date.now();
    await Promise.all(
      PEERS.map(async (p, i) => {
        const peer = await LoadPeer.open({ host: HOST, port, localAddress: p.address, asn: p.asn, routerId: p.address });
        peers.push(peer);
        await peer.write(tables[i].updates);
        await peer.write(tables[i].endOfRib);
      }),
    );
    while ((await metric(api, 'bgp_rib_paths')) < 2 * N) await new Promise((r) => setTimeout(r, 200));
    const secs = (Date.now() - t0) / 1000;
    let line = `${LABEL[kind]}: 2 x ${fmt(N)} prefixes held in ${secs.toFixed(1)}s (${fmt((2 * N) / secs)} paths/s)`;
    if (kind !== 'none') {
      const sent = await metric(api, 'ribstorm_bmp_sent_bytes_total');
      const dropped = await metric(api, 'ribstorm_bmp_dropped_messages_total');
      line += `; BMP ${fmt(await metric(api, 'ribstorm_bmp_messages_sent_total'))} messages, ${fmt(sent / 2 ** 20)} MiB sent, ${dropped} dropped`;
      if (station) line += `; pmbmpd log ${fmt(statSync(station.msglog).size / 2 ** 20)} MiB so far, pmbmpd CPU ${station.cpuSeconds().toFixed(1)} s`;
    }
    line += `; ribstorm CPU ${target.cpuSeconds().toFixed(1)} s`;
    process.stdout.write(`${line}\n`);
    if (station) {
      await settled(station.msglog);
      const c = await compareWithStation(station.msglog, api);
      process.stdout.write(
        `pmbmpd's log replayed: ${fmt(c.station)} routes, the RIB ${fmt(c.rib)}; ${c.differing === 0 ? 'identical (peer, prefix, AS path, next hop)' : `${fmt(c.differing)} DIFFERING (${c.example})`}\n`,
      );
    }
  } finally {
    for (const p of peers) p.socket.destroy();
    await target.stop();
    await station?.stop();
    await discard?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Two rounds, alternating: without a station, to a station that discards (ribstorm's own cost),
 * and to pmbmpd (which needs a core of its own to parse and log, on this machine one of the
 * two the workers use).
 */
async function main(): Promise<void> {
  const missing = unavailable();
  for (let round = 0; round < 2; round++) {
    await run('none');
    await run('discard');
    if (missing) process.stdout.write(`with pmbmpd: skipped, pmbmpd ${missing}\n`);
    else await run('pmbmpd');
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
