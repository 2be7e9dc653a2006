// The RIB as an MRT TABLE_DUMP_V2 dump (RFC 6396 §4.3, RFC 8050 §4 for ADD-PATH), read from
// shared memory in chunks beside the workers: a PEER_INDEX_TABLE, then one RIB_IPV4_UNICAST /
// RIB_IPV6_UNICAST record per prefix with one RIB entry per path (and, for the paths that carry
// an RFC 7911 path identifier, one *_ADDPATH record with them). A prefix changing meanwhile may
// be seen before or after the change (rib/query.ts), never half-written.

import { isIP } from 'node:net';
import { AttrType, ipv4ToNumber, ipv6ToBytes } from '../packet/index.js';
import { AttrWalker, writeAttrHeader } from '../packet/attr/walk.js';
import { attributeBytes } from '../rib/attrs.js';
import { IPV6, PEER_ID, PEER_WORDS, type Family, type RibViews } from '../rib/memory.js';
import { pathsAt, prefixBytesAt, walkPrefixes } from '../rib/query.js';
import type { Speaker } from '../speaker/speaker.js';
import { MRT_HEADER_LENGTH, MrtType, PeerType, TableDumpV2Subtype } from './constants.js';

/** One entry of the PEER_INDEX_TABLE. */
export interface DumpPeer {
  /** The peer's index in the RIB (what stored paths carry). */
  rib: number;
  /** BGP Identifier, as a number (0: the session never came up). */
  bgpId: number;
  address: string;
  asn: number;
  /** Seconds since the epoch written as each of its paths' originated time. */
  originated: number;
}

export interface TableDumpSource {
  views: RibViews;
  /** The collector's BGP Identifier: our router id. */
  collectorId: string;
  /** RFC 6396 §4.3.1 view name; empty by default. */
  viewName?: string;
  peers: DumpPeer[];
}

export interface TableDumpStats {
  records: number;
  prefixes: number;
  paths: number;
  /** Paths of a peer the table does not list (a neighbor removed meanwhile): left out. */
  skipped: number;
  bytes: number;
}

/** Bytes gathered before a chunk is handed on (a chunk of slots may end well past it). */
const CHUNK_BYTES = 256 << 10;

/**
 * The peers of a running speaker as the dump lists them: every configured neighbor with a RIB
 * index, other collectors' peers held from a NATS stream, then the local peer (routes
 * announced through the API), in RIB index order.
 *
 * Originated time: each path's own, when it was learned or last changed; `originated` here is
 * what a path without one gets (its session's Established time, or the dump's time).
 */
export function speakerPeers(speaker: Speaker, time: number): DumpPeer[] {
  const v = speaker.rib!.views;
  const out: DumpPeer[] = [];
  for (const n of speaker.neighbors.values()) {
    const rib = speaker.peerIndex(n);
    if (rib === undefined) continue;
    out.push({
      rib,
      // Written when a session comes up and kept after: 0.0.0.0 only for a peer never up.
      bgpId: v.peers[rib * PEER_WORDS + PEER_ID],
      address: n.config.address,
      asn: n.session?.peerAs ?? n.config.remoteAs,
      originated: n.establishedAt > 0 ? Math.floor(n.establishedAt / 1000) : time,
    });
  }
  // Other collectors' peers (a NATS consumer's): listed by their own address.
  for (const [rib, p] of speaker.remotePeers) {
    out.push({ rib, bgpId: v.peers[rib * PEER_WORDS + PEER_ID], address: p.name.slice(p.name.lastIndexOf('/') + 1), asn: p.asn, originated: time });
  }
  const local = speaker.local;
  if (local) {
    const id = ipv4ToNumber(speaker.config.global.routerId);
    out.push({ rib: local.index, bgpId: id, address: speaker.config.global.routerId, asn: speaker.config.global.asn, originated: time });
  }
  return out.sort((a, b) => a.rib - b.rib);
}

/** What a running speaker's dump at `time` (seconds) is written from. */
export function speakerSource(speaker: Speaker, time: number): TableDumpSource {
  return { views: speaker.rib!.views, collectorId: speaker.config.global.routerId, peers: speakerPeers(speaker, time) };
}

/** Builds MRT records into buffers handed on by `take()`. */
class RecordBuffer {
  buf = Buffer.allocUnsafe(CHUNK_BYTES * 2);
  p = 0;

  ensure(n: number): void {
    if (this.p + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.p + n));
    this.buf.copy(grown, 0, 0, this.p);
    this.buf = grown;
  }

  /** Writes a common header (length 0 for now); returns its offset for `end()`. */
  begin(time: number, type: number, subtype: number): number {
    const at = this.p;
    this.buf.writeUInt32BE(time >>> 0, at);
    this.buf.writeUInt16BE(type, at + 4);
    this.buf.writeUInt16BE(subtype, at + 6);
    this.p = at + MRT_HEADER_LENGTH;
    return at;
  }

  end(at: number): void {
    this.buf.writeUInt32BE(this.p - at - MRT_HEADER_LENGTH, at + 8);
  }

  /** What was written since the last take, as a buffer of its own. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.p);
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES * 2, out.length));
    this.p = 0;
    return out;
  }
}

/** RFC 6396 §4.3.1 PEER_INDEX_TABLE. */
function writePeerIndex(r: RecordBuffer, time: number, src: TableDumpSource): void {
  const view = Buffer.from(src.viewName ?? '', 'utf8');
  r.ensure(MRT_HEADER_LENGTH + 8 + view.length + src.peers.length * 25);
  const at = r.begin(time, MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.PEER_INDEX_TABLE);
  const b = r.buf;
  let p = r.p;
  p = b.writeUInt32BE(ipv4ToNumber(src.collectorId), p);
  p = b.writeUInt16BE(view.length, p);
  p += view.copy(b, p);
  p = b.writeUInt16BE(src.peers.length, p);
  for (const peer of src.peers) {
    const v6 = isIP(peer.address) === 6;
    // Always the 4-octet AS form: one shape for every peer, whatever its session negotiated.
    b[p++] = PeerType.AS4 | (v6 ? PeerType.IPV6 : 0);
    p = b.writeUInt32BE(peer.bgpId >>> 0, p);
    if (v6) {
      b.set(ipv6ToBytes(peer.address), p);
      p += 16;
    } else p = b.writeUInt32BE(ipv4ToNumber(peer.address), p);
    p = b.writeUInt32BE(peer.asn >>> 0, p);
  }
  r.p = p;
  r.end(at);
}

/**
 * A stored attribute set as a RIB entry carries it (RFC 6396 §4.3.4): AS_PATH is already in
 * 4-octet form; MP_REACH_NLRI (an IPv6 path's next hop, stored without NLRI) shortened to the
 * next-hop length and next hop, which is what bgpdump and other readers expect there. Returns
 * the end offset. The caller ensured room for `attrs.length` octets (never longer than that).
 */
function writeAttributes(b: Buffer, p: number, attrs: Uint8Array, w: AttrWalker): number {
  w.reset(attrs);
  while (w.next()) {
    if (w.type === AttrType.MP_REACH_NLRI && w.length >= 4) {
      const nhLen = attrs[w.value + 3];
      if (w.value + 4 + nhLen > w.value + w.length) {
        b.set(w.whole(), p); // malformed: as stored
        p += w.value + w.length - w.at;
        continue;
      }
      p = writeAttrHeader(b, p, w.flags, w.type, 1 + nhLen);
      b[p++] = nhLen;
      b.set(attrs.subarray(w.value + 4, w.value + 4 + nhLen), p);
      p += nhLen;
    } else {
      const whole = w.whole();
      b.set(whole, p);
      p += whole.length;
    }
  }
  return p;
}

/**
 * Writes the dump: `emit` is handed chunks of whole records (a few hundred KiB) as the walk
 * goes, and says when to go on (false: stop, the reader went away). Every record's timestamp is
 * `time` (seconds: the dump's start).
 */
export async function writeTableDump(src: TableDumpSource, time: number, emit: (chunk: Buffer) => Promise<boolean>): Promise<TableDumpStats> {
  const v = src.views;
  const tableIndex = new Map<number, number>();
  src.peers.forEach((p, i) => tableIndex.set(p.rib, i));
  const originated = src.peers.map((p) => p.originated >>> 0);
  const stats: TableDumpStats = { records: 0, prefixes: 0, paths: 0, skipped: 0, bytes: 0 };
  const r = new RecordBuffer();
  const walker = new AttrWalker();
  const prefix = new Uint8Array(16);
  let sequence = 0;

  writePeerIndex(r, time, src);
  stats.records++;

  /** One RIB record of `paths` (all with path ids, or none) for the prefix in `prefix`. */
  const writeRib = (f: Family, length: number, paths: ReturnType<typeof pathsAt>, addPath: boolean): void => {
    const v6 = f.id === IPV6;
    const subtype = addPath
      ? v6 ? TableDumpV2Subtype.RIB_IPV6_UNICAST_ADDPATH : TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH
      : v6 ? TableDumpV2Subtype.RIB_IPV6_UNICAST : TableDumpV2Subtype.RIB_IPV4_UNICAST;
    const octets = (length + 7) >> 3;
    const blocks = paths.map((p) => attributeBytes(v, p.attr));
    r.ensure(MRT_HEADER_LENGTH + 7 + octets + blocks.reduce((n, a) => n + 12 + a.length, 0));
    const at = r.begin(time, MrtType.TABLE_DUMP_V2, subtype);
    const b = r.buf;
    let p = r.p;
    p = b.writeUInt32BE(sequence, p);
    sequence = (sequence + 1) >>> 0;
    b[p++] = length;
    b.set(prefix.subarray(0, octets), p);
    p += octets;
    p = b.writeUInt16BE(paths.length, p);
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i];
      const peer = tableIndex.get(path.peer)!;
      p = b.writeUInt16BE(peer, p);
      // RFC 6396 §4.3.4 originated time: when the path was learned or last changed.
      p = b.writeUInt32BE(path.time || originated[peer], p);
      if (addPath) p = b.writeUInt32BE(path.pathId >>> 0, p); // RFC 8050 §4
      const lengthAt = p;
      p = writeAttributes(b, p + 2, blocks[i], walker);
      b.writeUInt16BE(p - lengthAt - 2, lengthAt);
    }
    r.p = p;
    r.end(at);
    stats.records++;
  };

  const visit = (f: Family, shard: number, slot: number): boolean => {
    const all = pathsAt(v, f, shard, slot);
    const listed = all.filter((p) => tableIndex.has(p.peer));
    stats.skipped += all.length - listed.length;
    if (listed.length === 0) return false;
    const length = prefixBytesAt(f, shard, slot, prefix);
    const plain = listed.filter((p) => p.pathId === 0);
    const withIds = listed.filter((p) => p.pathId !== 0);
    // The entry count is 2 octets: a prefix with more paths than that takes several records.
    for (const [group, addPath] of [[plain, false], [withIds, true]] as const) {
      for (let i = 0; i < group.length; i += 0xffff) writeRib(f, length, group.slice(i, i + 0xffff), addPath);
    }
    stats.prefixes++;
    stats.paths += listed.length;
    return true;
  };

  const flush = async (): Promise<boolean> => {
    if (r.p < CHUNK_BYTES) return true;
    const chunk = r.take();
    stats.bytes += chunk.length;
    return emit(chunk);
  };

  const done = await walkPrefixes(v.families, visit, flush);
  if (done && r.p > 0) {
    const chunk = r.take();
    stats.bytes += chunk.length;
    await emit(chunk);
  }
  return stats;
}
