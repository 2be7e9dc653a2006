// Splits a TCP byte stream into BGP messages (for scripted test peers).

import { HEADER_LENGTH, MAX_MESSAGE_LENGTH, readHeader } from '../../src/packet/index.js';

export type MessageHandler = (type: number, msg: Uint8Array) => boolean;

export class Framer {
  /** Bytes of an incomplete message carried over from the previous chunk. */
  private pending: Uint8Array | null = null;
  maxLength = MAX_MESSAGE_LENGTH;

  /**
   * Feeds one chunk; calls `onMessage` per complete message until it returns false.
   * Header errors are thrown as BgpError (RFC 4271 §6.1).
   */
  push(chunk: Uint8Array, onMessage: MessageHandler): void {
    let buf = chunk;
    if (this.pending) {
      const joined = new Uint8Array(this.pending.length + chunk.length);
      joined.set(this.pending);
      joined.set(chunk, this.pending.length);
      buf = joined;
      this.pending = null;
    }
    let off = 0;
    while (buf.length - off >= HEADER_LENGTH) {
      const { type, length } = readHeader(buf, off, this.maxLength);
      if (buf.length - off < length) break;
      const msg = buf.subarray(off, off + length);
      off += length;
      if (!onMessage(type, msg)) return;
    }
    // Messages handed out stay valid: a new pending buffer never aliases a delivered one.
    if (off < buf.length) this.pending = buf.slice(off);
  }

  reset(): void {
    this.pending = null;
    this.maxLength = MAX_MESSAGE_LENGTH;
  }
}
