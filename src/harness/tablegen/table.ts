// What a table source hands to the sender: pre-encoded UPDATEs and the End-of-RIB after them.

import { Afi, Safi } from '../../packet/constants.js';
import { encodeEndOfRib } from '../../packet/update.js';

export interface EncodedTable {
  /** All UPDATE messages, headers included, concatenated, ready to write to a socket (no End-of-RIB). */
  updates: Buffer;
  /** End-of-RIB markers to send after `updates` (IPv4, and IPv6 if any IPv6 prefixes). */
  endOfRib: Buffer;
  messageCount: number;
  ipv4Prefixes: number;
  ipv6Prefixes: number;
  attributeSets: number;
}

/** RFC 4724 §2 markers: IPv4 unicast always, IPv6 unicast when the table has any. */
export function endOfRibMarkers(withIpv6: boolean): Buffer {
  const v4 = encodeEndOfRib({ afi: Afi.IPv4, safi: Safi.Unicast });
  if (!withIpv6) return Buffer.from(v4);
  return Buffer.concat([v4, encodeEndOfRib({ afi: Afi.IPv6, safi: Safi.Unicast })]);
}
