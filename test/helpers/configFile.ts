// A speaker configured the way an operator does it: from a TOML file (written to a temporary
// folder, on a free port of a loopback address), which a test can write again for a reload.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'smol-toml';
import { loadConfigFile } from '../../src/config/schema.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from './env.js';

type Cleanup = () => unknown;

export interface FileLab {
  speaker: Speaker;
  file: string;
  port: number;
  /** The file's text for these neighbors, with `global` fields changed. */
  text(neighbors: unknown[], global?: Record<string, unknown>): string;
  /** Writes the file again: these neighbors, or exactly `text`. */
  write(neighbors: unknown[] | string, global?: Record<string, unknown>): void;
}

/** A folder for config files, removed by the cleanup. */
export function configDir(add: (fn: Cleanup) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ribstorm-config-'));
  add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `[global]`, a small `[rib]` and `[[neighbors]]` (as the file spells them) for AS 65000 on `host:port`. */
export function configText(host: string, port: number, neighbors: unknown[], global: Record<string, unknown> = {}, more: Record<string, unknown> = {}): string {
  return stringify({
    global: { asn: 65000, 'router-id': '10.0.0.1', 'listen-addresses': [host], 'listen-port': port, ...global },
    rib: { workers: 2, shards: 8, prefixes: 4096, paths: 65536, 'attribute-sets': 65536 },
    ...more,
    neighbors,
  });
}

/** A Speaker read from a config file and started (on `port`, or a free one); shut down by the cleanup. */
export async function startFromFile(add: (fn: Cleanup) => void, host: string, neighbors: unknown[], listenPort?: number): Promise<FileLab> {
  const port = listenPort ?? (await freePort(host));
  const file = path.join(configDir(add), 'ribstorm.toml');
  const text = (ns: unknown[], global: Record<string, unknown> = {}) => configText(host, port, ns, global, { api: { listen: 'off' } });
  writeFileSync(file, text(neighbors));
  const speaker = new Speaker(loadConfigFile(file));
  await speaker.start();
  add(() => speaker.shutdown('test over', 200));
  return { speaker, file, port, text, write: (ns, global) => writeFileSync(file, typeof ns === 'string' ? ns : text(ns, global)) };
}
