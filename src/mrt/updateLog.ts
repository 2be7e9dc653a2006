// Update logs as files: every UPDATE each neighbor sends us and every change of its session's
// state, as BGP4MP_ET records (./bgp4mp.ts), in `updates.YYYYMMDD.HHMM.gz` files (RIPE RIS
// naming, UTC, named for the start of the interval they cover) rotated every `updates-interval`
// seconds, aligned to the epoch as RIS's 5-minute files are. Each file is written under a
// temporary name and renamed once complete.
//
// The messages come from the sessions' message tap, on the main thread, before the workers see
// them: a record is a copy into a chunk; chunks go to the compressor (zlib's thread pool, or the
// `bzip2` program) and on to the file. A disk slower than the peers costs a bounded backlog:
// past it, records are dropped, counted and logged, and ingest never waits.

import { createWriteStream, renameSync, unlinkSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Neighbor } from '../neighbor/neighbor.js';
import { State } from '../neighbor/fsm.js';
import { log } from '../log.js';
import type { Speaker } from '../speaker/speaker.js';
import { LineLimiter } from '../util/lineLimiter.js';
import { messageSubtype, recordLength, sessionBlock, stateChangeTail, updateIsIpv6, writeRecord } from './bgp4mp.js';
import { Bgp4mpSubtype } from './constants.js';
import { risName, temporaryName } from './files.js';
import { codec, type Codec, type Compression } from './output.js';

const CHUNK_BYTES = 256 * 1024;
/** Compressed-but-unwritten and uncompressed-but-queued bytes allowed before records are dropped. */
export const DEFAULT_BACKLOG_BYTES = 64 * 1024 * 1024;
/** Records wait in the chunk at most this long before they go to the compressor. */
const FLUSH_MS = 1000;
const UPDATE = 2;

export interface UpdateLogOptions {
  dir: string;
  /** Seconds per file, aligned to the epoch (RIS: 300). */
  interval: number;
  compression: Compression;
  backlogBytes?: number;
}

/** What one session's records share, computed when it comes up. */
interface SessionRecord {
  block: Buffer;
  subtype: number;
  /** Only when ADD-PATH was negotiated for one family and not the other: per message. */
  subtype6?: number;
}

export interface UpdateLogStats {
  records: number;
  bytes: number;
  dropped: number;
  files: number;
  failures: number;
}

/** One file being written: the compressor feeding a temporary file, renamed when closed. */
class LogFile {
  private readonly codec: Codec;
  private readonly out: WriteStream;
  private readonly tmp: string;
  error: Error | null = null;
  /** Compressed octets written. */
  bytes = 0;
  /** Records and their octets before compression, and records dropped, in this file. */
  records = 0;
  raw = 0;
  dropped = 0;

  constructor(readonly file: string, compression: Compression) {
    this.tmp = temporaryName(file);
    this.out = createWriteStream(this.tmp, { flags: 'wx' });
    this.codec = codec(compression);
    this.out.on('error', (e) => (this.error ??= e));
    this.codec.done.catch((e: Error) => (this.error ??= e));
    this.codec.output.on('data', (c: Buffer) => (this.bytes += c.length));
    this.codec.output.pipe(this.out);
  }

  /** Bytes handed over and not yet on disk. */
  get backlog(): number {
    return this.codec.input.writableLength + this.out.writableLength;
  }

  write(chunk: Buffer): void {
    if (!this.error) this.codec.input.write(chunk);
  }

  /** Ends the file and renames it into place; removes the temporary when it failed. */
  async close(): Promise<void> {
    this.codec.input.end();
    const finished = new Promise<void>((resolve) => {
      this.out.on('close', resolve);
      this.out.on('error', () => resolve());
    });
    await this.codec.done.catch(() => {});
    await finished;
    if (!this.error) {
      try {
        renameSync(this.tmp, this.file);
        return;
      } catch (e) {
        this.error = e as Error;
      }
    }
    this.out.destroy();
    try {
      unlinkSync(this.tmp);
    } catch {
      // never created
    }
    throw this.error;
  }
}

export class UpdateLog {
  readonly stats: UpdateLogStats = { records: 0, bytes: 0, dropped: 0, files: 0, failures: 0 };
  private readonly sessions = new Map<Neighbor, SessionRecord>();
  private readonly watching = new Set<Neighbor>();
  private readonly drops = new LineLimiter(log);
  private readonly backlogBytes: number;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private current: LogFile | null = null;
  private closing: Promise<void>[] = [];
  private rotateTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private untap: (() => void) | null = null;

  constructor(
    private readonly speaker: Speaker,
    private readonly options: UpdateLogOptions,
  ) {
    this.backlogBytes = options.backlogBytes ?? DEFAULT_BACKLOG_BYTES;
  }

  /** Opens the file of the current interval and starts logging every neighbor. */
  start(): void {
    for (const n of this.speaker.neighbors.values()) this.watch(n);
    this.untap = this.speaker.tapMessages((n, msg) => this.message(n, msg));
    this.rotate(new Date());
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Logs a neighbor added after start (configuration reload). */
  watch(n: Neighbor): void {
    if (this.watching.has(n)) return;
    this.watching.add(n);
    n.on('state', (from, to) => this.stateChange(n, from, to));
    if (n.session) this.sessions.set(n, this.sessionRecord(n));
  }

  /** Stops logging; the last file is completed and renamed. */
  async stop(): Promise<void> {
    this.untap?.();
    this.untap = null;
    if (this.rotateTimer) clearTimeout(this.rotateTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.rotateTimer = this.flushTimer = null;
    this.flush();
    this.finish(this.current);
    this.current = null;
    await Promise.all(this.closing);
  }

  // ---- records -------------------------------------------------------------------------------

  private sessionRecord(n: Neighbor): SessionRecord {
    const s = n.session!;
    const ends = { peerAs: s.peerAs, localAs: n.config.localAs ?? this.speaker.config.global.asn, peerAddress: n.config.address, localAddress: n.localAddress };
    const asn4 = s.asn4;
    const add4 = s.addPathReceive.includes('ipv4-unicast');
    const add6 = s.addPathReceive.includes('ipv6-unicast');
    const has6 = s.families.includes('ipv6-unicast');
    const has4 = s.families.includes('ipv4-unicast');
    const block = sessionBlock(ends, asn4 ? 4 : 2);
    // One family's ADD-PATH and not the other's: the message's family decides, per message.
    if (has4 && has6 && add4 !== add6) return { block, subtype: messageSubtype(asn4, add4), subtype6: messageSubtype(asn4, add6) };
    return { block, subtype: messageSubtype(asn4, add4 || add6) };
  }

  private message(n: Neighbor, msg: Uint8Array): void {
    if (msg[18] !== UPDATE) return;
    let r = this.sessions.get(n);
    if (!r) {
      if (!n.session) return;
      this.sessions.set(n, (r = this.sessionRecord(n)));
    }
    const subtype = r.subtype6 !== undefined && updateIsIpv6(msg) ? r.subtype6 : r.subtype;
    this.append(subtype, r.block, msg);
  }

  private stateChange(n: Neighbor, from: State, to: State): void {
    // AS4 state changes whatever the session: they carry no AS_PATH, only the two ASes.
    const ends = { peerAs: n.session?.peerAs ?? n.config.remoteAs, localAs: n.config.localAs ?? this.speaker.config.global.asn, peerAddress: n.config.address, localAddress: n.localAddress };
    this.append(Bgp4mpSubtype.STATE_CHANGE_AS4, sessionBlock(ends, 4), stateChangeTail(from, to));
    if (to === State.Established) this.sessions.set(n, this.sessionRecord(n));
    else this.sessions.delete(n);
  }

  private append(subtype: number, block: Buffer, tail: Uint8Array): void {
    if (!this.current) return;
    const size = recordLength(block.length + tail.length);
    if (this.current.backlog + this.used + size > this.backlogBytes) {
      this.stats.dropped++;
      this.current.dropped++;
      this.drops.line(`MRT update log ${this.current.file}: records dropped, the disk is not keeping up (${this.stats.dropped} so far)`);
      return;
    }
    if (this.used + size > this.chunk.length) {
      this.flush();
      if (size > this.chunk.length) this.chunk = Buffer.allocUnsafe(size);
    }
    this.used = writeRecord(this.chunk, this.used, performance.timeOrigin + performance.now(), subtype, block, tail);
    this.stats.records++;
    this.current.records++;
  }

  /** Hands the chunk to the compressor (which keeps it), and starts a new one. */
  private flush(): void {
    if (this.used === 0 || !this.current) return;
    this.current.write(this.chunk.subarray(0, this.used));
    this.current.raw += this.used;
    this.stats.bytes += this.used;
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
  }

  // ---- files ---------------------------------------------------------------------------------

  /**
   * Completes the current file and opens the one of the interval that holds `at` (its timer
   * calls this at each interval's start; a test may call it to move on at once).
   */
  rotate(at: Date): void {
    if (this.rotateTimer) clearTimeout(this.rotateTimer);
    const every = this.options.interval * 1000;
    const start = Math.floor(at.getTime() / every) * every;
    this.flush();
    this.finish(this.current);
    this.current = null;
    const file = path.join(this.options.dir, risName('updates', new Date(start), this.options.compression));
    try {
      this.current = new LogFile(file, this.options.compression);
    } catch (e) {
      this.stats.failures++;
      log(`MRT update log ${file} not opened: ${(e as Error).message}`);
    }
    const next = start + every;
    this.rotateTimer = setTimeout(() => this.rotate(new Date(next)), Math.max(0, next - Date.now()));
  }

  private finish(f: LogFile | null): void {
    if (!f) return;
    this.stats.files++;
    const done = f.close().then(
      () => log(`MRT update log ${f.file}: ${f.records} records, ${f.raw} bytes, ${f.bytes} compressed${f.dropped ? `, ${f.dropped} DROPPED` : ''}`),
      (e: Error) => {
        this.stats.failures++;
        log(`MRT update log ${f.file} failed, not kept: ${e.message}`);
      },
    );
    this.closing.push(done);
    void done.finally(() => (this.closing = this.closing.filter((p) => p !== done)));
  }
}
