// What a batch of UPDATEs comes to: best-path change records, the counts the speaker keeps
// per peer, and how both travel back from a worker in one transferred array.

/**
 * A best-path change: length | family << 8, the network (4 words; IPv4 uses the first), the
 * best path's attribute id (0: no route left) and peer, where the prefix lives
 * (shard << 22 | slot), and the best path it replaces (attribute id, peer).
 */
export const CHANGE_WORDS = 10;
export const C_LEN = 0;
export const C_KEY = 1;
export const C_ATTR = 5;
export const C_PEER = 6;
export const C_REF = 7;
/** The best path before this change (what every Adj-RIB-Out last exported from). */
export const C_PREV_ATTR = 8;
export const C_PREV_PEER = 9;

/** The counts a batch reports, in the order they travel in front of its change records. */
const COUNTS = [
  'announced',
  'withdrawn',
  'treatedAsWithdraw',
  'pathDelta',
  'filtered',
  'tawUpdates4',
  'tawUpdates6',
  'tawPrefixes6',
  'discarded4',
  'discarded6',
  'pathDelta6',
  'filtered6',
  'received',
] as const;
type Count = (typeof COUNTS)[number];
const RESULT_HEADER = COUNTS.length;

export function emptyResult(): BatchResult {
  const r = { changes: new Uint32Array(0), problems: [] } as unknown as BatchResult;
  for (const k of COUNTS) r[k] = 0;
  return r;
}

/**
 * A result without error or problems as one array to transfer: counts, then the change records
 * sorted by attribute (the one copy made of them).
 */
export function packResult(r: BatchResult): Uint32Array {
  const out = sortByAttribute(r.changes, RESULT_HEADER);
  COUNTS.forEach((k, i) => (out[i] = r[k] | 0));
  return out;
}

export function unpackResult(a: Uint32Array): BatchResult {
  const r = emptyResult();
  COUNTS.forEach((k, i) => (r[k] = k === 'pathDelta' || k === 'pathDelta6' ? a[i] | 0 : a[i]));
  r.changes = a.subarray(RESULT_HEADER);
  return r;
}

/** sortByAttribute's sort keys, kept between calls (one per thread): grown, never shrunk. */
let sortKeys = new Float64Array(0);

/**
 * Change records ordered by attribute id (stable), so prefixes that will share an UPDATE are
 * adjacent when the Adj-RIB-Out packs them; `lead` words are left free in front.
 */
export function sortByAttribute(c: Uint32Array, lead = 0): Uint32Array {
  const n = c.length / CHANGE_WORDS;
  const out = new Uint32Array(lead + c.length);
  const put = (i: number, j: number) => {
    const from = i * CHANGE_WORDS;
    const to = lead + j * CHANGE_WORDS;
    for (let w = 0; w < CHANGE_WORDS; w++) out[to + w] = c[from + w];
  };
  // One float sort on attribute id * 2^bits + position: exact while the key fits in 53 bits
  // (32-bit ids, up to 2^21 records); larger sets take a stable comparison sort.
  const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  if (bits <= 21) {
    const scale = 2 ** bits;
    if (sortKeys.length < n) sortKeys = new Float64Array(n);
    const keys = sortKeys.subarray(0, n);
    for (let i = 0; i < n; i++) keys[i] = c[i * CHANGE_WORDS + C_ATTR] * scale + i;
    keys.sort();
    for (let j = 0; j < n; j++) put(keys[j] % scale, j);
    return out;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => c[a * CHANGE_WORDS + C_ATTR] - c[b * CHANGE_WORDS + C_ATTR] || a - b);
  order.forEach((i, j) => put(i, j));
  return out;
}

export interface BatchResult extends Record<Count, number> {
  /**
   * Best-path changes, CHANGE_WORDS per prefix (see C_*). From BatchApplier a view of its
   * scratch, valid until the next batch; packResult sorts and copies them once.
   */
  changes: Uint32Array;
  /** Prefixes announced / withdrawn in the batch's UPDATEs (after RFC 7606, before policy). */
  announced: number;
  withdrawn: number;
  /** IPv4 prefixes handled as withdrawn under RFC 7606 (IPv6: tawPrefixes6). */
  treatedAsWithdraw: number;
  /** Paths this peer gained (negative: lost) in its Adj-RIB-In. */
  pathDelta: number;
  /** The IPv6 share of pathDelta. */
  pathDelta6: number;
  /** Announcements the import policy (or RFC 8212, or a max-prefix block) kept out. */
  filtered: number;
  /** The IPv6 share of filtered. */
  filtered6: number;
  /** RFC 7606 outcomes per family: UPDATEs treated as withdraw, attributes discarded. */
  tawUpdates4: number;
  tawUpdates6: number;
  discarded4: number;
  discarded6: number;
  /**
   * How many of the batch's UPDATEs count as received (BatchApplier.applyUpdates): those before
   * the one that ended the session, or none when an earlier batch of the peer had ended it.
   */
  received: number;
  /** What RFC 7606 found, one line per problem (at most a few per batch), for the log. */
  problems: string[];
  /** A session-level error in this batch: the NOTIFICATION for the peer. Nothing of the batch is applied. */
  error?: {
    code: number;
    subcode: number;
    data: number[];
    detail: string;
    /** The RIB failed, not the peer: an exception in a shard turn, or a worker that died (Cease / Out of Resources). */
    internal?: boolean;
  };
}
