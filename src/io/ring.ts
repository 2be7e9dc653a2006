// A peer's receive ring in shared memory. The socket reads straight into it (net.Socket
// `onread`), messages are framed in place, and UPDATEs are handed to the RIB workers as
// (offset, length) pairs. Space is reused once the workers release the batch holding it;
// when none is free the socket stops reading and TCP flow control slows the peer.

import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, readHeader } from '../packet/index.js';

/** The largest message must always fit in the space handed to the kernel. */
const MIN_FREE = MAX_EXTENDED_MESSAGE_LENGTH + 1;
// (A 64 KiB read parked during a pause fits too: see Connection.parking.)

export const DEFAULT_RING_BYTES = 4 << 20;
/**
 * The smallest ring that cannot stall: with no batch held, the partial message moved to the
 * start plus one read must fit.
 */
export const MIN_RING_BYTES = 2 * MIN_FREE;

interface Region {
  start: number;
  end: number;
  lap: number;
  released: boolean;
}

export class IngestRing {
  readonly sab: SharedArrayBuffer;
  readonly bytes: Buffer;
  /** Next offset the kernel writes to. */
  private write = 0;
  /** Start of bytes not yet framed (a partial message). */
  frame = 0;
  /** Batches handed to workers, oldest first. */
  private readonly busy: Region[] = [];
  /** Times the writer went back to offset 0; batches of the previous lap lie ahead of it. */
  private lap = 0;

  constructor(readonly size = DEFAULT_RING_BYTES) {
    if (!Number.isInteger(size) || size < MIN_RING_BYTES) throw new RangeError(`receive ring of ${size} bytes: at least ${MIN_RING_BYTES} needed`);
    this.sab = new SharedArrayBuffer(size);
    this.bytes = Buffer.from(this.sab);
  }

  /** Unframed bytes are [frame, end). */
  get end(): number {
    return this.write;
  }

  /** The space the next read may fill, or null when the ring is full (stop reading). */
  nextBuffer(): Buffer | null {
    if (this.size - this.write < MIN_FREE && !this.wrap()) return null;
    const oldest = this.busy[0];
    // A batch from the previous lap, ahead of us, limits how far this lap may go.
    const limit = oldest && oldest.lap < this.lap ? oldest.start : this.size;
    if (limit - this.write < MIN_FREE) return null;
    return this.bytes.subarray(this.write, limit);
  }

  /** The kernel wrote n bytes at the position nextBuffer() gave. */
  commit(n: number): void {
    this.write += n;
  }

  /** True when `buf` is the space nextBuffer() gives now (a read into it lands in order). */
  isNext(buf: Uint8Array): boolean {
    return buf.buffer === this.sab && buf.byteOffset === this.bytes.byteOffset + this.write;
  }

  /**
   * Copies bytes read elsewhere (a parked read) to the write position, as many as the space
   * nextBuffer() gives holds: the count, 0 when the ring is full.
   */
  append(src: Uint8Array): number {
    const space = this.nextBuffer();
    if (!space) return 0;
    const n = Math.min(space.length, src.length);
    space.set(n === src.length ? src : src.subarray(0, n));
    this.commit(n);
    return n;
  }

  /**
   * Frames complete messages from `frame` on; `onMessage` returns false to stop. Each header
   * is checked as soon as it is in (RFC 4271 §6.1): a bad one throws its NOTIFICATION.
   */
  forEachMessage(maxLength: number, onMessage: (off: number, length: number, type: number) => boolean): void {
    while (this.write - this.frame >= HEADER_LENGTH) {
      const off = this.frame;
      const { type, length } = readHeader(this.bytes, off, maxLength);
      if (this.write - off < length) return;
      this.frame = off + length;
      if (!onMessage(off, length, type)) return;
    }
  }

  /** Marks [start, end) as held by workers until release(). */
  retain(start: number, end: number): Region {
    const r = { start, end, lap: this.lap, released: false };
    this.busy.push(r);
    return r;
  }

  release(r: Region): void {
    r.released = true;
    while (this.busy.length && this.busy[0].released) this.busy.shift();
  }

  /** Moves the partial message at the end to the start, when the start is free. */
  private wrap(): boolean {
    const partial = this.write - this.frame;
    const oldest = this.busy[0];
    // At most two laps live: the previous one must be gone, and this lap's oldest batch
    // must leave room at the start for the partial message and one more read.
    if (oldest && (oldest.lap < this.lap || oldest.start < partial + MIN_FREE)) return false;
    this.lap++;
    this.bytes.copyWithin(0, this.frame, this.write);
    this.frame = 0;
    this.write = partial;
    return true;
  }
}
