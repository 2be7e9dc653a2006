// What BIRD's CLI prints, read: `birdc show protocols all NAME` as a session view (state,
// capabilities both ways, hold time, last error and shutdown message), and `birdc show route
// all` as routes, normalised (RouteView) or with their BGP attribute lines as printed. Pure
// functions over text; bird.ts runs the commands.

import type { CapabilityName, SessionView } from './daemon.js';
import { normaliseRoute, type RouteView } from './routeView.js';

/** One route of `show route all` with its `BGP.name: value` lines, values as printed. */
export interface BirdRouteAttributes {
  prefix: string;
  attributes: Record<string, string>;
}

const BIRD_CAPABILITIES: Record<string, CapabilityName> = {
  'route refresh': 'route-refresh',
  'enhanced refresh': 'enhanced-route-refresh',
  '4-octet as numbers': 'asn4',
  'graceful restart': 'graceful-restart',
  'long-lived graceful restart': 'llgr',
  'add-path': 'add-path',
  'extended message': 'extended-message',
  'extended next hop': 'extended-nexthop',
  role: 'role',
  hostname: 'hostname',
};

// BIRD's channel names; plain ipv4/ipv6 are the unicast SAFIs.
function birdFamily(af: string): CapabilityName {
  if (af === 'ipv4') return 'multiprotocol:ipv4-unicast';
  if (af === 'ipv6') return 'multiprotocol:ipv6-unicast';
  return `multiprotocol:${af.toLowerCase()}`;
}

const indentOf = (line: string) => line.length - line.trimStart().length;

/** Parses one "Local capabilities" / "Neighbor capabilities" block, or null if absent. */
function parseCapabilities(lines: string[], header: string): CapabilityName[] | null {
  const start = lines.findIndex((l) => l.trim() === header);
  if (start < 0) return null;
  const base = indentOf(lines[start]);
  const caps: CapabilityName[] = [];
  let capIndent = -1;
  let current = '';
  for (const line of lines.slice(start + 1)) {
    if (!line.trim()) continue;
    const indent = indentOf(line);
    if (indent <= base) break;
    if (capIndent < 0) capIndent = indent;
    const text = line.trim();
    if (indent === capIndent) {
      // "Hostname: foo", "Role: peer": the name is what precedes the colon.
      current = text.split(':')[0].trim().toLowerCase();
      if (current === 'multiprotocol') continue; // families follow on "AF announced:"
      caps.push(BIRD_CAPABILITIES[current] ?? current.replace(/[^a-z0-9]+/g, '-'));
    } else if (current === 'multiprotocol' && text.startsWith('AF announced:')) {
      for (const af of text.slice('AF announced:'.length).trim().split(/\s+/).filter(Boolean)) {
        caps.push(birdFamily(af));
      }
    }
  }
  return caps;
}

/** Parses `birdc show protocols all NAME` for a BGP protocol. */
export function parseShowProtocolsAll(out: string): SessionView {
  const lines = out.split('\n');
  const field = (label: string): string | null => {
    const re = new RegExp(`^\\s*${label}:\\s*(.*)$`);
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m[1].trim();
    }
    return null;
  };
  const state = field('BGP state') ?? 'unknown';
  const hold = /^\s*Hold timer:\s+[\d.]+\/(\d+)/m.exec(out);
  const lastError = field('Last error') ?? '';
  // BIRD shows the last shutdown communication, sent (`disable "text"`) or received, as the
  // protocol's "Message:"; it outlives the session it came with. "Last error" alone often
  // reads "Socket: Connection closed" after a received Cease, so the text is added here.
  const message = field('Message');
  const parts = [lastError, message ? `message: "${message}"` : ''].filter(Boolean);
  return {
    established: state === 'Established',
    state,
    localCapabilities: parseCapabilities(lines, 'Local capabilities'),
    remoteCapabilities: parseCapabilities(lines, 'Neighbor capabilities'),
    holdTime: hold ? Number(hold[1]) : null,
    lastError: parts.join('; '),
  };
}

/**
 * `birdc show route all` as routes with their BGP attribute lines, unparsed: a line per route
 * starting with the prefix (or indented, for another route to the same prefix), then
 * tab-indented attribute lines such as `BGP.as_path: 65040 65101` and
 * `BGP.community: (65101,1) (65101,2)`.
 */
export function parseRouteAttributes(out: string): BirdRouteAttributes[] {
  const routes: BirdRouteAttributes[] = [];
  let prefix = '';
  let cur: BirdRouteAttributes | null = null;
  for (const line of out.split('\n')) {
    const head = /^(\d+\.\d+\.\d+\.\d+\/\d+|[0-9a-f]*:[0-9a-f:.]*\/\d+)\s+\S+\s+\[/i.exec(line);
    const again = /^\s+(?:unicast|unreachable|blackhole|prohibited)\s+\[/.test(line);
    if (head || (again && prefix)) {
      if (head) prefix = head[1];
      cur = { prefix, attributes: {} };
      routes.push(cur);
      continue;
    }
    const attr = /^\s+BGP\.(\w+):\s*(.*)$/.exec(line);
    if (cur && attr) cur.attributes[attr[1]] = attr[2].trim();
  }
  return routes;
}

/** Parses `birdc show route all` for BGP routes (IPv4 or IPv6), normalised. */
export function parseShowRouteAll(out: string): RouteView[] {
  const numbers = (s: string) => (s.match(/\d+/g) ?? []).map(Number);
  return parseRouteAttributes(out).map(({ prefix, attributes: a }) => {
    // "198.18.4.12" or, for IPv6 next hops, "2001:db8::1 fe80::1"; IPv4 ones may read ::ffff:a.b.c.d
    // (an IPv6 route's IPv4-mapped next hop is kept as it is).
    let nextHop = (a.next_hop ?? '').split(/\s+/)[0];
    if (!prefix.includes(':')) nextHop = nextHop.replace(/^::ffff:/, '');
    return normaliseRoute({
      prefix,
      asPath: numbers(a.as_path ?? ''),
      nextHop,
      med: a.med !== undefined ? Number(a.med) : null,
      localPref: a.local_pref !== undefined ? Number(a.local_pref) : null,
      communities: [...(a.community ?? '').matchAll(/\((\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}`),
      largeCommunities: [...(a.large_community ?? '').matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}:${m[3]}`),
      extendedCommunities: [...(a.ext_community ?? '').matchAll(/\(([^)]*)\)/g)].map((m) => {
        const parts = m[1].split(',').map((x) => x.trim());
        return parts[0] === 'rt' ? `rt:${parts[1]}:${parts[2]}` : `${parts[0]}:${parts.slice(1).join(':')}`;
      }),
    });
  });
}
