// What a feed needs of the running speaker, in one place: who we are (Initiation, the Loc-RIB
// instance's header and OPEN), the Established neighbors and their RIB indexes and counts, the
// shared RIB to walk, and the barrier that makes the walk see every UPDATE already tapped.

import { hostname } from 'node:os';
import { buildOpen, CapabilityCode, encodeOpen, type Capability } from '../packet/index.js';
import type { Neighbor } from '../neighbor/neighbor.js';
import type { RibViews } from '../rib/memory.js';
import type { RouteCounts, Speaker } from '../speaker/speaker.js';

export interface FeedSource {
  sysName: string;
  sysDescr: string;
  localAs: number;
  routerId: string;
  /** RFC 9069 §5.1: the OPEN a Loc-RIB Peer Up carries (4-octet AS, both unicast families). */
  locRibOpen: Uint8Array;
  views: RibViews;
  established(): Neighbor[];
  peerIndex(n: Neighbor): number | undefined;
  routeCounts(n: Neighbor): RouteCounts | undefined;
  /** Resolves once every UPDATE batch submitted so far is in the RIB. */
  applied(): Promise<void>;
}

export function speakerFeedSource(speaker: Speaker, version: string): FeedSource {
  const rib = speaker.rib!;
  const { asn, routerId } = speaker.config.global;
  const caps: Capability[] = [
    { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 } as Capability,
    { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 } as Capability,
    { code: CapabilityCode.FourOctetAs, asn } as Capability,
  ];
  return {
    sysName: hostname(),
    sysDescr: `ribstorm${version ? ` ${version}` : ''} (BGP-4 speaker, Node.js ${process.version})`,
    localAs: asn,
    routerId,
    locRibOpen: encodeOpen(buildOpen(asn, 0, routerId, caps)),
    views: rib.views,
    established: () => [...speaker.neighbors.values()].filter((n) => n.established),
    peerIndex: (n) => speaker.peerIndex(n),
    routeCounts: (n) => speaker.routeCounts(n),
    applied: () => rib.applied(),
  };
}
