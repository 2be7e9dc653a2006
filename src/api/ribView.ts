// The RIB as the management plane shows it, read straight from shared memory beside the
// workers: route lookups (exact, longest match, more specifics) with every path and the
// decision step that beat each loser, the whole table streamed in chunks with backpressure,
// and the summary per family.

import { isIP } from 'node:net';
import { parsePrefix } from '../packet/index.js';
import { attributeBytes } from '../rib/attrs.js';
import { REASON_NAMES } from '../rib/decision.js';
import { HEADER_WORDS, H_PATH_TOP, H_PATHS, H_PREFIXES, H_ROUTED, IPV6, META_WORDS, P_NEXT, PATH_WORDS, type Family, type RibViews } from '../rib/memory.js';
import { forEachPrefix, locate, pathsAt, prefixAt, prefixKey, walkPrefixes, type PathView } from '../rib/query.js';
import { TOUCHED } from '../rib/shard.js';
import type { Speaker } from '../speaker/speaker.js';
import { AttributeCache, type PathAttributesView } from './routeRow.js';
import { ApiError, num, type ChunkSink } from './transport.js';

export type Match = 'exact' | 'longest' | 'longer';
export type FamilyName = 'ipv4' | 'ipv6';

export interface RouteRow extends Omit<PathAttributesView, 'path'> {
  prefix: string;
  /** RFC 7911 path identifier (0 without ADD-PATH). */
  pathId: number;
  path: string;
  best: boolean;
  /** Why the decision process did not choose it (absent on the best path, and in collector mode, where none runs). */
  reason?: string;
  /** RFC 4724: kept from a restarting peer's previous session. */
  stale: boolean;
  fromPeer: string;
  peerAs: number;
  /** Seconds since the path was learned or last changed. */
  age: number;
}

/** What a lookup found: the prefixes with their stored paths, before rows are made of them. */
export interface Matches {
  routes: { prefix: string; paths: PathView[] }[];
  /** A `longer` lookup stopped at MAX_LONGER prefixes. */
  truncated: boolean;
}

export interface PrefixRoutes {
  prefix: string;
  paths: RouteRow[];
}

/** Rows of one `longer` lookup at most; the answer says when it stopped there. */
const MAX_LONGER = 10_000;
const FAMILY_INDEX: Record<FamilyName, number> = { ipv4: 0, ipv6: 1 };

export function parseFamily(text: string | null): FamilyName | undefined {
  if (text === null || text === '') return undefined;
  const t = text.toLowerCase().replace(/[-_/]unicast$/, '');
  if (t === 'ipv4' || t === 'ipv6') return t;
  throw new ApiError(400, 'family', `expected ipv4 or ipv6, got ${JSON.stringify(text)}`);
}

export class RibView {
  private readonly attrs: AttributeCache;
  private readonly v: RibViews;
  /** Collector mode: no path is best and none lost to another. */
  private readonly collector: boolean;

  constructor(private readonly speaker: Speaker) {
    if (!speaker.rib) throw new Error('the speaker runs without a RIB');
    this.v = speaker.rib.views;
    this.collector = speaker.rib.collector;
    this.attrs = new AttributeCache(this.v);
  }

  /** Peer index -> [address, AS], fresh per request (neighbors do not change while it runs). */
  peerNames(): Map<number, [string, number]> {
    const m = new Map<number, [string, number]>();
    for (const n of this.speaker.neighbors.values()) {
      const i = this.speaker.peerIndex(n);
      if (i !== undefined) m.set(i, [n.config.address, n.session?.peerAs ?? n.config.remoteAs]);
    }
    if (this.speaker.local) m.set(this.speaker.local.index, ['local', this.speaker.config.global.asn]);
    for (const [i, p] of this.speaker.remotePeers) m.set(i, [p.name, p.asn]);
    return m;
  }

  private row(prefix: string, p: PathView, names: Map<number, [string, number]>): RouteRow {
    const a = this.attrs.get(p.attr);
    const [fromPeer, peerAs] = names.get(p.peer) ?? ['', 0];
    const age = Math.max(0, Math.floor(Date.now() / 1000) - p.time);
    const r: RouteRow = { prefix, pathId: p.pathId, ...a, best: p.best, stale: p.stale, fromPeer, peerAs, age };
    if (!p.best && !this.collector) r.reason = REASON_NAMES[p.reason] ?? `step ${p.reason}`;
    return r;
  }

  /**
   * JSON.stringify(row(prefix, p, names)) written as text, without the row: the attribute
   * set's members are serialized once per set (test/api/json.test.ts holds the two equal).
   */
  rowJson(prefix: string, p: PathView, names: Map<number, [string, number]>, nowSeconds: number): string {
    const [fromPeer, peerAs] = names.get(p.peer) ?? ['', 0];
    const reason = !p.best && !this.collector ? `,"reason":${JSON.stringify(REASON_NAMES[p.reason] ?? `step ${p.reason}`)}` : '';
    return (
      `{"prefix":${JSON.stringify(prefix)},"pathId":${num(p.pathId)},${this.attrs.json(p.attr)},"best":${p.best},"stale":${p.stale}` +
      `,"fromPeer":${JSON.stringify(fromPeer)},"peerAs":${num(peerAs)},"age":${num(Math.max(0, nowSeconds - p.time))}${reason}}`
    );
  }

  /** GET /rib?prefix=…&format=json: JSON.stringify({ prefix, match, routes, truncated? }) of lookup()'s rows, written by rowJson. */
  lookupJson(prefix: string, match: Match, found: Matches): string {
    const names = this.peerNames();
    const now = Math.floor(Date.now() / 1000);
    let o = `{"prefix":${JSON.stringify(prefix)},"match":${JSON.stringify(match)},"routes":[`;
    for (let i = 0; i < found.routes.length; i++) {
      const r = found.routes[i];
      o += `${i ? ',' : ''}{"prefix":${JSON.stringify(r.prefix)},"paths":[`;
      for (let j = 0; j < r.paths.length; j++) o += `${j ? ',' : ''}${this.rowJson(r.prefix, r.paths[j], names, now)}`;
      o += ']}';
    }
    return o + (found.truncated ? '],"truncated":true}' : ']}');
  }

  /** GET /rib?prefix=…&format=ndjson: one row per line. */
  lookupNdjson(found: Matches): string {
    const names = this.peerNames();
    const now = Math.floor(Date.now() / 1000);
    let o = '';
    for (const r of found.routes) for (const p of r.paths) o += `${this.rowJson(r.prefix, p, names, now)}\n`;
    return o;
  }

  /** The bytes of an interned attribute set (a view into shared memory). */
  attributeBlock(id: number): Uint8Array {
    return attributeBytes(this.v, id);
  }

  /** Resolves `peer=ADDR` to its RIB index. */
  peerFilter(address: string | null): number | undefined {
    if (address === null || address === '') return undefined;
    if (address === 'local' && this.speaker.local) return this.speaker.local.index;
    for (const [i, p] of this.speaker.remotePeers) if (p.name === address) return i;
    const n = this.speaker.neighbors.get(address);
    const i = n && this.speaker.peerIndex(n);
    if (i === undefined) throw new ApiError(404, 'peer', `no neighbor ${JSON.stringify(address)}`);
    return i;
  }

  /** Every path of the prefixes matching `prefix` (a bare address means its host prefix). */
  lookup(prefix: string, match: Match, peer?: number): { routes: PrefixRoutes[]; truncated: boolean } {
    const found = this.matches(prefix, match, peer);
    const names = this.peerNames();
    return { routes: found.routes.map((r) => ({ prefix: r.prefix, paths: r.paths.map((p) => this.row(r.prefix, p, names)) })), truncated: found.truncated };
  }

  /** The prefixes matching `prefix` with their stored paths (from `peer` only, when given): lookup() before its rows are made. */
  matches(prefix: string, match: Match, peer?: number): Matches {
    let parsed: ReturnType<typeof parsePrefix>;
    try {
      const ip = isIP(prefix);
      parsed = parsePrefix(ip ? `${prefix}/${ip === 6 ? 128 : 32}` : prefix);
    } catch (e) {
      throw new ApiError(400, 'prefix', `not a prefix: ${JSON.stringify(prefix)} (${(e as Error).message})`);
    }
    const f = this.v.families[parsed.afi === 2 ? 1 : 0];
    const key = prefixKey(parsed.bytes, f.keyWords);
    const routes: { prefix: string; paths: PathView[] }[] = [];
    const add = (shard: number, slot: number) => {
      let paths = pathsAt(this.v, f, shard, slot);
      if (peer !== undefined) paths = paths.filter((p) => p.peer === peer);
      if (paths.length) routes.push({ prefix: prefixAt(f, shard, slot), paths });
      return paths.length > 0;
    };
    if (match === 'exact') {
      const at = locate(this.v, f, key, parsed.length);
      if (at) add(at.shard, at.slot);
      return { routes, truncated: false };
    }
    if (match === 'longest') {
      const k = new Uint32Array(4);
      for (let len = parsed.length; len >= 0; len--) {
        const at = locate(this.v, f, masked(key, len, k), len);
        if (at && add(at.shard, at.slot)) break;
      }
      return { routes, truncated: false };
    }
    let truncated = false;
    forEachPrefix(this.v, (_f, shard, slot) => {
      const slots = f.slots[shard];
      const o = slot * f.words;
      const len = (slots[o + f.lenAt] & ~TOUCHED) - 1;
      if (len < parsed.length || !covers(key, parsed.length, slots, o)) return true;
      add(shard, slot);
      if (routes.length >= MAX_LONGER) truncated = true;
      return !truncated;
    }, [f]);
    routes.sort((a, b) => a.prefix.localeCompare(b.prefix, 'en', { numeric: true }));
    return { routes, truncated };
  }

  /**
   * Visits every prefix of `families` with its paths (from `peer` only, when given), in chunks
   * of slots; after each chunk that visited something, `pause` decides when to go on (false:
   * stop). Readers beside the writers: see query.ts.
   */
  async walk(families: Family[], peer: number | undefined, visit: (prefix: string, paths: PathView[]) => void, pause: () => Promise<boolean>): Promise<void> {
    await walkPrefixes(
      families,
      (f, s, i) => {
        const paths = pathsAt(this.v, f, s, i).filter((p) => peer === undefined || p.peer === peer);
        if (paths.length === 0) return false;
        visit(prefixAt(f, s, i), paths);
        return true;
      },
      pause,
    );
  }

  /**
   * The table as NDJSON, one path per line, from shared memory in chunks: after each chunk it
   * waits for the client to take what was queued. Never more than a chunk in memory.
   */
  async streamTable(sink: ChunkSink, families: Family[], peer?: number): Promise<void> {
    const names = this.peerNames();
    let lines: string[] = [];
    await this.walk(
      families,
      peer,
      (prefix, paths) => {
        const now = Math.floor(Date.now() / 1000);
        for (const p of paths) lines.push(this.rowJson(prefix, p, names, now));
      },
      async () => {
        const ok = sink.write(lines.join('\n') + '\n');
        lines = [];
        if (!ok) await sink.writable();
        else await new Promise((r) => setImmediate(r)); // let the sessions run between chunks
        return !sink.closed;
      },
    );
  }

  familiesOf(name: FamilyName | undefined): Family[] {
    return name ? [this.v.families[FAMILY_INDEX[name]]] : [...this.v.families];
  }

  /**
   * What /neighbors and /metrics show, from the shards' own counters: no scan, so asking it in
   * a loop costs the pipeline nothing.
   */
  counts(): RibCounts {
    const v = this.v;
    let pathRecords = 0;
    let paths = 0;
    for (let s = 0; s < v.paths.length; s++) {
      pathRecords += v.headers[s * HEADER_WORDS + H_PATH_TOP];
      paths += v.headers[s * HEADER_WORDS + H_PATHS];
    }
    const fam = (f: Family) => {
      let prefixes = 0;
      let slots = 0;
      for (let s = 0; s < f.slots.length; s++) {
        prefixes += v.headers[s * HEADER_WORDS + H_ROUTED + f.id * 2];
        slots += v.headers[s * HEADER_WORDS + H_PREFIXES + f.id * 3];
      }
      return { prefixes, slotBytes: slots * f.words * 4 };
    };
    const [v4, v6] = v.families.map(fam);
    const attributeSets = Math.max(0, Atomics.load(v.attrCounters, 0) - 1);
    const attributeBytes = Atomics.load(v.attrCounters, 1) + attributeSets * META_WORDS * 4;
    const pathBytes = pathRecords * PATH_WORDS * 4;
    return {
      ipv4Unicast: v4,
      ipv6Unicast: v6,
      paths,
      attributeSets,
      attributeBytes,
      pathBytes,
      ribMemory: v4.slotBytes + v6.slotBytes + attributeBytes + pathBytes,
    };
  }

  /** GET /rib/summary: the counts, with best paths and paths per family from a scan of the tables. */
  summary(): RibSummary {
    const v = this.v;
    const c = this.counts();
    const out: RibSummary = { ...c, ipv4Unicast: { ...c.ipv4Unicast, bestPaths: 0, paths: 0 }, ipv6Unicast: { ...c.ipv6Unicast, bestPaths: 0, paths: 0 } };
    for (const f of v.families) {
      const row = out[f.id === IPV6 ? 'ipv6Unicast' : 'ipv4Unicast'];
      forEachPrefix(v, (_f, s, i) => {
        const slots = f.slots[s];
        const o = i * f.words;
        if (slots[o + f.bestAt] !== 0) row.bestPaths++;
        let recs = v.paths[s];
        for (let r = slots[o + f.headAt]; r !== 0; r = recs[r * PATH_WORDS + P_NEXT]) {
          if ((r + 1) * PATH_WORDS > recs.length) recs = v.pathsWith(s, r);
          row.paths++;
        }
      }, [f]);
    }
    return out;
  }
}

export interface RibCounts {
  /** Prefixes with at least one path, and bytes of prefix slots in use. */
  ipv4Unicast: { prefixes: number; slotBytes: number };
  ipv6Unicast: { prefixes: number; slotBytes: number };
  paths: number;
  attributeSets: number;
  /** Attribute bytes plus their index entries. */
  attributeBytes: number;
  pathBytes: number;
  /** Bytes of the shared tables in use (FRR's ribMemory). */
  ribMemory: number;
}

export interface RibSummary extends RibCounts {
  ipv4Unicast: FamilySummary;
  ipv6Unicast: FamilySummary;
}

export interface FamilySummary {
  /** Prefixes with at least one path. */
  prefixes: number;
  /** Prefixes with a usable best path (the Loc-RIB). */
  bestPaths: number;
  paths: number;
  /** Bytes of prefix slots in use. */
  slotBytes: number;
}

/** key masked to its first `len` bits, written to `k`. */
function masked(key: Uint32Array, len: number, k: Uint32Array): Uint32Array {
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, len - w * 32));
    k[w] = bits === 0 ? 0 : bits === 32 ? key[w] : (key[w] & (~0 << (32 - bits))) >>> 0;
  }
  return k;
}

/** Whether the slot's network lies within key/len. */
function covers(key: Uint32Array, len: number, slots: Uint32Array, o: number): boolean {
  for (let w = 0; w * 32 < len; w++) {
    const bits = Math.min(32, len - w * 32);
    const m = bits === 32 ? 0xffffffff : (~0 << (32 - bits)) >>> 0;
    if (((slots[o + w] & m) >>> 0) !== ((key[w] & m) >>> 0)) return false;
  }
  return true;
}
