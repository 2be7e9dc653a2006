// MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760) of IPv6 unicast read from the bytes, and the
// attribute sets a received block comes to, written from the bytes exactly as the codec writes
// them (decodeUpdate, then encodeAttribute of each attribute kept), so a path has the same
// stored set whichever of the two parsed it.

import { Afi, AttrFlag, AttrType, Safi } from '../packet/index.js';
import { AttrWalker } from '../packet/attr/walk.js';

/** The AFI and SAFI that open an MP_REACH_NLRI / MP_UNREACH_NLRI value at b[v] are IPv6 unicast. */
export function ipv6Unicast(b: Uint8Array, v: number): boolean {
  return ((b[v] << 8) | b[v + 1]) === Afi.IPv6 && b[v + 2] === Safi.Unicast;
}

/** MP_REACH_NLRI at b[v]: AFI (2), SAFI (1), Length of Next Hop Network Address (1) (RFC 4760 §3). */
export function mpNextHopLength(b: Uint8Array, v: number): number {
  return b[v + 3];
}

/** Where MP_REACH_NLRI's NLRI starts: after AFI, SAFI, the next hop's length and address, one Reserved octet. */
export function mpReachNlri(b: Uint8Array, v: number): number {
  return v + 4 + mpNextHopLength(b, v) + 1;
}

/** Where MP_UNREACH_NLRI's Withdrawn Routes start: after AFI and SAFI (RFC 4760 §4). */
export function mpUnreachWithdrawn(v: number): number {
  return v + 3;
}

/**
 * The stored attribute set of a received block, written into one reused buffer. The codec
 * keeps each attribute it decodes with its flags octet and its length in the width received
 * (Extended Length or not), and its value re-encodes to the same octets for a 4-octet-AS
 * session: a kept attribute is copied whole.
 */
export class StoredSetWriter {
  private out = new Uint8Array(4096);
  private readonly walker = new AttrWalker();

  /**
   * The attributes of b[start, end) that a path keeps: all but those `drop` names (header
   * offsets, from checkAttributes), MP_REACH_NLRI and MP_UNREACH_NLRI. With `mpReach` (the
   * value offset of an IPv6 MP_REACH_NLRI; -1 for the IPv4 NLRI field's set) NEXT_HOP goes too
   * and the next hop is kept as the last attribute: an MP_REACH_NLRI of flags Optional alone,
   * the same AFI, SAFI and next hop, a zero Reserved octet and no NLRI. A view of the buffer,
   * valid until the next call.
   */
  write(b: Uint8Array, start: number, end: number, drop: readonly number[], mpReach: number): Uint8Array {
    if (this.out.length < end - start + 40) this.out = new Uint8Array(2 * (end - start + 40));
    const out = this.out;
    let o = 0;
    const w = this.walker.reset(b, start, end);
    while (w.next()) {
      const type = w.type;
      if (type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI) continue;
      if (type === AttrType.NEXT_HOP && mpReach >= 0) continue;
      if (drop.length && drop.includes(w.at)) continue;
      const stop = w.value + w.length;
      for (let i = w.at; i < stop; i++) out[o++] = b[i];
    }
    if (mpReach >= 0) {
      const nhLen = mpNextHopLength(b, mpReach);
      out[o++] = AttrFlag.Optional;
      out[o++] = AttrType.MP_REACH_NLRI;
      out[o++] = 5 + nhLen;
      for (let i = mpReach; i < mpReach + 4 + nhLen; i++) out[o++] = b[i]; // AFI, SAFI, length, next hop
      out[o++] = 0; // Reserved
    }
    return out.subarray(0, o);
  }
}
