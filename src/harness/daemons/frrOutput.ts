// What FRR's vtysh prints, read: `show bgp neighbors ADDR json` as a session view (state,
// capabilities split into advertised and received, hold time, last reset and NOTIFICATION with
// its shutdown communication) and KEEPALIVE counter, and `show bgp ipv4|ipv6 unicast PREFIX json`
// as routes, normalised (RouteView). Pure functions over JSON text; frr.ts runs the commands.

import type { CapabilityName, SessionView } from './daemon.js';
import { normaliseRoute, type RouteView } from './routeView.js';

interface FrrNeighbor {
  bgpState?: string;
  messageStats?: { keepalivesRecv?: number };
  bgpTimerHoldTimeMsecs?: number;
  neighborCapabilities?: Record<string, unknown>;
  lastResetDueTo?: string;
  lastResetCode?: number;
  lastNotificationReason?: string;
  lastShutdownDescription?: string;
  lastErrorCodeSubcode?: string;
}

/** `neighbor`'s entry in `show bgp neighbors ADDR json`. */
function findNeighbor(json: string, neighbor: string): FrrNeighbor | undefined {
  return (JSON.parse(json) as Record<string, FrrNeighbor>)[neighbor];
}

/** The session with `neighbor` from `show bgp neighbors ADDR json`. */
export function parseNeighborJson(json: string, neighbor: string): SessionView {
  const n = findNeighbor(json, neighbor);
  if (!n) throw new Error(`frr: neighbor ${neighbor} not configured`);
  const state = n.bgpState ?? 'unknown';
  const established = state === 'Established';
  const caps = established && n.neighborCapabilities ? parseCapabilities(n.neighborCapabilities) : null;
  return {
    established,
    state,
    localCapabilities: caps ? caps.local : null,
    remoteCapabilities: caps ? caps.remote : null,
    holdTime: established && n.bgpTimerHoldTimeMsecs !== undefined ? n.bgpTimerHoldTimeMsecs / 1000 : null,
    lastError: lastError(n),
  };
}

/** KEEPALIVEs received from `neighbor`, by `show bgp neighbors ADDR json`'s counter. */
export function keepalivesFromNeighborJson(json: string, neighbor: string): number {
  return findNeighbor(json, neighbor)?.messageStats?.keepalivesRecv ?? 0;
}

const CAPABILITY_KEYS: Record<string, CapabilityName> = {
  '4byteAs': 'asn4',
  routeRefresh: 'route-refresh',
  enhancedRouteRefresh: 'enhanced-route-refresh',
  gracefulRestart: 'graceful-restart',
  longLivedGracefulRestart: 'llgr',
  extendedMessage: 'extended-message',
  extendedNexthop: 'extended-nexthop',
  role: 'role',
  dynamic: 'dynamic',
};

// Keys of neighborCapabilities that describe negotiation results, not capabilities.
const NOT_CAPABILITIES = new Set([
  'addressFamiliesByPeer',
  'extendedNexthopFamililesByPeer', // sic
  'gracefulRestartRemoteTimerMsecs',
]);

const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** Splits FRR's neighborCapabilities ("advertised" / "received" / "advertisedAndReceived…") in two. */
export function parseCapabilities(caps: Record<string, unknown>): {
  local: CapabilityName[];
  remote: CapabilityName[];
} {
  const local = new Set<CapabilityName>();
  const remote = new Set<CapabilityName>();
  const mark = (name: CapabilityName, how: string) => {
    if (/advertised/i.test(how)) local.add(name);
    if (/received/i.test(how)) remote.add(name);
  };
  for (const [key, value] of Object.entries(caps)) {
    if (NOT_CAPABILITIES.has(key)) continue;
    if (key === 'multiprotocolExtensions' && isObject(value)) {
      for (const [fam, how] of Object.entries(value)) {
        const name = `multiprotocol:${kebab(fam).replace(/ /g, '-')}`;
        if (isObject(how)) for (const [k, on] of Object.entries(how)) if (on === true) mark(name, k);
      }
    } else if (key === 'addPath' && isObject(value)) {
      for (const how of Object.values(value)) {
        if (isObject(how)) for (const [k, on] of Object.entries(how)) if (on === true) mark('add-path', k);
      }
    } else if (key === 'hostName' && isObject(value)) {
      if (typeof value.advHostName === 'string') local.add('fqdn');
      if (typeof value.rcvHostName === 'string' && value.rcvHostName !== 'n/a') remote.add('fqdn');
    } else if (key === 'routeRefresh' && typeof value === 'string') {
      // FRR always sends both the RFC 2918 code (2) and the pre-standard one (128);
      // "...Old"/"...New" tell which the neighbor sent.
      if (/advertised/i.test(value)) local.add('route-refresh').add('route-refresh-cisco');
      if (/ReceivedOld/.test(value)) remote.add('route-refresh-cisco');
      if (/ReceivedNew$|ReceivedOldNew$/.test(value) || value === 'received') remote.add('route-refresh');
    } else if (typeof value === 'string') {
      mark(CAPABILITY_KEYS[key] ?? kebab(key), value);
    }
  }
  return { local: [...local], remote: [...remote] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// lastResetCode values (FRR's peer_down_str) that are configuration churn, not session errors:
// e.g. 30 "No AFI/SAFI activated for peer" shows up at every start with `no bgp default ipv4-unicast`.
const CONFIG_RESETS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 23, 27, 28, 29, 30, 31]);

/** "BGP Notification received: Cease/Administrative Shutdown: "text"" and the like. */
export function lastError(n: FrrNeighbor): string {
  const parts: string[] = [];
  if (n.lastResetDueTo && !(n.lastResetCode !== undefined && CONFIG_RESETS.has(n.lastResetCode))) {
    parts.push(n.lastResetDueTo);
  }
  if (n.lastNotificationReason) parts.push(n.lastNotificationReason);
  // Set only for a received Cease/Administrative Shutdown or Reset carrying a communication.
  if (n.lastShutdownDescription) parts.push(`"${n.lastShutdownDescription}"`);
  return parts.join(': ');
}

interface FrrPath {
  aspath?: { string?: string; segments?: Array<{ list?: number[] }> };
  /** MED (absent when the route has none). */
  metric?: number;
  /** LOCAL_PREF. */
  locPrf?: number;
  community?: { string?: string; list?: string[] };
  largeCommunity?: { string?: string; list?: string[] };
  extendedCommunity?: { string?: string };
  nexthops?: Array<{ ip?: string }>;
  peer?: { peerId?: string };
}

export interface FrrPrefixDetail {
  prefix?: string;
  paths?: FrrPath[];
}

/** The paths of `show bgp ipv4|ipv6 unicast PREFIX json` learned from `neighbor` (next hop: the first, global one). */
export function parsePrefixDetail(prefix: string, detail: FrrPrefixDetail, neighbor: string): RouteView[] {
  const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);
  return (detail.paths ?? [])
    .filter((p) => p.peer?.peerId === neighbor)
    .map((p) =>
      normaliseRoute({
        prefix: detail.prefix ?? prefix,
        asPath: p.aspath?.segments ? p.aspath.segments.flatMap((s) => s.list ?? []) : words(p.aspath?.string).map(Number).filter(Number.isFinite),
        nextHop: p.nexthops?.[0]?.ip ?? '',
        med: p.metric ?? null,
        localPref: p.locPrf ?? null,
        communities: p.community?.list ?? words(p.community?.string),
        largeCommunities: p.largeCommunity?.list ?? words(p.largeCommunity?.string),
        // "RT:65131:7 SoO:..." -> rt:65131:7
        extendedCommunities: words(p.extendedCommunity?.string).map((w) => w.replace(/^RT:/, 'rt:')),
      }),
    );
}
