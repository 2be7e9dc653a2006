// `ribstorm soak`: ribstorm under churn for a long while (harness/soak/), its memory, handles
// and timers sampled, and its Loc-RIB and a receiver's table compared with the reference RIB
// at the end. `npm run soak` runs the ten-minute version.

import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/schema.js';
import { loadTrace } from '../harness/loadgen/replay.js';
import { runSoak, type SoakReport } from '../harness/soak/soak.js';
import { intFlag, parseFlags } from './flags.js';

export const SOAK_USAGE = `usage: ribstorm soak [--minutes N | --seconds N] [--peers N] [--prefixes N] [--flap-every S]
                    [--trace BGP4MP-FILE | --no-trace] [--speed X] [--workers N] [--json FILE]
  ribstorm as a child process with N sending peers (default 4) of a full synthetic table each
  (default 1,000,000 IPv4 prefixes) and one receiving peer, for --minutes (default 10). The
  first sender replays a real update trace in a loop at X times its pace (default: RIS rrc06
  from the shared data beside the repository, 10x); the others take turns flapping their session
  every S seconds (default 30): Cease, reconnect, the whole table again. Every few seconds: RSS,
  handles, timers, prefixes at the receiver. At the end: RSS within 10% of its value after the
  first round of flaps, no more handles or timers, the Loc-RIB equal to the reference RIB fed
  what each sender's session announced, and the receiver holding every Loc-RIB prefix through
  its best path's neighbor. Exit status 1 when a check fails.`;

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEFAULT_TRACE = 'data/mrt/updates/ris.rrc06.updates.1401488100.gz';

/** The RIS trace in the shared data folder ($RIBSTORM_SHARED, or `shared` beside the repository). */
function defaultTrace(): string | undefined {
  const dirs = [process.env.RIBSTORM_SHARED, path.join(REPO, '../shared'), path.join(REPO, '../../shared')];
  return dirs.map((d) => d && path.join(d, DEFAULT_TRACE)).find((f) => f && existsSync(f));
}

export async function soak(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    minutes: { value: true },
    seconds: { value: true },
    peers: { value: true },
    prefixes: { value: true },
    'flap-every': { value: true },
    trace: { value: true },
    'no-trace': { value: false },
    speed: { value: true },
    workers: { value: true },
    json: { value: true },
  });
  if (rest.length) throw ConfigError.unknown(rest[0]);
  if (flags.minutes !== undefined && flags.seconds !== undefined) throw new ConfigError('--seconds', 'one of --minutes and --seconds', flags.seconds);
  const seconds = flags.seconds !== undefined ? intFlag(flags.seconds, 'seconds', 10, 7 * 86400, 600) : intFlag(flags.minutes, 'minutes', 1, 7 * 1440, 10) * 60;
  const peers = intFlag(flags.peers, 'peers', 2, 100, 4);
  const prefixes = intFlag(flags.prefixes, 'prefixes', 1000, 2_000_000, 1_000_000);
  const flapEvery = intFlag(flags['flap-every'], 'flap-every', 2, 3600, 30);
  const speed = flags.speed === undefined ? 10 : Number(flags.speed);
  if (!(speed > 0 && speed <= 10000)) throw new ConfigError('--speed', 'a factor above 0, at most 10000', flags.speed);
  const workers = flags.workers === undefined ? undefined : intFlag(flags.workers, 'workers', 1, 64, 1);
  const traceFile = flags['no-trace'] ? undefined : ((flags.trace as string | undefined) ?? defaultTrace());
  if (flags.trace !== undefined && !existsSync(flags.trace as string)) throw new ConfigError('--trace', 'an MRT update file', flags.trace);
  const trace = traceFile ? await loadTrace(traceFile, 65010) : undefined;
  const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
  log(`${seconds} s, ${peers} peers x ${prefixes.toLocaleString('en-US')} prefixes, a flap every ${flapEvery} s, ${trace ? `${trace.messages.length.toLocaleString('en-US')} trace UPDATEs of ${trace.peer} replayed at ${speed}x` : 'no trace (none found: --trace FILE)'}`);
  const report = await runSoak({ seconds, peers, prefixes, flapEvery, trace, speed, workers, onProgress: log });
  process.stdout.write(summary(report));
  if (flags.json) writeFileSync(flags.json as string, JSON.stringify(report, null, 2));
  return report.ok ? 0 : 1;
}

function summary(r: SoakReport): string {
  return [
    `| soak | ${r.seconds} s, ${r.peers} peers x ${r.prefixes.toLocaleString('en-US')} prefixes |`,
    '|---|---|',
    `| UPDATEs sent | ${r.updatesSent.toLocaleString('en-US')} (${r.traceUpdates.toLocaleString('en-US')} from the trace), ${r.flaps} session flaps |`,
    `| first convergence | ${r.firstConvergenceSeconds.toFixed(1)} s |`,
    `| RSS | ${r.warm.rssMB} MB after warm-up (${r.warm.t.toFixed(0)} s), at most ${r.maxRssAfterWarmMB} MB after, ${r.end.rssMB} MB at the end |`,
    `| handles / timers | ${r.warm.handles} / ${r.warm.timers} after warm-up, ${r.end.handles} / ${r.end.timers} at the end |`,
    ...r.checks.map((c) => `| ${c.ok ? 'ok' : 'FAILED'}: ${c.name} | ${c.detail} |`),
    '',
  ].join('\n');
}
