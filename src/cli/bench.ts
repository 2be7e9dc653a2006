// `ribstorm bench`: full-table convergence through ribstorm (and BIRD, GoBGP, FRR, OpenBGPD when
// asked for and installed), side by side in one run, on loopback. With no flags: ribstorm and
// BIRD, 2 synthetic full feeds in, 1 receiver out.

import { existsSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/schema.js';
import { runConvergence, type ConvergenceOptions, type ConvergenceResult } from '../harness/bench/convergence.js';
import { loadTrace } from '../harness/loadgen/replay.js';
import { COLLECTOR_TARGET, DATA_OUT, isCollectorTarget, TARGET_KINDS, TARGET_PACKAGES, targetAvailable, type DataOut, type TargetKind } from '../harness/bench/targets/index.js';
import { BENCH_LAYOUT, MAX_SENDERS, MAX_SINKS } from '../harness/bench/convergence.js';
import { convergenceSvg } from '../harness/bench/chart.js';
import { loadTables } from '../harness/bench/tables.js';
import { measureLoadGenerator } from '../harness/loadgen/direct.js';
import { intFlag, parseFlags } from './flags.js';
import { CLIENT_NICE, type ApiClients } from '../harness/bench/apiLoad.js';
import type { LatencyReport } from '../harness/bench/latency.js';
import { PerformanceReport, reportTable } from '../harness/bench/report.js';
import type { ParsedFlags } from './flags.js';
import { median } from '../harness/bench/stats.js';

const DATA_OUT_NAMES: Record<DataOut, string> = { mrt: 'MRT update logs' };

/** How long the latency run sends at its rate, each way. */
const LATENCY_SECONDS = 5;

const isLatency = (c: ConvergenceOptions['churn']): boolean => typeof c === 'object' && 'latency' in c;

function latencyText(l: LatencyReport): string {
  const one = (f: LatencyReport['announce']) => `p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms${f.seen < f.sent ? ` (${f.sent - f.seen} of ${f.sent} NOT SEEN)` : ''}`;
  const change = l.better && l.worse ? `; best-path change: ${one(l.better)} / ${one(l.worse)}` : '';
  return `${l.rate.toLocaleString('en-US')} UPDATEs/s: ${one(l.announce)} / ${one(l.withdraw)}${change}`;
}

/** The real RIB dump the report's one-feed run takes its largest IPv4 view from. */
const DEFAULT_REAL_TABLE = '../shared/data/mrt/rib/routeviews.route-views.jinx.ribs.1401487200.bz2';

export const BENCH_USAGE = `usage: ribstorm bench [--peers N[,N...]] [--sinks N] [--prefixes N] [--mrt FILE] [--targets LIST] [--workers N]
                     [--churn withdraw-all|flap|latency [--rate N] | --replay BGP4MP-FILE [--speed X]] [--api-clients both|queries|stream [--client-nice N]] [--data-out mrt] [--rounds N] [--json FILE] [--chart FILE.svg]
       ribstorm bench --report [--rounds N] [--mrt FILE] [--workers N] [--json FILE]
  Full-table convergence on loopback: N sending peers (synthetic tables calibrated to the real
  one, paths differing per peer; or with --mrt the largest views of a real RIB dump) into the
  target, one receiving peer out. Defaults: 2 peers, 1,000,000 IPv4 prefixes each, targets
  ribstorm and BIRD (when installed). LIST: any of ${TARGET_KINDS.join(', ')}, comma-separated
  (each but ribstorm from its Debian package). ${COLLECTOR_TARGET} is ribstorm in collector mode
  ([rib] mode = "collector": every peer's Adj-RIB-In, no best path, nothing advertised): it has
  no receiving peer and is timed until its API shows every path held. The load generator's own rate (senders straight
  into a sink) is measured first and reported beside the targets. After convergence, --churn
  withdraw-all withdraws every table, --churn flap withdraws and announces it again (a flap
  storm of the whole table), --churn latency announces new prefixes one an UPDATE at N a second
  (default 10,000) for 5 s and then withdraws them, then (two peers or more) has the second
  peer make loaded prefixes' best path its own and then give it up, and reports the time from
  each UPDATE in to its change at the receiver (p50, p99, max); --replay plays a real update trace's busiest peer from the first
  sender at X times its pace. --api-clients runs ribstorm a second time with its management
  API on and clients beside the run: one asking /neighbors and /rib in a loop (queries), one
  taking the whole /stream (stream), or both; it reports what they got. The clients run in a
  process (a session) of their own at nice --client-nice until the run converges (default 19,
  the lowest priority: clients on another host take none of the target's CPU; 0: a process's
  share like any other), then at 0 to catch up with the stream. --data-out mrt runs ribstorm a second time
  writing MRT update logs of every UPDATE it receives, and reports the files. With either,
  --rounds N (default 1) runs the pair N times, alternating, and adds the median ratio.
  --peers 1,2 runs each count and prints one table. Up to
  ${MAX_SENDERS} peers and ${MAX_SINKS} sinks; ribstorm runs with no RIB sizing but for prefix
  counts beyond its default.
  --report measures every performance goal against BIRD in one run (about 15 minutes): 1, 2, 4
  and 8 x 1M (--rounds, default 3, alternating, medians), collector mode at 8 x 1M, the real
  table of --mrt (default ${DEFAULT_REAL_TABLE}) as one feed, 16 x 1M once,
  churn latency once, and \`ribstorm plan\`'s model over the 1-8 feed runs; one table, each goal
  met or missed by how much.`;

/**
 * --rounds: ribstorm alone and then watched (or writing out), each pair's ratio, and the median
 * of the times and of the ratios, as a table row.
 */
function pairedMedian(round: ConvergenceResult[]): string {
  const alone = round.filter((r) => r.target === 'ribstorm');
  const other = round.filter((r) => r.target.startsWith('ribstorm + '));
  const ratios = other.map((r, i) => (r.seconds !== null && alone[i]?.seconds ? r.seconds / alone[i].seconds! : NaN));
  const secs = (rs: ConvergenceResult[]) => median(rs.map((r) => r.seconds ?? Infinity)).toFixed(2);
  return `| median of ${other.length} rounds | ${other[0]?.target ?? ''} against ribstorm alone | ${secs(other)} s vs ${secs(alone)} s | | | | | | ${median(ratios).toFixed(2)} | each round: ${ratios.map((x) => x.toFixed(2)).join(', ')} |`;
}

async function performanceReport(flags: ParsedFlags): Promise<number> {
  const allowed = new Set(['report', 'rounds', 'mrt', 'workers', 'json']);
  for (const k of Object.keys(flags)) if (!allowed.has(k)) throw new ConfigError(`--${k}`, 'not with --report');
  const rounds = intFlag(flags.rounds as string | undefined, 'rounds', 1, 9, 3);
  const mrt = (flags.mrt as string | undefined) ?? DEFAULT_REAL_TABLE;
  if (!existsSync(mrt)) throw new ConfigError('--mrt', 'a readable MRT RIB dump (the real table)', mrt);
  const bird = targetAvailable('bird');
  if (!bird) process.stderr.write(`bird: not installed, BIRD's columns stay empty (apt-get install ${TARGET_PACKAGES.bird})\n`);
  const collector: TargetKind = COLLECTOR_TARGET;
  const report = new PerformanceReport({
    rounds,
    mrt,
    bird,
    collector,
    workers: flags.workers === undefined ? undefined : intFlag(flags.workers as string, 'workers', 1, 64, 1),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  const rows = await report.measure();
  process.stdout.write(reportTable(rows) + '\n');
  if (flags.json) writeFileSync(flags.json as string, JSON.stringify(rows, null, 2));
  return 0;
}

function bar(held: number, total: number, ms: number, what: string): string {
  const width = 30;
  const filled = Math.min(width, Math.round((held / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${held.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${what}, ${(ms / 1000).toFixed(1)} s`;
}

export async function bench(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    peers: { value: true },
    prefixes: { value: true },
    targets: { value: true },
    workers: { value: true },
    json: { value: true },
    chart: { value: true },
    mrt: { value: true },
    churn: { value: true },
    replay: { value: true },
    speed: { value: true },
    sinks: { value: true },
    'api-clients': { value: true },
    'client-nice': { value: true },
    'data-out': { value: true },
    rate: { value: true },
    report: { value: false },
    rounds: { value: true },
  });
  if (rest.length) throw ConfigError.unknown(rest[0]);
  if (flags.report) return performanceReport(flags);
  if (flags.rounds !== undefined && !flags['api-clients'] && !flags['data-out']) throw new ConfigError('--rounds', 'only with --report, --api-clients or --data-out', flags.rounds);
  const rounds = intFlag(flags.rounds as string | undefined, 'rounds', 1, 9, 1);
  if (flags['client-nice'] !== undefined && !flags['api-clients']) throw new ConfigError('--client-nice', 'only with --api-clients', flags['client-nice']);
  const clientNice = intFlag(flags['client-nice'] as string | undefined, 'client-nice', 0, 19, CLIENT_NICE);
  // One or more peer counts ("1,2"): each a round of every target, all in one table.
  const peerCounts = String(flags.peers ?? '2').split(',').map((p) => intFlag(p, 'peers', 1, MAX_SENDERS, 2));
  const sinks = intFlag(flags.sinks as string | undefined, 'sinks', 1, MAX_SINKS, 1);
  const prefixes = intFlag(flags.prefixes as string | undefined, 'prefixes', 1000, 2_000_000, 1_000_000);
  if (flags.churn !== undefined && !['withdraw-all', 'flap', 'latency'].includes(flags.churn as string)) throw new ConfigError('--churn', 'withdraw-all, flap or latency', flags.churn);
  const rate = intFlag(flags.rate as string | undefined, 'rate', 100, 100_000, 10_000);
  if (flags.rate !== undefined && flags.churn !== 'latency') throw new ConfigError('--rate', 'only with --churn latency', flags.rate);
  if (flags.churn && flags.replay) throw new ConfigError('--replay', 'no --churn beside it (one churn phase a run)');
  const speed = flags.speed === undefined ? 1 : Number(flags.speed);
  if (!(speed > 0 && speed <= 10000)) throw new ConfigError('--speed', 'a factor above 0, at most 10000', flags.speed);
  let churn: ConvergenceOptions['churn'] = flags.churn === 'latency' ? { latency: { rate, count: rate * LATENCY_SECONDS } } : (flags.churn as 'withdraw-all' | 'flap' | undefined);
  if (flags.replay) {
    const trace = await loadTrace(flags.replay as string, 65010);
    process.stderr.write(`replay: ${trace.messages.length.toLocaleString('en-US')} UPDATEs of ${trace.peer} over ${(trace.offsets.at(-1) ?? 0).toFixed(0)} s, at ${speed}x (${trace.skipped} skipped)\n`);
    churn = { trace, speed };
  }
  const apiClients = flags['api-clients'] as ApiClients | undefined;
  if (apiClients !== undefined && !['both', 'queries', 'stream'].includes(apiClients)) throw new ConfigError('--api-clients', 'both, queries or stream', apiClients);
  const dataOut = flags['data-out'] as DataOut | undefined;
  if (dataOut !== undefined && !(DATA_OUT as readonly string[]).includes(dataOut)) throw new ConfigError('--data-out', DATA_OUT.join(' or '), dataOut);
  if (dataOut && apiClients) throw new ConfigError('--data-out', 'one of --data-out and --api-clients at a time', dataOut);
  const workers = flags.workers === undefined ? undefined : intFlag(flags.workers as string, 'workers', 1, 64, 1);
  const requested = ((flags.targets as string | undefined) ?? 'ribstorm,bird').split(',');
  for (const t of requested) {
    if (!(TARGET_KINDS as readonly string[]).includes(t)) throw new ConfigError('--targets', `a list of ${TARGET_KINDS.join(', ')}`, t);
  }
  if ((flags.churn || flags.replay) && requested.some(isCollectorTarget)) {
    throw new ConfigError('--targets', `no ${COLLECTOR_TARGET} with --churn or --replay (it advertises nothing to time a change by)`, flags.targets);
  }
  const targets = (requested as TargetKind[]).filter((t) => {
    const ok = targetAvailable(t);
    if (!ok) process.stderr.write(`${t}: not installed, skipped (apt-get install ${TARGET_PACKAGES[t]})\n`);
    return ok;
  });

  const header = `| target | peers x prefixes | converged in | paths/s | settled | lost / unexpected | peak RSS | CPU s | ratio to fastest | verdict |${churn === 'withdraw-all' ? ' all withdrawn in |' : churn === 'flap' ? ' flap: re-converged in |' : isLatency(churn) ? ' UPDATE in to change out: announce / withdraw; best-path change: better / worse |' : churn ? ' trace replay |' : ''}`;
  const lines = [header, header.replace(/[^|]+/g, '---')];
  const results: ConvergenceResult[] = [];
  const report: Array<{ tables: string; loadGenerator: unknown; results: ConvergenceResult[] }> = [];
  const series: Array<{ name: string; points: Array<[number, number]> }> = [];
  for (const peerCount of peerCounts) {
    const t0 = performance.now();
    const set = await loadTables({ peers: peerCount, prefixes, mrt: flags.mrt as string | undefined, firstAs: 65010, targetAs: BENCH_LAYOUT.target.asn });
    const { tables, expected } = set;
    process.stderr.write(`tables: ${set.description}, ${tables[0].messageCount.toLocaleString('en-US')} UPDATEs in the first, ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    // The ceiling of every figure below: the load generator with nothing in between.
    const direct = await measureLoadGenerator(tables);
    const round: ConvergenceResult[] = [];
    // With --api-clients or --data-out, ribstorm runs twice, right after each other: alone, then
    // watched or writing out (--rounds times).
    const runs = targets.flatMap((t): Array<{ target: TargetKind; api?: ApiClients; out?: DataOut }> =>
      t === 'ribstorm' && (apiClients || dataOut) ? Array.from({ length: rounds }, () => [{ target: t }, { target: t, api: apiClients, out: dataOut }]).flat() : [{ target: t }],
    );
    for (const { target, api, out } of runs) {
      const tty = process.stderr.isTTY;
      let lastPrint = 0;
      const r = await runConvergence({
        target,
        tables,
        expected,
        workers: target === 'ribstorm' || isCollectorTarget(target) ? workers : undefined,
        churn,
        sinks,
        apiClients: api,
        clientNice,
        dataOut: out,
        onProgress: (held, ms, of) => {
          const what = isCollectorTarget(target) ? 'paths held' : 'prefixes at the sink';
          if (tty) process.stderr.write(`\r${target.padEnd(9)} ${bar(held, of, ms, what)}`);
          else if (ms - lastPrint > 2000) {
            lastPrint = ms;
            process.stderr.write(`${target}: ${held} ${what} after ${(ms / 1000).toFixed(1)} s\n`);
          }
        },
      });
      if (tty) process.stderr.write('\n');
      if (api) r.target = `ribstorm + API ${api === 'both' ? 'queries and stream' : api}`;
      if (out) r.target = `ribstorm + ${DATA_OUT_NAMES[out]}`;
      round.push(r);
      series.push({ name: `${r.target}, ${r.peers} peer(s): ${r.seconds === null ? r.verdict : `${r.seconds.toFixed(2)} s`}`, points: r.curve });
    }
    const fastest = Math.min(...round.filter((r) => r.seconds !== null).map((r) => r.seconds!));
    for (const r of round) {
      lines.push(
        `| ${r.target} | ${r.peers} x ${r.prefixes.toLocaleString('en-US')}${r.sinks > 1 ? ` -> ${r.sinks} sinks` : ''} | ${r.seconds === null ? '-' : `${r.seconds.toFixed(2)} s`} | ${r.pathsPerSecond?.toLocaleString('en-US') ?? '-'} | ${r.settledSeconds.toFixed(2)} s | ${r.lost} / ${r.unexpected} | ${r.peakRssMB} MB | ${r.cpuSeconds} | ${r.seconds === null ? '-' : (r.seconds / fastest).toFixed(2)} | ${r.verdict}${r.verdict === 'converged' ? '' : r.held ? ` (${r.held.paths} of ${r.held.of} paths held)` : ` (${r.prefixesAtSink} of ${r.prefixes} at the sink)`} |` +
          (churn === 'withdraw-all' ? ` ${r.withdrawnSeconds == null ? 'not emptied' : `${r.withdrawnSeconds.toFixed(2)} s`} |` : '') +
          (churn === 'flap' ? ` ${r.reconvergedSeconds == null ? 'not re-converged' : `${r.reconvergedSeconds.toFixed(2)} s`} |` : '') +
          (r.replay ? ` ${r.replay.messages} UPDATEs in ${r.replay.seconds.toFixed(1)} s, ${r.replay.sinkUpdates} at the sink, settled ${r.replay.settleSeconds.toFixed(2)} s after |` : '') +
          (r.latency ? ` ${latencyText(r.latency)} |` : isLatency(churn) ? ' - |' : ''),
      );
    }
    for (const r of round) {
      if (!r.api) continue;
      const a = r.api;
      const announced = peerCount * prefixes;
      lines.push(
        `| API clients | ${a.queries.toLocaleString('en-US')} GETs (/neighbors, /rib), ${a.queriesPerSecond.toLocaleString('en-US')} a second until convergence, slowest ${a.slowestQueryMs} ms, ${a.queryErrors} failed | | | | | | | | ${r.target.endsWith('API queries') ? '' : `stream: ${a.streamUpdates.toLocaleString('en-US')} UPDATEs, ${a.streamPrefixes.toLocaleString('en-US')} of ${announced.toLocaleString('en-US')} announced prefixes${a.streamError ? `; cut off: ${a.streamError}` : a.streamPrefixes >= announced ? ', none missed' : ', SOME MISSED'}, the last ${(a.streamTrailMs / 1000).toFixed(2)} s after convergence${a.streamDelay ? `; in the latency phase, ${a.streamDelay.updates.toLocaleString('en-US')} UPDATEs from ribstorm's timestamp to the client: p50 ${a.streamDelay.p50} ms, p99 ${a.streamDelay.p99} ms, max ${a.streamDelay.max} ms` : ''}`} |`,
      );
    }
    for (const r of round) {
      if (!r.dataOut) continue;
      const d = r.dataOut;
      const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      lines.push(`| ${DATA_OUT_NAMES[d.kind]} | ${d.files} file(s), ${d.records.toLocaleString('en-US')} records | | | | | | | | ${mb(d.bytes)} written, ${mb(d.compressedBytes)} compressed, ${d.dropped ? `${d.dropped.toLocaleString('en-US')} DROPPED` : 'none dropped'} |`);
    }
    if (rounds > 1) lines.push(pairedMedian(round));
    const best = Math.max(0, ...round.map((r) => r.pathsPerSecond ?? 0));
    const enough = direct.prefixesPerSecond >= 3_000_000 && direct.prefixesPerSecond >= 5 * best;
    lines.push(
      `| load generator alone | ${peerCount} senders -> 1 sink | ${direct.seconds.toFixed(2)} s | ${direct.prefixesPerSecond.toLocaleString('en-US')} | | | | | | ${enough ? 'ok: at least 3M prefixes/s and 5x the fastest target' : 'NOT ENOUGH: under 3M prefixes/s or under 5x the fastest target; the targets may be measured low'} |`,
    );
    results.push(...round);
    report.push({ tables: set.description, loadGenerator: direct, results: round });
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (flags.json) writeFileSync(flags.json as string, JSON.stringify(report, null, 2));
  if (flags.chart) writeFileSync(flags.chart as string, convergenceSvg(series, `Prefixes at the sink, ${prefixes.toLocaleString('en-US')} per feed`));
  return results.every((r) => r.verdict === 'converged') ? 0 : 1;
}
