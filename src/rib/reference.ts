// A plain, single-threaded reference RIB: JS maps and decoded attributes, written for clarity,
// not speed. The property tests hold the shared-memory RIB to the same Loc-RIB.

import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  decodeUpdate,
  encodeAttribute,
  mergeAs4,
  type AsPathAttribute,
  type PathAttribute,
  type Prefix,
} from '../packet/index.js';
import type { PeerContext } from './apply.js';
import type { PeerInfo } from './pipeline.js';

interface RefPath {
  peer: number;
  pathId: number;
  attrs: PathAttribute[];
  key: string; // hex of the attribute block, to compare with the shared RIB
}

export interface RefBest {
  peer: number;
  pathId: number;
  attributes: string;
}

export class ReferenceRib {
  private readonly table = new Map<string, RefPath[]>();

  constructor(
    private readonly localAs: number,
    private readonly peers: Map<number, PeerInfo>,
    private readonly alwaysCompareMed = false,
  ) {}

  apply(peer: number, ctx: PeerContext, msg: Uint8Array): void {
    const u = decodeUpdate(msg, { asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: { ipv4: ctx.addPath, ipv6: ctx.addPath6 } });
    const reach = u.attributes.find((a) => a.type === AttrType.MP_REACH_NLRI) as { afi: number; safi: number; nextHops: string[]; nlri: Prefix[] } | undefined;
    const unreach = u.attributes.find((a) => a.type === AttrType.MP_UNREACH_NLRI) as { safi: number; withdrawn: Prefix[] } | undefined;
    const v6 = reach && reach.afi === 2 && reach.safi === 1 ? reach.nlri : [];
    for (const w of [...u.withdrawn, ...(unreach?.safi === 1 ? unreach.withdrawn : [])]) this.remove(w.prefix, peer, w.pathId ?? 0);
    if (u.nlri.length === 0 && v6.length === 0) return;
    if (u.treatAsWithdraw) {
      for (const n of [...u.nlri, ...v6]) this.remove(n.prefix, peer, n.pathId ?? 0);
      return;
    }
    const common = mergeAs4(u.attributes, ctx.asn4).filter((a) => a.type !== AttrType.MP_REACH_NLRI && a.type !== AttrType.MP_UNREACH_NLRI);
    const keyOf = (attrs: PathAttribute[]) => Buffer.concat(attrs.map((a) => encodeAttribute(a, { asn4: true }))).toString('hex');
    const add = (prefixes: Prefix[], attrs: PathAttribute[]) => {
      const key = keyOf(attrs);
      for (const n of prefixes) {
        const list = this.table.get(n.prefix) ?? [];
        const pathId = n.pathId ?? 0;
        const i = list.findIndex((p) => p.peer === peer && p.pathId === pathId);
        const path = { peer, pathId, attrs, key };
        if (i >= 0) list[i] = path;
        else list.push(path);
        this.table.set(n.prefix, list);
      }
    };
    add(u.nlri, common);
    if (v6.length) {
      // An IPv6 path keeps its next hop as an MP_REACH_NLRI without NLRI, as the RIB stores it.
      const nh: PathAttribute = { type: AttrType.MP_REACH_NLRI, flags: AttrFlag.Optional, afi: 2, safi: 1, nextHops: reach!.nextHops, nlri: [] };
      add(v6, [...common.filter((a) => a.type !== AttrType.NEXT_HOP), nh]);
    }
  }

  flush(peer: number): void {
    for (const [prefix, list] of this.table) {
      this.table.set(prefix, list.filter((p) => p.peer !== peer));
    }
  }

  private remove(prefix: string, peer: number, pathId: number): void {
    const list = this.table.get(prefix);
    if (list) this.table.set(prefix, list.filter((p) => !(p.peer === peer && p.pathId === pathId)));
  }

  /** The Loc-RIB: prefix -> best path, for prefixes that have one. */
  locRib(): Map<string, RefBest> {
    const out = new Map<string, RefBest>();
    for (const [prefix, list] of this.table) {
      const best = this.decide(list);
      if (best) out.set(prefix, { peer: best.peer, pathId: best.pathId, attributes: best.key });
    }
    return out;
  }

  private field(p: RefPath) {
    const get = <T extends PathAttribute>(t: number) => p.attrs.find((a) => a.type === t) as T | undefined;
    const asPath = get<AsPathAttribute>(AttrType.AS_PATH);
    const segments = asPath?.segments ?? [];
    let length = 0;
    for (const s of segments) length += s.type === AsPathSegmentType.AS_SEQUENCE ? s.asns.length : s.type === AsPathSegmentType.AS_SET ? 1 : 0;
    const firstSeq = segments[0]?.type === AsPathSegmentType.AS_SEQUENCE ? segments[0].asns[0] : 0;
    const info = this.peers.get(p.peer)!;
    const lp = get<{ type: number; flags: number; localPref: number }>(AttrType.LOCAL_PREF);
    const originator = get<{ type: number; flags: number; originatorId: string }>(AttrType.ORIGINATOR_ID);
    const toU32 = (ip: string) => ip.split('.').reduce((x, o) => ((x << 8) | Number(o)) >>> 0, 0);
    return {
      loop: segments.some((s) => s.asns.includes(this.localAs)),
      localPref: info.ibgp && lp ? lp.localPref : 100,
      length,
      origin: get<{ type: number; flags: number; origin: number }>(AttrType.ORIGIN)?.origin ?? 0,
      med: get<{ type: number; flags: number; med: number }>(AttrType.MULTI_EXIT_DISC)?.med ?? 0,
      neighborAs: firstSeq,
      ibgp: info.ibgp,
      routerId: info.ibgp && originator ? toU32(originator.originatorId) : info.routerId,
      clusterLength: info.ibgp ? ((get<{ type: number; flags: number; clusterList: string[] }>(AttrType.CLUSTER_LIST)?.clusterList.length) ?? 0) : 0,
      address: info.address,
      pathId: p.pathId,
    };
  }

  private decide(list: RefPath[]): RefPath | null {
    let c = list.map((p) => ({ p, f: this.field(p) })).filter((x) => !x.f.loop);
    const keepBest = (score: (f: ReturnType<ReferenceRib['field']>) => number) => {
      const min = Math.min(...c.map((x) => score(x.f)));
      c = c.filter((x) => score(x.f) === min);
    };
    if (c.length === 0) return null;
    keepBest((f) => -f.localPref);
    keepBest((f) => f.length);
    keepBest((f) => f.origin);
    const all = c;
    c = c.filter((x) => !all.some((y) => y !== x && (this.alwaysCompareMed || y.f.neighborAs === x.f.neighborAs) && y.f.med < x.f.med));
    keepBest((f) => (f.ibgp ? 1 : 0));
    keepBest((f) => f.routerId);
    keepBest((f) => f.clusterLength);
    keepBest((f) => f.address);
    keepBest((f) => f.pathId);
    return c[0].p;
  }
}
