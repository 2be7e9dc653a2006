// The numbers of the BGP Monitoring Protocol (RFC 7854 §4, §10; RFC 9069 for the Loc-RIB
// instance; RFC 8671's O flag, for completeness): message types, peer types and flags, the
// TLVs of Initiation, Termination and Peer Up, Peer Down reasons, statistics types.

export const BMP_VERSION = 3;
/** Version (1), message length (4), message type (1). */
export const COMMON_HEADER_LENGTH = 6;
/** Peer type, flags, distinguisher (8), address (16), AS, BGP ID, seconds, microseconds. */
export const PER_PEER_HEADER_LENGTH = 42;
/** The port IANA assigned to BMP is none; 1790 is what GoBGP, pmacct and OpenBMP use. */
export const DEFAULT_STATION_PORT = 1790;

/** RFC 7854 §4.1. */
export enum BmpMessageType {
  RouteMonitoring = 0,
  StatisticsReport = 1,
  PeerDown = 2,
  PeerUp = 3,
  Initiation = 4,
  Termination = 5,
  RouteMirroring = 6,
}

/** RFC 7854 §4.2; RFC 9069 §4.1. */
export enum PeerType {
  Global = 0,
  RdInstance = 1,
  Local = 2,
  LocRib = 3,
}

/** Per-peer header flags (RFC 7854 §4.2; RFC 8671 §4; RFC 9069 §4.2 for the Loc-RIB's F). */
export const PeerFlag = {
  /** The peer address is IPv6. */
  V: 0x80,
  /** Post-policy Adj-RIB-In. */
  L: 0x40,
  /** Legacy 2-octet AS_PATH. */
  A: 0x20,
  /** Adj-RIB-Out (RFC 8671). */
  O: 0x10,
  /** Loc-RIB: the table is filtered. */
  F: 0x80,
} as const;

/** Initiation Information TLVs (RFC 7854 §4.3). */
export enum InitiationTlv {
  String = 0,
  SysDescr = 1,
  SysName = 2,
}

/** Termination Information TLVs and reasons (RFC 7854 §4.5). */
export enum TerminationTlv {
  String = 0,
  Reason = 1,
}

export enum TerminationReason {
  AdministrativelyClosed = 0,
  Unspecified = 1,
  OutOfResources = 2,
  RedundantConnection = 3,
  PermanentlyClosed = 4,
}

/** Peer Up Information TLVs (RFC 7854 §4.10; RFC 9069 §5.1 VRF/Table Name). */
export enum PeerUpTlv {
  String = 0,
  VrfTableName = 3,
}

/** Peer Down reasons (RFC 7854 §4.9). */
export enum PeerDownReason {
  /** We closed the session with a NOTIFICATION; the PDU follows. */
  LocalNotification = 1,
  /** We closed the session without one; the FSM event (2 octets) follows. */
  LocalNoNotification = 2,
  /** The peer closed the session with a NOTIFICATION; the PDU follows. */
  RemoteNotification = 3,
  /** The peer closed the session without one. */
  RemoteNoNotification = 4,
  /** No longer monitored for configuration reasons. */
  Deconfigured = 5,
}

/** Statistics types (RFC 7854 §4.8; the IANA registry). */
export enum StatType {
  /** 32-bit counter: prefixes rejected by inbound policy. */
  RejectedByPolicy = 0,
  /** 64-bit gauge: routes in the Adj-RIB-In. */
  AdjRibInRoutes = 7,
  /** 64-bit gauge: routes in the Loc-RIB. */
  LocRibRoutes = 8,
  /** AFI (2), SAFI (1), 64-bit gauge: routes in the per-AFI/SAFI Adj-RIB-In. */
  AdjRibInRoutesPerFamily = 9,
  /** 32-bit counter: UPDATEs subjected to treat-as-withdraw (RFC 7606). */
  UpdatesTreatAsWithdraw = 11,
  /** 32-bit counter: prefixes subjected to treat-as-withdraw. */
  PrefixesTreatAsWithdraw = 12,
}

/**
 * RFC 4271 §8.1 event numbers, for Peer Down reason 2 (RFC 7854 §4.9), from the FSM's event
 * names (neighbor/fsm.ts); an event without a number here is sent as 0.
 */
export const FSM_EVENT_NUMBER: Record<string, number> = {
  ManualStart: 1,
  ManualStop: 2,
  AutomaticStart: 3,
  ManualStart_with_PassiveTcpEstablishment: 4,
  AutomaticStart_with_PassiveTcpEstablishment: 5,
  AutomaticStop: 8,
  ConnectRetryTimer_Expires: 9,
  HoldTimer_Expires: 10,
  KeepaliveTimer_Expires: 11,
  Tcp_CR_Acked: 16,
  TcpConnectionConfirmed: 17,
  TcpConnectionFails: 18,
  BGPOpen: 19,
  BGPHeaderErr: 21,
  BGPOpenMsgErr: 22,
  OpenCollisionDump: 23,
  NotifMsgVerErr: 24,
  NotifMsg: 25,
  KeepAliveMsg: 26,
  UpdateMsg: 27,
  UpdateMsgErr: 28,
};
