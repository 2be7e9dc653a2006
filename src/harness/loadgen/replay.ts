// Churn from a real BGP4MP update trace (RFC 6396): the busiest peer's UPDATEs, rewritten for
// a replaying session (IPv4 unicast, 4-octet AS, our next hop, the sender's AS first), with
// their original spacing so they can be played at 1x or faster.

import {
  AsPathSegmentType,
  AttrType,
  decodeUpdate,
  encodeUpdate,
  mergeAs4,
  type AsPathAttribute,
  type PathAttribute,
} from '../../packet/index.js';
import { readUpdates } from '../tablegen/index.js';

export interface Trace {
  peer: string;
  /** Seconds after the first message. */
  offsets: number[];
  messages: Buffer[];
  /** Messages of that peer left out (ADD-PATH, malformed, nothing IPv4 left). */
  skipped: number;
}

export async function loadTrace(path: string, senderAs: number, nextHop = '198.18.0.1'): Promise<Trace> {
  const all = new Map<string, Array<{ time: number; message: Buffer; asn4: boolean; addPath: boolean }>>();
  for await (const u of readUpdates(path)) {
    let list = all.get(u.peerAddress);
    if (!list) all.set(u.peerAddress, (list = []));
    list.push(u);
  }
  const [peer, updates] = [...all].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
  const trace: Trace = { peer, offsets: [], messages: [], skipped: 0 };
  const t0 = updates[0]?.time ?? 0;
  for (const u of updates) {
    const rewritten = u.addPath ? null : rewrite(u.message, u.asn4, senderAs, nextHop);
    if (!rewritten) {
      trace.skipped++;
      continue;
    }
    trace.offsets.push(u.time - t0);
    trace.messages.push(rewritten);
  }
  return trace;
}

/** The IPv4 part of one UPDATE as the replaying sender would send it, or null. */
function rewrite(msg: Buffer, asn4: boolean, senderAs: number, nextHop: string): Buffer | null {
  let u;
  try {
    u = decodeUpdate(msg, { asn4 });
  } catch {
    return null;
  }
  if (u.withdrawn.length === 0 && u.nlri.length === 0) return null;
  if (u.nlri.length === 0 || u.treatAsWithdraw) {
    const withdrawn = [...u.withdrawn, ...(u.treatAsWithdraw ? u.nlri : [])];
    return Buffer.from(encodeUpdate({ withdrawn, attributes: [], nlri: [] }, { asn4: true }));
  }
  const attrs: PathAttribute[] = mergeAs4(u.attributes, asn4)
    .filter((a) => a.type !== AttrType.MP_REACH_NLRI && a.type !== AttrType.MP_UNREACH_NLRI)
    .map((a) => {
      if (a.type === AttrType.NEXT_HOP) return { ...a, nextHop } as PathAttribute;
      if (a.type === AttrType.AS_PATH) {
        const p = a as AsPathAttribute;
        return { ...p, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [senderAs] }, ...p.segments] };
      }
      return a;
    });
  return Buffer.from(encodeUpdate({ withdrawn: u.withdrawn, attributes: attrs, nlri: u.nlri }, { asn4: true }));
}
