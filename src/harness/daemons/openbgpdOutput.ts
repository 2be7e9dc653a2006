// What OpenBGPD's bgpctl prints, read: `bgpctl -j show neighbor ADDR` as a session view (state,
// capabilities both ways, hold time, errors sent and received with shutdown communications),
// its KEEPALIVE counter and config state, and `bgpctl -j show rib ... detail` as routes,
// normalised (RouteView). Pure functions over JSON text; openbgpd.ts runs the commands.

import type { CapabilityName, SessionView } from './daemon.js';
import { normaliseRoute, type RouteView } from './routeView.js';

// bgpctl's capability keys, where they differ from ours ("graceful_restart" -> graceful-restart).
const BGPCTL_CAPABILITIES: Record<string, CapabilityName> = {
  as4byte: 'asn4',
  refresh: 'route-refresh',
  enhanced_refresh: 'enhanced-route-refresh',
  open_policy: 'role',
};

/**
 * Normalises one bgpctl JSON "capabilities" object. bgpctl only prints capabilities it knows:
 * 7.7 omits extended message and long-lived graceful restart even when the peer sent them.
 */
function normaliseCapabilities(caps: Record<string, unknown> | undefined): CapabilityName[] {
  const out: CapabilityName[] = [];
  for (const [key, value] of Object.entries(caps ?? {})) {
    if (value === false || value == null) continue;
    if (key === 'add-path') {
      if (Array.isArray(value) && value.length > 0) out.push('add-path');
    } else if (key === 'multiprotocol') {
      // "IPv4 unicast" -> multiprotocol:ipv4-unicast
      for (const fam of value as string[]) out.push(`multiprotocol:${fam.toLowerCase().trim().replace(/\s+/g, '-')}`);
    } else {
      out.push(BGPCTL_CAPABILITIES[key] ?? key.toLowerCase().replace(/_/g, '-'));
    }
  }
  return out;
}

export interface BgpctlNeighbor {
  state?: string;
  stats?: { message?: { received?: { keepalives?: number } } };
  config?: { down?: boolean };
  my_shutdown_reason?: string;
  last_shutdown_reason?: string;
  last_error_sent?: string;
  last_error_received?: string;
  session?: {
    holdtime?: number;
    local?: { capabilities?: Record<string, unknown> };
    remote?: { capabilities?: Record<string, unknown> };
  };
}

/** The one neighbor of `bgpctl -j show neighbor ADDR`, or undefined. */
export function neighborEntry(json: string): BgpctlNeighbor | undefined {
  return (JSON.parse(json) as { neighbors?: BgpctlNeighbor[] }).neighbors?.[0];
}

/** KEEPALIVEs received, by `bgpctl -j show neighbor ADDR`'s counter. */
export function keepalivesFromNeighborJson(json: string): number {
  return neighborEntry(json)?.stats?.message?.received?.keepalives ?? 0;
}

/** Parses `bgpctl -j show neighbor ADDR`. */
export function parseShowNeighborJson(json: string): SessionView {
  const n = neighborEntry(json);
  if (!n) throw new Error('bgpctl: no such neighbor');
  const state = n.state ?? 'unknown';
  // The session object exists from OpenSent on; errors are cleared when a session comes up,
  // the last received shutdown communication is kept until the next one.
  const s = n.session;
  const parts: string[] = [];
  if (n.last_error_received) parts.push(`received ${n.last_error_received}`);
  if (n.last_shutdown_reason) parts.push(`shutdown communication received: "${n.last_shutdown_reason}"`);
  if (n.last_error_sent) {
    const why = n.my_shutdown_reason ? `: "${n.my_shutdown_reason}"` : '';
    parts.push(`sent ${n.last_error_sent}${why}`);
  }
  return {
    established: state === 'Established',
    state,
    localCapabilities: s?.local ? normaliseCapabilities(s.local.capabilities) : null,
    remoteCapabilities: s?.remote ? normaliseCapabilities(s.remote.capabilities) : null,
    holdTime: s?.holdtime ?? null,
    lastError: parts.join('; '),
  };
}

interface BgpctlRibEntry {
  prefix?: string;
  aspath?: string;
  exit_nexthop?: string;
  true_nexthop?: string;
  metric?: number;
  localpref?: number;
  communities?: string[];
  large_communities?: string[];
  extended_communities?: string[];
}

/** Parses `bgpctl -j show rib ... detail`: its IPv4 entries, or with 'ipv6' its IPv6 ones. */
export function parseShowRibJson(json: string, family: 'ipv4' | 'ipv6' = 'ipv4'): RouteView[] {
  const rib = (JSON.parse(json) as { rib?: BgpctlRibEntry[] }).rib ?? [];
  return rib
    .filter((e) => e.prefix && e.prefix.includes(':') === (family === 'ipv6'))
    .map((e) =>
      normaliseRoute({
        prefix: e.prefix!,
        asPath: (e.aspath ?? '').match(/\d+/g)?.map(Number) ?? [],
        nextHop: e.exit_nexthop ?? e.true_nexthop ?? '',
        // bgpctl prints MED 0 for a route without one: it cannot tell them apart.
        med: e.metric ?? null,
        localPref: e.localpref ?? null,
        communities: e.communities ?? [],
        largeCommunities: e.large_communities ?? [],
        // "rt 65141:7" -> rt:65141:7
        extendedCommunities: (e.extended_communities ?? []).map((c) => c.trim().replace(/\s+/, ':')),
      }),
    );
}
