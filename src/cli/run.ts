// `ribstorm run`: the foreground daemon.

import { loadConfigFile, ConfigError, type Config } from '../config/schema.js';
import { configFromFlags } from '../config/flags.js';
import { log } from '../log.js';
import { Speaker } from '../speaker/speaker.js';
import { parseFlags } from './flags.js';

export const RUN_USAGE = `usage: ribstorm run --config FILE
       ribstorm run --as ASN --router-id ID [--listen ADDR[:PORT]]... --peer ADDR:AS[,field=value...]...
options: --workers N               RIB worker threads (default: one per core)
         --shutdown-message TEXT   sent to every peer on SIGINT/SIGTERM (RFC 9003)
         --trace                   log every message received`;

export async function run(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    config: { value: true },
    as: { value: true },
    'router-id': { value: true },
    listen: { value: true, repeat: true },
    peer: { value: true, repeat: true },
    workers: { value: true },
    'shutdown-message': { value: true },
    trace: { value: false },
  });
  if (rest.length) throw new ConfigError(rest[0], 'a flag (see ribstorm run --help)');
  let config: Config;
  if (flags.config !== undefined) {
    const clash = ['as', 'router-id', 'listen', 'peer', 'workers'].find((k) => flags[k] !== undefined);
    if (clash) throw new ConfigError(`--${clash}`, 'nothing beside --config (put it in the file)');
    config = loadConfigFile(flags.config as string);
  } else {
    config = configFromFlags(flags as Record<string, never>);
  }
  const speaker = new Speaker(config);
  for (const n of speaker.neighbors.values()) n.traceMessages = flags.trace === true;
  try {
    await speaker.start();
  } catch (e) {
    process.stderr.write(`ribstorm: ${(e as Error).message}\n`);
    return 1;
  }
  log(`ribstorm AS${config.global.asn} router-id ${config.global.routerId}, ${config.neighbors.length} neighbor(s)`);
  const text = (flags['shutdown-message'] as string | undefined) ?? 'ribstorm shutting down';
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        resolve(130);
        return;
      }
      stopping = true;
      log(`${sig}: sending Cease / Administrative Shutdown to every peer`);
      speaker.shutdown(text).then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
