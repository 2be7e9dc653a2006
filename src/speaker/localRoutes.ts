// Routes the operator originates (the API's announce and withdraw): held in the RIB as the
// paths of one local peer, so that the decision and every Adj-RIB-Out treat them like any
// other. They enter the pipeline as UPDATEs built with the codec, checked by the same workers.

import { isIP } from 'node:net';
import { ConfigError, Fields, type Obj } from '../config/fields.js';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  encodeUpdate,
  parsePrefix,
  Origin,
  type PathAttribute,
  type Prefix,
} from '../packet/index.js';
import { DEFAULT_LOCAL_PREF } from '../packet/attr/export.js';
import { parseCommunity, parseLargeCommunity } from '../policy/policy.js';
import type { PeerContext } from '../rib/apply.js';
import type { RibPipeline } from '../rib/pipeline.js';

export interface LocalRoute {
  prefix: string;
  family: 4 | 6;
  /** Routes with the same key share their attributes (and their UPDATEs). */
  key: string;
  attributes: PathAttribute[];
}

/** Prefixes per UPDATE: well inside 4,096 octets for either family. */
const PER_UPDATE = { 4: 400, 6: 120 } as const;

const CONTEXT: PeerContext = { asn4: true, ebgp: false, addPath: false, addPath6: false, import: 'accept' };

function prefixOf(v: unknown, field: string): { prefix: string; family: 4 | 6 } {
  try {
    if (typeof v === 'string') return { prefix: v, family: parsePrefix(v).afi === 1 ? 4 : 6 };
  } catch {
    // named below
  }
  throw new ConfigError(field, 'a prefix such as "192.0.2.0/24" or "2001:db8::/32"', v);
}

/**
 * One route of an announce request: `prefix` and optional `next-hop` (default: the router id,
 * or its IPv4-mapped form for IPv6), `as-path` (list of AS numbers), `origin`, `med`,
 * `local-pref` (default 100), `communities`, `large-communities`. Unknown fields are refused.
 */
export function parseLocalRoute(obj: unknown, path: string, routerId: string, seen = new Map<string, PathAttribute[]>()): LocalRoute {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError(path, 'a route object with a prefix', obj);
  const f = new Fields(obj as Obj, path);
  const { prefix, family } = prefixOf(f.raw('prefix'), f.name('prefix'));
  const nh = f.raw('next-hop');
  if (nh !== undefined && (typeof nh !== 'string' || isIP(nh) === 0 || (family === 4 && isIP(nh) !== 4))) {
    throw new ConfigError(f.name('next-hop'), family === 4 ? 'an IPv4 address' : 'an IP address', nh);
  }
  const nextHop = (nh as string | undefined) ?? (family === 4 ? routerId : `::ffff:${routerId}`);
  const asPath = f.raw('as-path');
  if (asPath !== undefined && (!Array.isArray(asPath) || asPath.some((a) => !Number.isInteger(a) || a < 0 || a > 0xffffffff))) {
    throw new ConfigError(f.name('as-path'), 'a list of AS numbers', asPath);
  }
  const origin = f.oneOf('origin', ['igp', 'egp', 'incomplete'] as const, 'igp');
  const med = f.optInt('med', 0, 0xffffffff);
  const localPref = f.optInt('local-pref', 0, 0xffffffff);
  const list = <T>(key: string, parse: (s: string) => T | null, expected: string): T[] => {
    const v = f.raw(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new ConfigError(f.name(key), `a list of ${expected}`, v);
    return v.map((x) => {
      const r = typeof x === 'string' ? parse(x) : null;
      if (r === null) throw new ConfigError(f.name(key), `a list of ${expected}`, x);
      return r;
    });
  };
  const communities = list('communities', parseCommunity, 'communities such as "65000:100" or "no-export"');
  const large = list('large-communities', parseLargeCommunity, 'large communities such as "65000:1:2"');
  f.done();
  const key = [family, nextHop, (asPath as number[] | undefined)?.join(' ') ?? '', origin, med ?? '', localPref ?? '', communities.join(' '), large.map((l) => l.join(':')).join(' ')].join('|');
  const known = seen.get(key);
  if (known) return { prefix, family, key, attributes: known };
  const T = AttrFlag.Transitive;
  const O = AttrFlag.Optional;
  const attributes: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: origin === 'igp' ? Origin.IGP : origin === 'egp' ? Origin.EGP : Origin.INCOMPLETE },
    { type: AttrType.AS_PATH, flags: T, segments: asPath?.length ? [{ type: AsPathSegmentType.AS_SEQUENCE, asns: asPath as number[] }] : [] },
  ];
  if (family === 4) attributes.push({ type: AttrType.NEXT_HOP, flags: T, nextHop });
  if (med !== undefined) attributes.push({ type: AttrType.MULTI_EXIT_DISC, flags: O, med });
  // Held as from within our AS: LOCAL_PREF is part of the path (RFC 4271 §5.1.5), default 100.
  attributes.push({ type: AttrType.LOCAL_PREF, flags: T, localPref: localPref ?? DEFAULT_LOCAL_PREF });
  if (communities.length) attributes.push({ type: AttrType.COMMUNITIES, flags: O | T, communities });
  if (large.length) attributes.push({ type: AttrType.LARGE_COMMUNITY, flags: O | T, largeCommunities: large });
  if (family === 6) attributes.push({ type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: [nextHop], nlri: [] });
  seen.set(key, attributes);
  return { prefix, family, key, attributes };
}

export class LocalRoutes {
  constructor(
    private readonly rib: RibPipeline,
    /** The local peer's index in the RIB. */
    readonly index: number,
  ) {}

  /** Paths announced, or withdrawn, by one request; the RIB's answer to a malformed one. */
  async announce(routes: LocalRoute[]): Promise<{ announced: number }> {
    const groups = new Map<string, { family: 4 | 6; attributes: PathAttribute[]; prefixes: Prefix[] }>();
    for (const r of routes) {
      let g = groups.get(r.key);
      if (!g) groups.set(r.key, (g = { family: r.family, attributes: r.attributes, prefixes: [] }));
      g.prefixes.push({ prefix: r.prefix });
    }
    const messages: Uint8Array[] = [];
    for (const g of groups.values()) {
      for (let i = 0; i < g.prefixes.length; i += PER_UPDATE[g.family]) {
        const chunk = g.prefixes.slice(i, i + PER_UPDATE[g.family]);
        if (g.family === 4) messages.push(encodeUpdate({ withdrawn: [], attributes: g.attributes, nlri: chunk }, { asn4: true }));
        else messages.push(encodeUpdate({ withdrawn: [], attributes: g.attributes.map((a) => (a.type === AttrType.MP_REACH_NLRI ? { ...a, nlri: chunk } : a)), nlri: [] }, { asn4: true }));
      }
    }
    const r = await this.submit(messages);
    return { announced: r.announced };
  }

  async withdraw(prefixes: string[], field: string): Promise<{ withdrawn: number }> {
    const v4: Prefix[] = [];
    const v6: Prefix[] = [];
    prefixes.forEach((p, i) => (prefixOf(p, `${field}[${i}]`).family === 4 ? v4 : v6).push({ prefix: p }));
    const messages: Uint8Array[] = [];
    for (let i = 0; i < v4.length; i += PER_UPDATE[4]) messages.push(encodeUpdate({ withdrawn: v4.slice(i, i + PER_UPDATE[4]), attributes: [], nlri: [] }, { asn4: true }));
    for (let i = 0; i < v6.length; i += PER_UPDATE[6]) {
      const unreach: PathAttribute = { type: AttrType.MP_UNREACH_NLRI, flags: AttrFlag.Optional, afi: 2, safi: 1, withdrawn: v6.slice(i, i + PER_UPDATE[6]) };
      messages.push(encodeUpdate({ withdrawn: [], attributes: [unreach], nlri: [] }, { asn4: true }));
    }
    const r = await this.submit(messages);
    return { withdrawn: r.withdrawn };
  }

  /** The UPDATEs as one batch, checked and applied by the workers. */
  private async submit(messages: Uint8Array[]) {
    const r = await this.rib.submitMessages(this.index, CONTEXT, messages);
    if (r.error) throw new ConfigError('routes', `routes the RIB accepts (${r.error.detail})`);
    if (r.problems.length) throw new ConfigError('routes', `routes the RIB accepts (${r.problems.join('; ')})`);
    return r;
  }
}
