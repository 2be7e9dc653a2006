// MRT record framing (RFC 6396 §2): a 12-octet common header (timestamp, type, subtype,
// length) and a body. Records are handed out as views into the chunk they arrived in.

import { MRT_HEADER_LENGTH } from '../../mrt/constants.js';

// The numbers live with the writer (src/mrt/); the reader's modules take them from here.
export { Bgp4mpSubtype, MRT_HEADER_LENGTH, MrtType, TableDumpV2Subtype } from '../../mrt/constants.js';

/**
 * Called per record: the body is buf[start, end). For *_ET types the 4-octet microsecond
 * field is still at the body's start (RFC 6396 §3), counted in the length as the RFC says.
 */
export type RecordHandler = (buf: Buffer, type: number, subtype: number, timestamp: number, start: number, end: number) => void;

/** Far above any real record (a full RIB_GENERIC with every peer); a larger length is corruption. */
const MAX_RECORD = 64 << 20;

export class MrtFramer {
  /** Complete records handed out. */
  records = 0;
  /** A length field no real record could have: framing stopped there. */
  corrupt = false;
  private rest: Buffer | null = null;

  /** Feeds the next chunk; calls `onRecord` for every record it completes. */
  push(chunk: Buffer, onRecord: RecordHandler): void {
    if (this.corrupt) return;
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const len = buf.length;
    let p = 0;
    while (p + MRT_HEADER_LENGTH <= len) {
      const bodyLen = buf.readUInt32BE(p + 8);
      if (bodyLen > MAX_RECORD) {
        this.corrupt = true;
        break;
      }
      const end = p + MRT_HEADER_LENGTH + bodyLen;
      if (end > len) break;
      this.records++;
      onRecord(buf, buf.readUInt16BE(p + 4), buf.readUInt16BE(p + 6), buf.readUInt32BE(p), p + MRT_HEADER_LENGTH, end);
      p = end;
    }
    this.rest = p < len ? buf.subarray(p) : null;
  }

  /** Bytes after the last complete record: a truncated record when the input has ended. */
  get pending(): number {
    return this.rest ? this.rest.length : 0;
  }
}
