// The synthetic table: reproducible, valid on the wire, and shaped like the real one
// (figures from the shared data folder's data/mrt/stats.json, copied here as the spec).
import { describe, expect, it } from 'vitest';
import {
  AttrType,
  decodeUpdate,
  encodeEndOfRib,
  readHeader,
  type DecodedUpdate,
  type AsPathAttribute,
  type PathAttribute,
  type UnknownAttribute,
} from '../../src/packet/index.js';
import { expectedPrefixes, generateTable, type EncodedTable, type SyntheticOptions } from '../../src/harness/tablegen/synthetic.js';

const base: SyntheticOptions = { senderAs: 64500, ipv4Prefixes: 50_000, ipv6Prefixes: 10_000 };

/** Splits a stream into its messages (checking each header as a receiver would). */
function messages(buf: Buffer, max = 65535): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < buf.length; ) {
    const { length } = readHeader(buf, p, max);
    out.push(buf.subarray(p, p + length));
    p += length;
  }
  return out;
}

/** The known attribute of that type (the codec's union also admits an UnknownAttribute of any type). */
type Known<T extends number> = T extends AttrType.AS_PATH ? AsPathAttribute : Exclude<Extract<PathAttribute, { type: T }>, UnknownAttribute>;

function attr<T extends number>(d: DecodedUpdate, type: T): Known<T> | undefined {
  return d.attributes.find((a) => a.type === type) as Known<T> | undefined;
}

interface Route {
  prefix: string;
  hops: number;
  med: number | undefined;
}

/** Every route of a table with the path it was sent with, in stream order. */
function routes(t: EncodedTable): Route[] {
  const out: Route[] = [];
  for (const m of messages(t.updates)) {
    const d = decodeUpdate(m, { asn4: true });
    const hops = attr(d, AttrType.AS_PATH)!.segments.reduce((s, g) => s + g.asns.length, 0);
    const med = attr(d, AttrType.MULTI_EXIT_DISC)?.med;
    const mp = attr(d, AttrType.MP_REACH_NLRI);
    for (const p of [...d.nlri, ...(mp?.nlri ?? [])]) out.push({ prefix: p.prefix, hops, med });
  }
  return out;
}

function v4Text(addr: number, len: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${len}`;
}

describe('synthetic table', () => {
  const table = generateTable(base);
  const decoded = messages(table.updates, 4096).map((m) => decodeUpdate(m, { asn4: true, ebgp: true }));

  it('is the same bytes for the same seed, other bytes for another seed', () => {
    expect(generateTable(base).updates.equals(table.updates)).toBe(true);
    expect(generateTable({ ...base, seed: 2 }).updates.equals(table.updates)).toBe(false);
  });

  it('decodes cleanly, message by message, with every mandatory attribute', () => {
    expect(decoded.length).toBe(table.messageCount);
    let v4 = 0;
    let v6 = 0;
    for (const d of decoded) {
      expect(d.problems).toEqual([]);
      expect(d.treatAsWithdraw).toBe(false);
      expect(d.withdrawn).toEqual([]);
      expect(attr(d, AttrType.ORIGIN)).toBeDefined();
      const path = attr(d, AttrType.AS_PATH)!.segments.flatMap((s) => s.asns);
      expect(path[0]).toBe(base.senderAs);
      // No AS appears twice except as prepending (adjacent repeats): a loop would be dropped.
      const runs = path.filter((a, i) => i === 0 || path[i - 1] !== a);
      expect(new Set(runs).size).toBe(runs.length);
      const mp = attr(d, AttrType.MP_REACH_NLRI);
      if (d.nlri.length > 0) {
        expect(mp).toBeUndefined();
        expect(attr(d, AttrType.NEXT_HOP)!.nextHop).toBe('198.18.0.1');
        v4 += d.nlri.length;
      } else {
        expect(attr(d, AttrType.NEXT_HOP)).toBeUndefined();
        expect(mp!.nextHops).toEqual(['2001:db8::1']);
        expect(mp!.nlri.length).toBeGreaterThan(0);
        v6 += mp!.nlri.length;
      }
    }
    expect([v4, v6]).toEqual([50_000, 10_000]);
    expect([table.ipv4Prefixes, table.ipv6Prefixes]).toEqual([50_000, 10_000]);
  });

  it('sends End-of-RIB for IPv4, and for IPv6 only when there are IPv6 prefixes', () => {
    const v4 = Buffer.from(encodeEndOfRib({ afi: 1, safi: 1 }));
    const v6 = Buffer.from(encodeEndOfRib({ afi: 2, safi: 1 }));
    expect(table.endOfRib.equals(Buffer.concat([v4, v6]))).toBe(true);
    const only4 = generateTable({ ...base, ipv4Prefixes: 1000, ipv6Prefixes: 0 });
    expect(only4.endOfRib.equals(v4)).toBe(true);
    expect(only4.ipv6Prefixes).toBe(0);
  });

  it('lists the IPv4 prefixes in the order they are sent: distinct, host bits clear, public', () => {
    const exp = expectedPrefixes(base);
    expect(exp.ipv4.length).toBe(2 * 50_000);
    expect(exp.ipv6Count).toBe(10_000);
    const sent = decoded.flatMap((d) => d.nlri.map((p) => p.prefix));
    expect(sent.length).toBe(50_000);
    const seen = new Set<number>();
    const bad: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const addr = exp.ipv4[2 * i];
      const len = exp.ipv4[2 * i + 1];
      const text = v4Text(addr, len);
      const hostBits = (addr & (len === 32 ? 0 : 0xffffffff >>> len)) !== 0;
      const first = addr >>> 24;
      // 0/8, 10/8, 127/8, 224/4 and above never appear; nor does 198.18/15 (the next hop's).
      const reserved = first === 0 || first === 10 || first === 127 || first >= 224 || addr >>> 17 === 0xc612 >>> 1;
      if (sent[i] !== text || hostBits || reserved || len < 8) bad.push(`${i}: sent ${sent[i]}, listed ${text}`);
      seen.add(addr * 64 + len);
    }
    expect(bad).toEqual([]);
    expect(seen.size).toBe(50_000);
    const v6 = decoded.flatMap((d) => attr(d, AttrType.MP_REACH_NLRI)?.nlri.map((p) => p.prefix) ?? []);
    expect(new Set(v6).size).toBe(10_000);
    // 2000::/3: the first hex digit is 2 or 3.
    expect(v6.every((p) => p[0] === '2' || p[0] === '3')).toBe(true);
    expect(v6.some((p) => p.startsWith('2001:db8:'))).toBe(false);
  });

  it('has the real prefix-length mix', () => {
    // stats.json calibration_summary.single_peer_full_ipv4_table_2014.ipv4_prefix_length. The
    // generator splits counts per length exactly (rounding moves at most ~25 of 50,000 prefixes
    // to /24) and the stats are rounded to 4 decimals: 0.1 percentage point covers both.
    const want: Record<string, number> = {
      '<=/15': 0.0072, '/16': 0.0261, '/17-/19': 0.0873, '/20': 0.0693, '/21': 0.0746,
      '/22': 0.1068, '/23': 0.0932, '/24': 0.5331, '>/24': 0.0023,
    };
    const bucket = (l: number) => (l <= 15 ? '<=/15' : l >= 17 && l <= 19 ? '/17-/19' : l > 24 ? '>/24' : `/${l}`);
    const exp = expectedPrefixes(base).ipv4;
    const got: Record<string, number> = {};
    for (let i = 1; i < exp.length; i += 2) got[bucket(exp[i])] = (got[bucket(exp[i])] ?? 0) + 1 / 50_000;
    for (const [k, share] of Object.entries(want)) expect(Math.abs((got[k] ?? 0) - share), k).toBeLessThan(0.001);

    // IPv6: rrc01 2024 announced lengths, /48 58.7%, /32 14.7% (a few dozen < /29 dropped).
    const v6len = decoded.flatMap((d) => attr(d, AttrType.MP_REACH_NLRI)?.nlri.map((p) => Number(p.prefix.split('/')[1])) ?? []);
    const share6 = (l: number) => v6len.filter((x) => x === l).length / v6len.length;
    expect(Math.abs(share6(48) - 0.5866)).toBeLessThan(0.002);
    expect(Math.abs(share6(32) - 0.1473)).toBeLessThan(0.002);
    expect(Math.max(...v6len)).toBe(48);
  });

  it('groups three to six routes per attribute set and packs each set into full messages', () => {
    const perSet = (table.ipv4Prefixes + table.ipv6Prefixes) / table.attributeSets;
    expect(perSet).toBeGreaterThanOrEqual(3);
    expect(perSet).toBeLessThanOrEqual(6);
    // A set only spills into another message when the first is full.
    expect(table.messageCount).toBeGreaterThanOrEqual(table.attributeSets);
    expect(table.messageCount).toBeLessThan(table.attributeSets * 1.01);
    const lengths = messages(table.updates, 4096).map((m) => m.length);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(4096);
    expect(lengths.filter((l) => l > 4096 - 8).length).toBeGreaterThan(0);
  });

  it('uses extended messages when asked: same routes, fewer messages', () => {
    const big = generateTable({ ...base, maxMessageLength: 65535 });
    const lengths = messages(big.updates).map((m) => m.length);
    expect(Math.max(...lengths)).toBeGreaterThan(4096);
    expect(big.messageCount).toBeLessThan(table.messageCount);
    expect(big.attributeSets).toBe(table.attributeSets);
    expect(routes(big).map((r) => r.prefix)).toEqual(routes(table).map((r) => r.prefix));
    expect(() => generateTable({ ...base, maxMessageLength: 100 })).toThrow(RangeError);
  });

  it('has paths, communities and AS numbers shaped like the real table', () => {
    // Per message (about one per set): hop mean 4.18 (jinx 2014), communities 78.6% and large
    // communities 19.3% (rrc01 2024), MED 35%, prepending 13%. ~13k sets: binomial sd < 0.5%.
    const n = decoded.length;
    const share = (f: (d: DecodedUpdate) => boolean) => decoded.filter(f).length / n;
    const paths = decoded.map((d) => attr(d, AttrType.AS_PATH)!.segments.flatMap((s) => s.asns));
    const meanHops = paths.reduce((s, p) => s + p.length, 0) / n;
    expect(Math.abs(meanHops - 4.18)).toBeLessThan(0.15);
    expect(Math.abs(share((d) => attr(d, AttrType.COMMUNITIES) !== undefined) - 0.786)).toBeLessThan(0.02);
    expect(Math.abs(share((d) => attr(d, AttrType.LARGE_COMMUNITY) !== undefined) - 0.193)).toBeLessThan(0.02);
    expect(Math.abs(share((d) => attr(d, AttrType.MULTI_EXIT_DISC) !== undefined) - 0.35)).toBeLessThan(0.02);
    const prepended = paths.filter((p) => p.some((a, i) => i > 0 && p[i - 1] === a)).length / n;
    expect(Math.abs(prepended - 0.13)).toBeLessThan(0.02);
    const asns = new Set(paths.flat());
    const four = [...asns].filter((a) => a > 0xffff).length / asns.size;
    expect(four).toBeGreaterThan(0.2);
    expect(four).toBeLessThan(0.6);
    // Nothing reserved, private or AS_TRANS besides the sender we chose (64500, documentation).
    asns.delete(base.senderAs);
    expect([...asns].filter((a) => a === 23456 || (a >= 64298 && a <= 131071) || a >= 4200000000)).toEqual([]);
  });

  it('gives another variant the same prefixes in the same order but other paths', () => {
    const a = routes(table);
    const b = routes(generateTable({ ...base, variant: 1 }));
    expect(b.map((r) => r.prefix)).toEqual(a.map((r) => r.prefix));
    let longer = 0;
    let shorter = 0;
    let otherMed = 0;
    for (let i = 0; i < a.length; i++) {
      if (b[i].hops > a[i].hops) longer++;
      if (b[i].hops < a[i].hops) shorter++;
      if (b[i].med !== a[i].med) otherMed++;
    }
    // Independent draws from the hop histogram differ ~60% of the time, either way.
    expect(longer / a.length).toBeGreaterThan(0.15);
    expect(shorter / a.length).toBeGreaterThan(0.15);
    expect(otherMed / a.length).toBeGreaterThan(0.2);
    expect(generateTable({ ...base, variant: 1 }).updates.equals(generateTable({ ...base, variant: 1 }).updates)).toBe(true);
  });

  it('generates the default full table (1.04M + 225k prefixes)', () => {
    const full = generateTable({ senderAs: 64500 });
    expect([full.ipv4Prefixes, full.ipv6Prefixes]).toEqual([1_040_000, 225_000]);
    let count = 0;
    let max = 0;
    for (let p = 0; p < full.updates.length; count++) {
      const len = full.updates.readUInt16BE(p + 16);
      max = Math.max(max, len);
      p += len;
    }
    expect(count).toBe(full.messageCount);
    expect(max).toBeLessThanOrEqual(4096);
    const perSet = 1_265_000 / full.attributeSets;
    expect(perSet).toBeGreaterThan(3);
    expect(perSet).toBeLessThan(6);
  });
});
