// `ribstorm dump FILE [--api ADDR:PORT]`: the running speaker's RIB as an MRT TABLE_DUMP_V2
// file (GET /mrt/bview), compressed as the name says (.gz, .bz2, else none), written under a
// temporary name beside FILE and renamed once complete: FILE is whole or absent.

import { createWriteStream, renameSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../config/schema.js';
import { checkWritableDir, temporaryName } from '../mrt/files.js';
import { compressionOf } from '../mrt/output.js';
import { apiBase } from './client.js';
import { parseFlags } from './flags.js';

export const DUMP_USAGE = `usage: ribstorm dump FILE [--api ADDR:PORT]
  the RIB as an MRT TABLE_DUMP_V2 file (what bgpdump -m reads), gzip for .gz, bzip2 for .bz2,
  else uncompressed; written through a temporary name, then renamed`;

type Out = (line: string) => void;

export async function dump(argv: string[], out: Out = (l) => process.stdout.write(l + '\n')): Promise<number> {
  const { flags, rest } = parseFlags(argv, { api: { value: true } });
  if (rest.length !== 1) throw new ConfigError('FILE', 'one file name (e.g. bview.gz)');
  const file = rest[0];
  checkWritableDir(path.dirname(path.resolve(file)), 'FILE');
  const compress = compressionOf(file);
  const api = apiBase(flags.api);
  let res: Response;
  try {
    res = await fetch(`http://${api}/mrt/bview?compress=${compress}`);
  } catch (e) {
    throw new Error(`cannot reach the API at ${api} (${((e as Error).cause as Error)?.message ?? (e as Error).message}); is \`ribstorm run\` running there? (--api ADDR:PORT)`);
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: string } | null;
    throw new Error(body?.error ?? `HTTP ${res.status}`);
  }
  const tmp = temporaryName(file);
  const started = Date.now();
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(tmp, { flags: 'wx' }));
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new Error(`${file}: the dump did not arrive whole (${((e as Error).cause as Error)?.message ?? (e as Error).message}); nothing written`);
  }
  out(`${file}: ${statSync(file).size} bytes (${compress}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return 0;
}
