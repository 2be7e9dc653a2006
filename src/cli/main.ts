// Entry point: `ribstorm <command> [flags]`.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/schema.js';
import { bench, BENCH_USAGE } from './bench.js';
import { client, CLIENT_USAGE } from './client.js';
import { consume, CONSUME_USAGE } from './consume.js';
import { dump, DUMP_USAGE } from './dump.js';
import { loadtest, LOADTEST_USAGE } from './loadtest.js';
import { planCommand, PLAN_USAGE } from './plan.js';
import { run, RUN_USAGE } from './run.js';
import { soak, SOAK_USAGE } from './soak.js';

const USAGE = `ribstorm: a BGP-4 speaker built for full-table throughput

commands:
  run       run the speaker in the foreground (see ribstorm run --help)
  consume   rebuild the tables of ribstorm collectors from a NATS JetStream stream
  bench     full-table convergence through ribstorm (and BIRD), side by side
  loadtest  the load generator against a router you run
  plan      RAM and time for N full feeds, projected from measurements here
  soak      ribstorm under churn for ten minutes: memory, handles, and the RIB at the end
  neighbors, neighbor, rib, watch, announce, withdraw, reload
            ask (or change) a running speaker through its management API
  dump      the running speaker's RIB as an MRT table dump (TABLE_DUMP_V2)
  version   print the version

${RUN_USAGE}

${CONSUME_USAGE}

${BENCH_USAGE}

${LOADTEST_USAGE}

${PLAN_USAGE}

${SOAK_USAGE}

${CLIENT_USAGE}

${DUMP_USAGE}`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (rest.includes('--help') || rest.includes('-h')) {
      const usage: Record<string, string> = { run: RUN_USAGE, consume: CONSUME_USAGE, bench: BENCH_USAGE, loadtest: LOADTEST_USAGE, plan: PLAN_USAGE, soak: SOAK_USAGE, neighbors: CLIENT_USAGE, neighbor: CLIENT_USAGE, rib: CLIENT_USAGE, watch: CLIENT_USAGE, announce: CLIENT_USAGE, withdraw: CLIENT_USAGE, reload: CLIENT_USAGE, dump: DUMP_USAGE };
      process.stdout.write((usage[cmd] ?? USAGE) + '\n');
      return 0;
    }
    switch (cmd) {
      case 'run':
        return await run(rest);
      case 'consume':
        return await consume(rest);
      case 'bench':
        return await bench(rest);
      case 'loadtest':
        return await loadtest(rest);
      case 'plan':
        return await planCommand(rest);
      case 'soak':
        return await soak(rest);
      case 'neighbors':
      case 'neighbor':
      case 'rib':
      case 'watch':
      case 'announce':
      case 'withdraw':
      case 'reload':
        return await client(cmd, rest);
      case 'dump':
        return await dump(rest);
      case 'version': {
        const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
        process.stdout.write(`ribstorm ${pkg.version}\n`);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return cmd === undefined ? 2 : 0;
      default:
        throw ConfigError.unknown(`command ${JSON.stringify(cmd)}`, 'run, consume, bench, loadtest, plan, soak, neighbors, neighbor, rib, watch, announce, withdraw, reload, dump, version, help');
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`ribstorm: ${e.message}\n`);
      return 2;
    }
    // A run that could not be carried out (a target that never answered...): one line, exit 1.
    if (cmd && ['bench', 'loadtest', 'plan', 'neighbors', 'neighbor', 'rib', 'watch', 'announce', 'withdraw', 'reload', 'dump'].includes(cmd)) {
      process.stderr.write(`ribstorm ${cmd}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
