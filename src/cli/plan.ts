// `ribstorm plan`: how much memory and time a number of full feeds takes, projected from
// full-table runs measured on this machine.

import { ConfigError } from '../config/schema.js';
import { DEFAULT_SIZING } from '../rib/memory.js';
import { PLAN_FEEDS, plan, type PlanError } from '../harness/bench/plan.js';
import { intFlag, parseFlags } from './flags.js';

export const PLAN_USAGE = `usage: ribstorm plan [--peers N] [--table full|N] [--feeds N,N,...] [--rounds N] [--workers N]
  Runs ribstorm as \`ribstorm bench\` does (synthetic IPv4 tables of the real shape, one
  receiving peer) at ${PLAN_FEEDS.join(', ')} feeds (--feeds) of the table size, --rounds times each
  (default 3, medians), fits convergence time (fixed + per path + per path and peer) and peak
  RSS (fixed + per path), states the model's error at each run and each run's error predicted
  from the others, and projects both to N feeds (default 40). --table full is today's IPv4
  table (1,040,000 prefixes); or give a prefix count (at most 2,000,000). About two minutes
  at full size.`;

const FULL_TABLE = 1_040_000;
const mb = (b: number) => `${Math.round(b / 1e6).toLocaleString('en-US')} MB`;
const pct = (e: number) => `${e >= 0 ? '+' : ''}${(e * 100).toFixed(1)}%`;

export async function planCommand(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, { peers: { value: true }, table: { value: true }, workers: { value: true }, feeds: { value: true }, rounds: { value: true } });
  if (rest.length) throw ConfigError.unknown(rest[0]);
  const workers = flags.workers === undefined ? undefined : intFlag(flags.workers, 'workers', 1, 64, 1);
  const peers = intFlag(flags.peers, 'peers', 1, 1000, 40);
  const table = flags.table ?? 'full';
  const prefixes = table === 'full' ? FULL_TABLE : Number(table);
  if (!Number.isInteger(prefixes) || prefixes < 1000 || prefixes > 2_000_000) throw new ConfigError('--table', 'full or a prefix count from 1000 to 2000000', table);
  const feeds = flags.feeds === undefined ? PLAN_FEEDS : [...new Set(String(flags.feeds).split(',').map((f) => intFlag(f, 'feeds', 1, 64, 1)))];
  if (feeds.length < 2) throw new ConfigError('--feeds', 'two feed counts at least, e.g. 1,2,4,8', flags.feeds);
  const rounds = intFlag(flags.rounds, 'rounds', 1, 20, 3);

  const p = await plan({
    peers,
    prefixes,
    feeds,
    rounds,
    workers,
    onTables: (text) => process.stderr.write(`tables: ${text}\n`),
    onRun: (q) => process.stderr.write(`run ${q.peers} x ${q.prefixes.toLocaleString('en-US')}: converged in ${q.seconds.toFixed(2)} s, peak RSS ${mb(q.peakRssBytes)}\n`),
  });
  const t = p.target;
  const worst = (errors: PlanError[], k: 'time' | 'memory') => `${(Math.max(...errors.map((e) => Math.abs(e[k]))) * 100).toFixed(1)}%`;
  const each = (errors: PlanError[]) => `${errors.map((e) => `${e.peers} feed(s) time ${pct(e.time)}, memory ${pct(e.memory)}`).join('; ')} (largest: time ${worst(errors, 'time')}, memory ${worst(errors, 'memory')})`;
  process.stdout.write(
    [
      `time: ${p.time.fixedSeconds.toFixed(2)} s + ${(p.time.secondsPerPath * 1e6).toFixed(3)} s per 1M paths + ${(p.time.secondsPerPathPeer * 1e6).toFixed(3)} s per 1M paths per peer`,
      `memory: ${mb(p.memory.fixedBytes)} + ${p.memory.bytesPerPath.toFixed(0)} bytes per path (peak RSS)`,
      `the model at each run: ${each(p.residuals)}`,
      `each run predicted from the others: ${each(p.errors)}`,
      `${peers} peers x ${prefixes.toLocaleString('en-US')} prefixes = ${t.paths.toLocaleString('en-US')} paths: converged in about ${t.seconds.toFixed(1)} s, peak RSS about ${mb(t.peakRssBytes)}${t.extrapolated ? ` (beyond the runs measured: ${feeds[0]}-${feeds.at(-1)} feeds)` : ''}; ${p.workers ?? 'one'} worker(s)${p.workers ? '' : ' per core'} on ${p.cores} core(s); ${prefixes > DEFAULT_SIZING.prefixes ? `[rib] prefixes = ${Math.ceil(prefixes * 1.25)}` : 'no [rib] sizing needed'}`,
    ].join('\n') + '\n',
  );
  return 0;
}
