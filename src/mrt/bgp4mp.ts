// BGP4MP_ET records (RFC 6396 §4.4, §3 extended timestamp; RFC 8050 §3 ADD-PATH): one BGP
// message as a neighbor sent it to us, and the session's state changes — what RIS `updates`
// files and FRR's `dump bgp updates-et` hold.

import { isIP } from 'node:net';
import { AS_TRANS, AttrFlag, AttrType, HEADER_LENGTH, ipv4ToBytes, ipv6ToBytes } from '../packet/index.js';
import { STATE_NUMBER, type State } from '../neighbor/fsm.js';
import { Bgp4mpSubtype, MRT_HEADER_LENGTH, MrtType } from './constants.js';

/** Who a record is about: the peer and our side of its session. */
export interface SessionEnds {
  peerAs: number;
  localAs: number;
  peerAddress: string;
  /** Our address on the connection; the unspecified address of the peer's family when unknown. */
  localAddress?: string;
}

/**
 * The part of a BGP4MP record that is the same for every message of one session: peer AS,
 * local AS, interface index (0), AFI, peer address, local address (§4.4.2), with AS numbers in
 * `asSize` octets (AS_TRANS for one that does not fit in two).
 */
export function sessionBlock(ends: SessionEnds, asSize: 2 | 4): Buffer {
  const v6 = isIP(ends.peerAddress) === 6;
  const alen = v6 ? 16 : 4;
  const b = Buffer.alloc(2 * asSize + 4 + 2 * alen);
  let p = 0;
  for (const asn of [ends.peerAs, ends.localAs]) {
    p = asSize === 4 ? b.writeUInt32BE(asn, p) : b.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, p);
  }
  p = b.writeUInt16BE(0, p); // interface index
  p = b.writeUInt16BE(v6 ? 2 : 1, p);
  b.set(v6 ? ipv6ToBytes(ends.peerAddress) : ipv4ToBytes(ends.peerAddress), p);
  p += alen;
  const local = ends.localAddress && isIP(ends.localAddress) === (v6 ? 6 : 4) ? ends.localAddress : v6 ? '::' : '0.0.0.0';
  b.set(v6 ? ipv6ToBytes(local) : ipv4ToBytes(local), p);
  return b;
}

/** The message subtype for a session's AS size and whether the message's NLRI carry path ids. */
export function messageSubtype(asn4: boolean, addPath: boolean): number {
  if (addPath) return asn4 ? Bgp4mpSubtype.MESSAGE_AS4_ADDPATH : Bgp4mpSubtype.MESSAGE_ADDPATH;
  return asn4 ? Bgp4mpSubtype.MESSAGE_AS4 : Bgp4mpSubtype.MESSAGE;
}

/** Octets of a BGP4MP_ET record holding `bodyLength` octets after the microseconds. */
export function recordLength(bodyLength: number): number {
  return MRT_HEADER_LENGTH + 4 + bodyLength;
}

/**
 * Writes one BGP4MP_ET record into `out` at `p`: the header, the microseconds, `block`
 * (sessionBlock) and then `tail` (a BGP message, or the two states). `out` must have room for
 * recordLength(block + tail). Returns the offset after it.
 */
export function writeRecord(out: Buffer, p: number, timeMs: number, subtype: number, block: Buffer, tail: Uint8Array): number {
  const seconds = Math.floor(timeMs / 1000);
  const micro = Math.min(999_999, Math.round((timeMs - seconds * 1000) * 1000));
  p = out.writeUInt32BE(seconds, p);
  p = out.writeUInt16BE(MrtType.BGP4MP_ET, p);
  p = out.writeUInt16BE(subtype, p);
  p = out.writeUInt32BE(4 + block.length + tail.length, p);
  p = out.writeUInt32BE(micro, p);
  p += block.copy(out, p);
  out.set(tail, p);
  return p + tail.length;
}

/** §4.4.1 BGP4MP_STATE_CHANGE_AS4's two states, old then new. */
export function stateChangeTail(from: State, to: State): Uint8Array {
  return Uint8Array.of(0, STATE_NUMBER[from], 0, STATE_NUMBER[to]);
}

/**
 * Whether an UPDATE is about IPv6: it has no IPv4 withdrawals or NLRI and carries
 * MP_REACH_NLRI or MP_UNREACH_NLRI with AFI 2. Only the attribute headers are walked; this
 * is needed only when a session negotiated ADD-PATH for one of its families and not the other.
 */
export function updateIsIpv6(msg: Uint8Array): boolean {
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg.length < HEADER_LENGTH + 4) return false;
  const withdrawn = dv.getUint16(HEADER_LENGTH);
  if (withdrawn > 0) return false;
  let p = HEADER_LENGTH + 2;
  const attrsEnd = p + 2 + dv.getUint16(p);
  p += 2;
  if (attrsEnd !== msg.length) return false; // IPv4 NLRI follow (or it is malformed)
  while (p + 3 <= attrsEnd) {
    const flags = msg[p];
    const type = msg[p + 1];
    const extended = (flags & AttrFlag.ExtendedLength) !== 0;
    const len = extended ? (p + 4 <= attrsEnd ? dv.getUint16(p + 2) : 0) : msg[p + 2];
    const value = p + (extended ? 4 : 3);
    if ((type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) && value + 2 <= attrsEnd) return dv.getUint16(value) === 2;
    p = value + len;
  }
  return false;
}
