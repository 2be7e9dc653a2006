// UPDATEs built from the RIB for Route Monitoring (RFC 7854 §4.6): a stored attribute set and
// the prefixes that share it, packed into as few UPDATEs as fit 4096 octets, each prefix with
// its own RFC 7911 path identifier when the session negotiated receiving them, so the station
// reads them as the peer's own UPDATEs (the Peer Up OPENs tell it how). IPv6 goes in
// MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760). The walk's UPDATEs and the Loc-RIB's use this;
// live pre-policy UPDATEs go out as received.

import { AttrFlag, AttrType, encodeEndOfRib, MessageType } from '../packet/index.js';
import { toTwoOctetAs } from '../packet/attr/export.js';
import { AttrWalker } from '../packet/attr/walk.js';

const HEADER = 19;
const MAX_MESSAGE = 4096;
const EXTENDED_MAX = 65535;

/** One prefix as NLRI: path identifier (when used), length, the network's significant octets. */
export function nlri(network: Uint8Array, length: number, pathId: number | null): Uint8Array {
  const octets = (length + 7) >> 3;
  const id = pathId === null ? 0 : 4;
  const out = new Uint8Array(id + 1 + octets);
  if (pathId !== null) new DataView(out.buffer).setUint32(0, pathId >>> 0);
  out[id] = length;
  out.set(network.subarray(0, octets), id + 1);
  return out;
}

export interface UpdateForm {
  /** The session's AS_PATH form: false rewrites 4-octet paths as RFC 6793 §4.2.2 says. */
  asn4: boolean;
}

const walker = new AttrWalker();

/**
 * A stored attribute set (4-octet AS_PATH; an IPv6 path's MP_REACH_NLRI without NLRI) split
 * into the attributes that go as they are and the MP_REACH_NLRI value (AFI … reserved octet).
 */
function split(stored: Uint8Array, form: UpdateForm): { rest: Uint8Array; mpReach: Uint8Array | null } {
  const block = form.asn4 ? stored : toTwoOctetAs(stored);
  const parts: Uint8Array[] = [];
  let mpReach: Uint8Array | null = null;
  const w = walker.reset(block);
  while (w.next()) {
    if (w.type === AttrType.MP_REACH_NLRI) mpReach = Buffer.from(block.subarray(w.value, w.value + w.length));
    else parts.push(w.whole());
  }
  return { rest: Buffer.concat(parts), mpReach };
}

function header(b: Buffer, length: number): void {
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(length, 16);
  b[18] = MessageType.UPDATE;
}

/** Takes entries of `items` from `from` while they fit `room` octets; returns where it stopped (at least one). */
function fit(items: readonly Uint8Array[], from: number, room: number): number {
  let i = from;
  let used = 0;
  while (i < items.length && (i === from || used + items[i].length <= room)) used += items[i++].length;
  return i;
}

/** Announcements of `prefixes` (NLRI, see `nlri`) with one stored attribute set. */
export function announcements(stored: Uint8Array, v6: boolean, prefixes: readonly Uint8Array[], form: UpdateForm): Uint8Array[] {
  const { rest, mpReach } = split(stored, form);
  const out: Uint8Array[] = [];
  if (v6 && !mpReach) return out; // an IPv6 path always has its next hop
  const fixed = HEADER + 4 + rest.length + (v6 ? 4 + mpReach!.length : 0);
  const max = fixed + 17 + 4 > MAX_MESSAGE ? EXTENDED_MAX : MAX_MESSAGE;
  for (let i = 0; i < prefixes.length; ) {
    const j = fit(prefixes, i, max - fixed);
    const n = prefixes.slice(i, j);
    const nlriBytes = n.reduce((s, p) => s + p.length, 0);
    const b = Buffer.allocUnsafe(fixed + nlriBytes);
    header(b, b.length);
    b.writeUInt16BE(0, HEADER);
    const attrLength = rest.length + (v6 ? 4 + mpReach!.length + nlriBytes : 0);
    b.writeUInt16BE(attrLength, HEADER + 2);
    let o = HEADER + 4;
    b.set(rest, o);
    o += rest.length;
    if (v6) {
      b[o] = AttrFlag.Optional | AttrFlag.ExtendedLength;
      b[o + 1] = AttrType.MP_REACH_NLRI;
      b.writeUInt16BE(mpReach!.length + nlriBytes, o + 2);
      b.set(mpReach!, o + 4);
      o += 4 + mpReach!.length;
    }
    for (const p of n) {
      b.set(p, o);
      o += p.length;
    }
    out.push(b);
    i = j;
  }
  return out;
}

/** Withdrawals of `prefixes` (NLRI): the Withdrawn Routes field, or MP_UNREACH_NLRI for IPv6. */
export function withdrawals(v6: boolean, prefixes: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const fixed = HEADER + 4 + (v6 ? 7 : 0);
  for (let i = 0; i < prefixes.length; ) {
    const j = fit(prefixes, i, MAX_MESSAGE - fixed);
    const n = prefixes.slice(i, j);
    const nlriBytes = n.reduce((s, p) => s + p.length, 0);
    const b = Buffer.allocUnsafe(fixed + nlriBytes);
    header(b, b.length);
    let o: number;
    if (v6) {
      b.writeUInt16BE(0, HEADER);
      b.writeUInt16BE(7 + nlriBytes, HEADER + 2);
      b[HEADER + 4] = AttrFlag.Optional | AttrFlag.ExtendedLength;
      b[HEADER + 5] = AttrType.MP_UNREACH_NLRI;
      b.writeUInt16BE(3 + nlriBytes, HEADER + 6);
      b.writeUInt16BE(2, HEADER + 8);
      b[HEADER + 10] = 1;
      o = HEADER + 11;
    } else {
      b.writeUInt16BE(nlriBytes, HEADER);
      o = HEADER + 2;
    }
    for (const p of n) {
      b.set(p, o);
      o += p.length;
    }
    if (!v6) b.writeUInt16BE(0, o);
    out.push(b);
    i = j;
  }
  return out;
}

/** End-of-RIB (RFC 4724 §2) for a family name ("ipv4-unicast", "ipv6-unicast"). */
export function endOfRib(family: string): Uint8Array {
  return encodeEndOfRib(family === 'ipv6-unicast' ? { afi: 2, safi: 1 } : { afi: 1, safi: 1 });
}
