// `ribstorm plan`: how much RAM and time a number of full feeds takes, projected from
// measurements at small sizes on this machine.

import { ConfigError } from '../config/schema.js';
import { plan, probe } from '../harness/bench/plan.js';
import { intFlag, parseFlags } from './flags.js';

export const PLAN_USAGE = `usage: ribstorm plan [--peers N] [--table full|N] [--workers N]
  Measures the RIB at 1-2 peers x 100k-400k prefixes (each in a fresh process), fits memory per
  prefix and per path and the ingest rate, and projects RAM and ingest time for N full feeds.
  --table full is today's IPv4 table (1,040,000 prefixes); or give a prefix count.`;

const FULL_TABLE = 1_040_000;
const mb = (b: number) => `${Math.round(b / 1e6).toLocaleString('en-US')} MB`;

export async function planCommand(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, { peers: { value: true }, table: { value: true }, workers: { value: true }, probe: { value: true } });
  if (rest.length) throw ConfigError.unknown(rest[0]);
  const workers = flags.workers === undefined ? undefined : intFlag(flags.workers, 'workers', 1, 64, 1);
  if (flags.probe !== undefined) {
    // Internal: one measurement point, in its own process, printed as JSON.
    const [p, n] = String(flags.probe).split('x').map(Number);
    process.stdout.write(JSON.stringify(await probe(p, n, workers ?? 1)));
    return 0;
  }
  const peers = intFlag(flags.peers, 'peers', 1, 1000, 40);
  const table = flags.table ?? 'full';
  const prefixes = table === 'full' ? FULL_TABLE : Number(table);
  if (!Number.isInteger(prefixes) || prefixes < 1000) throw new ConfigError('--table', 'full or a prefix count of at least 1000', table);

  const p = await plan(peers, prefixes, workers, (r) =>
    process.stderr.write(`probe ${r.peers} x ${r.prefixes.toLocaleString('en-US')}: ${mb(r.rssBytes)} for ${r.paths.toLocaleString('en-US')} paths, ingest ${r.seconds.toFixed(2)} s\n`),
  );
  const t = p.target;
  process.stdout.write(
    [
      `model: ${mb(p.fixedBytes)} fixed + ${p.bytesPerPrefix.toFixed(0)} bytes per prefix + ${p.bytesPerPath.toFixed(0)} bytes per path (largest error on the probes ${(p.memoryFitError * 100).toFixed(1)}%)`,
      `ingest: ${Math.round(p.pathsPerSecond).toLocaleString('en-US')} paths/s with ${p.workers} worker(s) on ${p.cores} core(s)`,
      `${peers} peers x ${prefixes.toLocaleString('en-US')} prefixes = ${t.paths.toLocaleString('en-US')} paths: about ${mb(t.ramBytes)} of RIB, plus the process itself (${mb(p.processBytes)} here) and what is queued for peers; ${t.ingestSeconds.toFixed(1)} s to take them all in at that rate`,
      `size the RIB for it: [rib] prefixes = ${Math.ceil(prefixes * 1.2)}, paths = ${Math.ceil(t.paths * 1.1)}, attribute-sets = ${Math.ceil(t.paths / 3)}`,
    ].join('\n') + '\n',
  );
  return 0;
}
