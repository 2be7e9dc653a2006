// BMP messages as bytes (RFC 7854 §4; RFC 9069 §5 for the Loc-RIB instance): the common header,
// the per-peer header, and one encoder per message ribstorm sends. Route Monitoring wraps a BGP
// UPDATE as it is (header included); Peer Up carries both OPENs as they were sent.

import { isIP } from 'node:net';
import { ipv4ToNumber, ipv6ToBytes } from '../packet/index.js';
import {
  BMP_VERSION,
  BmpMessageType,
  COMMON_HEADER_LENGTH,
  InitiationTlv,
  PER_PEER_HEADER_LENGTH,
  PeerDownReason,
  PeerFlag,
  PeerType,
  PeerUpTlv,
  TerminationReason,
  TerminationTlv,
} from './constants.js';

/** Who a per-peer header names. */
export interface PeerHeaderFields {
  type: PeerType;
  /** V is set from the address; L, A (or F for a Loc-RIB instance) by the caller. */
  flags: number;
  /** '' (all zeros) for a Loc-RIB instance (RFC 9069 §4.1). */
  address: string;
  asn: number;
  /** Dotted quad. */
  bgpId: string;
}

/** One TLV: type (2), length (2), value. */
export function tlv(type: number, value: Uint8Array | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const b = Buffer.allocUnsafe(4 + v.length);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(v.length, 2);
  b.set(v, 4);
  return b;
}

/** An address in the 16 octets BMP gives it: IPv4 in the last four, zeros for ''. */
export function address16(addr: string | undefined): Uint8Array {
  const out = new Uint8Array(16);
  if (!addr) return out;
  if (isIP(addr) === 6) out.set(ipv6ToBytes(addr));
  else if (isIP(addr) === 4) new DataView(out.buffer).setUint32(12, ipv4ToNumber(addr));
  return out;
}

/**
 * The 42-octet per-peer header with a zero timestamp; `stamp` writes the time into a copy
 * of it (RFC 7854 §4.2). The peer distinguisher is zero: a global instance or the Loc-RIB.
 */
export function perPeerHeader(p: PeerHeaderFields): Buffer {
  const b = Buffer.alloc(PER_PEER_HEADER_LENGTH);
  b[0] = p.type;
  b[1] = p.flags | (p.type !== PeerType.LocRib && isIP(p.address) === 6 ? PeerFlag.V : 0);
  b.set(address16(p.address), 10);
  b.writeUInt32BE(p.asn >>> 0, 26);
  b.writeUInt32BE(ipv4ToNumber(p.bgpId || '0.0.0.0') >>> 0, 30);
  return b;
}

/** Writes `ms` (since the epoch) as the header's seconds and microseconds at `o`. */
export function stamp(b: Buffer, o: number, ms: number): void {
  b.writeUInt32BE(Math.floor(ms / 1000) >>> 0, o + 34);
  b.writeUInt32BE(((ms % 1000) * 1000) >>> 0, o + 38);
}

/** A whole message from its parts: the common header (RFC 7854 §4.1) in front. */
export function bmpMessage(type: BmpMessageType, parts: readonly Uint8Array[]): Buffer {
  const length = COMMON_HEADER_LENGTH + parts.reduce((n, p) => n + p.length, 0);
  const b = Buffer.allocUnsafe(length);
  b[0] = BMP_VERSION;
  b.writeUInt32BE(length, 1);
  b[5] = type;
  let o = COMMON_HEADER_LENGTH;
  for (const p of parts) {
    b.set(p, o);
    o += p.length;
  }
  return b;
}

/** Initiation (§4.3): sysDescr and sysName, which the RFC requires, and an optional string. */
export function initiation(sysName: string, sysDescr: string, text?: string): Buffer {
  const tlvs = [tlv(InitiationTlv.SysDescr, sysDescr), tlv(InitiationTlv.SysName, sysName)];
  if (text) tlvs.push(tlv(InitiationTlv.String, text));
  return bmpMessage(BmpMessageType.Initiation, tlvs);
}

/** Termination (§4.5): the reason, and a string saying it in words. */
export function termination(reason: TerminationReason, text?: string): Buffer {
  const r = Buffer.alloc(2);
  r.writeUInt16BE(reason);
  const tlvs = [tlv(TerminationTlv.Reason, r)];
  if (text) tlvs.push(tlv(TerminationTlv.String, text));
  return bmpMessage(BmpMessageType.Termination, tlvs);
}

/**
 * Route Monitoring (§4.6): `header` (a per-peer header) stamped with `ms`, then `update`, a
 * whole BGP UPDATE. One allocation; `update` may be a view into the receive ring.
 */
export function routeMonitoring(header: Buffer, update: Uint8Array, ms: number): Buffer {
  const length = COMMON_HEADER_LENGTH + PER_PEER_HEADER_LENGTH + update.length;
  const b = Buffer.allocUnsafe(length);
  b[0] = BMP_VERSION;
  b.writeUInt32BE(length, 1);
  b[5] = BmpMessageType.RouteMonitoring;
  b.set(header, COMMON_HEADER_LENGTH);
  stamp(b, COMMON_HEADER_LENGTH, ms);
  b.set(update, COMMON_HEADER_LENGTH + PER_PEER_HEADER_LENGTH);
  return b;
}

export interface PeerUpFields {
  localAddress?: string;
  localPort: number;
  remotePort: number;
  /** Both OPENs as they went on the wire, header included (§4.10). */
  sentOpen: Uint8Array;
  receivedOpen: Uint8Array;
  /** RFC 9069 §5.1: the Loc-RIB's VRF/Table Name TLV. */
  tableName?: string;
}

/** Peer Up Notification (§4.10). */
export function peerUp(header: Buffer, ms: number, f: PeerUpFields): Buffer {
  const h = Buffer.from(header);
  stamp(h, 0, ms);
  const ports = Buffer.allocUnsafe(4);
  ports.writeUInt16BE(f.localPort & 0xffff, 0);
  ports.writeUInt16BE(f.remotePort & 0xffff, 2);
  const parts: Uint8Array[] = [h, address16(f.localAddress), ports, f.sentOpen, f.receivedOpen];
  if (f.tableName !== undefined) parts.push(tlv(PeerUpTlv.VrfTableName, f.tableName));
  return bmpMessage(BmpMessageType.PeerUp, parts);
}

/**
 * Peer Down Notification (§4.9): reasons 1 and 3 carry the NOTIFICATION PDU (header
 * included), reason 2 the FSM event number, 4 and 5 nothing.
 */
export function peerDown(header: Buffer, ms: number, reason: PeerDownReason, data: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(header);
  stamp(h, 0, ms);
  return bmpMessage(BmpMessageType.PeerDown, [h, Uint8Array.of(reason), data]);
}

/** One statistic: a 32-bit counter, a 64-bit gauge, or a per-AFI/SAFI 64-bit gauge. */
export type Stat =
  | { type: number; counter: number }
  | { type: number; gauge: number }
  | { type: number; afi: number; safi: number; gauge: number };

/** Statistics Report (§4.8). */
export function statisticsReport(header: Buffer, ms: number, stats: readonly Stat[]): Buffer {
  const h = Buffer.from(header);
  stamp(h, 0, ms);
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(stats.length);
  const tlvs = stats.map((s) => {
    if ('counter' in s) {
      const v = Buffer.allocUnsafe(4);
      v.writeUInt32BE(s.counter >>> 0);
      return tlv(s.type, v);
    }
    if ('afi' in s) {
      const v = Buffer.allocUnsafe(11);
      v.writeUInt16BE(s.afi, 0);
      v[2] = s.safi;
      v.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(s.gauge))), 3);
      return tlv(s.type, v);
    }
    const v = Buffer.allocUnsafe(8);
    v.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(s.gauge))));
    return tlv(s.type, v);
  });
  return bmpMessage(BmpMessageType.StatisticsReport, [h, count, ...tlvs]);
}
