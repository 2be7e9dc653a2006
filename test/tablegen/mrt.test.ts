// The MRT reader against real collector files (figures from data/mrt/README.md and stats.json in
// the shared data folder, see test/helpers/env.ts; a test whose file is not there skips, saying
// so) and against hand-built records for the forms the real files lack
// (BGP4MP_ET, ADD-PATH, AS4_PATH merging, truncation mid-record).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  decodeUpdate,
  encodeAttribute,
  encodeUpdate,
  KEEPALIVE,
  MessageType,
  readHeader,
  type DecodedUpdate,
  type AsPathAttribute,
  type PathAttribute,
  type UnknownAttribute,
} from '../../src/packet/index.js';
import { readRibDump, readUpdates, type MrtUpdate, type MrtUpdatesSummary } from '../../src/harness/tablegen/mrt.js';
import type { EncodedTable } from '../../src/harness/tablegen/table.js';
import { reportSkipped, sharedFile } from '../helpers/env.js';

/**
 * A real file under the shared data folder's data/mrt/; without it the running test skips with
 * the reason, and a line on stderr says so.
 */
function dataFile(ctx: TestContext, rel: string): string {
  const file = sharedFile(`data/mrt/${rel}`);
  if (file) return file;
  const why = `data/mrt/${rel} not found (set RIBSTORM_SHARED to the folder holding data/, or put it beside the repository as ../shared)`;
  reportSkipped('mrt', [`${ctx.task.name}: ${why}`]);
  ctx.skip(why);
}
const rib = (ctx: TestContext, f: string) => dataFile(ctx, `rib/${f}`);
const updatesFile = (ctx: TestContext, f: string) => dataFile(ctx, `updates/${f}`);
const tmp = mkdtempSync(join(tmpdir(), 'ribstorm-mrt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function decodeAll(t: EncodedTable, max = 4096): DecodedUpdate[] {
  const out: DecodedUpdate[] = [];
  for (let p = 0; p < t.updates.length; ) {
    const { length } = readHeader(t.updates, p, max);
    out.push(decodeUpdate(t.updates.subarray(p, p + length), { asn4: true }));
    p += length;
  }
  return out;
}

/** The known attribute of that type (the codec's union also admits an UnknownAttribute of any type). */
type Known<T extends number> = T extends AttrType.AS_PATH ? AsPathAttribute : Exclude<Extract<PathAttribute, { type: T }>, UnknownAttribute>;

function attr<T extends number>(d: DecodedUpdate, type: T): Known<T> | undefined {
  return d.attributes.find((a) => a.type === type) as Known<T> | undefined;
}

function prefixCount(d: DecodedUpdate): number {
  return d.nlri.length + (attr(d, AttrType.MP_REACH_NLRI)?.nlri.length ?? 0);
}

/** A table is sound when every message decodes cleanly and carries the routes it claims. */
function expectSound(t: EncodedTable, max = 4096): DecodedUpdate[] {
  const ds = decodeAll(t, max);
  expect(ds.length).toBe(t.messageCount);
  expect(ds.flatMap((d) => d.problems)).toEqual([]);
  expect(ds.filter((d) => d.treatAsWithdraw).length).toBe(0);
  expect(ds.reduce((s, d) => s + prefixCount(d), 0)).toBe(t.ipv4Prefixes + t.ipv6Prefixes);
  return ds;
}

async function drain(path: string): Promise<{ items: MrtUpdate[]; summary: MrtUpdatesSummary }> {
  const it = readUpdates(path);
  const items: MrtUpdate[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { items, summary: r.value };
    items.push(r.value);
  }
}

describe('MRT RIB dumps (real files)', () => {
  it('TABLE_DUMP_V2 from BIRD (NL-IX): 21 peers, one with 23 routes, bad flags repaired', async (ctx) => {
    const r = await readRibDump(rib(ctx, '185.186.nlix.mrt'));
    expect(r.records).toBe(24); // {'13/1': 1, '13/2': 23}
    expect(r.truncated).toBe(false);
    expect(r.peers.length).toBe(21);
    const used = r.peers.filter((p) => p.table.ipv4Prefixes > 0);
    expect(used.map((p) => p.table.ipv4Prefixes)).toEqual([23]);
    expect(used[0].table.attributeSets).toBe(23);
    // BIRD writes flags 0 on LOCAL_PREF and LARGE_COMMUNITY: sent as is, every route would be
    // treated as withdrawn (RFC 7606 §3(c)).
    const ds = expectSound(used[0].table);
    expect(ds.every((d) => attr(d, AttrType.LARGE_COMMUNITY)!.flags === (AttrFlag.Optional | AttrFlag.Transitive))).toBe(true);
  });

  it('TABLE_DUMP v1 from OpenBGPD (NAMEX): 94 peers, 3426 routes, 937 attribute sets, AS4_PATH merged', async (ctx) => {
    const r = await readRibDump(rib(ctx, 'namex-bgpd-rib-inet.mrt'));
    expect([r.records, r.ribEntries, r.skippedEntries, r.truncated]).toEqual([3426, 3426, 0, false]);
    expect(r.peers.length).toBe(94);
    expect(r.peers.every((p) => p.table.ipv4Prefixes > 0 && p.table.ipv6Prefixes === 0)).toBe(true);
    const byRoutes = [...r.peers].sort((a, b) => b.table.ipv4Prefixes - a.table.ipv4Prefixes);
    expect(byRoutes.slice(0, 3).map((p) => [p.address, p.asn, p.table.ipv4Prefixes])).toEqual([
      ['193.201.28.128', 3303, 541],
      ['193.201.28.11', 1267, 434],
      ['193.201.28.22', 28716, 358],
    ]);
    expect(r.peers.reduce((s, p) => s + p.table.attributeSets, 0)).toBe(937);
    const ds = r.peers.flatMap((p) => expectSound(p.table));
    // stats.json: 702 distinct AS paths, 564 origin ASes once AS4_PATH restores the 4-octet
    // ASes hidden behind AS_TRANS (339 without it).
    const paths = ds.map((d) => attr(d, AttrType.AS_PATH)!.segments.flatMap((s) => s.asns));
    expect(new Set(paths.map((p) => p.join(' '))).size).toBe(702);
    expect(new Set(paths.map((p) => p[p.length - 1])).size).toBe(564);
    expect(paths.some((p) => p.includes(23456))).toBe(false);
  });

  it('replaces next hops and prepends the session AS when asked', async (ctx) => {
    const r = await readRibDump(rib(ctx, 'namex-bgpd-rib-inet.mrt'), { nextHop: '198.18.0.1', prependAs: 65000, peers: [0, 1, 2] });
    expect(r.peers.map((p) => p.index)).toEqual([0, 1, 2]);
    for (const p of r.peers) {
      for (const d of expectSound(p.table)) {
        expect(attr(d, AttrType.NEXT_HOP)!.nextHop).toBe('198.18.0.1');
        const path = attr(d, AttrType.AS_PATH)!.segments.flatMap((s) => s.asns);
        expect(path[0]).toBe(65000);
        // A 2-octet dump shows a 4-octet peer as AS_TRANS; its path has the real AS.
        if (p.asn !== 23456) expect(path[1]).toBe(p.asn);
      }
    }
  });

  it('TABLE_DUMP v1 IPv6 (NAMEX): 57 peers, 432 routes, 241 sets, MP_REACH rebuilt', async (ctx) => {
    const r = await readRibDump(rib(ctx, 'namex-bgpd-rib-inet6.mrt'), { nextHop6: '2001:db8::1' });
    expect([r.records, r.ribEntries, r.skippedEntries]).toEqual([432, 432, 0]);
    expect(r.peers.length).toBe(57);
    expect(r.peers.reduce((s, p) => s + p.table.ipv6Prefixes, 0)).toBe(432);
    expect(r.peers.reduce((s, p) => s + p.table.attributeSets, 0)).toBe(241);
    for (const p of r.peers) {
      expect(p.table.ipv4Prefixes).toBe(0);
      expect(p.table.endOfRib.length).toBe(23 + 29); // IPv4 and IPv6 End-of-RIB
      for (const d of expectSound(p.table)) expect(attr(d, AttrType.MP_REACH_NLRI)!.nextHops).toEqual(['2001:db8::1']);
    }
  });

  it('TABLE_DUMP v1, gzip (RIS 2002): the AS1853 full table, 112986 prefixes in 20013 sets', async (ctx) => {
    const r = await readRibDump(rib(ctx, 'bview.20020722.2337.gz'));
    expect([r.records, r.ribEntries, r.truncated]).toEqual([115521, 115521, false]);
    expect(r.peers.length).toBe(36);
    const full = r.peers.find((p) => p.address === '193.203.0.1')!;
    expect([full.asn, full.table.ipv4Prefixes, full.table.attributeSets]).toEqual([1853, 112986, 20013]);
    const ds = expectSound(full.table);
    // stats.json view ris_2002: AS_PATH mean 4.387 hops (AS_SET counts one).
    let hops = 0;
    for (const d of ds) {
      const h = attr(d, AttrType.AS_PATH)!.segments.reduce((s, g) => s + (g.type === AsPathSegmentType.AS_SET ? 1 : g.asns.length), 0);
      hops += h * d.nlri.length;
    }
    expect(hops / 112986).toBeCloseTo(4.387, 3);
  });

  it('a record over 64 KiB (RIS 2018): 23 peers with the one IPv6 prefix, MP_REACH cut to its next hop', async (ctx) => {
    const r = await readRibDump(rib(ctx, 'bview.64k_stream_overflow.gz'));
    expect([r.records, r.ribEntries, r.skippedEntries]).toEqual([2, 23, 0]);
    expect(r.peers.length).toBe(54);
    const used = r.peers.filter((p) => p.table.ipv6Prefixes > 0);
    expect(used.length).toBe(23);
    for (const p of used) expectSound(p.table);
  });

  it('TABLE_DUMP_V2, bzip2 (RouteViews jinx 2014): 14 peers, 503590 routes, the AS30844 view', async (ctx) => {
    const r = await readRibDump(rib(ctx, 'routeviews.route-views.jinx.ribs.1401487200.bz2'));
    expect([r.records, r.ribEntries, r.skippedEntries, r.truncated]).toEqual([497408, 503590, 0, false]);
    const counts = r.peers.map((p) => p.table.ipv4Prefixes + p.table.ipv6Prefixes).sort((a, b) => b - a);
    expect(counts).toEqual([497321, 2262, 1783, 1375, 664, 70, 61, 21, 15, 5, 5, 4, 3, 1]);
    expect(r.peers.reduce((s, p) => s + p.table.ipv6Prefixes, 0)).toBe(173);
    // Sets counted with MP_REACH reduced to its next hop, as the README's 79837.
    expect(r.peers.reduce((s, p) => s + p.table.attributeSets, 0)).toBe(79837);
    const peer5 = r.peers[5];
    expect([peer5.address, peer5.asn, peer5.bgpId]).toEqual(['196.223.14.55', 30844, '46.17.232.139']);
    expect([peer5.table.ipv4Prefixes, peer5.table.attributeSets]).toEqual([497321, 78645]);
    // Every header is valid and within 4096 octets; a sample decodes cleanly.
    let n = 0;
    for (let p = 0; p < peer5.table.updates.length; n++) p += readHeader(peer5.table.updates, p).length;
    expect(n).toBe(peer5.table.messageCount);
    for (const q of r.peers.filter((p) => p.index !== 5)) expectSound(q.table);
  });

  it('truncated bzip2 (first MiB of a larger file) ends cleanly with truncated=true', async (ctx) => {
    const v1 = await readRibDump(rib(ctx, 'rib.20080501.0644_firstMB.bz2'));
    expect(v1.truncated).toBe(true);
    expect(v1.truncatedDetail).toMatch(/ends unexpectedly/);
    // README: 139291 records decode before the cut. bzcat withholds its last partial 5000-octet
    // output buffer when the input ends early, so a few records less arrive through it.
    expect(v1.records).toBeGreaterThan(139291 - 100);
    expect(v1.records).toBeLessThanOrEqual(139291);
    expect(v1.peers.length).toBe(44);
    const v2 = await readRibDump(rib(ctx, 'rib.20140523.0600_firstMB.bz2'), { peers: [0, 1, 2, 3] });
    expect(v2.truncated).toBe(true);
    expect(v2.records).toBeGreaterThan(9073 - 20);
    expect(v2.records).toBeLessThanOrEqual(9073);
    expect(v2.peers.map((p) => p.index)).toEqual([0, 1, 2, 3]);
    for (const p of v2.peers) expectSound(p.table);
  });

  it('a file cut mid-record, plain or gzip, is read up to the cut', async (ctx) => {
    const whole = readFileSync(rib(ctx, 'namex-bgpd-rib-inet.mrt'));
    const cut = join(tmp, 'cut.mrt');
    writeFileSync(cut, whole.subarray(0, 100_000));
    let whole100k = 0;
    for (let p = 0; p + 12 + whole.readUInt32BE(p + 8) <= 100_000; p += 12 + whole.readUInt32BE(p + 8)) whole100k++;
    const r = await readRibDump(cut);
    expect(r.truncated).toBe(true);
    expect(r.records).toBe(whole100k);
    expect(r.truncatedDetail).toMatch(/partial record/);

    const gz = gzipSync(whole);
    const cutGz = join(tmp, 'cut.mrt.gz');
    writeFileSync(cutGz, gz.subarray(0, gz.length >> 1));
    const g = await readRibDump(cutGz);
    expect(g.truncated).toBe(true);
    expect(g.records).toBeGreaterThan(1000);
    expect(g.records).toBeLessThan(3426);
    expect(g.peers.reduce((s, p) => s + p.table.ipv4Prefixes, 0)).toBe(g.records);
  });
});

describe('MRT BGP4MP traces (real files)', () => {
  async function announced(path: string) {
    const { items, summary } = await drain(path);
    let a4 = 0;
    let a6 = 0;
    let w4 = 0;
    let w6 = 0;
    for (const u of items) {
      const d = decodeUpdate(u.message, { asn4: u.asn4 });
      expect(d.problems).toEqual([]);
      a4 += d.nlri.length;
      w4 += d.withdrawn.length;
      const mp = attr(d, AttrType.MP_REACH_NLRI);
      const mu = attr(d, AttrType.MP_UNREACH_NLRI);
      // Some collectors put IPv4 unicast in MP_REACH / MP_UNREACH too.
      if (mp?.afi === 1) a4 += mp.nlri.length;
      if (mp?.afi === 2) a6 += mp.nlri.length;
      if (mu?.afi === 1) w4 += mu.withdrawn.length;
      if (mu?.afi === 2) w6 += mu.withdrawn.length;
    }
    return { items, summary, counts: [a4, a6, w4, w6] };
  }

  it('MESSAGE_AS4 gzip (RIS rrc06 2014): 1530 UPDATEs, 4 state changes skipped', async (ctx) => {
    const { items, summary, counts } = await announced(updatesFile(ctx, 'ris.rrc06.updates.1401488100.gz'));
    expect(items.length).toBe(1530);
    expect(counts).toEqual([3665, 96, 68, 0]);
    expect(summary).toMatchObject({ records: 1561, updates: 1530, stateChanges: 4, truncated: false });
    expect(items.every((u) => u.asn4 && !u.addPath)).toBe(true);
    // Timestamps in order, over the 5-minute window.
    expect(items[items.length - 1].time - items[0].time).toBeCloseTo(299, 0);
    expect(items.every((u, i) => i === 0 || u.time >= items[i - 1].time)).toBe(true);
  });

  it('bzip2 (RouteViews jinx 2014) and plain (route-views2 2013) traces', async (ctx) => {
    const jinx = await announced(updatesFile(ctx, 'routeviews.route-views.jinx.updates.1401493500.bz2'));
    expect(jinx.items.length).toBe(644);
    expect(jinx.counts).toEqual([1236, 2, 114, 2]);
    const rv2 = await announced(updatesFile(ctx, 'routeviews2.updates.20130101.0013.mrt'));
    expect(rv2.items.length).toBe(18088);
    expect(rv2.counts).toEqual([42997, 0, 4465, 0]);
  });

  it('2-octet MESSAGE records (route-views.linx 2007)', async (ctx) => {
    const { items, counts } = await announced(updatesFile(ctx, 'updates.20070211.0141.gz'));
    expect(items.length).toBe(23394);
    expect(items.every((u) => !u.asn4)).toBe(true);
    expect(counts).toEqual([46909, 4420, 1978, 350]);
  });

  it('stops the decompressor when the reader stops early', async (ctx) => {
    let n = 0;
    for await (const u of readUpdates(updatesFile(ctx, 'routeviews2.updates.20131201.0000.bz2'))) {
      expect(u.message[18]).toBe(MessageType.UPDATE);
      if (++n === 10) break;
    }
    expect(n).toBe(10);
  });
});

// ---- Hand-built records: what the real files do not exercise. ----

function mrtRecord(ts: number, type: number, subtype: number, body: Uint8Array): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32BE(ts, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(subtype, 6);
  h.writeUInt32BE(body.length, 8);
  return Buffer.concat([h, body]);
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;
const attrs = (list: PathAttribute[], asn4 = true) => Buffer.concat(list.map((a) => encodeAttribute(a, { asn4 })));

describe('MRT forms absent from the real files', () => {
  it('BGP4MP_ET MESSAGE_AS4_ADDPATH: microsecond time, 4-octet AS, path identifiers', async () => {
    const update = encodeUpdate(
      {
        withdrawn: [],
        attributes: [
          { type: AttrType.ORIGIN, flags: T, origin: 0 },
          { type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [4200000001, 3356] }] },
          { type: AttrType.NEXT_HOP, flags: T, nextHop: '192.0.2.1' },
        ],
        nlri: [{ prefix: '203.0.113.0/24', pathId: 7 }],
      },
      { asn4: true, addPath: { ipv4: true } },
    );
    const peerPart = Buffer.concat([u32(4200000001), u32(65000), u16(0), u16(1), ip4('192.0.2.1'), ip4('192.0.2.2')]);
    const file = join(tmp, 'et.mrt');
    const et = mrtRecord(1700000000, 17, 9, Buffer.concat([u32(250000), peerPart, update]));
    writeFileSync(
      file,
      Buffer.concat([
        mrtRecord(1700000000, 16, 5, Buffer.concat([peerPart, u16(3), u16(6)])), // STATE_CHANGE_AS4
        et,
        mrtRecord(1700000001, 16, 4, Buffer.concat([peerPart, KEEPALIVE])),
        mrtRecord(1700000001, 16, 7, Buffer.concat([peerPart, update])), // MESSAGE_AS4_LOCAL
        et.subarray(0, 30), // cut short
      ]),
    );
    const { items, summary } = await drain(file);
    expect(items.length).toBe(1);
    const u = items[0];
    expect([u.time, u.peerAs, u.peerAddress, u.asn4, u.addPath]).toEqual([1700000000.25, 4200000001, '192.0.2.1', true, true]);
    expect(Buffer.from(u.message).equals(Buffer.from(update))).toBe(true);
    expect(decodeUpdate(u.message, { asn4: true, addPath: { ipv4: true } }).nlri).toEqual([{ prefix: '203.0.113.0/24', pathId: 7 }]);
    expect(summary).toEqual({ records: 4, updates: 1, stateChanges: 1, otherMessages: 1, localMessages: 1, skipped: 0, truncated: true });
  });

  it('TABLE_DUMP_V2 ADDPATH and IPv6: one path per peer and prefix, host bits cleared, short MP_REACH', async () => {
    const peerIndex = Buffer.concat([
      ip4('192.0.2.254'), u16(4), Buffer.from('test'), u16(2),
      Buffer.from([0]), ip4('10.0.0.1'), ip4('192.0.2.1'), u16(64501), // IPv4, 2-octet AS
      Buffer.from([3]), ip4('10.0.0.2'), Buffer.from('20010db8000000000000000000000002', 'hex'), u32(4200000002), // IPv6, 4-octet AS
    ]);
    const path = (asns: number[]) => ({ type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns }] }) as PathAttribute;
    const a = attrs([{ type: AttrType.ORIGIN, flags: T, origin: 0 }, path([64501, 4200000009]), { type: AttrType.NEXT_HOP, flags: T, nextHop: '192.0.2.1' }]);
    const b = attrs([{ type: AttrType.ORIGIN, flags: T, origin: 2 }, path([64501, 3356, 4200000009]), { type: AttrType.NEXT_HOP, flags: T, nextHop: '192.0.2.1' }]);
    const c = attrs([{ type: AttrType.ORIGIN, flags: T, origin: 0 }, path([4200000002, 4200000009]), { type: AttrType.NEXT_HOP, flags: T, nextHop: '192.0.2.9' }]);
    const entry = (peer: number, pathId: number, at: Buffer) => Buffer.concat([u16(peer), u32(0), u32(pathId), u16(at.length), at]);
    // 198.51.100.0/23 written with a stray host bit (.101): a receiver would reject it.
    const v4 = Buffer.concat([u32(0), Buffer.from([23, 198, 51, 101]), u16(3), entry(0, 1, a), entry(0, 2, b), entry(1, 1, c)]);
    const nh6 = Buffer.from('20010db8000000000000000000000002', 'hex');
    const mpShort = Buffer.concat([Buffer.from([O | AttrFlag.ExtendedLength, AttrType.MP_REACH_NLRI]), u16(17), Buffer.from([16]), nh6]);
    const a6 = Buffer.concat([attrs([{ type: AttrType.ORIGIN, flags: T, origin: 0 }, path([4200000002])]), mpShort]);
    const v6 = Buffer.concat([u32(1), Buffer.from([32, 0x20, 0x01, 0x0d, 0xb9]), u16(1), u16(1), u32(0), u16(a6.length), a6]);
    const file = join(tmp, 'v2addpath.mrt');
    writeFileSync(file, Buffer.concat([mrtRecord(1, 13, 1, peerIndex), mrtRecord(1, 13, 8, v4), mrtRecord(1, 13, 4, v6)]));

    const r = await readRibDump(file);
    expect([r.records, r.ribEntries, r.skippedEntries, r.truncated]).toEqual([3, 4, 1, false]);
    expect(r.peers.map(({ table: _t, ...p }) => p)).toEqual([
      { index: 0, bgpId: '10.0.0.1', address: '192.0.2.1', asn: 64501 },
      { index: 1, bgpId: '10.0.0.2', address: '2001:db8::2', asn: 4200000002 },
    ]);
    const [p0, p1] = r.peers.map((p) => expectSound(p.table));
    // Peer 0: the first of its two paths, the prefix with its host bit cleared.
    expect(p0.length).toBe(1);
    expect(p0[0].nlri).toEqual([{ prefix: '198.51.100.0/23' }]);
    expect(attr(p0[0], AttrType.ORIGIN)!.origin).toBe(0);
    // Peer 1: an IPv4 route and an IPv6 one whose MP_REACH is rebuilt from the short form.
    expect(p1.map((d) => prefixCount(d))).toEqual([1, 1]);
    expect(p1[1].nlri).toEqual([]);
    const mp = attr(p1[1], AttrType.MP_REACH_NLRI)!;
    expect([mp.afi, mp.safi, mp.nextHops, mp.nlri]).toEqual([2, 1, ['2001:db8::2'], [{ prefix: '2001:db9::/32' }]]);
    expect(r.peers[1].table.endOfRib.length).toBe(23 + 29);
  });

  it('TABLE_DUMP v1 AS4_PATH: merged behind AS_TRANS; ignored when an AGGREGATOR of another AS comes with AS4_AGGREGATOR (RFC 6793 §4.2.3), not when it comes alone', async () => {
    const as2 = (asns: number[]) => ({ type: AttrType.AS_PATH, flags: T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns }] }) as PathAttribute;
    const as4path = { type: AttrType.AS4_PATH, flags: O | T, segments: [{ type: AsPathSegmentType.AS_SEQUENCE, asns: [4200000001] }] } as PathAttribute;
    const base = [{ type: AttrType.ORIGIN, flags: T, origin: 0 } as PathAttribute, as2([64501, 23456]), { type: AttrType.NEXT_HOP, flags: T, nextHop: '192.0.2.1' } as PathAttribute];
    const merged = attrs([...base, { type: AttrType.AGGREGATOR, flags: O | T, asn: 23456, address: '192.0.2.7' }, as4path, { type: AttrType.AS4_AGGREGATOR, flags: O | T, asn: 4200000001, address: '192.0.2.7' }], false);
    const vetoed = attrs([...base, { type: AttrType.AGGREGATOR, flags: O | T, asn: 64502, address: '192.0.2.8' }, as4path, { type: AttrType.AS4_AGGREGATOR, flags: O | T, asn: 4200000002, address: '192.0.2.8' }], false);
    const aggregatorAlone = attrs([...base, { type: AttrType.AGGREGATOR, flags: O | T, asn: 64503, address: '192.0.2.9' }, as4path], false);
    const v1 = (prefix: string, len: number, at: Buffer) =>
      mrtRecord(1, 12, 1, Buffer.concat([u16(0), u16(0), ip4(prefix), Buffer.from([len, 1]), u32(0), ip4('192.0.2.1'), u16(64501), u16(at.length), at]));
    const file = join(tmp, 'v1as4.mrt');
    writeFileSync(file, Buffer.concat([v1('203.0.113.0', 24, merged), v1('198.51.100.0', 24, vetoed), v1('198.51.101.0', 24, aggregatorAlone)]));
    const r = await readRibDump(file);
    expect(r.peers.length).toBe(1);
    const ds = expectSound(r.peers[0].table);
    expect(ds.length).toBe(3);
    const path = (d: DecodedUpdate) => attr(d, AttrType.AS_PATH)!.segments.flatMap((s) => s.asns);
    expect(path(ds[0])).toEqual([64501, 4200000001]);
    expect(attr(ds[0], AttrType.AGGREGATOR)).toMatchObject({ asn: 4200000001, address: '192.0.2.7' });
    expect(attr(ds[0], AttrType.AS4_PATH)).toBeUndefined();
    // Both aggregator attributes, the 2-octet one without AS_TRANS: AS4_PATH and AS4_AGGREGATOR ignored.
    expect(path(ds[1])).toEqual([64501, 23456]);
    expect(attr(ds[1], AttrType.AGGREGATOR)).toMatchObject({ asn: 64502, address: '192.0.2.8' });
    // AGGREGATOR alone: §4.2.3's rule needs both, so AS4_PATH is merged as usual.
    expect(path(ds[2])).toEqual([64501, 4200000001]);
    expect(attr(ds[2], AttrType.AGGREGATOR)).toMatchObject({ asn: 64503, address: '192.0.2.9' });
    expect(ds.map((d) => attr(d, AttrType.AS4_AGGREGATOR))).toEqual([undefined, undefined, undefined]);
  });

  it('says what to install when bzcat is missing', async () => {
    const file = join(tmp, 'x.bz2');
    writeFileSync(file, Buffer.from('BZh91AY&SY'));
    const saved = process.env.PATH;
    process.env.PATH = tmp; // no bzcat here
    try {
      await expect(readRibDump(file)).rejects.toThrow(/bzcat not found.*bzip2/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('ignores record types it does not use, counting them', async () => {
    const file = join(tmp, 'other.mrt');
    writeFileSync(file, Buffer.concat([mrtRecord(1, 11, 0, Buffer.alloc(8)), mrtRecord(1, 16, 4, Buffer.alloc(20))]));
    const r = await readRibDump(file);
    expect([r.records, r.otherRecords, r.peers.length, r.truncated]).toEqual([2, 2, 0, false]);
  });
});
