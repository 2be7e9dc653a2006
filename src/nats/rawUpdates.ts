// The raw UPDATEs of one feed message, decoded from hex straight into the shared memory the RIB
// workers read: no text decoding of the payload, no string or buffer per line, no second copy.
// A JSON-lines payload is scanned as bytes: each line's `raw` is its last field (feed.ts writes
// it so), found from the line's end. A msgpack payload is unpacked and each item's `raw` taken.

import { unpack } from 'msgpackr';

/** The UPDATEs of a payload, as `RibPipeline.submitUpdates` takes them. */
export interface RawUpdates {
  buffer: SharedArrayBuffer;
  /** Offset and length of each UPDATE in `buffer`. */
  descriptors: Uint32Array;
  /** Lines or items without a usable `raw` (absent, shorter than a BGP header, not hex). */
  skipped: number;
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BRACE = 0x7d;
/** `,"raw":` before the opening quote of the hex. */
const RAW_KEY = Buffer.from(',"raw":', 'latin1');
/** A BGP message's header: 19 bytes, 38 hex digits. */
const MIN_HEX = 38;

/** The `raw` hex of each line of a JSON-lines payload: start and end offsets, two per line. */
function jsonRanges(text: Buffer): { ranges: number[]; lines: number } {
  const ranges: number[] = [];
  let lines = 0;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf(NEWLINE, start);
    if (end < 0) end = text.length;
    lines++;
    // ...,"raw":"<hex>"}  — the hex holds no quote, so the last quote but one opens it.
    if (end - start >= RAW_KEY.length + MIN_HEX + 3 && text[end - 1] === BRACE && text[end - 2] === QUOTE) {
      const open = text.lastIndexOf(QUOTE, end - 3);
      const key = open - RAW_KEY.length;
      if (open > start && key >= start && text.compare(RAW_KEY, 0, RAW_KEY.length, key, open) === 0) ranges.push(open + 1, end - 2);
    }
    start = end + 1;
  }
  return { ranges, lines };
}

/**
 * `count` hex strings decoded into a new shared buffer: `write(i, to, at)` writes the i-th at
 * `at` and returns the bytes written (Buffer.write stops at the first character not hex).
 */
function decode(count: number, hexLength: (i: number) => number, write: (i: number, to: Buffer, at: number) => number): RawUpdates {
  let total = 0;
  for (let i = 0; i < count; i++) total += hexLength(i) >>> 1;
  const buffer = new SharedArrayBuffer(Math.max(1, total));
  const out = Buffer.from(buffer);
  const descriptors: number[] = [];
  let at = 0;
  let skipped = 0;
  for (let i = 0; i < count; i++) {
    const len = hexLength(i);
    if (len < MIN_HEX || len % 2 !== 0 || write(i, out, at) * 2 !== len) {
      skipped++;
      continue;
    }
    descriptors.push(at, len / 2);
    at += len / 2;
  }
  return { buffer, descriptors: Uint32Array.from(descriptors), skipped };
}

/** The raw UPDATEs of a feed message's payload, in order. */
export function rawUpdates(data: Uint8Array, format: 'json' | 'msgpack'): RawUpdates {
  if (format === 'msgpack') {
    const items = unpack(data) as unknown;
    const hex = (Array.isArray(items) ? items : []).map((it) => (typeof (it as { raw?: unknown })?.raw === 'string' ? ((it as { raw: string }).raw) : ''));
    const r = decode(hex.length, (i) => hex[i].length, (i, to, at) => to.write(hex[i], at, 'hex'));
    r.skipped += Array.isArray(items) ? 0 : 1;
    return r;
  }
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const { ranges, lines } = jsonRanges(text);
  const n = ranges.length / 2;
  const r = decode(n, (i) => ranges[2 * i + 1] - ranges[2 * i], (i, to, at) => to.write(text.toString('latin1', ranges[2 * i], ranges[2 * i + 1]), at, 'hex'));
  r.skipped += lines - n;
  return r;
}
