// `ribstorm consume`: a speaker whose RIB is filled from a NATS JetStream stream that ribstorm
// collectors publish to, one RIB peer per (collector, peer); the union in its own API.

import { ApiServer } from '../api/server.js';
import { checkNatsUrl, checkStreamName, DEFAULT_NATS_STREAM } from '../config/nats.js';
import { configFromFlags } from '../config/flags.js';
import { ConfigError, loadConfigFile, type Config } from '../config/schema.js';
import { log } from '../log.js';
import { NatsConsumer } from '../nats/consume.js';
import { consumerMetrics } from '../nats/metrics.js';
import { Speaker } from '../speaker/speaker.js';
import { parseFlags } from './flags.js';
import { apiSettings, startServing } from './run.js';

export const CONSUME_USAGE = `usage: ribstorm consume --nats URL [--stream NAME] [--from start|live] [--api ADDR:PORT]
       [--config FILE | --as ASN --router-id ID [--workers N]]
  rebuilds the tables of every collector publishing to the stream (ribstorm run with [nats])
  into this speaker's RIB: GET /rib shows each path's peer as "collector/address".
options: --stream NAME     the JetStream stream (default ${DEFAULT_NATS_STREAM})
         --from start|live read the stream from its start (default) or only what comes next
         --as, --router-id the RIB's own AS (loop detection) and id (default 65000, 127.0.0.1)
         --config FILE     a speaker config: its neighbors and API run as well`;

export async function consume(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    nats: { value: true },
    stream: { value: true },
    from: { value: true },
    api: { value: true },
    config: { value: true },
    as: { value: true },
    'router-id': { value: true },
    workers: { value: true },
  });
  if (rest.length) throw new ConfigError(rest[0], 'a flag (see ribstorm consume --help)');
  if (flags.nats === undefined) throw new ConfigError('--nats', 'the NATS server to read from, such as nats://127.0.0.1:4222');
  const url = checkNatsUrl(flags.nats, '--nats');
  const stream = flags.stream === undefined ? DEFAULT_NATS_STREAM : checkStreamName(flags.stream, '--stream');
  const from = flags.from ?? 'start';
  if (from !== 'start' && from !== 'live') throw new ConfigError('--from', 'start or live', from);
  let config: Config;
  if (flags.config !== undefined) {
    const clash = ['as', 'router-id', 'workers'].find((k) => flags[k] !== undefined);
    if (clash) throw new ConfigError(`--${clash}`, 'nothing beside --config (put it in the file)');
    config = loadConfigFile(flags.config as string);
  } else {
    config = configFromFlags({ as: (flags.as as string) ?? '65000', 'router-id': (flags['router-id'] as string) ?? '127.0.0.1', workers: flags.workers as string | undefined });
    config.global.listen = [];
  }
  const apiConfig = apiSettings(config, flags.api);
  const speaker = new Speaker(config);
  const api = apiConfig.listen ? new ApiServer(speaker, { token: apiConfig.token }) : null;
  const consumer = new NatsConsumer(speaker, { url, stream, from });
  if (api) consumerMetrics(api.metrics.registry, consumer);
  if (!(await startServing(speaker, api, apiConfig))) return 1;
  consumer.start();
  log(`ribstorm consume: stream ${stream} on ${url}, ${from === 'start' ? 'from its start' : 'live'}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) return resolve(130);
      stopping = true;
      Promise.all([consumer.close(), speaker.shutdown('ribstorm shutting down'), api?.close()]).then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
