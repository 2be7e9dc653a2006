import { describe, expect, it } from 'vitest';
import { AsPathSegmentType, AttrFlag, AttrType, encodeAttribute, decodeUpdate, encodeMessage, MessageType, type PathAttribute } from '../../src/packet/index.js';
import { applyActions, attributesMatch, parseCommunity, parsePrefixMatch, prefixMatches, type PolicyRule } from '../../src/policy/policy.js';

const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;
const block = (attrs: PathAttribute[]) => Buffer.concat(attrs.map((a) => encodeAttribute(a, { asn4: true })));
const decode = (b: Uint8Array) => {
  const body = new Uint8Array(4 + b.length);
  body[2] = b.length >> 8;
  body[3] = b.length & 0xff;
  body.set(b, 4);
  return decodeUpdate(encodeMessage(MessageType.UPDATE, body), { asn4: true }).attributes;
};
const base: PathAttribute[] = [
  { type: AttrType.ORIGIN, flags: T, origin: 0 },
  { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [65001, 3356, 15169] }] },
  { type: AttrType.NEXT_HOP, flags: T, nextHop: '198.18.0.1' },
  { type: AttrType.COMMUNITIES, flags: O | T, communities: [65001 * 65536 + 7] },
];

describe('policy conditions', () => {
  it('parses communities, well-known names and prefix ranges', () => {
    expect(parseCommunity('65000:100')).toBe(65000 * 65536 + 100);
    expect(parseCommunity('no-export')).toBe(0xffffff01);
    expect(parseCommunity('70000:1')).toBeNull();
    expect(parsePrefixMatch('10.0.0.0/8-24')).toEqual({ afi: 1, bits: [0x0a000000], length: 8, le: 24 });
    expect(parsePrefixMatch('10.0.0.0/8-7')).toBeNull();
  });

  it('matches prefixes inside a range, of the right family and length', () => {
    const rule: PolicyRule = { action: 'accept', prefixes: [parsePrefixMatch('10.0.0.0/8-24')!, parsePrefixMatch('2001:db8::/32')!] };
    expect(prefixMatches(rule, 0, [0x0a010200], 24)).toBe(true);
    expect(prefixMatches(rule, 0, [0x0a010200], 25)).toBe(false);
    expect(prefixMatches(rule, 0, [0x0b000000], 8)).toBe(false);
    expect(prefixMatches(rule, 1, [0x20010db8, 0, 0, 0], 32)).toBe(true);
    expect(prefixMatches(rule, 1, [0x20010db8, 0, 0, 0], 48)).toBe(false);
  });

  it('matches communities, AS path members and the origin AS on the raw block', () => {
    const b = block(base);
    expect(attributesMatch({ action: 'accept', communities: [65001 * 65536 + 7] }, b)).toBe(true);
    expect(attributesMatch({ action: 'accept', communities: [65001 * 65536 + 8] }, b)).toBe(false);
    expect(attributesMatch({ action: 'accept', asPathContains: [3356] }, b)).toBe(true);
    expect(attributesMatch({ action: 'accept', originAs: [15169] }, b)).toBe(true);
    expect(attributesMatch({ action: 'accept', originAs: [3356] }, b)).toBe(false);
  });
});

describe('policy actions', () => {
  it('sets LOCAL_PREF and MED, adds communities once, prepends into the first AS_SEQUENCE', () => {
    const out = decode(applyActions({ action: 'accept', setLocalPref: 300, setMed: 9, addCommunities: [65001 * 65536 + 7, 1], prepend: 2 }, block(base), 64500));
    const get = (t: number) => out.find((a) => a.type === t) as Record<string, unknown> | undefined;
    expect(get(AttrType.LOCAL_PREF)?.localPref).toBe(300);
    expect(get(AttrType.MULTI_EXIT_DISC)?.med).toBe(9);
    expect(get(AttrType.COMMUNITIES)?.communities).toEqual([65001 * 65536 + 7, 1]);
    expect(get(AttrType.AS_PATH)?.segments).toEqual([{ type: AsPathSegmentType.AS_SEQUENCE, asns: [64500, 64500, 65001, 3356, 15169] }]);
  });

  it('keeps MP_REACH_NLRI last and returns the block itself when there is nothing to do', () => {
    const mp: PathAttribute = { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri: [] };
    const b = block([...base, mp]);
    const out = applyActions({ action: 'accept', setMed: 1 }, b, 64500);
    expect(decode(out).map((a) => a.type).at(-1)).toBe(AttrType.MP_REACH_NLRI);
    expect(applyActions({ action: 'accept' }, b, 64500)).toBe(b);
  });
});
