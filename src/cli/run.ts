// `ribstorm run`: the foreground daemon.

import { readFileSync } from 'node:fs';
import { ApiServer } from '../api/server.js';
import { BmpExporter } from '../bmp/exporter.js';
import { bmpStation } from '../config/bmp.js';
import { DEFAULT_API, DEFAULT_TABLE_DUMP_INTERVAL, DEFAULT_UPDATES_INTERVAL, loadConfigFile, ConfigError, parseApiListen, type ApiConfig, type Config } from '../config/schema.js';
import { configFromFlags } from '../config/flags.js';
import { checkRibMode } from '../config/ribMode.js';
import { log } from '../log.js';
import { checkWritableDir, PeriodicDumps } from '../mrt/files.js';
import { UpdateLog } from '../mrt/updateLog.js';
import { Reloader } from '../speaker/reload.js';
import { checkCollector, checkNatsUrl, checkStreamName, DEFAULT_NATS_STREAM, natsDefaults } from '../config/nats.js';
import { feedMetrics } from '../nats/metrics.js';
import { NatsFeed } from '../nats/feed.js';
import { Speaker } from '../speaker/speaker.js';
import { parseFlags } from './flags.js';

export const RUN_USAGE = `usage: ribstorm run --config FILE
       ribstorm run --as ASN --router-id ID [--listen ADDR[:PORT]]... --peer ADDR:AS[,field=value...]...
options: --workers N               RIB worker threads (default: one per core)
         --api ADDR:PORT|off       the management API (default 127.0.0.1:8179; [api] listen)
         --mrt-dir DIR             MRT table dumps every 8 h and update logs every 5 min into DIR ([mrt])
         --bmp ADDR[:PORT]         export to a BMP station (RFC 7854; port 1790 by default; [[bmp]])
         --nats URL                publish to NATS JetStream ([nats] url; see also [nats] in the config)
         --nats-collector NAME     this collector's name in subjects (default: the router id)
         --nats-stream NAME        the JetStream stream (default ${DEFAULT_NATS_STREAM})
         --shutdown-message TEXT   sent to every peer on SIGINT/SIGTERM (RFC 9003)
         --trace                   log every message received
SIGHUP (or ribstorm reload) reads the --config FILE again and applies what changed.`;

export async function run(argv: string[]): Promise<number> {
  const { flags, rest } = parseFlags(argv, {
    config: { value: true },
    as: { value: true },
    'router-id': { value: true },
    listen: { value: true, repeat: true },
    peer: { value: true, repeat: true },
    workers: { value: true },
    'shutdown-message': { value: true },
    api: { value: true },
    'mrt-dir': { value: true },
    bmp: { value: true, repeat: true },
    trace: { value: false },
    collector: { value: false },
    nats: { value: true },
    'nats-collector': { value: true },
    'nats-stream': { value: true },
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
  if (flags.collector === true) {
    config.rib.mode = 'collector';
    checkRibMode(config);
  }
  const apiConfig = apiSettings(config, flags.api);
  if (flags['mrt-dir'] !== undefined) {
    const dir = flags['mrt-dir'] as string;
    config.mrt = { tableDumpInterval: DEFAULT_TABLE_DUMP_INTERVAL, updatesInterval: DEFAULT_UPDATES_INTERVAL, compression: 'gzip', ...config.mrt, dir };
  }
  if (config.mrt) checkWritableDir(config.mrt.dir, flags['mrt-dir'] !== undefined ? '--mrt-dir' : 'mrt.dir');
  const bmpConfig = [...(config.bmp ?? []), ...((flags.bmp as string[] | undefined) ?? []).map((b, i) => bmpStation(b, `--bmp[${i}]`))];
  natsFlags(config, flags);
  const speaker = new Speaker(config);
  for (const n of speaker.neighbors.values()) n.traceMessages = flags.trace === true;
  const bmp = bmpConfig.length && speaker.rib ? new BmpExporter(speaker, bmpConfig, packageVersion()) : null;
  // --mrt-dir stands over the file on a reload as it did at start.
  const reloader = new Reloader(speaker, (flags.config as string | undefined) ?? null, (file) => {
    const next = loadConfigFile(file);
    if (flags.collector === true) {
      next.rib.mode = 'collector';
      checkRibMode(next);
    }
    return flags['mrt-dir'] === undefined ? next : { ...next, mrt: { ...config.mrt!, ...next.mrt, dir: flags['mrt-dir'] as string } };
  });
  // Before the neighbors start: the management plane sees every transition.
  const api = apiConfig.listen ? new ApiServer(speaker, { token: apiConfig.token, bmp: bmp ? () => bmp.status() : undefined, reload: () => reloader.reload() }) : null;
  // Also before: the update log holds every session's first state change.
  const mrt = config.mrt;
  const updateLog = mrt?.updatesInterval ? new UpdateLog(speaker, { dir: mrt.dir, interval: mrt.updatesInterval, compression: mrt.compression }) : null;
  if (mrt && updateLog) {
    updateLog.start();
    log(`MRT update logs of ${mrt.updatesInterval}s each into ${mrt.dir}`);
  }
  speaker.on('neighborAdded', (n) => {
    n.traceMessages = flags.trace === true;
    updateLog?.watch(n);
  });
  // The feed connects in the background: a NATS server that is away never stops the speaker.
  const feed = config.nats && speaker.rib ? new NatsFeed(speaker, config.nats) : null;
  if (feed && api) feedMetrics(api.metrics.registry, feed.publisher);
  feed?.start();
  if (!(await startServing(speaker, api, apiConfig))) {
    await updateLog?.stop();
    return 1;
  }
  if (bmp) {
    bmp.start();
    log(`BMP: exporting to ${bmp.stations.map((s) => s.name.replace('BMP station ', '')).join(', ')}`);
  }
  const dumps = mrt?.tableDumpInterval && speaker.rib ? new PeriodicDumps(speaker, mrt) : null;
  if (mrt && dumps) {
    dumps.start();
    log(`MRT table dumps every ${mrt.tableDumpInterval}s into ${mrt.dir}`);
  }

  const text = (flags['shutdown-message'] as string | undefined) ?? 'ribstorm shutting down';
  if (feed && config.nats) log(`NATS feed as collector ${feed.collector} to ${config.nats.url}, stream ${config.nats.stream}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        resolve(130);
        return;
      }
      stopping = true;
      log(`${sig}: sending Cease / Administrative Shutdown to every peer`);
      // Peer Downs reach the BMP stations before their Termination.
      Promise.all([dumps?.stop(), speaker.shutdown(text).then(() => Promise.all([updateLog?.stop(), bmp?.stop(), feed?.close()])), api?.close()]).then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // The reload logs what it did, or why it refused, itself.
    process.on('SIGHUP', () => {
      if (stopping) return;
      log('SIGHUP: reloading the configuration');
      reloader.reload().catch((e) => log(`reload failed: ${(e as Error)?.stack ?? String(e)}`));
    });
    // Last, once every signal has its handler: the line that says the speaker is up.
    log(`ribstorm AS${config.global.asn} router-id ${config.global.routerId}, ${config.neighbors.length} neighbor(s)${config.rib.mode === 'collector' ? ', collector mode (Adj-RIB-In only, nothing advertised)' : ''}`);
  });
}

/** --nats, --nats-collector, --nats-stream: a [nats] table, or changes to the config file's. */
function natsFlags(config: Config, flags: Record<string, unknown>): void {
  const url = flags.nats as string | undefined;
  if (url === undefined && !config.nats) {
    const stray = ['nats-collector', 'nats-stream'].find((k) => flags[k] !== undefined);
    if (stray) throw new ConfigError(`--${stray}`, 'a NATS server as well (--nats URL or [nats] url)');
    return;
  }
  const n = (config.nats ??= natsDefaults(checkNatsUrl(url, '--nats')));
  if (url !== undefined) n.url = checkNatsUrl(url, '--nats');
  if (flags['nats-collector'] !== undefined) n.collector = checkCollector(flags['nats-collector'], '--nats-collector');
  if (flags['nats-stream'] !== undefined) n.stream = checkStreamName(flags['nats-stream'], '--nats-stream');
}

/** The API's settings: the file's `[api]` (or the default), `--api` over it, the token from RIBSTORM_API_TOKEN when the file has none. */
export function apiSettings(config: Config, flag: unknown): ApiConfig {
  const c: ApiConfig = { ...(config.api ?? DEFAULT_API) };
  if (flag !== undefined) Object.assign(c, { listen: parseApiListen(flag as string, '--api'), explicit: true });
  c.token ??= process.env.RIBSTORM_API_TOKEN || undefined;
  return c;
}

/** Starts the speaker, then the API; false (why on stderr, the speaker shut down) when either cannot. */
export async function startServing(speaker: Speaker, api: ApiServer | null, c: ApiConfig): Promise<boolean> {
  try {
    await speaker.start();
    if (api && c.listen) await listenApi(api, c);
    return true;
  } catch (e) {
    process.stderr.write(`ribstorm: ${(e as Error).message}\n`);
    await speaker.shutdown('ribstorm failed to start', 0);
    return false;
  }
}

/**
 * The management API where configured. On the default address a port in use only costs the
 * API (logged); an address the operator chose must work.
 */
async function listenApi(api: ApiServer, c: ApiConfig): Promise<void> {
  const { address, port } = c.listen!;
  try {
    const bound = await api.listen(address, port);
    log(`management API on http://${address.includes(':') ? `[${address}]` : address}:${bound} (${api.serverName})`);
  } catch (e) {
    if (c.explicit) throw new Error(`management API: cannot listen on ${address} port ${port}: ${(e as Error).message}`);
    log(`management API not started: cannot listen on ${address} port ${port} (in use?); set --api ADDR:PORT or [api] listen`);
  }
}

/** The version in package.json, for BMP's sysDescr ('' when it cannot be read). */
function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version?: string }).version ?? '';
    } catch {
      // not there: run from dist/ or src/
    }
  }
  return '';
}
