// What the sending peers send: synthetic tables of the real shape (one variant per peer, so
// paths differ) or the peers of a real MRT RIB dump, and how many distinct prefixes a complete
// sink must then hold.

import { ConfigError } from '../../config/schema.js';
import { AttrType } from '../../packet/constants.js';
import { AttrWalker } from '../../packet/attr/walk.js';
import { PrefixSet } from '../loadgen/peer.js';
import { generateTable, readRibDump, type EncodedTable } from '../tablegen/index.js';

export interface TableSet {
  tables: EncodedTable[];
  expected: number;
  description: string;
}

/** Whether the UPDATE at b[off, off+len) has `asn` in its (4-octet) AS_PATH. */
function pathContains(b: Buffer, off: number, asn: number): boolean {
  const wLen = b.readUInt16BE(off + 19);
  const aStart = off + 23 + wLen;
  const aEnd = aStart + b.readUInt16BE(off + 21 + wLen);
  const w = new AttrWalker(b, aStart, aEnd);
  while (w.next()) {
    if (w.type !== AttrType.AS_PATH) continue;
    for (let q = w.value; q < w.value + w.length; q += 2 + b[q + 1] * 4) {
      for (let i = 0; i < b[q + 1]; i++) if (b.readUInt32BE(q + 2 + i * 4) === asn) return true;
    }
  }
  return false;
}

/**
 * `targetAs`: a router drops paths that hold its own AS (RFC 4271 §9.1.2), so real tables
 * that carry it are not expected at the sink.
 */
export async function loadTables(o: { peers: number; prefixes: number; mrt?: string; firstAs: number; targetAs?: number }): Promise<TableSet> {
  if (!o.mrt) {
    const tables = Array.from({ length: o.peers }, (_, i) =>
      generateTable({ seed: 1, ipv4Prefixes: o.prefixes, ipv6Prefixes: 0, variant: i, senderAs: o.firstAs + i }),
    );
    return { tables, expected: o.prefixes, description: `${o.peers} x ${o.prefixes.toLocaleString('en-US')} synthetic IPv4 prefixes` };
  }
  // The dump's largest views, each replayed by one sending peer as its own AS.
  const dump = await readRibDump(o.mrt, { nextHop: '198.18.0.1' });
  const views = dump.peers
    .filter((p) => p.table.ipv4Prefixes > 0 && p.table.ipv6Prefixes === 0)
    .sort((a, b) => b.table.ipv4Prefixes - a.table.ipv4Prefixes);
  if (views.length < o.peers) throw new ConfigError('--mrt', `a dump with ${o.peers} IPv4 views (this one has ${views.length})`, o.mrt);
  const chosen = await Promise.all(
    views.slice(0, o.peers).map(async (v, i) => (await readRibDump(o.mrt!, { nextHop: '198.18.0.1', peers: [v.index], prependAs: o.firstAs + i })).peers[0]),
  );
  // The sink must end up with the union of what the senders announce.
  const union = new PrefixSet();
  for (const p of chosen) {
    const b = p.table.updates;
    for (let off = 0; off < b.length; off += b.readUInt16BE(off + 16)) {
      if (o.targetAs === undefined || !pathContains(b, off, o.targetAs)) union.apply(b, off, b.readUInt16BE(off + 16));
    }
  }
  const sizes = chosen.map((p) => p.table.ipv4Prefixes.toLocaleString('en-US')).join(' + ');
  return { tables: chosen.map((p) => p.table), expected: union.size, description: `${o.mrt.split('/').pop()}: views of AS${chosen.map((p) => p.asn).join(', AS')} (${sizes} prefixes)` };
}
