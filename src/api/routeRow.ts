// A stored path as operators read it (ecosystem §1.4): next hop, AS_PATH as segments, ORIGIN,
// MED, LOCAL_PREF, the three kinds of communities. Decoded from the interned attribute set
// (4-octet AS numbers, IPv6 next hop in an MP_REACH_NLRI without NLRI) and cached by its id:
// sets repeat across a table.

import { AsPathSegmentType, AttrType, decodeAttribute, WELL_KNOWN_COMMUNITY_NAMES, type PathAttribute } from '../packet/index.js';
import { AttrWalker } from '../packet/attr/walk.js';
import { attributeBytes } from '../rib/attrs.js';
import type { RibViews } from '../rib/memory.js';

export interface AsPathSegmentView {
  type: 'AS_SEQUENCE' | 'AS_SET' | 'AS_CONFED_SEQUENCE' | 'AS_CONFED_SET';
  list: number[];
}

export interface PathAttributesView {
  nextHop?: string;
  /** A second (link-local) IPv6 next hop. */
  nextHopLinkLocal?: string;
  asPath: AsPathSegmentView[];
  /** FRR's one-line form, "65001 65002 {65003,65004}". */
  path: string;
  origin?: 'IGP' | 'EGP' | 'incomplete';
  med?: number;
  localPref?: number;
  atomicAggregate?: true;
  aggregator?: { as: number; address: string };
  communities: string[];
  extendedCommunities: string[];
  largeCommunities: string[];
  originatorId?: string;
  clusterList?: string[];
  otc?: number;
}

const SEGMENT: Record<number, AsPathSegmentView['type']> = {
  [AsPathSegmentType.AS_SET]: 'AS_SET',
  [AsPathSegmentType.AS_SEQUENCE]: 'AS_SEQUENCE',
  [AsPathSegmentType.AS_CONFED_SEQUENCE]: 'AS_CONFED_SEQUENCE',
  [AsPathSegmentType.AS_CONFED_SET]: 'AS_CONFED_SET',
};
const ORIGIN = ['IGP', 'EGP', 'incomplete'] as const;

/** Well-known communities by value, for display. */
const WELL_KNOWN = new Map(Object.entries(WELL_KNOWN_COMMUNITY_NAMES).map(([name, value]) => [value, name]));

export function communityText(c: number): string {
  return WELL_KNOWN.get(c >>> 0) ?? `${c >>> 16}:${c & 0xffff}`;
}

export function pathText(segments: readonly AsPathSegmentView[]): string {
  return segments
    .map((s) => {
      const l = s.list.join(s.type.endsWith('SET') ? ',' : ' ');
      return s.type === 'AS_SEQUENCE' ? l : s.type === 'AS_SET' ? `{${l}}` : s.type === 'AS_CONFED_SET' ? `[${l}]` : `(${l})`;
    })
    .join(' ');
}

/** Decodes an attribute block (as the RIB stores it) into the route row's fields. */
export function attributesView(block: Uint8Array): PathAttributesView {
  const out: PathAttributesView = { asPath: [], path: '', communities: [], extendedCommunities: [], largeCommunities: [] };
  const w = new AttrWalker(block);
  while (w.next()) {
    let a: PathAttribute;
    try {
      a = decodeAttribute(w.type, w.flags, block.subarray(w.value, w.value + w.length), { asn4: true });
    } catch {
      continue; // stored sets passed RFC 7606 already; nothing to show for a part that did not
    }
    if ('segments' in a && a.type === AttrType.AS_PATH) {
      out.asPath = a.segments.map((s) => ({ type: SEGMENT[s.type] ?? 'AS_SEQUENCE', list: s.asns }));
      out.path = pathText(out.asPath);
    } else if ('origin' in a) out.origin = ORIGIN[a.origin] ?? 'incomplete';
    else if ('nextHop' in a) out.nextHop = a.nextHop;
    else if ('nextHops' in a) {
      out.nextHop = a.nextHops[0];
      if (a.nextHops[1]) out.nextHopLinkLocal = a.nextHops[1];
    } else if ('med' in a) out.med = a.med;
    else if ('localPref' in a) out.localPref = a.localPref;
    else if (a.type === AttrType.ATOMIC_AGGREGATE) out.atomicAggregate = true;
    else if ('address' in a && a.type === AttrType.AGGREGATOR) out.aggregator = { as: a.asn, address: a.address };
    else if ('communities' in a) out.communities = a.communities.map(communityText);
    else if ('extendedCommunities' in a) out.extendedCommunities = a.extendedCommunities.map((e) => Buffer.from(e).toString('hex'));
    else if ('largeCommunities' in a) out.largeCommunities = a.largeCommunities.map((l) => l.join(':'));
    else if ('originatorId' in a) out.originatorId = a.originatorId;
    else if ('clusterList' in a) out.clusterList = a.clusterList;
    else if ('otc' in a) out.otc = a.otc;
  }
  return out;
}

/** Attribute views by interned id; ids are never reused while the RIB lives. */
export class AttributeCache {
  private readonly cache = new Map<number, { view: PathAttributesView; json: string | undefined }>();

  constructor(
    private readonly v: RibViews,
    private readonly limit = 65536,
  ) {}

  private entry(id: number): { view: PathAttributesView; json: string | undefined } {
    let e = this.cache.get(id);
    if (!e) {
      e = { view: attributesView(attributeBytes(this.v, id)), json: undefined };
      if (this.cache.size >= this.limit) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(id, e);
    }
    return e;
  }

  get(id: number): PathAttributesView {
    return this.entry(id).view;
  }

  /** The view's members as JSON text without the braces (never empty: asPath is always there), for rows written as text. */
  json(id: number): string {
    const e = this.entry(id);
    return (e.json ??= JSON.stringify(e.view).slice(1, -1));
  }
}
