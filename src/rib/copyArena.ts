// Where the route events' lane copies the UPDATEs of a watched batch once it is applied (its
// session's ring is then given back): chunks of shared memory the events' thread reads in place.

/** Shared memory the copies are made in, reused once every copy in it has been written out. */
interface Chunk {
  sab: SharedArrayBuffer;
  bytes: Uint8Array;
  /** Bytes taken from the start, and copies in it not yet written out. */
  used: number;
  live: number;
}

/**
 * One batch's received UPDATEs, copied out of its session's ring into the lane's own shared
 * memory: (offset, length) pairs into `buffer`, `size` bytes in all.
 */
export interface ReceivedCopy {
  buffer: SharedArrayBuffer;
  descriptors: Uint32Array;
  size: number;
  chunk: Chunk;
}

/** The size of the arena's chunks (a larger batch gets one of its own), how many free ones are kept, and made ready ahead. */
export const CHUNK_BYTES = 8 << 20;
const FREE_CHUNKS = 4;
const READY_AHEAD = 2;

/**
 * Where the copies are made: chunks of shared memory filled in order, each reused once every
 * copy in it has been written out (the events' thread reads them in place). No allocation per
 * batch. A new chunk's pages are first touched by `ready` (the events' thread) while the
 * arena still has others free, so that the main thread does not take their page faults.
 */
export class CopyArena {
  private current?: Chunk;
  private readonly free: SharedArrayBuffer[] = [];
  /** Chunks being made ready. */
  private readying = 0;

  constructor(private readonly ready?: (chunk: SharedArrayBuffer) => Promise<void>) {}

  /** The first `count` messages at `descriptors` in `buffer`, copied; release() it once written out. */
  copy(buffer: SharedArrayBuffer, descriptors: Uint32Array, count: number): ReceivedCopy {
    let size = 0;
    for (let i = 0; i < count; i++) size += descriptors[i * 2 + 1];
    const chunk = this.room(size);
    const src = new Uint8Array(buffer);
    const bytes = chunk.bytes;
    const out = new Uint32Array(count * 2);
    // A session's messages mostly follow each other in its ring: one copy per run of them.
    let runFrom = 0;
    let runTo = 0;
    let o = chunk.used;
    for (let i = 0; i < count; i++) {
      const at = descriptors[i * 2];
      const len = descriptors[i * 2 + 1];
      if (at !== runTo) {
        if (runTo > runFrom) bytes.set(src.subarray(runFrom, runTo), o - (runTo - runFrom));
        runFrom = at;
        runTo = at;
      }
      out[i * 2] = o;
      out[i * 2 + 1] = len;
      runTo += len;
      o += len;
    }
    if (runTo > runFrom) bytes.set(src.subarray(runFrom, runTo), o - (runTo - runFrom));
    chunk.used = o;
    chunk.live++;
    return { buffer: chunk.sab, descriptors: out, size, chunk };
  }

  /** A copy was written out: its chunk is reused once none in it is left. */
  release(copy: ReceivedCopy): void {
    const c = copy.chunk;
    if (--c.live > 0) return;
    if (c === this.current) c.used = 0;
    else if (this.free.length < FREE_CHUNKS && c.sab.byteLength === CHUNK_BYTES) this.free.push(c.sab);
  }

  /** A chunk with `size` bytes free at its end. */
  private room(size: number): Chunk {
    const c = this.current;
    // (A chunk whose copies are all released starts again from 0: release().)
    if (c && c.used + size <= c.sab.byteLength) return c;
    const sab = size <= CHUNK_BYTES ? (this.free.pop() ?? new SharedArrayBuffer(CHUNK_BYTES)) : new SharedArrayBuffer(size);
    this.readyAhead();
    // A chunk left behind goes to the free list when its last copy is released (release()).
    return (this.current = { sab, bytes: new Uint8Array(sab), used: 0, live: 0 });
  }

  /** Has READY_AHEAD chunks made ready ahead of the first copies. */
  prepare(): void {
    this.readyAhead();
  }

  /** Has chunks made ready while fewer than READY_AHEAD are free. */
  private readyAhead(): void {
    while (this.ready && this.free.length + this.readying < READY_AHEAD) {
      const sab = new SharedArrayBuffer(CHUNK_BYTES);
      this.readying++;
      this.ready(sab).then(
        () => {
          this.readying--;
          if (this.free.length < FREE_CHUNKS) this.free.push(sab);
        },
        () => this.readying--,
      );
    }
  }
}
