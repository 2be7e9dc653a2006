import { describe, expect, it } from 'vitest';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  BgpError,
  decodeUpdate,
  encodeAttribute,
  encodeEndOfRib,
  encodeMessage,
  encodeUpdate,
  endOfRibFamily,
  forPropagation,
  mergeAs4,
  MessageType,
  type CodecContext,
  type PathAttribute,
} from '../../src/packet/index.js';

const ctx: CodecContext = { asn4: true };
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;

const full: PathAttribute[] = [
  { type: AttrType.ORIGIN, flags: T, origin: 0 },
  { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [65002, 4200000000, 3356] }, { type: AsPathSegmentType.AS_SET, asns: [64512, 64513] }] },
  { type: AttrType.NEXT_HOP, flags: T, nextHop: '198.18.0.1' },
  { type: AttrType.MULTI_EXIT_DISC, flags: O, med: 50 },
  { type: AttrType.LOCAL_PREF, flags: T, localPref: 200 },
  { type: AttrType.ATOMIC_AGGREGATE, flags: T },
  { type: AttrType.AGGREGATOR, flags: O | T, asn: 4200000000, address: '192.0.2.1' },
  { type: AttrType.COMMUNITIES, flags: O | T, communities: [65002 * 65536 + 100, 0xffffff01] },
  { type: AttrType.ORIGINATOR_ID, flags: O, originatorId: '10.0.0.9' },
  { type: AttrType.CLUSTER_LIST, flags: O, clusterList: ['10.0.0.1', '10.0.0.2'] },
  { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: [{ prefix: '2001:db8:100::/48' }, { prefix: '2001:db8:200::/40' }] },
  { type: AttrType.MP_UNREACH_NLRI, flags: O, afi: 2, safi: 1, withdrawn: [{ prefix: '2001:db8:300::/48' }] },
  { type: AttrType.EXTENDED_COMMUNITIES, flags: O | T, extendedCommunities: [Uint8Array.of(0, 2, 0xfd, 0xea, 0, 0, 0, 100)] },
  { type: AttrType.LARGE_COMMUNITY, flags: O | T, largeCommunities: [[4200000000, 1, 2], [65002, 3, 4]] },
  { type: AttrType.OTC, flags: O | T, otc: 65002 },
  { type: 99, flags: O | T, data: Uint8Array.of(1, 2, 3) },
];

function bad(attrs: Uint8Array[], nlri: number[] = [24, 10, 0, 0], c: CodecContext = ctx) {
  const a = Buffer.concat(attrs);
  const body = Buffer.concat([Buffer.from([0, 0, a.length >> 8, a.length & 0xff]), a, Buffer.from(nlri)]);
  return decodeUpdate(encodeMessage(MessageType.UPDATE, body), c);
}

const raw = (flags: number, type: number, ...value: number[]) => Uint8Array.of(flags, type, value.length, ...value);
const origin = raw(T, 1, 0);
const asPath = raw(T, 2, 2, 1, 0, 0, 0xfd, 0xea);
const nextHop = raw(T, 3, 198, 18, 0, 1);

describe('UPDATE (RFC 4271 §4.3) and path attributes', () => {
  it('round-trips every attribute, withdrawn routes and NLRI byte for byte', () => {
    const u = { withdrawn: [{ prefix: '10.9.0.0/16' }], attributes: full, nlri: [{ prefix: '10.0.0.0/8' }, { prefix: '192.0.2.128/25' }, { prefix: '0.0.0.0/0' }] };
    const bytes = encodeUpdate(u, ctx);
    const back = decodeUpdate(bytes, ctx);
    expect(back.treatAsWithdraw).toBe(false);
    expect(back.problems).toEqual([]);
    expect({ withdrawn: back.withdrawn, attributes: back.attributes, nlri: back.nlri }).toEqual(u);
    expect(encodeUpdate(back, ctx)).toEqual(bytes);
  });

  it('carries RFC 7911 path identifiers when ADD-PATH applies to the family', () => {
    const c: CodecContext = { asn4: true, addPath: { ipv4: true, ipv6: true } };
    const u = {
      withdrawn: [{ prefix: '10.9.0.0/16', pathId: 7 }],
      attributes: [full[0], full[1], full[2], { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri: [{ prefix: '2001:db8::/32', pathId: 3 }] } as PathAttribute],
      nlri: [{ prefix: '10.0.0.0/8', pathId: 1 }, { prefix: '10.0.0.0/8', pathId: 2 }],
    };
    const back = decodeUpdate(encodeUpdate(u, c), c);
    expect({ withdrawn: back.withdrawn, attributes: back.attributes, nlri: back.nlri }).toEqual(u);
  });

  it('uses the Extended Length bit for values over 255 octets', () => {
    const communities = Array.from({ length: 100 }, (_, i) => i);
    const bytes = encodeAttribute({ type: AttrType.COMMUNITIES, flags: O | T, communities }, ctx);
    expect(bytes[0] & AttrFlag.ExtendedLength).toBeTruthy();
    expect((bytes[2] << 8) | bytes[3]).toBe(400);
  });

  it('encodes 2-octet AS paths with AS_TRANS for a peer without the 4-octet AS capability', () => {
    const path: PathAttribute = { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [65002, 4200000000] }] };
    const bytes = encodeAttribute(path, { asn4: false });
    expect([...bytes]).toEqual([T, 2, 6, 2, 2, 0xfd, 0xea, 0x5b, 0xa0]);
  });

  it('recognises End-of-RIB for IPv4 and IPv6 from the bytes alone (RFC 4724 §2)', () => {
    expect(endOfRibFamily(encodeEndOfRib({ afi: 1, safi: 1 }))).toEqual({ afi: 1, safi: 1 });
    expect(endOfRibFamily(encodeEndOfRib({ afi: 2, safi: 1 }))).toEqual({ afi: 2, safi: 1 });
    const notEor = encodeUpdate({ withdrawn: [{ prefix: '10.0.0.0/8' }], attributes: [], nlri: [] }, ctx);
    expect(endOfRibFamily(notEor)).toBeNull();
    const withdrawV6 = encodeUpdate({ withdrawn: [], attributes: [{ type: AttrType.MP_UNREACH_NLRI, flags: O, afi: 2, safi: 1, withdrawn: [{ prefix: '2001:db8::/32' }] }], nlri: [] }, ctx);
    expect(endOfRibFamily(withdrawV6)).toBeNull();
  });
});

describe('RFC 7606 error handling', () => {
  it('accepts a well-formed minimal announcement', () => {
    const u = bad([origin, asPath, nextHop]);
    expect(u.treatAsWithdraw).toBe(false);
    expect(u.nlri).toEqual([{ prefix: '10.0.0.0/24' }]);
  });

  it('treats an undefined ORIGIN value as withdraw (§7.1)', () => {
    const u = bad([raw(T, 1, 7), asPath, nextHop]);
    expect(u.treatAsWithdraw).toBe(true);
    expect(u.nlri).toEqual([{ prefix: '10.0.0.0/24' }]);
  });

  it('treats a malformed AS_PATH as withdraw (§7.2)', () => {
    expect(bad([origin, raw(T, 2, 2, 3, 0, 0, 0xfd, 0xea), nextHop]).treatAsWithdraw).toBe(true);
    expect(bad([origin, raw(T, 2, 9, 1, 0, 0, 0xfd, 0xea), nextHop]).treatAsWithdraw).toBe(true);
  });

  it('treats a missing well-known attribute as withdraw (§3(d))', () => {
    const u = bad([origin, asPath]);
    expect(u.treatAsWithdraw).toBe(true);
    expect(u.problems.join()).toMatch(/missing well-known attribute 3/);
  });

  it('treats wrong attribute flags as withdraw (§3(c))', () => {
    expect(bad([origin, asPath, nextHop, raw(T, 4, 0, 0, 0, 1)]).treatAsWithdraw).toBe(true);
  });

  it('discards a malformed AGGREGATOR or ATOMIC_AGGREGATE and keeps the route (§7.6, §7.7)', () => {
    const u = bad([origin, asPath, nextHop, raw(O | T, 7, 1, 2, 3), raw(T, 6, 1)]);
    expect(u.treatAsWithdraw).toBe(false);
    expect(u.discarded).toEqual([7, 6]);
  });

  it('discards LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from an external peer (§7.5, §7.9, §7.10)', () => {
    const u = bad([origin, asPath, nextHop, raw(T, 5, 0, 0, 0, 100), raw(O, 9, 1, 1, 1, 1), raw(O, 10, 1, 1, 1, 1)], undefined, { asn4: true, ebgp: true });
    expect(u.treatAsWithdraw).toBe(false);
    expect(u.discarded).toEqual([5, 9, 10]);
  });

  it('keeps only the first of repeated attributes (§3(g))', () => {
    const u = bad([origin, asPath, nextHop, raw(O, 4, 0, 0, 0, 1), raw(O, 4, 0, 0, 0, 2)]);
    expect(u.attributes.filter((a) => a.type === 4)).toEqual([{ type: 4, flags: O, med: 1 }]);
    expect(u.discarded).toEqual([4]);
  });

  it('treats malformed COMMUNITIES, LARGE_COMMUNITY, EXTENDED_COMMUNITIES as withdraw (§7.8, RFC 8092 §6)', () => {
    expect(bad([origin, asPath, nextHop, raw(O | T, 8, 1, 2, 3)]).treatAsWithdraw).toBe(true);
    expect(bad([origin, asPath, nextHop, raw(O | T, 32, 1, 2, 3, 4)]).treatAsWithdraw).toBe(true);
    expect(bad([origin, asPath, nextHop, raw(O | T, 16, 1, 2, 3, 4)]).treatAsWithdraw).toBe(true);
  });

  it('treats an attribute that overruns the attribute field as withdraw', () => {
    const u = bad([origin, asPath, nextHop, Uint8Array.of(O, 4, 40, 0, 0)]);
    expect(u.treatAsWithdraw).toBe(true);
  });

  it('resets the session for a repeated MP_REACH_NLRI or a malformed one (§3(g), §7.11)', () => {
    const mp = raw(O, 14, 0, 2, 1, 16, ...new Array(16).fill(0), 0);
    expect(() => bad([origin, asPath, mp, mp], [])).toThrow(BgpError);
    expect(() => bad([origin, asPath, raw(O, 14, 0, 2, 1, 7, 1, 2, 3, 4, 5, 6, 7, 0)], [])).toThrow(/Optional Attribute Error/);
  });

  it('answers an unrecognised well-known attribute with NOTIFICATION 3/2', () => {
    try {
      bad([origin, asPath, nextHop, raw(T, 77, 1)]);
      throw new Error('no error');
    } catch (e) {
      expect([(e as BgpError).code, (e as BgpError).subcode]).toEqual([3, 2]);
      expect([...(e as BgpError).data]).toEqual([T, 77, 1, 1]);
    }
  });

  it('resets the session for a prefix longer than 32 bits (§5.3)', () => {
    expect(() => bad([origin, asPath, nextHop], [33, 1, 2, 3, 4, 5])).toThrow(/Invalid Network Field/);
  });

  it('resets the session when the attribute length overruns the message', () => {
    const body = Buffer.from([0, 0, 0, 40, 1, 2, 3]);
    expect(() => decodeUpdate(encodeMessage(MessageType.UPDATE, body), ctx)).toThrow(/Malformed Attribute List/);
  });
});

describe('4-octet AS transition (RFC 6793 §4.2.3)', () => {
  const path2 = (asns: number[]): PathAttribute => ({ type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns }] });
  const path4 = (asns: number[]): PathAttribute => ({ type: AttrType.AS4_PATH, flags: O | T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns }] });

  it('merges AS4_PATH behind the leading ASes of AS_PATH', () => {
    const merged = mergeAs4([path2([65010, 23456, 23456, 3356]), path4([4200000001, 4200000002, 3356])], false);
    expect(merged).toEqual([path2([65010, 4200000001, 4200000002, 3356])]);
  });

  it('ignores an AS4_PATH longer than AS_PATH', () => {
    expect(mergeAs4([path2([23456]), path4([1, 2])], false)).toEqual([path2([23456])]);
  });

  it('takes AS4_AGGREGATOR when AGGREGATOR holds AS_TRANS, and ignores both otherwise', () => {
    const agg = (asn: number): PathAttribute => ({ type: AttrType.AGGREGATOR, flags: O | T, asn, address: '192.0.2.1' });
    const as4agg: PathAttribute = { type: AttrType.AS4_AGGREGATOR, flags: O | T, asn: 4200000009, address: '192.0.2.9' };
    expect(mergeAs4([agg(23456), as4agg], false)).toEqual([{ ...agg(4200000009), address: '192.0.2.9' }]);
    expect(mergeAs4([path2([65010, 23456]), agg(65010), as4agg, path4([7])], false)).toEqual([path2([65010, 23456]), agg(65010)]);
  });

  it('drops AS4_ attributes from a 4-octet-AS peer', () => {
    expect(mergeAs4([path2([4200000001]), path4([1])], true)).toEqual([path2([4200000001])]);
  });
});

describe('propagation of unknown attributes (RFC 4271 §5)', () => {
  it('sets Partial on unknown optional transitive attributes and drops unknown non-transitive ones', () => {
    const out = forPropagation([full[0], { type: 99, flags: O | T, data: Uint8Array.of(1) }, { type: 98, flags: O, data: Uint8Array.of(2) }]);
    expect(out).toEqual([full[0], { type: 99, flags: O | T | AttrFlag.Partial, data: Uint8Array.of(1) }]);
  });
});
