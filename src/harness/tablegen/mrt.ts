// MRT (RFC 6396) as a table source: RIB dumps become one pre-encoded UPDATE stream per dump
// peer; BGP4MP traces are streamed message by message for replay.
//
// Read: TABLE_DUMP v1 (§4.2), TABLE_DUMP_V2 PEER_INDEX_TABLE and RIB_IPV4/IPV6_UNICAST with
// their RFC 8050 ADDPATH forms (§4.3), BGP4MP and BGP4MP_ET MESSAGE, MESSAGE_AS4 and their
// ADDPATH forms (§4.4). Multicast, RIB_GENERIC and other record types are counted, not used.

import { PeerType } from '../../mrt/constants.js';
import { ipv4FromBytes, ipv4ToNumber, ipv6FromBytes, ipv6ToBytes } from '../../packet/address.js';
import { HEADER_LENGTH, MessageType } from '../../packet/constants.js';
import { BlockInterner } from './intern.js';
import { Bgp4mpSubtype, MrtFramer, MrtType, TableDumpV2Subtype, type RecordHandler } from './mrtFramer.js';
import { PeerRoutes } from './peerRib.js';
import { RibAttrRewriter } from './ribAttrs.js';
import { readChunks, type SourceStatus } from './source.js';
import type { EncodedTable } from './table.js';

export interface MrtRibPeer {
  index: number;
  bgpId: string;
  address: string;
  asn: number;
}

export interface RibDumpOptions {
  /** 4096 default (65535 with extended messages, RFC 8654). */
  maxMessageLength?: number;
  /** Only these peer indexes (PEER_INDEX_TABLE order; for TABLE_DUMP v1, order of first appearance). */
  peers?: number[];
  /** Replace IPv4 next hops: the dump's are not reachable here. */
  nextHop?: string;
  /** Replace IPv6 next hops. */
  nextHop6?: string;
  /** Put this AS first in every AS_PATH (the replaying session's own AS, as eBGP would). */
  prependAs?: number;
}

export interface RibDump {
  peers: Array<MrtRibPeer & { table: EncodedTable }>;
  /** Complete MRT records read. */
  records: number;
  /** The input ended early: a cut compressed stream or a partial last record. */
  truncated: boolean;
  /** Why, when truncated. */
  truncatedDetail?: string;
  /** RIB entries (route per peer per prefix) for the selected peers. */
  ribEntries: number;
  /** Of those, left out: malformed attributes, no usable next hop, ADD-PATH duplicates, too large. */
  skippedEntries: number;
  /** Records of other kinds or families (multicast, RIB_GENERIC, BGP4MP...), not used. */
  otherRecords: number;
}

const NO_PEER = -1;

/** Reads a RIB dump and builds, per dump peer, the UPDATE stream of that peer's routes. */
export async function readRibDump(path: string, opts: RibDumpOptions = {}): Promise<RibDump> {
  const maxMessageLength = opts.maxMessageLength ?? 4096;
  const wanted = opts.peers ? new Set(opts.peers) : null;
  const rewriter = new RibAttrRewriter({
    nextHop: opts.nextHop !== undefined ? ipv4ToNumber(opts.nextHop) : null,
    nextHop6: opts.nextHop6 !== undefined ? ipv6ToBytes(opts.nextHop6) : null,
    prependAs: opts.prependAs ?? null,
  });
  const blocks = new BlockInterner();
  const peers: MrtRibPeer[] = [];
  const routes: Array<PeerRoutes | undefined> = [];
  /** Per peer, the last RIB record it had an entry in: ADD-PATH sends a prefix's paths together. */
  let lastRecord = new Int32Array(0);
  const v1Peers = new Map<number | string, number>();
  let ribEntries = 0;
  let skipped = 0;
  let other = 0;
  let recordNo = 0;

  const routesOf = (index: number): PeerRoutes | undefined => {
    if (wanted && !wanted.has(index)) return undefined;
    return (routes[index] ??= new PeerRoutes());
  };

  /** One route: attributes at buf[a, a + alen), prefix octets at buf[pfx]. */
  const addRoute = (peer: number, family: 4 | 6, asSize: 2 | 4, buf: Buffer, a: number, alen: number, plen: number, pfx: number): void => {
    const table = routesOf(peer);
    if (!table) return;
    ribEntries++;
    if (lastRecord[peer] === recordNo || !rewriter.rewrite(buf, a, a + alen, asSize, family)) {
      skipped++;
      return;
    }
    lastRecord[peer] = recordNo;
    const out = rewriter.out;
    table.add(blocks.intern(out.buf, out.len, out.mpReachAt, family), family, plen, buf, pfx);
  };

  const onRecord: RecordHandler = (buf, type, subtype, _ts, start, end) => {
    recordNo++;
    if (type === MrtType.TABLE_DUMP_V2) {
      switch (subtype) {
        case TableDumpV2Subtype.PEER_INDEX_TABLE:
          readPeerIndex(buf, start, end, peers);
          lastRecord = new Int32Array(peers.length).fill(NO_PEER);
          return;
        case TableDumpV2Subtype.RIB_IPV4_UNICAST:
        case TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH:
        case TableDumpV2Subtype.RIB_IPV6_UNICAST:
        case TableDumpV2Subtype.RIB_IPV6_UNICAST_ADDPATH: {
          const family = subtype === TableDumpV2Subtype.RIB_IPV4_UNICAST || subtype === TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH ? 4 : 6;
          const addPath = subtype >= TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH;
          if (!readRib(buf, start, end, family, addPath, peers.length, addRoute)) skipped++;
          return;
        }
      }
    } else if (type === MrtType.TABLE_DUMP && (subtype === 1 || subtype === 2)) {
      const family = subtype === 1 ? 4 : 6;
      const alen = family === 4 ? 4 : 16;
      // view (2), sequence (2), prefix, length (1), status (1), originated (4), peer IP, peer AS (2), attribute length (2)
      const fixed = 4 + alen + 1 + 1 + 4 + alen + 2 + 2;
      if (end - start < fixed) {
        skipped++;
        return;
      }
      const pfx = start + 4;
      const plen = buf[pfx + alen];
      const peerIp = pfx + alen + 6;
      const peerAs = buf.readUInt16BE(peerIp + alen);
      const attrLen = buf.readUInt16BE(peerIp + alen + 2);
      const a = peerIp + alen + 4;
      if (plen > alen * 8 || a + attrLen > end) {
        skipped++;
        return;
      }
      const key = family === 4 ? buf.readUInt32BE(peerIp) * 65536 + peerAs : buf.toString('hex', peerIp, peerIp + 16) + peerAs;
      let peer = v1Peers.get(key);
      if (peer === undefined) {
        peer = peers.length;
        v1Peers.set(key, peer);
        const address = family === 4 ? ipv4FromBytes(buf, peerIp) : ipv6FromBytes(buf, peerIp);
        peers.push({ index: peer, bgpId: '0.0.0.0', address, asn: peerAs });
        const grown = new Int32Array(peers.length).fill(NO_PEER);
        grown.set(lastRecord.subarray(0, Math.min(lastRecord.length, grown.length)));
        lastRecord = grown;
      }
      // TABLE_DUMP v1 carries the 2-octet AS_PATH of the era (RFC 6396 §4.2).
      addRoute(peer, family, 2, buf, a, attrLen, plen, pfx);
      return;
    }
    other++;
  };

  const status: SourceStatus = { compression: 'none', truncated: false };
  const framer = new MrtFramer();
  for await (const chunk of readChunks(path, status)) framer.push(chunk, onRecord);

  const selected = peers.filter((p) => !wanted || wanted.has(p.index));
  const out: RibDump['peers'] = [];
  for (const p of selected) {
    const r = routes[p.index] ?? new PeerRoutes();
    const { oversized, ...table } = r.toTable(blocks, maxMessageLength);
    skipped += oversized;
    out.push({ ...p, table });
  }
  const truncated = status.truncated || framer.pending > 0 || framer.corrupt;
  return {
    peers: out,
    records: framer.records,
    truncated,
    ...(truncated
      ? { truncatedDetail: status.detail ?? (framer.corrupt ? 'impossible record length' : `${framer.pending} octets of a partial record at the end`) }
      : {}),
    ribEntries,
    skippedEntries: skipped,
    otherRecords: other,
  };
}

/** RFC 6396 §4.3.1 PEER_INDEX_TABLE: collector id, view name, then the peers. */
function readPeerIndex(buf: Buffer, start: number, end: number, peers: MrtRibPeer[]): void {
  peers.length = 0;
  let p = start + 4;
  if (p + 2 > end) return;
  p += 2 + buf.readUInt16BE(p);
  if (p + 2 > end) return;
  const count = buf.readUInt16BE(p);
  p += 2;
  for (let i = 0; i < count; i++) {
    if (p + 1 > end) return;
    const type = buf[p];
    const ipv6 = (type & PeerType.IPV6) !== 0;
    const as4 = (type & PeerType.AS4) !== 0;
    const size = 1 + 4 + (ipv6 ? 16 : 4) + (as4 ? 4 : 2);
    if (p + size > end) return;
    const bgpId = ipv4FromBytes(buf, p + 1);
    const address = ipv6 ? ipv6FromBytes(buf, p + 5) : ipv4FromBytes(buf, p + 5);
    const asAt = p + 5 + (ipv6 ? 16 : 4);
    const asn = as4 ? buf.readUInt32BE(asAt) : buf.readUInt16BE(asAt);
    peers.push({ index: i, bgpId, address, asn });
    p += size;
  }
}

type RouteSink = (peer: number, family: 4 | 6, asSize: 2 | 4, buf: Buffer, a: number, alen: number, plen: number, pfx: number) => void;

/**
 * RFC 6396 §4.3.2 RIB entries for one prefix (RFC 8050 §4: with a path identifier before the
 * attribute length). Returns false for a malformed record.
 */
function readRib(buf: Buffer, start: number, end: number, family: 4 | 6, addPath: boolean, peerCount: number, sink: RouteSink): boolean {
  let p = start + 4; // sequence number
  if (p + 1 > end) return false;
  const plen = buf[p++];
  if (plen > (family === 4 ? 32 : 128)) return false;
  const pfx = p;
  p += (plen + 7) >> 3;
  if (p + 2 > end) return false;
  const entries = buf.readUInt16BE(p);
  p += 2;
  const entryHead = addPath ? 12 : 8; // peer index (2), originated time (4), [path id (4)], attribute length (2)
  for (let i = 0; i < entries; i++) {
    if (p + entryHead > end) return false;
    const peer = buf.readUInt16BE(p);
    const alen = buf.readUInt16BE(p + entryHead - 2);
    const a = p + entryHead;
    if (a + alen > end) return false;
    if (peer < peerCount) sink(peer, family, 4, buf, a, alen, plen, pfx);
    p = a + alen;
  }
  return true;
}

export interface MrtUpdate {
  /** Seconds since the epoch, with the microseconds of BGP4MP_ET. */
  time: number;
  peerAs: number;
  peerAddress: string;
  /** The BGP message as received, header included. */
  message: Buffer;
  /** AS numbers in the message are 4 octets (the MESSAGE_AS4 subtypes). */
  asn4: boolean;
  /** NLRI carry RFC 7911 path identifiers (the RFC 8050 ADDPATH subtypes). */
  addPath: boolean;
}

export interface MrtUpdatesSummary {
  records: number;
  updates: number;
  /** STATE_CHANGE and STATE_CHANGE_AS4 records, skipped. */
  stateChanges: number;
  /** OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH messages, skipped. */
  otherMessages: number;
  /** MESSAGE_*LOCAL records (what the collector sent), skipped. */
  localMessages: number;
  /** Records of other types, or too short to hold what they claim. */
  skipped: number;
  truncated: boolean;
}

/** Subtype -> [AS size, local, add-path]; undefined for subtypes that carry no message. */
const MESSAGE_SUBTYPES: Record<number, [2 | 4, boolean, boolean]> = {
  [Bgp4mpSubtype.MESSAGE]: [2, false, false],
  [Bgp4mpSubtype.MESSAGE_AS4]: [4, false, false],
  [Bgp4mpSubtype.MESSAGE_LOCAL]: [2, true, false],
  [Bgp4mpSubtype.MESSAGE_AS4_LOCAL]: [4, true, false],
  [Bgp4mpSubtype.MESSAGE_ADDPATH]: [2, false, true],
  [Bgp4mpSubtype.MESSAGE_AS4_ADDPATH]: [4, false, true],
  [Bgp4mpSubtype.MESSAGE_LOCAL_ADDPATH]: [2, true, true],
  [Bgp4mpSubtype.MESSAGE_AS4_LOCAL_ADDPATH]: [4, true, true],
};

/**
 * Streams the UPDATEs of a BGP4MP trace with their timestamps, for replay at 1x or faster.
 * The generator's return value (for callers driving it by hand) counts what was skipped.
 */
export async function* readUpdates(path: string): AsyncGenerator<MrtUpdate, MrtUpdatesSummary, void> {
  const summary: MrtUpdatesSummary = { records: 0, updates: 0, stateChanges: 0, otherMessages: 0, localMessages: 0, skipped: 0, truncated: false };
  const ready: MrtUpdate[] = [];
  const onRecord: RecordHandler = (buf, type, subtype, ts, start, end) => {
    if (type !== MrtType.BGP4MP && type !== MrtType.BGP4MP_ET) {
      summary.skipped++;
      return;
    }
    let p = start;
    let time = ts;
    if (type === MrtType.BGP4MP_ET) {
      if (end - p < 4) return void summary.skipped++;
      time += buf.readUInt32BE(p) / 1e6;
      p += 4;
    }
    if (subtype === Bgp4mpSubtype.STATE_CHANGE || subtype === Bgp4mpSubtype.STATE_CHANGE_AS4) {
      summary.stateChanges++;
      return;
    }
    const kind = MESSAGE_SUBTYPES[subtype];
    if (!kind) return void summary.skipped++;
    const [asSize, local, addPath] = kind;
    if (local) return void summary.localMessages++;
    // peer AS, local AS, interface index (2), AFI (2), peer IP, local IP, message
    if (end - p < 2 * asSize + 4) return void summary.skipped++;
    const peerAs = asSize === 4 ? buf.readUInt32BE(p) : buf.readUInt16BE(p);
    p += 2 * asSize + 2;
    const afi = buf.readUInt16BE(p);
    p += 2;
    const alen = afi === 2 ? 16 : 4;
    if (end - p < 2 * alen + HEADER_LENGTH) return void summary.skipped++;
    const peerAddress = alen === 16 ? ipv6FromBytes(buf, p) : ipv4FromBytes(buf, p);
    p += 2 * alen;
    if (buf[p + 18] !== MessageType.UPDATE) return void summary.otherMessages++;
    summary.updates++;
    ready.push({ time, peerAs, peerAddress, message: buf.subarray(p, end), asn4: asSize === 4, addPath });
  };

  const status: SourceStatus = { compression: 'none', truncated: false };
  const framer = new MrtFramer();
  for await (const chunk of readChunks(path, status)) {
    framer.push(chunk, onRecord);
    for (const u of ready) yield u;
    ready.length = 0;
  }
  summary.records = framer.records;
  summary.truncated = status.truncated || framer.pending > 0 || framer.corrupt;
  return summary;
}
