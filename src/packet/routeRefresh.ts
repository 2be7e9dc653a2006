// ROUTE-REFRESH (RFC 2918 §3) with the BoRR/EoRR subtypes of RFC 7313.

import { HEADER_LENGTH, MessageType, RouteRefreshSubtype } from './constants.js';
import { encodeMessage } from './header.js';

export interface RouteRefreshMessage {
  afi: number;
  safi: number;
  subtype: RouteRefreshSubtype;
}

export function decodeRouteRefresh(msg: Uint8Array): RouteRefreshMessage {
  const b = HEADER_LENGTH;
  return { afi: (msg[b] << 8) | msg[b + 1], subtype: msg[b + 2], safi: msg[b + 3] };
}

export function encodeRouteRefresh(r: RouteRefreshMessage): Uint8Array {
  return encodeMessage(MessageType.ROUTE_REFRESH, Uint8Array.of(r.afi >> 8, r.afi & 0xff, r.subtype, r.safi));
}
