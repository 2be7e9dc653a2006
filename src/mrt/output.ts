// A dump on its way out: compressed (gzip through node:zlib, bzip2 through the system's
// `bzip2`, or none) and handed to a sink that may push back, chunk by chunk.

import { spawn } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { findExecutable } from '../util/executable.js';

export type Compression = 'gzip' | 'bzip2' | 'none';
export const COMPRESSIONS: readonly Compression[] = ['gzip', 'bzip2', 'none'];

/** What a dump is written to: an HTTP reply (api/transport.ts ChunkSink) or a file. */
export interface DumpSink {
  /** False when queued past the sink's buffer: wait for `writable()`. */
  write(chunk: Uint8Array): boolean;
  writable(): Promise<void>;
  readonly closed: boolean;
}

/** The file name suffix of each compression (RIS names its dumps `bview.….gz`). */
export const SUFFIX: Record<Compression, string> = { gzip: '.gz', bzip2: '.bz2', none: '' };

/** The compression a file name asks for: .gz, .bz2, else none. */
export function compressionOf(file: string): Compression {
  return file.endsWith('.gz') ? 'gzip' : file.endsWith('.bz2') ? 'bzip2' : 'none';
}

/** Whether `kind` can be written on this host (bzip2 needs the `bzip2` program). */
export function available(kind: Compression): boolean {
  return kind !== 'bzip2' || findExecutable('bzip2') !== null;
}

export interface Codec {
  input: Writable;
  output: Readable;
  /** Resolves once the codec ended cleanly; rejects with why it did not. */
  done: Promise<void>;
  kill(): void;
}

/** A compressor of `kind`: write to `input`, read from `output`. */
export function codec(kind: Compression): Codec {
  if (kind === 'bzip2') {
    const child = spawn('bzip2', ['-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`bzip2 ${signal ?? `exited ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`))));
    });
    child.stdin.on('error', () => {}); // reported through `done`
    return { input: child.stdin, output: child.stdout, done, kill: () => child.kill() };
  }
  const t = kind === 'gzip' ? createGzip() : new PassThrough();
  const done = new Promise<void>((resolve, reject) => {
    t.on('end', resolve);
    t.on('error', reject);
  });
  return { input: t, output: t, done, kill: () => t.destroy() };
}

/**
 * Runs `produce` (which emits chunks and honors the answer: false means stop) through the
 * compression into `sink`, with backpressure both ways: the producer waits for the codec, the
 * codec's output waits for the sink. Resolves with the compressed bytes written; a sink that
 * closes early stops the producer and kills the codec.
 */
export async function pipeCompressed<T>(kind: Compression, sink: DumpSink, produce: (emit: (chunk: Buffer) => Promise<boolean>) => Promise<T>): Promise<{ result: T; bytes: number }> {
  const c = codec(kind);
  let bytes = 0;
  let failed: Error | null = null;
  c.done.catch((e: Error) => (failed = e));
  const drained = (async () => {
    for await (const chunk of c.output as AsyncIterable<Buffer>) {
      if (sink.closed) break;
      bytes += chunk.length;
      if (!sink.write(chunk)) await sink.writable();
    }
  })();
  drained.catch(() => {});
  const stopped = () => sink.closed || failed !== null;
  const emit = async (chunk: Buffer): Promise<boolean> => {
    if (stopped()) return false;
    if (!c.input.write(chunk)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          clearInterval(check);
          c.input.off('drain', go);
          resolve();
        };
        c.input.on('drain', go);
        // The sink may close (the client went away) while the codec is full: look now and then.
        const check = setInterval(() => stopped() && go(), 50);
      });
    } else await new Promise((r) => setImmediate(r)); // let the sessions run between chunks
    return !stopped();
  };
  try {
    const result = await produce(emit);
    if (stopped()) throw failed ?? new Error('the reader went away');
    c.input.end();
    await Promise.all([c.done, drained]);
    return { result, bytes };
  } catch (e) {
    c.kill();
    throw e;
  }
}
