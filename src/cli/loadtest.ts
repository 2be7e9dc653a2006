// `ribstorm loadtest`: the load generator against a router the user runs, anywhere reachable.
// The router needs the sink and the senders as neighbors; the command prints them first.

import { writeFileSync } from 'node:fs';
import { ConfigError, parseHostPort } from '../config/schema.js';
import { BENCH_LAYOUT, MAX_SENDERS, MAX_SINKS, runConvergence, sinkAt, type Layout } from '../harness/bench/convergence.js';
import { convergenceSvg } from '../harness/bench/chart.js';
import { ExternalTarget } from '../harness/bench/external.js';
import { loadTables } from '../harness/bench/tables.js';
import { intFlag, parseFlags } from './flags.js';

export const LOADTEST_USAGE = `usage: ribstorm loadtest --target ADDR[:PORT] --target-as N [--peers N] [--sinks N] [--prefixes N] [--mrt FILE]
                        [--target-pid PID] [--json FILE] [--chart FILE.svg]
  Full-table blast at a running router: senders from 127.0.5.10, .11, ... .19, then .28, .29, ...
  (AS 65010, 65011, ...; up to ${MAX_SENDERS}), sinks from 127.0.5.2, .21, .22, ... (AS 65001; up to
  ${MAX_SINKS}), all connecting to the target (default port 179).
  --mrt uses the largest IPv4 views of a real RIB dump instead of synthetic tables.
  --target-pid adds the target's peak RSS and CPU when it runs on this machine.`;

export async function loadtest(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    target: { value: true },
    'target-as': { value: true },
    'target-pid': { value: true },
    peers: { value: true },
    prefixes: { value: true },
    mrt: { value: true },
    json: { value: true },
    chart: { value: true },
    sinks: { value: true },
  });
  if (rest.length) throw ConfigError.unknown(rest[0]);
  if (flags.target === undefined) throw new ConfigError('--target', 'the router to test, ADDR[:PORT]');
  const target = parseHostPort(flags.target as string, '--target', 179);
  const targetAs = intFlag(flags['target-as'], 'target-as', 1, 0xffffffff, 0);
  if (!targetAs) throw new ConfigError('--target-as', "the router's AS number");
  const peers = intFlag(flags.peers, 'peers', 1, MAX_SENDERS, 2);
  const prefixes = intFlag(flags.prefixes, 'prefixes', 1000, 2_000_000, 1_000_000);
  const pid = intFlag(flags['target-pid'], 'target-pid', 1, 1 << 30, 0);
  const sinks = intFlag(flags.sinks, 'sinks', 1, MAX_SINKS, 1);
  const layout: Layout = { ...BENCH_LAYOUT, target: { address: target.address, port: target.port, asn: targetAs } };

  const set = await loadTables({ peers, prefixes, mrt: flags.mrt as string | undefined, firstAs: 65010, targetAs });
  process.stderr.write(`tables: ${set.description}; the sink must hold ${set.expected.toLocaleString('en-US')} prefixes\n`);
  const receivers = Array.from({ length: sinks }, (_, i) => sinkAt(layout, i));
  process.stderr.write(`the target needs these eBGP neighbors (they connect to it): ${[...receivers, ...set.tables.map((_, i) => layout.sender(i))].map((p) => `${p.address} AS${p.asn}`).join(', ')}\n`);

  const r = await runConvergence({
    target: new ExternalTarget(`${target.address}:${target.port}`, pid),
    layout,
    tables: set.tables,
    expected: set.expected,
    sinks,
    onProgress: (held, ms) => process.stderr.write(`\r${held.toLocaleString('en-US')} prefixes at the sink, ${(ms / 1000).toFixed(1)} s`),
  });
  process.stderr.write('\n');
  const lines = [
    `| target | tables | converged in | paths/s | settled | prefixes at sink | lost / unexpected | peak RSS | CPU s | verdict |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
    `| ${r.target} | ${set.description} | ${r.seconds === null ? '-' : `${r.seconds.toFixed(2)} s`} | ${r.pathsPerSecond?.toLocaleString('en-US') ?? '-'} | ${r.settledSeconds.toFixed(2)} s | ${r.prefixesAtSink.toLocaleString('en-US')} of ${set.expected.toLocaleString('en-US')} | ${r.lost} / ${r.unexpected} | ${pid ? `${r.peakRssMB} MB` : '-'} | ${pid ? r.cpuSeconds : '-'} | ${r.verdict} |`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (flags.json) writeFileSync(flags.json as string, JSON.stringify(r, null, 2));
  if (flags.chart) writeFileSync(flags.chart as string, convergenceSvg([{ name: r.target, points: r.curve }], `Prefixes at the sink: ${set.description}`));
  return r.verdict === 'converged' ? 0 : 1;
}
