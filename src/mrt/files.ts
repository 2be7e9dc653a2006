// Dumps as files: `[mrt] dir` / `table-dump-interval` write `bview.YYYYMMDD.HHMM.gz` (RIPE RIS
// naming, UTC) every interval, aligned to the epoch as RIS's 8-hourly dumps are; each through a
// temporary name in the same folder, renamed once complete, so a reader never sees half a file.

import { accessSync, constants, createWriteStream, renameSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type MrtConfig } from '../config/schema.js';
import { log } from '../log.js';
import type { Speaker } from '../speaker/speaker.js';
import { pipeCompressed, SUFFIX, type Compression, type DumpSink } from './output.js';
import { speakerSource, writeTableDump, type TableDumpStats } from './tableDump.js';

/** `dir` exists, is a directory, and we may write there; else a ConfigError naming `field` and it. */
export function checkWritableDir(dir: string, field: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ConfigError(field, 'an existing directory', dir);
  }
  if (!isDir) throw new ConfigError(field, 'a directory', dir);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new ConfigError(field, 'a directory this user may write to', dir);
  }
}

/** RIS's name for a file of `kind` at `at`: bview.YYYYMMDD.HHMM.gz, updates.YYYYMMDD.HHMM.gz, UTC. */
export function risName(kind: 'bview' | 'updates', at: Date, compression: Compression = 'gzip'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${kind}.${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}.${p(at.getUTCHours())}${p(at.getUTCMinutes())}${SUFFIX[compression]}`;
}

/** RIS's name for a table dump taken at `at`. */
export function bviewName(at: Date, compression: Compression = 'gzip'): string {
  return risName('bview', at, compression);
}

/** A temporary name beside `file` (same folder, so the rename stays on one file system). */
export function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

/**
 * Writes the speaker's table dump to `file` (through a temporary name, then renamed); nothing
 * is left behind when it fails.
 */
export async function dumpToFile(speaker: Speaker, file: string, compression: Compression, at = new Date()): Promise<{ stats: TableDumpStats; bytes: number }> {
  const time = Math.floor(at.getTime() / 1000);
  const tmp = temporaryName(file);
  const ws = createWriteStream(tmp, { flags: 'wx' });
  let error: Error | null = null;
  ws.on('error', (e) => (error ??= e));
  const sink: DumpSink = {
    write: (c) => ws.write(c),
    writable: () =>
      new Promise((resolve) => {
        const done = () => {
          ws.off('drain', done);
          ws.off('close', done);
          resolve();
        };
        ws.on('drain', done);
        ws.on('close', done);
      }),
    get closed() {
      return ws.destroyed;
    },
  };
  try {
    const { result, bytes } = await pipeCompressed(compression, sink, (emit) => writeTableDump(speakerSource(speaker, time), time, emit));
    await new Promise<void>((resolve, reject) => ws.end(() => (error ? reject(error) : resolve())));
    if (error) throw error;
    renameSync(tmp, file);
    return { stats: result, bytes };
  } catch (e) {
    ws.destroy();
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw error ?? e;
  }
}

/** Table dumps every `tableDumpInterval` seconds into `dir`, until stopped. */
export class PeriodicDumps {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly speaker: Speaker,
    private readonly config: MrtConfig,
  ) {}

  start(): void {
    this.schedule();
  }

  /** Stops the timer and waits for a dump under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The next multiple of the interval since the epoch (RIS: 00:00, 08:00, 16:00 UTC). */
  private schedule(): void {
    if (this.stopped) return;
    const every = this.config.tableDumpInterval * 1000;
    const now = Date.now();
    const next = Math.floor(now / every) * every + every;
    this.timer = setTimeout(() => this.tick(new Date(next)), next - now);
  }

  private tick(at: Date): void {
    this.schedule();
    if (this.running) {
      log(`MRT table dump ${bviewName(at, this.config.compression)} skipped: the one before is still being written`);
      return;
    }
    this.running = this.dump(at).finally(() => (this.running = null));
  }

  /** One dump, named for `at`; logged with its time and size, or why it failed. */
  async dump(at = new Date()): Promise<void> {
    const file = path.join(this.config.dir, bviewName(at, this.config.compression));
    const started = Date.now();
    try {
      const { stats, bytes } = await dumpToFile(this.speaker, file, this.config.compression, at);
      log(`MRT table dump ${file}: ${stats.prefixes} prefixes, ${stats.paths} paths, ${bytes} bytes in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    } catch (e) {
      log(`MRT table dump ${file} failed: ${(e as Error).message}`);
    }
  }
}
