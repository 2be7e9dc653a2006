// How long an MRT table dump of a full table takes: `ribstorm run` (a child process, API on)
// is fed N IPv4 prefixes by each of two load peers (the synthetic table generator, a variant per
// peer: same prefixes, other paths), then `ribstorm dump FILE` is timed for each compression,
// and `bgpdump -m FILE | wc -l` is checked against the paths held; the uncompressed dump is then
// compared route by route (prefix, peer, AS path, next hop) with `GET /rib` as NDJSON, the
// table `ribstorm rib` reads.
//
//   npm run build && node dist/bench/mrtDump.bench.js [PREFIXES_PER_PEER, default 1000000]

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRibstorm } from '../src/harness/bench/targets/ribstorm.js';
import { freePort } from '../src/harness/daemons/proc.js';
import { LoadPeer } from '../src/harness/loadgen/peer.js';
import { generateTable } from '../src/harness/tablegen/index.js';
import { apiGet, fmt, metric, ribPaths } from './common.js';

const N = Number(process.argv[2] ?? 1_000_000);
const HOST = '127.0.80.1';
const PEERS = [
  { address: '127.0.80.2', asn: 65081 },
  { address: '127.0.80.3', asn: 65082 },
];
const BIN = fileURLToPath(new URL('../../bin/ribstorm.js', import.meta.url));


/** Every line of `cmd`'s output, or of a fetched body, handed to `take`. */
async function eachLine(lines: AsyncIterable<string>, take: (line: string) => void): Promise<void> {
  for await (const line of lines) if (line) take(line);
}

async function* bodyLines(res: Response): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/**
 * The dump against the RIB, route by route: `bgpdump -m` lines as prefix|peer|AS path|next hop,
 * each found once among `GET /rib`'s rows (and the other way round).
 */
async function compareWithRib(file: string, api: string): Promise<{ dump: number; rib: number; onlyInDump: number; onlyInRib: number; example: string }> {
  const keys = new Set<string>();
  const child = spawn('bgpdump', ['-m', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  let dump = 0;
  await eachLine(createInterface({ input: child.stdout }), (l) => {
    const f = l.split('|');
    keys.add(`${f[5]}|${f[3]}|${f[6]}|${f[8]}`);
    dump++;
  });
  let rib = 0;
  let onlyInRib = 0;
  let example = '';
  await eachLine(bodyLines(await apiGet(api, '/rib?family=ipv4&format=ndjson')), (l) => {
    const r = JSON.parse(l) as { prefix: string; fromPeer: string; path: string; nextHop: string };
    const k = `${r.prefix}|${r.fromPeer}|${r.path}|${r.nextHop}`;
    rib++;
    if (!keys.delete(k)) {
      onlyInRib++;
      example ||= `in the RIB, not in the dump: ${k}`;
    }
  });
  if (!example && keys.size) example = `in the dump, not in the RIB: ${keys.values().next().value}`;
  return { dump, rib, onlyInDump: keys.size, onlyInRib, example };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ribstorm-mrt-bench-'));
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
  });
  const peers: LoadPeer[] = [];
  try {
    const t0 = Date.now();
    for (const [i, p] of PEERS.entries()) {
      const table = generateTable({ ipv4Prefixes: N, ipv6Prefixes: 0, variant: i, senderAs: p.asn, seed: 1 });
      const peer = await LoadPeer.open({ host: HOST, port, localAddress: p.address, asn: p.asn, routerId: p.address });
      peers.push(peer);
      await peer.write(table.updates);
      await peer.write(table.endOfRib);
    }
    while ((await ribPaths(api)) < 2 * N) await new Promise((r) => setTimeout(r, 500));
    const paths = await ribPaths(api);
    process.stdout.write(`loaded ${fmt(paths)} paths (2 x ${fmt(N)} prefixes) in ${((Date.now() - t0) / 1000).toFixed(1)}s; ribstorm RSS ${fmt((await metric(api, 'process_resident_memory_bytes')) / 2 ** 20)} MiB\n`);

    for (const name of ['bview.mrt', 'bview.gz', 'bview.bz2']) {
      const file = join(dir, name);
      const rssBefore = await metric(api, 'process_resident_memory_bytes');
      const s = Date.now();
      const r = spawnSync(process.execPath, [BIN, 'dump', file, '--api', api], { encoding: 'utf8' });
      const secs = (Date.now() - s) / 1000;
      if (r.status !== 0) throw new Error(`ribstorm dump ${name}: ${r.stderr.trim()}`);
      const rssAfter = await metric(api, 'process_resident_memory_bytes');
      const b = Date.now();
      const lines = Number(execFileSync('sh', ['-c', `bgpdump -m '${file}' 2>/dev/null | wc -l`], { encoding: 'utf8' }).trim());
      const bsecs = (Date.now() - b) / 1000;
      process.stdout.write(
        `${name.padEnd(10)} ribstorm dump ${secs.toFixed(1)}s, ${fmt(statSync(file).size / 2 ** 20)} MiB; ribstorm RSS ${fmt(rssBefore / 2 ** 20)} -> ${fmt(rssAfter / 2 ** 20)} MiB; ` +
          `bgpdump -m | wc -l: ${fmt(lines)} lines in ${bsecs.toFixed(1)}s${lines === paths ? ' (= paths)' : ` (paths: ${fmt(paths)}: MISMATCH)`}\n`,
      );
    }
    const c = await compareWithRib(join(dir, 'bview.mrt'), api);
    process.stdout.write(
      `route by route, bgpdump -m bview.mrt against GET /rib: ${fmt(c.dump)} routes in the dump, ${fmt(c.rib)} in the RIB, ` +
        `${c.onlyInDump + c.onlyInRib === 0 ? 'identical (prefix, peer, AS path, next hop)' : `${fmt(c.onlyInDump)} only in the dump, ${fmt(c.onlyInRib)} only in the RIB: DIFFERENT (${c.example})`}\n`,
    );
  } catch (e) {
    const cause = (e as Error).cause as Error | undefined;
    process.stderr.write(`${(e as Error).message}${cause ? ` (${cause.message})` : ''}\nribstorm's log, last lines:\n${target.readLog().split('\n').slice(-15).join('\n')}\n`);
    throw e;
  } finally {
    for (const p of peers) p.socket.destroy();
    await target.stop();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
