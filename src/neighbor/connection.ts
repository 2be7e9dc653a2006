// One TCP connection of a neighbor (RFC 4271 §8: the session's transport): its socket, the
// kernel's reads straight into a shared-memory receive ring, parking and backpressure when the
// ring is full, framing the ring into messages, the UPDATE batch taken from it, output, close.
// It knows nothing of the FSM: the session reads its flags and gives it callbacks.

import net from 'node:net';
import { IngestRing } from '../io/ring.js';
import { MAX_MESSAGE_LENGTH, type OpenMessage } from '../packet/index.js';

export type Direction = 'inbound' | 'outbound';

/** A read Node makes while reading is paused lands here: 64 KiB, its largest read. */
const PARKING_BYTES = 64 * 1024;

/** What the session does with reads: `received` frames them (false pauses reading). */
export interface Reader {
  received(): boolean;
  failed(err: unknown): void;
}

/** Where the socket's events go, once the session wires the connection. */
export interface SocketEvents {
  error(err: Error): void;
  /** The connection is closed already when this runs. */
  close(): void;
  drain(): void;
}

export type Region = ReturnType<IngestRing['retain']>;

/** One TCP connection of the neighbor, reading into its own shared-memory ring. */
export class Connection {
  readonly ring: IngestRing;
  maxLength = MAX_MESSAGE_LENGTH;
  /** The peer's OPEN, once received on this connection. */
  open: OpenMessage | null = null;
  /** That OPEN as it arrived, header included (BMP Peer Up carries it). */
  openBytes: Uint8Array | null = null;
  closed = false;
  /** Reading stopped because the ring is full of batches the workers still hold. */
  paused = false;
  socket!: net.Socket;
  /** UPDATEs framed but not yet handed to the RIB: (offset, length) pairs and their region. */
  private batch: number[] = [];
  private region: Region | null = null;
  /**
   * Bytes read but not yet in the ring, oldest first. They go in before anything read later,
   * as workers free space (pump); reading stays paused while any wait here.
   */
  readonly parked: Buffer[] = [];

  /**
   * Where the read after a pause lands: Node asks for the next buffer right after the read
   * that filled the ring, and keeps it until reading resumes. Its bytes are copied into the
   * ring then (once per pause, at most 64 KiB).
   */
  private readonly parking = Buffer.allocUnsafe(PARKING_BYTES);

  constructor(
    readonly direction: Direction,
    ringBytes: number,
  ) {
    this.ring = new IngestRing(ringBytes);
  }

  // ---- the socket ------------------------------------------------------------------------------

  /** Opens the outbound connection; it reads into the ring from the start. */
  dial(target: { host: string; port: number; localAddress?: string }, reader: Reader): void {
    this.adopt(
      net.connect({
        host: target.host,
        port: target.port,
        localAddress: target.localAddress,
        noDelay: true,
        onread: this.onread(reader),
      }),
    );
  }

  /** An accepted socket arrives paused; its handle moves to a socket that reads into the ring. */
  takeOver(accepted: net.Socket, reader: Reader): void {
    const handle = (accepted as unknown as { _handle: unknown })._handle;
    (accepted as unknown as { _handle: unknown })._handle = null;
    this.adopt(new net.Socket({ handle, onread: this.onread(reader) } as net.SocketConstructorOpts));
    this.socket.setNoDelay(true);
    this.socket.resume();
  }

  /** Socket errors never go unhandled, wired or not. */
  private adopt(socket: net.Socket): void {
    this.socket = socket;
    socket.on('error', () => {});
  }

  /** Passes the socket's error, close and drain on. */
  listen(on: SocketEvents): void {
    this.socket.on('error', on.error);
    this.socket.on('close', () => {
      this.closed = true;
      on.close();
    });
    this.socket.on('drain', on.drain);
  }

  /** Our address on this connection, as the peer sees it. */
  get localAddress(): string | undefined {
    const a = this.socket.localAddress;
    return a?.startsWith('::ffff:') ? a.slice(7) : a;
  }

  // ---- reading into the ring -------------------------------------------------------------------

  /**
   * Options that make the kernel's copy land in the ring (net.Socket `onread`). `received`
   * takes over once the bytes are in order (in the ring or parked); false pauses reading.
   */
  private onread(reader: Reader) {
    return {
      buffer: () => {
        try {
          return this.nextReadBuffer();
        } catch (err) {
          reader.failed(err);
          return this.spareBuffer();
        }
      },
      callback: (n: number, buf: Uint8Array): boolean => {
        try {
          if (this.closed) return true; // read on until the socket goes, and drop it
          this.land(n, buf);
          return reader.received();
        } catch (err) {
          reader.failed(err);
          return false;
        }
      },
    };
  }

  /** Ring space while reading runs and nothing is parked; otherwise a buffer to park in. */
  private nextReadBuffer(): Buffer {
    if (!this.closed && !this.paused && !this.parked.length) {
      const space = this.ring.nextBuffer();
      if (space) return space;
    }
    return this.spareBuffer();
  }

  /** The parking buffer, or a new one while the parking buffer still holds parked bytes. */
  private spareBuffer(): Buffer {
    const held = this.parked.some((b) => b.buffer === this.parking.buffer);
    return held ? Buffer.allocUnsafe(PARKING_BYTES) : this.parking;
  }

  /** n bytes were read into `buf`: in the ring at its write position, or anywhere else (parked). */
  private land(n: number, buf: Uint8Array): void {
    if (buf.buffer === this.ring.sab) {
      // The ring hands out its space only while nothing is parked, so this keeps the order.
      if (!this.ring.isNext(buf) || this.parked.length) throw new Error('read landed out of order in the receive ring');
      this.ring.commit(n);
      return;
    }
    this.parked.push(Buffer.from(buf.buffer, buf.byteOffset, n));
  }

  /** Moves parked bytes into the ring, at most one contiguous space: false when none moved. */
  private unpark(): boolean {
    const head = this.parked[0];
    if (!head) return false;
    const n = this.ring.append(head);
    if (n === 0) return false;
    if (n === head.length) this.parked.shift();
    else this.parked[0] = head.subarray(n);
    return true;
  }

  /**
   * Runs `frame` over what the ring holds, then moves parked bytes in, one contiguous space at
   * a time, framing after each, while the ring has room. True when reading may go on: nothing
   * is left parked and the ring has space for the next read.
   */
  pump(frame: () => void): boolean {
    for (;;) {
      frame();
      if (this.closed) return true;
      if (!this.unpark()) break;
    }
    const more = !this.parked.length && this.ring.nextBuffer() !== null;
    this.paused = !more;
    return more;
  }

  /**
   * Calls `visit` for each complete message in the ring, in order, until it returns false or
   * the connection closes; throws a bad header's NOTIFICATION (BgpError).
   */
  frame(visit: (off: number, length: number, type: number) => boolean): void {
    this.ring.forEachMessage(this.maxLength, (off, length, type) => {
      if (this.closed) return false;
      return visit(off, length, type);
    });
  }

  /** The message at `off` in the ring. */
  message(off: number, length: number): Uint8Array {
    return this.ring.bytes.subarray(off, off + length);
  }

  // ---- the UPDATE batch ------------------------------------------------------------------------

  /** A batch never spans the ring's wrap: true when the UPDATE at `off` must start a new one. */
  batchWraps(off: number): boolean {
    return this.region !== null && off < this.region.end;
  }

  /** Adds the UPDATE at (off, length) to the batch; its ring space stays held until released. */
  addToBatch(off: number, length: number): void {
    if (this.region) this.region.end = off + length;
    else this.region = this.ring.retain(off, off + length);
    this.batch.push(off, length);
  }

  get batchEmpty(): boolean {
    return this.batch.length === 0;
  }

  /** Takes the batch: its descriptors and the ring region to release once the RIB is done. */
  takeBatch(): { descriptors: Uint32Array; region: Region } {
    const descriptors = Uint32Array.from(this.batch);
    const region = this.region!;
    this.batch = [];
    this.region = null;
    return { descriptors, region };
  }

  // ---- output and close ------------------------------------------------------------------------

  /** False once closed or destroyed: nothing more goes out. */
  get writable(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  /** Queues bytes on the socket; false when they did not all reach the kernel (backed up). */
  write(bytes: Uint8Array): boolean {
    return this.socket.write(bytes);
  }

  /** Bytes written but not yet taken by the kernel. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.parked.length = 0;
    // Let a final NOTIFICATION drain before the FIN; never wait on a peer that stopped reading.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}
