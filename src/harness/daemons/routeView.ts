// One route as a daemon's CLI shows it, normalised the same way by every driver's output reader
// (birdOutput.ts, gobgpOutput.ts, frrOutput.ts, openbgpdOutput.ts, exabgpEvents.ts), so that a
// test can compare what BIRD, GoBGP, FRR, OpenBGPD and ExaBGP received from their neighbor.

export interface RouteView {
  /** "198.51.100.0/24" */
  prefix: string;
  /** AS numbers in order, AS_SETs flattened (as the CLIs print them). */
  asPath: number[];
  nextHop: string;
  /** MULTI_EXIT_DISC, or null when the route has none (see the driver for daemons that cannot tell). */
  med: number | null;
  /** LOCAL_PREF, or null when the route has none / the daemon does not show it. */
  localPref: number | null;
  /** "65001:1", sorted. */
  communities: string[];
  /** "65001:1:2", sorted. */
  largeCommunities: string[];
  /** Route targets as "rt:65001:7", other extended communities as "0xTTSS:hex", sorted. */
  extendedCommunities: string[];
}

/** Sorts the community lists so that views compare with toEqual. */
export function normaliseRoute(r: RouteView): RouteView {
  return {
    ...r,
    communities: [...r.communities].sort(),
    largeCommunities: [...r.largeCommunities].sort(),
    extendedCommunities: [...r.extendedCommunities].sort(),
  };
}

/** An extended community (RFC 4360) from its 8 octets, in RouteView's spelling. */
export function extendedCommunityFromBytes(b: Uint8Array): string {
  const type = b[0];
  const sub = b[1];
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  // Two-octet-AS specific (0x00), IPv4-address specific (0x01), four-octet-AS specific (0x02).
  if (sub === 0x02 && (type & 0x3f) === 0x00) return `rt:${dv.getUint16(2)}:${dv.getUint32(4)}`;
  if (sub === 0x02 && (type & 0x3f) === 0x02) return `rt:${dv.getUint32(2)}:${dv.getUint16(6)}`;
  if (sub === 0x02 && (type & 0x3f) === 0x01) return `rt:${b[2]}.${b[3]}.${b[4]}.${b[5]}:${dv.getUint16(6)}`;
  const hex = Buffer.from(b.subarray(2, 8)).toString('hex');
  return `0x${type.toString(16).padStart(2, '0')}${sub.toString(16).padStart(2, '0')}:${hex}`;
}

/** A 64-bit extended community given as a number or decimal / 0x-hex string (GoBGP, ExaBGP). */
export function extendedCommunityFromValue(v: number | bigint | string): string {
  const n = typeof v === 'bigint' ? v : BigInt(v);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return extendedCommunityFromBytes(b);
}
