// MRT record framing (RFC 6396 §2): a 12-octet common header (timestamp, type, subtype,
// length) and a body. Records are handed out as views into the chunk they arrived in.

export const MRT_HEADER_LENGTH = 12;

/** RFC 6396 §4 record types used here. */
export const MrtType = {
  TABLE_DUMP: 12,
  TABLE_DUMP_V2: 13,
  BGP4MP: 16,
  BGP4MP_ET: 17,
} as const;

/** RFC 6396 §4.3 with RFC 8050 §4 (ADD-PATH) subtypes of TABLE_DUMP_V2. */
export const TableDumpV2Subtype = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV4_MULTICAST: 3,
  RIB_IPV6_UNICAST: 4,
  RIB_IPV6_MULTICAST: 5,
  RIB_GENERIC: 6,
  RIB_IPV4_UNICAST_ADDPATH: 8,
  RIB_IPV4_MULTICAST_ADDPATH: 9,
  RIB_IPV6_UNICAST_ADDPATH: 10,
  RIB_IPV6_MULTICAST_ADDPATH: 11,
  RIB_GENERIC_ADDPATH: 12,
} as const;

/** RFC 6396 §4.4 with RFC 8050 §3 subtypes of BGP4MP / BGP4MP_ET. */
export const Bgp4mpSubtype = {
  STATE_CHANGE: 0,
  MESSAGE: 1,
  MESSAGE_AS4: 4,
  STATE_CHANGE_AS4: 5,
  MESSAGE_LOCAL: 6,
  MESSAGE_AS4_LOCAL: 7,
  MESSAGE_ADDPATH: 8,
  MESSAGE_AS4_ADDPATH: 9,
  MESSAGE_LOCAL_ADDPATH: 10,
  MESSAGE_AS4_LOCAL_ADDPATH: 11,
} as const;

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
