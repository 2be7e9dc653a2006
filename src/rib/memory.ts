// The RIB's shared memory: every table is a typed array over a SharedArrayBuffer, allocated
// once on the main thread and handed to every worker. The tables filled in order (each shard's
// path records, the attribute sets and their bytes) are growable SharedArrayBuffers: they
// reserve address space for as much as the machine's memory could hold (reserved, not
// committed: a process holding a RIB can still fork) and grow as they fill, so no sizing is
// needed. They are read through fixed-length views (a length-tracking view is several times
// slower to index), which each thread re-makes when it finds a table grown (RibViews.sync*).
// The tables written at random (prefix slots, the attribute index) are sized for what they
// hold: the prefix tables from `[rib] prefixes`, the attribute index doubled as it fills
// (growAttrIndex(), between batches).

import { totalmem } from 'node:os';

/** Words per interned attribute set in `attrMeta` (the decision fields, decoded once). */
export const META_WORDS = 12;
export const M_HASH = 0;
export const M_OFFSET = 1;
export const M_LENGTH = 2;
export const M_LOCAL_PREF = 3;
export const M_AS_PATH_LEN = 4;
export const M_NEIGHBOR_AS = 5;
export const M_ORIGIN = 6;
export const M_MED = 7;
export const M_NEXT_HOP = 8;
export const M_ORIGINATOR_ID = 9;
export const M_CLUSTER_LEN = 10;
export const M_FLAGS = 11;

export const F_HAS_MED = 1 << 0;
export const F_HAS_LOCAL_PREF = 1 << 1;
export const F_NO_EXPORT = 1 << 2;
export const F_NO_ADVERTISE = 1 << 3;
export const F_NO_PEER = 1 << 4;
export const F_HAS_ORIGINATOR = 1 << 5;
/**
 * A route-reflection loop (RFC 4456 §8: our identifier as ORIGINATOR_ID or in CLUSTER_LIST):
 * the route is not used.
 */
export const F_AS_LOOP = 1 << 6;
/** Bits 16-23 of the flags word: how often our own AS appears in AS_PATH (allowas-in). */
export const OWN_AS_SHIFT = 16;
export const F_ATOMIC_AGGREGATE = 1 << 7;
/** The set carries OTC (RFC 9234 §5). */
export const F_HAS_OTC = 1 << 8;

/**
 * Prefix slots, per address family: the network (1 word for IPv4, 4 for IPv6), length + 1
 * (0 = empty), best path record, path list head. The IPv4 offsets are named; IPv6 slots use
 * the same order after 4 key words (see Family).
 */
export const SLOT_WORDS = 4;
export const S_ADDR = 0;
export const S_LEN = 1;
export const S_BEST = 2;
export const S_HEAD = 3;

export const IPV4 = 0;
export const IPV6 = 1;

/** One address family's prefix tables, one per shard. */
export interface Family {
  readonly id: number;
  /** Words of the network in a slot (1 or 4). */
  readonly keyWords: number;
  readonly words: number;
  readonly lenAt: number;
  readonly bestAt: number;
  readonly headAt: number;
  readonly slots: Uint32Array[];
  readonly mask: number;
}

/**
 * Words per path record: peer | reason << 16 | STALE, path identifier, attribute id, next
 * record, and when the path was learned or last changed (seconds since the epoch: a route's
 * age, an MRT entry's originated time).
 */
export const PATH_WORDS = 5;
export const P_PEER = 0;
export const P_PATH_ID = 1;
export const P_ATTR = 2;
export const P_NEXT = 3;
export const P_TIME = 4;
/** The path outlived its session and waits for the peer's End-of-RIB (RFC 4724 §4.2). */
export const STALE = 1 << 24;

/** Per-shard header words. */
export const H_SEQ = 0; // the batch sequence number this shard expects next
export const H_PATH_TOP = 1;
export const H_FREE = 2;
export const H_PREFIXES = 3;
export const H_PATHS = 4;
/** Prefixes with at least one path: IPv4 in word 5, IPv6 in word 7 (H_ROUTED + family * 2). */
export const H_ROUTED = 5;
export const HEADER_WORDS = 8;

/** Words per peer in the peer table. */
export const PEER_WORDS = 7;
export const PEER_AS = 0;
export const PEER_ID = 1; // BGP Identifier as u32
export const PEER_ADDR = 2; // IPv4 address as u32 (tie-break)
export const PEER_FLAGS = 3;
/**
 * Non-zero from the moment a batch of this peer found an error that ends its session until
 * the flush of its paths takes its first shard turn: batches in between change nothing.
 */
export const PEER_RESET = 4;
/** max-prefix with action block: paths beyond this many are not admitted (0: no limit). */
export const PEER_LIMIT = 5;
/** Paths the peer holds in its Adj-RIB-In, kept by the workers. */
export const PEER_PATHS = 6;
export const PF_IBGP = 1;
export const PF_RR_CLIENT = 2;
/** Bits 8-15 of a peer's flags: how often our AS may appear in paths from it (allowas-in). */
export const PF_ALLOWAS_SHIFT = 8;

export const MAX_PEERS = 1024;

export interface RibSizing {
  /** Shards; more than workers so that batches pipeline across them. Power of two. */
  shards: number;
  /** IPv4 prefixes the table is sized for (all shards together). */
  prefixes: number;
  /** IPv6 prefixes the table is sized for. */
  prefixes6: number;
  /** The most paths the tables hold (all peers together): address space, used as filled. */
  paths: number;
  /** The most distinct attribute sets: address space, used as filled. */
  attributeSets: number;
  /** Mean attribute block size, octets: the arena reserves attributeSets times this, within ARENA_MAX. */
  attributeBytes: number;
  /** Slots the attribute index starts with (a power of two); it doubles at half full. */
  attributeIndex: number;
}

/** Octets a path costs in its shard's records, and an attribute set at least (meta, index, bytes). */
const PATH_BYTES = PATH_WORDS * 4;
const ATTRIBUTE_SET_BYTES = 128;
/** Arena offsets are counted in an Int32 (Atomics): at most 2 GiB of attribute bytes. */
export const ARENA_MAX = 2 ** 31 - 1;
/** A typed array holds at most 4 GiB here (V8 on 64-bit). */
const BUFFER_MAX = 2 ** 32;
/**
 * What a growable table starts with: path records per shard, attribute sets, arena octets.
 * Growing is cheap (the pages are reserved already: nothing is copied), so they start small.
 */
export const PATHS_START = 1 << 12;
export const SETS_START = 1 << 14;
export const ARENA_START = 1 << 18;

/** The attribute index's ceiling: 2^28 slots (1 GiB), 134M sets at half load. */
export const INDEX_SLOTS_MAX = 2 ** 28;
/** The most attribute sets the tables can describe (their decision fields fill a 4 GiB array). */
export const ATTRIBUTE_SETS_MAX = Math.min(Math.floor(BUFFER_MAX / (META_WORDS * 4)) - 1, INDEX_SLOTS_MAX / 2);
/** The most paths: each shard's records fill at most a 4 GiB array. */
export const PATHS_MAX = 2 ** 32;

/**
 * Paths and attribute sets up to what the machine's memory could hold at all: the ceilings a
 * run reaches only by running out of memory first.
 */
function memoryCeilings(): { paths: number; attributeSets: number } {
  const bytes = totalmem();
  return {
    paths: Math.max(1 << 20, Math.min(Math.floor(bytes / PATH_BYTES), PATHS_MAX)),
    attributeSets: Math.max(1 << 16, Math.min(Math.floor(bytes / ATTRIBUTE_SET_BYTES), ATTRIBUTE_SETS_MAX)),
  };
}

export const DEFAULT_SIZING: RibSizing = {
  shards: 64,
  prefixes: 1_200_000,
  prefixes6: 320_000,
  ...memoryCeilings(),
  attributeBytes: 96,
  attributeIndex: 1 << 21,
};

/**
 * A growable SharedArrayBuffer (ES2024; Node 20 has it, TypeScript's ES2023 library does not
 * describe it).
 */
interface GrowableSharedArrayBuffer extends SharedArrayBuffer {
  readonly maxByteLength: number;
  grow(byteLength: number): void;
}
const GrowableSharedArrayBuffer = SharedArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => GrowableSharedArrayBuffer;

/** Everything a worker needs to reach the RIB: plain SharedArrayBuffers, cloned by reference. */
export interface RibBuffers {
  sizing: RibSizing;
  localAs: number;
  /** Our BGP Identifier, also our cluster id for route reflection. */
  routerId: number;
  alwaysCompareMed: boolean;
  /**
   * Collector mode: the workers keep every peer's Adj-RIB-In and run no decision process (no
   * best path, no change records); everything else of a batch is as in speaker mode.
   */
  collector: boolean;
  peers: SharedArrayBuffer;
  /** Growable: doubled between batches as it fills (growAttrIndex); views are re-made by syncAttrIndex(). */
  attrIndex: SharedArrayBuffer;
  /** Growable, as the arena and each shard's path records (RibViews.syncAttributes, syncPaths). */
  attrMeta: SharedArrayBuffer;
  attrArena: SharedArrayBuffer;
  /** [next attribute id, arena top]. */
  attrCounters: SharedArrayBuffer;
  shardHeaders: SharedArrayBuffer;
  shardSlots: SharedArrayBuffer[];
  shardSlots6: SharedArrayBuffer[];
  shardPaths: SharedArrayBuffer[];
}

export const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(2, n)));

export function slotsPerShard(s: RibSizing, prefixes = s.prefixes): number {
  // Open addressing stays fast up to a load of about 0.75; slots are written at random, so
  // every page of the table is resident: size it for the table, not for the worst case.
  return nextPow2(Math.ceil((prefixes / s.shards) / 0.75));
}

export function pathsPerShard(s: RibSizing): number {
  // Prefixes spread evenly over shards; a quarter to spare for an unlucky one.
  return Math.min(Math.ceil((s.paths / s.shards) * 1.25) + 1, Math.floor(BUFFER_MAX / PATH_BYTES));
}

/** A growable SharedArrayBuffer of `start` octets (at most `max`) that may grow to `max`. */
function growable(start: number, max: number): GrowableSharedArrayBuffer {
  return new GrowableSharedArrayBuffer(Math.min(start, max), { maxByteLength: max });
}

/** The RIB's tables for `partial` (what it leaves out from DEFAULT_SIZING). */
export function allocateRib(localAs: number, partial: Partial<RibSizing> = DEFAULT_SIZING, alwaysCompareMed = false, routerId = 0, collector = false): RibBuffers {
  const sizing: RibSizing = { ...DEFAULT_SIZING, ...partial };
  const slots = slotsPerShard(sizing);
  const paths = pathsPerShard(sizing) * PATH_BYTES;
  const meta = (sizing.attributeSets + 1) * META_WORDS * 4;
  const headers = new SharedArrayBuffer(sizing.shards * HEADER_WORDS * 4);
  const h = new Int32Array(headers);
  for (let s = 0; s < sizing.shards; s++) h[s * HEADER_WORDS + H_PATH_TOP] = 1; // record 0 is "none"
  const counters = new SharedArrayBuffer(8);
  new Int32Array(counters)[0] = 1; // attribute id 0 is "none"
  return {
    sizing,
    localAs,
    routerId,
    alwaysCompareMed,
    collector,
    peers: new SharedArrayBuffer(MAX_PEERS * PEER_WORDS * 4),
    attrIndex: new GrowableSharedArrayBuffer(nextPow2(sizing.attributeIndex) * 4, { maxByteLength: INDEX_SLOTS_MAX * 4 }),
    attrMeta: growable(SETS_START * META_WORDS * 4, meta),
    attrArena: growable(ARENA_START, Math.min(ARENA_MAX, sizing.attributeSets * sizing.attributeBytes)),
    attrCounters: counters,
    shardHeaders: headers,
    shardSlots: Array.from({ length: sizing.shards }, () => new SharedArrayBuffer(slots * SLOT_WORDS * 4)),
    shardSlots6: Array.from({ length: sizing.shards }, () => new SharedArrayBuffer(slotsPerShard(sizing, sizing.prefixes6) * 7 * 4)),
    shardPaths: Array.from({ length: sizing.shards }, () => growable(PATHS_START * PATH_BYTES, paths)),
  };
}

/** Typed views over the buffers, made once per thread. */
export class RibViews {
  readonly peers: Uint32Array;
  /** A fixed-length view (a length-tracking one is several times slower to index): see syncAttrIndex(). */
  attrIndex: Int32Array;
  /** Fixed-length views of growable tables: re-made by syncAttributes() / syncPaths(). */
  attrMeta: Uint32Array;
  attrArena: Uint8Array;
  readonly attrCounters: Int32Array;
  readonly headers: Int32Array;
  readonly slots: Uint32Array[];
  readonly paths: Uint32Array[];
  readonly slotMask: number;
  /** The IPv4 and IPv6 prefix tables. */
  readonly families: [Family, Family];
  readonly shardMask: number;

  constructor(readonly buffers: RibBuffers) {
    this.peers = new Uint32Array(buffers.peers);
    this.attrIndex = new Int32Array(buffers.attrIndex, 0, buffers.attrIndex.byteLength / 4);
    this.attrMeta = new Uint32Array(buffers.attrMeta, 0, buffers.attrMeta.byteLength / 4);
    this.attrArena = new Uint8Array(buffers.attrArena, 0, buffers.attrArena.byteLength);
    this.attrCounters = new Int32Array(buffers.attrCounters);
    this.headers = new Int32Array(buffers.shardHeaders);
    this.slots = buffers.shardSlots.map((b) => new Uint32Array(b));
    this.paths = buffers.shardPaths.map((b) => new Uint32Array(b, 0, b.byteLength / 4));
    this.slotMask = this.slots[0].length / SLOT_WORDS - 1;
    const family = (id: number, keyWords: number, slots: Uint32Array[]): Family => ({
      id,
      keyWords,
      words: keyWords + 3,
      lenAt: keyWords,
      bestAt: keyWords + 1,
      headAt: keyWords + 2,
      slots,
      mask: slots[0].length / (keyWords + 3) - 1,
    });
    this.families = [family(IPV4, 1, this.slots), family(IPV6, 4, buffers.shardSlots6.map((b) => new Uint32Array(b)))];
    this.shardMask = buffers.sizing.shards - 1;
  }

  /** Every table as it is now, grown by any thread (a reader outside the workers' shard turns). */
  sync(): void {
    this.syncAttributeTables();
    for (let s = 0; s < this.paths.length; s++) this.syncPaths(s);
  }

  /**
   * The attribute index, sets and bytes as they are now: a worker before each batch (a shard's
   * path records are synced at its turn, syncPaths).
   */
  syncAttributeTables(): void {
    this.syncAttrIndex();
    this.syncAttributes();
  }

  /** The attribute sets and their bytes as they are now (another worker may have grown them). */
  syncAttributes(): void {
    const m = this.buffers.attrMeta;
    if (m.byteLength !== this.attrMeta.byteLength) this.attrMeta = new Uint32Array(m, 0, m.byteLength / 4);
    const a = this.buffers.attrArena;
    if (a.byteLength !== this.attrArena.byteLength) this.attrArena = new Uint8Array(a, 0, a.byteLength);
  }

  /** Shard `s`'s path records as they are now: at its turn, and wherever a record lies past the view. */
  syncPaths(s: number): Uint32Array {
    const b = this.buffers.shardPaths[s];
    if (b.byteLength !== this.paths[s].byteLength) this.paths[s] = new Uint32Array(b, 0, b.byteLength / 4);
    return this.paths[s];
  }

  /** Shard `s`'s path records, covering record `r` (a reader outside the shard's turn). */
  pathsWith(s: number, r: number): Uint32Array {
    const p = this.paths[s];
    return (r + 1) * PATH_WORDS <= p.length ? p : this.syncPaths(s);
  }

  /** The attribute sets' decision fields, covering set `id`. */
  metaWith(id: number): Uint32Array {
    if ((id + 1) * META_WORDS > this.attrMeta.length) this.syncAttributes();
    return this.attrMeta;
  }

  /** The views made to cover set `id`, its decision fields and its bytes. */
  attributesWith(id: number): void {
    const m = id * META_WORDS;
    if (m + META_WORDS > this.attrMeta.length || this.attrMeta[m + M_OFFSET] + this.attrMeta[m + M_LENGTH] > this.attrArena.length) this.syncAttributes();
  }

  /**
   * Room for path record `r` of shard `s` (only its turn's holder adds records): the table
   * doubled, up to its reservation; false when that is reached.
   */
  growPaths(s: number, r: number): boolean {
    const b = this.buffers.shardPaths[s] as GrowableSharedArrayBuffer;
    const need = (r + 1) * PATH_BYTES;
    if (need > b.maxByteLength) return false;
    if (need > b.byteLength) b.grow(Math.min(b.maxByteLength, Math.max(need, b.byteLength * 2)));
    this.syncPaths(s);
    return true;
  }

  /**
   * Room for attribute set `id` and arena octets up to `arenaEnd` (any worker, at once: a grow
   * another made first, to as much or more, counts); false when a reservation is reached.
   */
  growAttributes(id: number, arenaEnd: number): boolean {
    const ok = growTo(this.buffers.attrMeta as GrowableSharedArrayBuffer, (id + 1) * META_WORDS * 4) && growTo(this.buffers.attrArena as GrowableSharedArrayBuffer, arenaEnd);
    this.syncAttributes();
    return ok;
  }

  /** The attribute index as it is now, after growAttrIndex() on any thread; before each batch. */
  syncAttrIndex(): void {
    const b = this.buffers.attrIndex;
    if (b.byteLength !== this.attrIndex.byteLength) this.attrIndex = new Int32Array(b, 0, b.byteLength / 4);
  }

  /** Attribute sets interned so far. */
  get attributeSets(): number {
    return Math.max(0, Atomics.load(this.attrCounters, 0) - 1);
  }
}

/** Grows `b` to hold `need` octets, doubling, within its reservation; false past it. */
function growTo(b: GrowableSharedArrayBuffer, need: number): boolean {
  if (need > b.maxByteLength) return false;
  while (b.byteLength < need) {
    const before = b.byteLength;
    try {
      b.grow(Math.min(b.maxByteLength, Math.max(need, before * 2)));
    } catch (e) {
      // Another thread grew it meanwhile, past what we asked (shrinking is refused): look again.
      if (b.byteLength === before) throw e;
    }
  }
  return true;
}

/**
 * Doubles the attribute index and places every set in it again. Only while no batch runs
 * (the pipeline holds them back): the workers take the new size at their next batch.
 */
export function growAttrIndex(v: RibViews): number {
  const before = Int32Array.from(v.attrIndex);
  const b = v.buffers.attrIndex as GrowableSharedArrayBuffer;
  const slots = Math.min(INDEX_SLOTS_MAX, (b.byteLength / 4) * 2);
  if (slots * 4 > b.byteLength) b.grow(slots * 4);
  v.syncAttrIndex();
  const index = v.attrIndex;
  index.fill(0);
  const mask = index.length - 1;
  for (let k = 0; k < before.length; k++) {
    const id = before[k];
    if (id === 0) continue;
    let i = v.attrMeta[id * META_WORDS + M_HASH] & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = id;
  }
  return slots;
}

/** Spreads prefixes over shards and slots; the length takes part so 10/8 and 10/16 differ. */
export function prefixHash(addr: number, len: number): number {
  let h = Math.imul(addr ^ (len << 24) ^ len, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The same for a key of `fam` in k[0..3] (IPv4 uses k[0] only). */
export function keyHash(fam: number, k: Uint32Array | number[], len: number): number {
  if (fam === IPV4) return prefixHash(k[0], len);
  return prefixHash(k[0] ^ Math.imul(k[1], 0x27d4eb2f) ^ Math.imul(k[2], 0x165667b1) ^ Math.imul(k[3], 0x9e3779b1), len + 0x80);
}
