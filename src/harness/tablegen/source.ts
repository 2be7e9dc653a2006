// The decompressed bytes of an MRT file, as a stream of chunks. Compression is recognised by
// its magic number, not the file name: gzip through node:zlib, bzip2 through the system's
// `bzcat` (Node has no bzip2; package `bzip2` on Debian/Ubuntu), anything else read as is.
//
// Collectors' archives are often cut short (a partial download, the first MiB of a file), so
// an early end of the compressed stream is reported in `status.truncated`, never thrown.

import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'bzip2' | 'none';

export interface SourceStatus {
  compression: Compression;
  /** The compressed stream ended before its end marker. */
  truncated: boolean;
  /** What the decompressor said about the early end. */
  detail?: string;
}

const CHUNK = 1 << 18;

export async function detectCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(3);
    const { bytesRead } = await fh.read(head, 0, 3, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (bytesRead === 3 && head.toString('latin1') === 'BZh') return 'bzip2';
    return 'none';
  } finally {
    await fh.close();
  }
}

/** Yields the file's decompressed bytes; `status` is complete once the iteration ends. */
export async function* readChunks(path: string, status: SourceStatus): AsyncGenerator<Buffer> {
  status.compression = await detectCompression(path);
  status.truncated = false;
  if (status.compression === 'gzip') yield* gunzip(path, status);
  else if (status.compression === 'bzip2') yield* bzcat(path, status);
  else yield* createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>;
}

async function* gunzip(path: string, status: SourceStatus): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: CHUNK });
  const gz = createGunzip({ chunkSize: CHUNK });
  file.on('error', (e) => gz.destroy(e));
  file.pipe(gz);
  try {
    for await (const chunk of gz as AsyncIterable<Buffer>) yield chunk;
  } catch (e) {
    // zlib's "unexpected end of file": the data so far was good, the rest is missing.
    if ((e as NodeJS.ErrnoException).code !== 'Z_BUF_ERROR') throw e;
    status.truncated = true;
    status.detail = (e as Error).message;
  } finally {
    file.destroy();
    gz.destroy();
  }
}

async function* bzcat(path: string, status: SourceStatus): AsyncGenerator<Buffer> {
  const child = spawn('bzcat', [path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => {
      const err = e as NodeJS.ErrnoException;
      reject(err.code === 'ENOENT' ? new Error(`bzcat not found: reading ${path} needs bzip2 installed (apt-get install bzip2)`) : err);
    });
    child.on('close', (code) => resolve(code));
  });
  // Surface a spawn failure even if stdout never yields.
  exited.catch(() => undefined);
  let finished = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    const code = await exited;
    finished = true;
    if (code !== 0) {
      // bzcat exits 2 on "Compressed file ends unexpectedly", after writing every whole block.
      status.truncated = true;
      status.detail = stderr.trim().split('\n')[0] || `bzcat exited with ${code}`;
    }
  } finally {
    if (!finished) child.kill();
  }
}
