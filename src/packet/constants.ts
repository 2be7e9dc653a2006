// Numbers from the IANA BGP registries, named as the RFCs name them.

export const MARKER_LENGTH = 16;
export const HEADER_LENGTH = 19;
/** RFC 4271 §4.1: the largest message before RFC 8654 extended messages. */
export const MAX_MESSAGE_LENGTH = 4096;
/** RFC 8654 §3: the largest message once extended messages are negotiated. */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535;
export const BGP_VERSION = 4;
/** RFC 6793 §9: the 2-octet placeholder for a 4-octet AS number. */
export const AS_TRANS = 23456;

export enum MessageType {
  OPEN = 1,
  UPDATE = 2,
  NOTIFICATION = 3,
  KEEPALIVE = 4,
  ROUTE_REFRESH = 5,
}

export const MESSAGE_TYPE_NAMES: Record<number, string> = {
  1: 'OPEN',
  2: 'UPDATE',
  3: 'NOTIFICATION',
  4: 'KEEPALIVE',
  5: 'ROUTE-REFRESH',
};

/** Smallest valid length per message type (RFC 4271 §4, RFC 2918 §3). */
export const MIN_LENGTH: Record<number, number> = {
  1: 29,
  2: 23,
  3: 21,
  4: 19,
  5: 23,
};

export enum Afi {
  IPv4 = 1,
  IPv6 = 2,
}

export enum Safi {
  Unicast = 1,
}

export enum CapabilityCode {
  Multiprotocol = 1, // RFC 4760
  RouteRefresh = 2, // RFC 2918
  ExtendedNextHop = 5, // RFC 8950
  ExtendedMessage = 6, // RFC 8654
  Role = 9, // RFC 9234
  GracefulRestart = 64, // RFC 4724
  FourOctetAs = 65, // RFC 6793
  AddPath = 69, // RFC 7911
  EnhancedRouteRefresh = 70, // RFC 7313
  LongLivedGracefulRestart = 71, // RFC 9494
  Fqdn = 73, // draft-walton-bgp-hostname-capability
  SoftwareVersion = 75, // draft-abraitis-bgp-version-capability
  RouteRefreshCisco = 128, // pre-standard route refresh
}

export enum AttrType {
  ORIGIN = 1,
  AS_PATH = 2,
  NEXT_HOP = 3,
  MULTI_EXIT_DISC = 4,
  LOCAL_PREF = 5,
  ATOMIC_AGGREGATE = 6,
  AGGREGATOR = 7,
  COMMUNITIES = 8,
  ORIGINATOR_ID = 9,
  CLUSTER_LIST = 10,
  MP_REACH_NLRI = 14,
  MP_UNREACH_NLRI = 15,
  EXTENDED_COMMUNITIES = 16,
  AS4_PATH = 17,
  AS4_AGGREGATOR = 18,
  LARGE_COMMUNITY = 32,
  OTC = 35,
}

export const ATTR_NAMES: Record<number, string> = {
  1: 'ORIGIN',
  2: 'AS_PATH',
  3: 'NEXT_HOP',
  4: 'MULTI_EXIT_DISC',
  5: 'LOCAL_PREF',
  6: 'ATOMIC_AGGREGATE',
  7: 'AGGREGATOR',
  8: 'COMMUNITIES',
  9: 'ORIGINATOR_ID',
  10: 'CLUSTER_LIST',
  14: 'MP_REACH_NLRI',
  15: 'MP_UNREACH_NLRI',
  16: 'EXTENDED_COMMUNITIES',
  17: 'AS4_PATH',
  18: 'AS4_AGGREGATOR',
  32: 'LARGE_COMMUNITY',
  35: 'OTC',
};

export const AttrFlag = {
  Optional: 0x80,
  Transitive: 0x40,
  Partial: 0x20,
  ExtendedLength: 0x10,
} as const;

export enum Origin {
  IGP = 0,
  EGP = 1,
  INCOMPLETE = 2,
}

export enum AsPathSegmentType {
  AS_SET = 1,
  AS_SEQUENCE = 2,
  AS_CONFED_SEQUENCE = 3, // RFC 5065
  AS_CONFED_SET = 4,
}

/** RFC 1997 / RFC 3765 / RFC 8326 well-known communities. */
export const WellKnownCommunity = {
  GRACEFUL_SHUTDOWN: 0xffff0000,
  BLACKHOLE: 0xffff029a,
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
  NO_PEER: 0xffffff04,
} as const;

/** The names operators write well-known communities by (RFC 1997, 3765, 7999, 8326). */
export const WELL_KNOWN_COMMUNITY_NAMES: Readonly<Record<string, number>> = {
  'graceful-shutdown': WellKnownCommunity.GRACEFUL_SHUTDOWN,
  blackhole: WellKnownCommunity.BLACKHOLE,
  'no-export': WellKnownCommunity.NO_EXPORT,
  'no-advertise': WellKnownCommunity.NO_ADVERTISE,
  'no-export-subconfed': WellKnownCommunity.NO_EXPORT_SUBCONFED,
  'no-peer': WellKnownCommunity.NO_PEER,
};

/** RFC 9234 §4.1 role values. */
export enum Role {
  Provider = 0,
  RouteServer = 1,
  RouteServerClient = 2,
  Customer = 3,
  Peer = 4,
}

export const ROLE_NAMES: Record<number, string> = {
  0: 'provider',
  1: 'rs-server',
  2: 'rs-client',
  3: 'customer',
  4: 'peer',
};

/** RFC 7911 §4 Send/Receive field. */
export enum AddPathMode {
  Receive = 1,
  Send = 2,
  Both = 3,
}

/** RFC 7313 §3.2 ROUTE-REFRESH message subtypes. */
export enum RouteRefreshSubtype {
  Normal = 0,
  BoRR = 1,
  EoRR = 2,
}
