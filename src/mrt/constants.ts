// MRT numbers (RFC 6396 with the RFC 8050 ADD-PATH subtypes): the one place they are spelled,
// for the writer here and the reader in the harness (harness/tablegen/mrt.ts).

/** RFC 6396 §2: timestamp (4), type (2), subtype (2), length (4). */
export const MRT_HEADER_LENGTH = 12;

/** RFC 6396 §4 record types used here. */
export const MrtType = {
  TABLE_DUMP: 12,
  TABLE_DUMP_V2: 13,
  BGP4MP: 16,
  BGP4MP_ET: 17,
} as const;

/** RFC 6396 §4.3 with RFC 8050 §4 (ADD-PATH) subtypes of TABLE_DUMP_V2. */
export const TableDumpV2Subtype = {
  PEER_INDEX_TABLE: 1,
  RIB_IPV4_UNICAST: 2,
  RIB_IPV4_MULTICAST: 3,
  RIB_IPV6_UNICAST: 4,
  RIB_IPV6_MULTICAST: 5,
  RIB_GENERIC: 6,
  RIB_IPV4_UNICAST_ADDPATH: 8,
  RIB_IPV4_MULTICAST_ADDPATH: 9,
  RIB_IPV6_UNICAST_ADDPATH: 10,
  RIB_IPV6_MULTICAST_ADDPATH: 11,
  RIB_GENERIC_ADDPATH: 12,
} as const;

/** RFC 6396 §4.4 with RFC 8050 §3 subtypes of BGP4MP / BGP4MP_ET. */
export const Bgp4mpSubtype = {
  STATE_CHANGE: 0,
  MESSAGE: 1,
  MESSAGE_AS4: 4,
  STATE_CHANGE_AS4: 5,
  MESSAGE_LOCAL: 6,
  MESSAGE_AS4_LOCAL: 7,
  MESSAGE_ADDPATH: 8,
  MESSAGE_AS4_ADDPATH: 9,
  MESSAGE_LOCAL_ADDPATH: 10,
  MESSAGE_AS4_LOCAL_ADDPATH: 11,
} as const;

/** RFC 6396 §4.3.1: the Peer Type bits of a PEER_INDEX_TABLE entry. */
export const PeerType = {
  /** The peer address is IPv6 (16 octets), else IPv4 (4). */
  IPV6: 1,
  /** The peer AS is 4 octets, else 2. */
  AS4: 2,
} as const;
