// A peer's export rules, read once from its configuration and the session just negotiated.

import { isIP } from 'node:net';
import { ipv4ToNumber, ipv6ToBytes, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from '../packet/index.js';
import type { Policy } from '../policy/policy.js';
import { otcEgress } from '../policy/otc.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import type { ExportTarget } from '../advertise/adjRibOut.js';

/**
 * Our IPv6 next hop: the configured one, the session's own IPv6 address, or over an IPv4
 * session the IPv4-mapped form of our IPv4 address.
 */
function nextHopV6(addr: string | undefined): Uint8Array {
  if (!addr) return new Uint8Array(16);
  return ipv6ToBytes(isIP(addr) === 6 ? addr : `::ffff:${addr}`);
}

export interface LocalSpeaker {
  asn: number;
  routerId: string;
}

/**
 * The export rules towards an Established neighbor, RIB peer index `peer`. `exportPolicy`
 * null: nothing passes (a plain "reject", or RFC 8212 on eBGP). UPDATEs go to its
 * sendUpdates.
 */
export function exportTarget(n: Neighbor, peer: number, local: LocalSpeaker, exportPolicy: Policy | null): ExportTarget {
  const s = n.session!;
  const addr = n.localAddress;
  const localAs = n.config.localAs ?? local.asn;
  // RFC 9234 §5: egress OTC rules on eBGP.
  const otc = otcEgress(n.config.role);
  return {
    peer,
    localAs,
    routerId: ipv4ToNumber(local.routerId),
    ibgp: !s.ebgp,
    nextHop: addr && isIP(addr) === 4 ? ipv4ToNumber(addr) : 0,
    nextHop6: nextHopV6(n.config.nextHop6 ?? addr),
    families: [s.families.includes('ipv4-unicast'), s.families.includes('ipv6-unicast')],
    addPathSend: [s.addPathSend.includes('ipv4-unicast'), s.addPathSend.includes('ipv6-unicast')],
    maxMessageLength: s.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH,
    asn4: s.asn4,
    rrClient: n.config.routeReflectorClient,
    routeServerClient: n.config.routeServerClient,
    exportAllowed: exportPolicy !== null,
    exportPolicy: exportPolicy ?? undefined,
    otcBlock: !!(s.ebgp && otc?.block),
    addOtc: s.ebgp && otc?.mark ? localAs : undefined,
    send: (bytes, count) => n.sendUpdates(bytes, count),
  };
}
