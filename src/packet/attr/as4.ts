// RFC 6793 §4.2.3: a 2-octet-AS peer's AS4_PATH and AS4_AGGREGATOR merged back into AS_PATH
// and AGGREGATOR, in the codec's object form.

import type { AggregatorAttribute, AsPathAttribute, AsPathSegment, PathAttribute } from '../attributes.js';
import { AS_TRANS, AsPathSegmentType, AttrType } from '../constants.js';

function asCount(segments: readonly AsPathSegment[]): number {
  // RFC 6793 §4.2.3 counts an AS_SET as one and confederation segments as none.
  let n = 0;
  for (const s of segments) {
    if (s.type === AsPathSegmentType.AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AsPathSegmentType.AS_SET) n += 1;
  }
  return n;
}

/** Joins adjacent AS_SEQUENCE segments (up to 255 ASes each), as a sender would have written them. */
function joinSequences(segments: AsPathSegment[]): AsPathSegment[] {
  const out: AsPathSegment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (last && last.type === AsPathSegmentType.AS_SEQUENCE && s.type === AsPathSegmentType.AS_SEQUENCE && last.asns.length + s.asns.length <= 255) {
      last.asns = [...last.asns, ...s.asns];
    } else out.push({ type: s.type, asns: s.asns.slice() });
  }
  return out;
}

/**
 * RFC 6793 §4.2.3: from a 2-octet-AS peer, merges AS4_PATH and AS4_AGGREGATOR back into
 * AS_PATH and AGGREGATOR and drops the AS4_ attributes. From a 4-octet-AS peer the AS4_
 * attributes are simply dropped (§4.1).
 */
export function mergeAs4(attrs: readonly PathAttribute[], peerAsn4: boolean): PathAttribute[] {
  const asPath = attrs.find((a) => a.type === AttrType.AS_PATH) as AsPathAttribute | undefined;
  const as4Path = attrs.find((a) => a.type === AttrType.AS4_PATH) as AsPathAttribute | undefined;
  const agg = attrs.find((a) => a.type === AttrType.AGGREGATOR) as AggregatorAttribute | undefined;
  const as4Agg = attrs.find((a) => a.type === AttrType.AS4_AGGREGATOR) as AggregatorAttribute | undefined;
  const rest = attrs.filter((a) => a.type !== AttrType.AS4_PATH && a.type !== AttrType.AS4_AGGREGATOR);
  if (peerAsn4 || (!as4Path && !as4Agg)) return rest;
  // AGGREGATOR and AS4_AGGREGATOR both received, and the first without AS_TRANS: both AS4_
  // attributes are ignored (§4.2.3).
  if (agg && as4Agg && agg.asn !== AS_TRANS) return rest;
  let newAgg: PathAttribute | undefined;
  if (agg && as4Agg) newAgg = { type: AttrType.AGGREGATOR, flags: agg.flags, asn: as4Agg.asn, address: as4Agg.address };
  let newPath: PathAttribute | undefined;
  if (asPath && as4Path) {
    const as4Segments = as4Path.segments;
    const n2 = asCount(asPath.segments);
    const n4 = asCount(as4Segments);
    if (n2 >= n4) {
      // Keep the leading (n2 - n4) ASes of AS_PATH, then all of AS4_PATH.
      let keep = n2 - n4;
      const lead: AsPathSegment[] = [];
      for (const s of asPath.segments) {
        // Confederation segments count for nothing: they stay with the leading part.
        if (keep <= 0 && (s.type === AsPathSegmentType.AS_SEQUENCE || s.type === AsPathSegmentType.AS_SET)) break;
        if (s.type === AsPathSegmentType.AS_SEQUENCE) {
          const take = s.asns.slice(0, keep);
          lead.push({ type: s.type, asns: take });
          keep -= take.length;
        } else if (s.type === AsPathSegmentType.AS_SET) {
          lead.push({ type: s.type, asns: s.asns.slice() });
          keep -= 1;
        } else {
          lead.push({ type: s.type, asns: s.asns.slice() });
        }
      }
      newPath = { type: AttrType.AS_PATH, flags: asPath.flags, segments: joinSequences([...lead, ...as4Segments]) };
    }
  }
  return rest.map((a) => (a.type === AttrType.AS_PATH && newPath ? newPath : a.type === AttrType.AGGREGATOR && newAgg ? newAgg : a));
}
