// ribstorm itself as a target: `ribstorm run` as a child process on the daemon drivers' process
// layer, from a config file that is passive towards every peer, with no RIB sizing but for
// prefix counts beyond the default.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SIZING } from '../../../rib/memory.js';
import { DaemonProcess } from '../../daemons/proc.js';
import type { TargetLoad, TargetOptions } from './types.js';

/**
 * The `[rib]` table for a run: nothing but the worker count, unless the run brings more prefixes
 * than the prefix tables are sized for by default (paths and attribute sets need no sizing).
 */
export function ribstormRib(load: TargetLoad | undefined, workers?: number): Record<string, number> {
  const d = DEFAULT_SIZING;
  const beyond = (n: number | undefined, dflt: number) => ((n ?? 0) > dflt ? Math.ceil(n! * 1.25) : undefined);
  const prefixes = beyond(load?.prefixes, d.prefixes);
  const prefixes6 = beyond(load?.prefixes6, d.prefixes6);
  return { ...(workers ? { workers } : {}), ...(prefixes ? { prefixes } : {}), ...(prefixes6 ? { prefixes6 } : {}) };
}

/**
 * ribstorm's config file for a run: passive towards every peer, prefix tables sized for the load, the API
 * off unless asked for; with dataOut `mrt`, update logs into `runDir`/mrt; with `collector`,
 * collector mode.
 */
export function ribstormConfig(o: TargetOptions, runDir = '.'): string {
  const rib = ribstormRib(o.load, o.workers);
  return [
    '[global]',
    `asn = ${o.asn}`,
    `router-id = "${o.routerId}"`,
    `listen-addresses = ["${o.address}"]`,
    `listen-port = ${o.port}`,
    '',
    '[api]',
    `listen = "${o.api ? `${o.api.address}:${o.api.port}` : 'off'}"`,
    '',
    ...(Object.keys(rib).length || o.collector ? ['[rib]'] : []),
    ...Object.entries(rib).map(([k, v]) => `${k} = ${v}`),
    ...(o.collector ? ['mode = "collector"'] : []),
    ...(o.dataOut === 'mrt' ? ['', '[mrt]', `dir = ${JSON.stringify(join(runDir, 'mrt'))}`, 'table-dump-interval = 0', 'updates-interval = 300'] : []),
    ...(o.bmp ?? []).flatMap((station) => ['', '[[bmp]]', `station = "${station}"`]),
    ...(o.nats ? ['', '[nats]', `url = "${o.nats.url}"`, `collector = "${o.nats.collector}"`, ...(o.nats.stream ? [`stream = "${o.nats.stream}"`] : [])] : []),
    ...o.peers.flatMap((p) => ['', '[[neighbors]]', `address = "${p.address}"`, `remote-as = ${p.asn}`, 'passive = true', 'import-policy = "accept"', 'export-policy = "accept"']),
    '',
  ].join('\n');
}

/** bin/ribstorm.js of this checkout, from the built module (dist/src/…) or the source (src/…). */
function ribstormBin(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const bin = join(dir, 'bin', 'ribstorm.js');
    if (existsSync(bin)) return bin;
  }
  throw new Error('bin/ribstorm.js not found above this module');
}

/** `ribstorm run` in `runDir` from a config file (the RIB's sizing has no flags); resolves once it listens. */
export async function startRibstorm(runDir: string, o: TargetOptions): Promise<DaemonProcess> {
  const bin = ribstormBin();
  // RIBSTORM_NODE_ARGS passes flags to the target's node, e.g. "--cpu-prof" to profile it.
  const nodeArgs = (process.env.RIBSTORM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const file = join(runDir, 'ribstorm.toml');
  if (o.dataOut === 'mrt') mkdirSync(join(runDir, 'mrt'));
  writeFileSync(file, ribstormConfig(o, runDir));
  const p = new DaemonProcess('ribstorm', { runDir, address: o.address, port: o.port }, join(runDir, 'ribstorm.log'));
  await p.launch(process.execPath, [...nodeArgs, bin, 'run', '--config', file], {
    what: `ribstorm listening on ${o.address}:${o.port}`,
    until: () => /ribstorm AS\d+ router-id/.test(p.readLog()),
    timeoutMs: 20_000,
  });
  return p;
}
