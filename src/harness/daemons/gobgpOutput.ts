// What GoBGP's CLI and log say, read: `gobgp neighbor -j` as a session view (state, the
// capabilities as protobuf Any values, hold time) and KEEPALIVE counter, gobgpd's JSON log for
// the last error (its API has none), and `gobgp -j ... adj-in` / `global rib` as routes,
// normalised (RouteView) or with their attributes by type code. Pure functions over text;
// gobgp.ts runs the commands.

import { capabilityNameByCode, type CapabilityName, type SessionView } from './daemon.js';
import { extendedCommunityFromValue, normaliseRoute, type RouteView } from './routeView.js';

/** One path of `gobgp -j ... adj-in`: its prefix and its attributes by type code, as GoBGP's JSON has them. */
export interface GoBgpPathAttributes {
  prefix: string;
  attributes: Map<number, Record<string, unknown>>;
}

interface GoBgpCap {
  type_url?: string;
  value?: string;
}

interface GoBgpPeer {
  conf?: { neighbor_address?: string };
  state?: {
    neighbor_address?: string;
    session_state?: number | string;
    local_cap?: GoBgpCap[];
    remote_cap?: GoBgpCap[];
    /** Message counters (uint64, which the JSON may carry as strings). */
    messages?: { received?: { keepalive?: number | string } };
  };
  timers?: { state?: { negotiated_hold_time?: number } };
}

const SESSION_STATES = ['unknown', 'idle', 'connect', 'active', 'opensent', 'openconfirm', 'established'];

/** `neighbor`'s entry in `gobgp neighbor -j`. */
function findNeighbor(json: string, neighbor: string): GoBgpPeer | undefined {
  const peers = JSON.parse(json) as GoBgpPeer[];
  return peers.find((x) => (x.conf?.neighbor_address ?? x.state?.neighbor_address) === neighbor);
}

/** The session with `neighbor` from `gobgp neighbor -j`, its last error from gobgpd's log. */
export function parseNeighborJson(json: string, neighbor: string, log: string): SessionView {
  const p = findNeighbor(json, neighbor);
  if (!p) throw new Error(`gobgp: neighbor ${neighbor} not configured`);
  const raw = p.state?.session_state ?? 0;
  const state = typeof raw === 'number' ? (SESSION_STATES[raw] ?? String(raw)) : String(raw).toLowerCase();
  const established = state === 'established';
  const caps = (list: GoBgpCap[] | undefined) => (list && list.length > 0 ? list.map(capabilityName) : established ? [] : null);
  return {
    established,
    state,
    localCapabilities: caps(p.state?.local_cap),
    remoteCapabilities: caps(p.state?.remote_cap),
    holdTime: established ? (p.timers?.state?.negotiated_hold_time ?? null) : null,
    lastError: lastErrorFromLog(log, neighbor),
  };
}

/** KEEPALIVEs received from `neighbor`, by `gobgp neighbor -j`'s counter. */
export function keepalivesFromNeighborJson(json: string, neighbor: string): number {
  return Number(findNeighbor(json, neighbor)?.state?.messages?.received?.keepalive ?? 0);
}

// Capability codes for the ones GoBGP 3.10 reports as UnknownCapability (e.g. 6, extended message).

const CAPABILITY_TYPES: Record<string, CapabilityName> = {
  RouteRefreshCapability: 'route-refresh',
  RouteRefreshCiscoCapability: 'route-refresh-cisco',
  EnhancedRouteRefreshCapability: 'enhanced-route-refresh',
  FourOctetASNCapability: 'asn4',
  FourOctetASNumberCapability: 'asn4',
  GracefulRestartCapability: 'graceful-restart',
  LongLivedGracefulRestartCapability: 'llgr',
  AddPathCapability: 'add-path',
  ExtendedNexthopCapability: 'extended-nexthop',
  ExtendedMessageCapability: 'extended-message',
  FqdnCapability: 'fqdn',
  RoleCapability: 'role',
  BGPRoleCapability: 'role',
};

/** Maps one of GoBGP's protobuf Any capabilities (type_url + base64 value) to a name. */
export function capabilityName(cap: GoBgpCap): CapabilityName {
  const type = (cap.type_url ?? '').split('.').pop() ?? '';
  const fields = decodeProtobuf(Buffer.from(cap.value ?? '', 'base64'));
  if (type === 'MultiProtocolCapability') {
    // MultiProtocolCapability { Family family = 1 }, Family { afi = 1; safi = 2 }
    const fam = fields.get(1);
    const f = fam instanceof Buffer ? decodeProtobuf(fam) : new Map();
    return `multiprotocol:${familyName(Number(f.get(1) ?? 0), Number(f.get(2) ?? 0))}`;
  }
  if (type === 'UnknownCapability') {
    const code = Number(fields.get(1) ?? 0);
    return capabilityNameByCode(code);
  }
  const kebab = type.replace(/Capability$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return CAPABILITY_TYPES[type] ?? kebab;
}

function familyName(afi: number, safi: number): string {
  const a = afi === 1 ? 'ipv4' : afi === 2 ? 'ipv6' : `afi${afi}`;
  const s = safi === 1 ? 'unicast' : safi === 2 ? 'multicast' : `safi${safi}`;
  return `${a}-${s}`;
}

/** The first value of each field of a protobuf message (varints as bigint-free numbers). */
function decodeProtobuf(buf: Buffer): Map<number, number | Buffer> {
  const out = new Map<number, number | Buffer>();
  let i = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated protobuf');
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  try {
    while (i < buf.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      let value: number | Buffer;
      switch (key & 7) {
        case 0:
          value = varint();
          break;
        case 1:
          value = buf.subarray(i, (i += 8));
          break;
        case 2: {
          const len = varint();
          value = buf.subarray(i, (i += len));
          break;
        }
        case 5:
          value = buf.subarray(i, (i += 4));
          break;
        default:
          return out;
      }
      if (!out.has(field)) out.set(field, value);
    }
  } catch {
    // keep what was decoded
  }
  return out;
}

interface LogLine {
  msg?: string;
  Key?: string;
  Reason?: string;
  Code?: number;
  Subcode?: number;
  'Communicated-Reason'?: string;
}

const NOTIFICATION_CODES: Record<number, string> = {
  1: 'message header error',
  2: 'open message error',
  3: 'update message error',
  4: 'hold timer expired',
  5: 'fsm error',
  6: 'cease',
  7: 'route refresh message error',
};

const CEASE_SUBCODES: Record<number, string> = {
  1: 'maximum number of prefixes reached',
  2: 'administrative shutdown',
  3: 'peer de-configured',
  4: 'administrative reset',
  5: 'connection rejected',
  6: 'other configuration change',
  7: 'connection collision resolution',
  8: 'out of resources',
  9: 'hard reset',
  10: 'bfd down',
};

function describeNotification(dir: string, e: LogLine): string {
  const code = e.Code ?? 0;
  const sub = e.Subcode ?? 0;
  const name = NOTIFICATION_CODES[code] ?? 'unknown';
  const subName = code === 6 && CEASE_SUBCODES[sub] ? `/${CEASE_SUBCODES[sub]}` : '';
  const comm = e['Communicated-Reason'];
  const text = comm ? `, shutdown communication: "${comm}"` : '';
  return `notification ${dir}: ${name}${subName} (${code}/${sub})${text}`;
}

/**
 * GoBGP 3.10's API has no last-error field, so this reads gobgpd's JSON log. Everything logged
 * for the neighbor between one "Peer Up" and the next down (hold timer expiry, NOTIFICATIONs
 * sent or received with their shutdown communication, the "Peer Down" reason) is joined; the
 * separate lines matter because with graceful restart negotiated the "Peer Down" reason is just
 * "graceful-restart", whatever the cause.
 */
export function lastErrorFromLog(log: string, neighbor: string): string {
  let lastError = '';
  let episode: string[] = [];
  const add = (part: string) => {
    if (!episode.includes(part)) episode.push(part);
    lastError = episode.join('; ');
  };
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes(neighbor)) continue;
    let e: LogLine;
    try {
      e = JSON.parse(line) as LogLine;
    } catch {
      continue;
    }
    if (e.Key !== neighbor) continue;
    switch (e.msg) {
      case 'Peer Up':
        episode = [];
        break;
      case 'hold timer expired':
        add('hold timer expired');
        break;
      case 'received notification':
        add(describeNotification('received', e));
        break;
      case 'sent notification':
        add(describeNotification('sent', e));
        break;
      case 'Peer Down':
        add(`peer down: ${e.Reason ?? 'unknown'}`);
        episode = [];
        break;
    }
  }
  return lastError;
}


interface GoBgpAttr {
  type: number;
  value?: unknown;
  metric?: number;
  nexthop?: string;
  as_paths?: Array<{ segment_type?: number; asns?: number[] }>;
  communities?: number[];
}

/** Every path of `gobgp -j global rib` / `neighbor ADDR adj-in` (prefix -> paths), with its attributes in order. */
function ribPaths(json: string): Array<{ prefix: string; attrs: GoBgpAttr[] }> {
  const table = JSON.parse(json) as Record<string, Array<{ nlri?: { prefix?: string }; attrs?: GoBgpAttr[] }>>;
  return Object.entries(table).flatMap(([prefix, paths]) => paths.map((p) => ({ prefix: p.nlri?.prefix ?? prefix, attrs: p.attrs ?? [] })));
}

/**
 * Parses `gobgp -j global rib` / `neighbor ADDR adj-in`: prefix -> paths, each with `attrs`
 * keyed by attribute type (AS_PATH segments, NEXT_HOP or MP_REACH_NLRI `nexthop`, MED `metric`, LOCAL_PREF `value`,
 * communities as u32, extended ones as {type, subtype, value: "asn:val"}, large ones as
 * {ASN, LocalData1, LocalData2}).
 */
export function parseRibJson(json: string): RouteView[] {
  return ribPaths(json).map(({ prefix, attrs }) => {
    const r: RouteView = { prefix, asPath: [], nextHop: '', med: null, localPref: null, communities: [], largeCommunities: [], extendedCommunities: [] };
    for (const a of attrs) {
      switch (a.type) {
        case 2:
          r.asPath = (a.as_paths ?? []).flatMap((seg) => seg.asns ?? []);
          break;
        case 3:
          r.nextHop = a.nexthop ?? '';
          break;
        case 14:
          // MP_REACH_NLRI (IPv6 routes): its global next hop, also as `nexthop`.
          if (!r.nextHop) r.nextHop = a.nexthop ?? '';
          break;
        case 4:
          r.med = a.metric ?? 0;
          break;
        case 5:
          r.localPref = Number(a.value);
          break;
        case 8:
          r.communities = (a.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`);
          break;
        case 16:
          r.extendedCommunities = ((a.value ?? []) as Array<{ type?: number; subtype?: number; value?: string | number }>).map((e) =>
            e.subtype === 2 && typeof e.value === 'string' ? `rt:${e.value}` : typeof e.value === 'number' ? extendedCommunityFromValue(e.value) : JSON.stringify(e),
          );
          break;
        case 32:
          r.largeCommunities = ((a.value ?? []) as Array<Record<string, number>>).map(
            (l) => `${l.ASN ?? l.asn}:${l.LocalData1 ?? l.local_data1}:${l.LocalData2 ?? l.local_data2}`,
          );
          break;
      }
    }
    return normaliseRoute(r);
  });
}

/** `gobgp -j global rib` / `neighbor ADDR adj-in`: every path with its attributes by type code. */
export function parseRibAttributes(json: string): GoBgpPathAttributes[] {
  return ribPaths(json).map(({ prefix, attrs }) => ({ prefix, attributes: new Map(attrs.map((a) => [a.type, a as unknown as Record<string, unknown>])) }));
}
