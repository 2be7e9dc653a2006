// MRT table dumps (RFC 6396 TABLE_DUMP_V2, RFC 8050 ADD-PATH) of a live speaker: two scripted
// peers announce IPv4 and IPv6 routes (communities, an AS_SET, one peer sending path
// identifiers), one route is announced through the API, and one neighbor never comes up. The
// dump taken through GET /mrt/bview and `ribstorm dump` is read back with Debian's bgpdump and
// with ribstorm's own MRT reader (the bench's), and compared route by route with GET /rib.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { dump } from '../../src/cli/dump.js';
import { main } from '../../src/cli/main.js';
import { readRibDump } from '../../src/harness/tablegen/mrt.js';
import { MrtFramer } from '../../src/harness/tablegen/mrtFramer.js';
import { MrtType, TableDumpV2Subtype } from '../../src/mrt/constants.js';
import { AttrWalker } from '../../src/packet/attr/walk.js';
import { AddPathMode, AsPathSegmentType, AttrFlag, AttrType, CapabilityCode, decodeUpdate, ipv6ToBytes, type Capability, type PathAttribute } from '../../src/packet/index.js';
import { reportSkipped } from '../helpers/env.js';
import { announce, communities, med, O, OPEN_POLICY, startLab, T, useCleanup } from '../helpers/lab.js';
import { captureLog, defaultCaps, until } from '../helpers/rawPeer.js';

const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const HOST = '127.0.71.1';
const A = '127.0.71.2'; // AS 65201, dual stack, sends IPv4 path identifiers
const B = '127.0.71.3'; // AS 65202, dual stack
const SILENT = '127.0.71.4'; // configured, never up
const SILENT6 = '2001:db8:71::4'; // configured, never up, an IPv6 address in the peer table
const TOKEN = 'mrt-test-token';
const BGPDUMP = '/usr/bin/bgpdump';
const haveBgpdump = existsSync(BGPDUMP);
if (!haveBgpdump) reportSkipped('mrt', [`bgpdump read-back: ${BGPDUMP} is not installed (apt install bgpdump)`]);

const tmp = mkdtempSync(path.join(tmpdir(), 'ribstorm-mrt-'));
afterAll(() => { if (!process.env.KEEP) rmSync(tmp, { recursive: true, force: true }); });

const AP = { asn4: true, addPath: { ipv4: true } };
const dualStack = (asn: number, addPath = false): Capability[] => [
  ...defaultCaps(asn),
  { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 } as Capability,
  ...(addPath ? [{ code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: AddPathMode.Send }] } as Capability] : []),
];

/** ORIGIN, AS_PATH of the given segments, NEXT_HOP (IPv4) or MP_REACH_NLRI (IPv6), extras. */
function route(segments: Array<[number, number[]]>, nextHop: string, extra: PathAttribute[] = [], nlri6: string[] = []): PathAttribute[] {
  const out: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: nlri6.length ? 2 : 0 },
    { type: AttrType.AS_PATH, flags: T, segments: segments.map(([type, asns]) => ({ type, asns })) },
  ];
  if (nlri6.length) out.push({ type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: [nextHop], nlri: nlri6.map((prefix) => ({ prefix })) });
  else out.push({ type: AttrType.NEXT_HOP, flags: T, nextHop });
  return [...out, ...extra];
}
const SEQ = AsPathSegmentType.AS_SEQUENCE;
const SET = AsPathSegmentType.AS_SET;

interface Row {
  prefix: string;
  fromPeer: string;
  path: string;
  nextHop: string;
  origin: string;
  communities?: string[];
  pathId: number;
}

/** A route as both sides can say it: prefix | peer | AS path | next hop | origin | communities. */
const key = (prefix: string, peer: string, asPath: string, nextHop: string, origin: string, comms: string) => [prefix, peer, asPath, nextHop, origin.toUpperCase(), comms.trim()].join('|');

async function lab(native: boolean) {
  const l = await startLab(add, HOST, [
    { address: A, 'remote-as': 65201, 'add-path': 'receive', families: ['ipv4-unicast', 'ipv6-unicast'], ...OPEN_POLICY },
    { address: B, 'remote-as': 65202, families: ['ipv4-unicast', 'ipv6-unicast'], ...OPEN_POLICY },
    { address: SILENT, 'remote-as': 65203, ...OPEN_POLICY },
    { address: SILENT6, 'remote-as': 65204, ...OPEN_POLICY },
  ]);
  const api = new ApiServer(l.speaker, { native, token: TOKEN });
  const port = await api.listen('127.0.0.1', 0);
  add(() => api.close());
  const base = `http://127.0.0.1:${port}`;

  const a = await l.peer(A, 65201, { caps: dualStack(65201, true) });
  const b = await l.peer(B, 65202, { caps: dualStack(65202) });
  // A: two paths of 10.71.1.0/24 told apart by path identifiers; an IPv6 route with an AS_SET.
  a.send(announce(route([[SEQ, [65201, 3356]]], '198.18.71.2', [communities((65201 << 16) | 7, 0xffffff01)]), [{ prefix: '10.71.1.0/24', pathId: 1 }], AP));
  a.send(announce(route([[SEQ, [65201, 1299, 3356]]], '198.18.71.2', [med(20)]), [{ prefix: '10.71.1.0/24', pathId: 2 }], AP));
  a.send(announce(route([[SEQ, [65201]], [SET, [64512, 64513]]], '2001:db8:71::a', [], ['2001:db8:7100::/40']), [], AP));
  // B: the same IPv4 prefix, one of its own, and two IPv6 routes.
  b.send(announce(route([[SEQ, [65202, 174]]], '198.18.71.3', [communities((65202 << 16) | 100)]), ['10.71.1.0/24', '10.71.2.0/25']));
  b.send(announce(route([[SEQ, [65202, 6939]]], '2001:db8:71::b', [communities((65202 << 16) | 6)], ['2001:db8:7100::/40', '2001:db8:7200::/48']), []));
  // One route of our own, through the API.
  const posted = await fetch(`${base}/routes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ routes: [{ prefix: '10.71.99.0/24', 'next-hop': '198.18.71.1', communities: ['65000:99'] }] }),
  });
  expect(posted.status).toBe(200);
  const held = (addr: string) => l.speaker.receivedPaths(l.speaker.neighbors.get(addr)!);
  await until(() => held(A) === 3 && held(B) === 4, 5000, 'every path held');
  const rows = async (): Promise<Row[]> => {
    const text = await (await fetch(`${base}/rib?format=ndjson`)).text();
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Row);
  };
  const deadline = Date.now() + 5000;
  while ((await rows()).length !== 8) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the local route in the RIB');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { l, base, port, rows };
}

/** The RIB's rows as keys; `withIds`: the path identifier after each (bgpdump prints it). */
const ribKeys = (rows: Row[], withIds = false) =>
  rows.map((r) => key(r.prefix, r.fromPeer === 'local' ? '10.0.0.1' : r.fromPeer, r.path, r.nextHop, r.origin, (r.communities ?? []).join(' ')) + (withIds ? `#${r.pathId}` : '')).sort();

/**
 * `bgpdump -m` lines as the same keys: prefix, peer, AS path, next hop, origin, communities, and
 * the path identifier (0 on TABLE_DUMP2 lines; TABLE_DUMP2_AP lines carry it after the prefix).
 */
function bgpdumpKeys(file: string): string[] {
  const out = execFileSync(BGPDUMP, ['-m', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split('|');
      expect(['TABLE_DUMP2', 'TABLE_DUMP2_AP']).toContain(f[0]);
      const id = f[0] === 'TABLE_DUMP2_AP' ? f.splice(6, 1)[0] : '0';
      return key(f[5], f[3], f[6], f[8], f[7], f[11]) + `#${id}`;
    })
    .sort();
}

/** ribstorm's own reader (the bench's): each dump peer's routes, from the UPDATEs it builds. */
async function readerKeys(file: string) {
  const d = await readRibDump(file);
  const keys: string[] = [];
  for (const p of d.peers) {
    const u = p.table.updates;
    for (let o = 0; o < u.length; o += u.readUInt16BE(o + 16)) {
      const m = decodeUpdate(u.subarray(o, o + u.readUInt16BE(o + 16)), { asn4: true });
      const get = <X>(t: number) => m.attributes.find((x) => x.type === t) as X | undefined;
      const segs = get<{ segments: Array<{ type: number; asns: number[] }> }>(AttrType.AS_PATH)?.segments ?? [];
      const asPath = segs.map((s) => (s.type === SET ? `{${s.asns.join(',')}}` : s.asns.join(' '))).join(' ');
      const origin = ['IGP', 'EGP', 'INCOMPLETE'][get<{ origin: number }>(AttrType.ORIGIN)!.origin];
      const comms = (get<{ communities: number[] }>(AttrType.COMMUNITIES)?.communities ?? []).map((c) => (c === 0xffffff01 ? 'no-export' : `${c >>> 16}:${c & 0xffff}`)).join(' ');
      const reach = get<{ nextHops: string[]; nlri: Array<{ prefix: string }> }>(AttrType.MP_REACH_NLRI);
      const nh = reach ? reach.nextHops[0] : get<{ nextHop: string }>(AttrType.NEXT_HOP)!.nextHop;
      for (const n of [...m.nlri, ...(reach?.nlri ?? [])]) keys.push(key(n.prefix, p.address, asPath, nh, origin, comms));
    }
  }
  return { dump: d, keys: keys.sort() };
}

/** The records of an uncompressed dump: [type, subtype] each, in order. */
function records(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const f = new MrtFramer();
  f.push(buf, (_b, type, subtype) => out.push([type, subtype]));
  expect(f.pending).toBe(0);
  return out;
}

/**
 * The MP_REACH_NLRI values of the IPv6 RIB entries (RIB_IPV6_UNICAST, no ADD-PATH), as hex:
 * RFC 6396 §4.3.4 has them hold only the next-hop length and the next hop.
 */
function ipv6NextHopAttrs(buf: Buffer): string[] {
  const out: string[] = [];
  new MrtFramer().push(buf, (b, type, subtype, _ts, start, end) => {
    if (type !== MrtType.TABLE_DUMP_V2 || subtype !== TableDumpV2Subtype.RIB_IPV6_UNICAST) return;
    let p = start + 4;
    p += 1 + ((b[p] + 7) >> 3);
    const entries = b.readUInt16BE(p);
    p += 2;
    for (let i = 0; i < entries; i++) {
      const alen = b.readUInt16BE(p + 6);
      const w = new AttrWalker(b, p + 8, p + 8 + alen);
      while (w.next()) if (w.type === AttrType.MP_REACH_NLRI) out.push(b.toString('hex', w.value, w.value + w.length));
      p += 8 + alen;
    }
    expect(p).toBe(end);
  });
  return out;
}

for (const native of [true, false]) {
  describe(`MRT table dump over ${native ? 'uWebSockets.js' : 'node:http'}`, () => {
    it('GET /mrt/bview: TABLE_DUMP_V2 that bgpdump and ribstorm read back route by route as the RIB has them', async () => {
      const { base, rows } = await lab(native);
      const rib = await rows();
      const expected = ribKeys(rib);
      expect(expected).toHaveLength(8);
      expect(rib.filter((r) => r.pathId !== 0)).toHaveLength(2);

      const res = await fetch(`${base}/mrt/bview?compress=none`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      const raw = Buffer.from(await res.arrayBuffer());
      // Peer index table first, then RIB records; A's two identified paths in an ADDPATH record.
      const recs = records(raw);
      expect(recs[0]).toEqual([MrtType.TABLE_DUMP_V2, TableDumpV2Subtype.PEER_INDEX_TABLE]);
      const subtypes = recs.slice(1).map(([t, s]) => (expect(t).toBe(MrtType.TABLE_DUMP_V2), s));
      expect(subtypes.filter((s) => s === TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH)).toHaveLength(1);
      expect(subtypes.filter((s) => s === TableDumpV2Subtype.RIB_IPV4_UNICAST)).toHaveLength(3); // 10.71.1/24 (B), 10.71.2/25, 10.71.99/24
      expect(subtypes.filter((s) => s === TableDumpV2Subtype.RIB_IPV6_UNICAST)).toHaveLength(2);
      expect(raw.readUInt32BE(0)).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 60);
      // IPv6 next hops in the short form: length 16, then 2001:db8:71::a / ::b.
      const short = (nh: string) => '10' + Buffer.from(ipv6ToBytes(nh)).toString('hex');
      expect(ipv6NextHopAttrs(raw).sort()).toEqual([short('2001:db8:71::a'), short('2001:db8:71::b'), short('2001:db8:71::b')]);
      const file = path.join(tmp, `api-${native}.mrt`);
      writeFileSync(file, raw);

      // ribstorm's reader: the peer table, and every route (it keeps one path per peer and prefix).
      const r = await readerKeys(file);
      expect(r.dump.truncated).toBe(false);
      expect(r.dump.peers.map((p) => [p.address, p.asn])).toEqual([
        [A, 65201],
        [B, 65202],
        [SILENT, 65203],
        [SILENT6, 65204],
        ['10.0.0.1', 65000],
      ]);
      expect(r.dump.peers.find((p) => p.address === SILENT)!.bgpId).toBe('0.0.0.0');
      expect(r.dump.peers.find((p) => p.address === A)!.bgpId).toBe(A); // the scripted peers use their address as BGP ID
      expect(r.dump.ribEntries).toBe(8);
      expect(r.dump.skippedEntries).toBe(1); // A's second path of 10.71.1.0/24: one per peer and prefix
      expect(r.keys).toHaveLength(7);
      for (const k of r.keys) expect(expected).toContain(k);

      // bgpdump: every path, the ADD-PATH ones included, as the RIB has them.
      if (haveBgpdump) expect(bgpdumpKeys(file)).toEqual(ribKeys(rib, true));
      else if (process.env.RIBSTORM_REQUIRE_INTEROP === '1') expect.fail(`${BGPDUMP} is not installed`);
    });

    it('compresses as asked: gzip by default, bzip2, and a 400 naming compress otherwise', async () => {
      const { base } = await lab(native);
      const plain = Buffer.from(await (await fetch(`${base}/mrt/bview?compress=none`)).arrayBuffer());
      const gz = Buffer.from(await (await fetch(`${base}/mrt/bview`)).arrayBuffer());
      expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      const unzipped = gunzipSync(gz);
      // The same records, but for the timestamps (each dump's own start).
      expect(records(unzipped)).toEqual(records(plain));
      expect(unzipped.length).toBe(plain.length);
      const bz = await fetch(`${base}/mrt/bview?compress=bzip2`);
      expect(bz.status).toBe(200);
      const bzBytes = Buffer.from(await bz.arrayBuffer());
      expect(bzBytes.subarray(0, 3).toString()).toBe('BZh');
      expect(execFileSync('bzip2', ['-dc'], { input: bzBytes }).length).toBe(plain.length);
      const bad = await fetch(`${base}/mrt/bview?compress=zstd`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ field: 'compress' });
      const unknown = await fetch(`${base}/mrt/bview?format=x`);
      expect(unknown.status).toBe(400);
      // No bzip2 on this host (none on $PATH): a 400 naming compress, before any byte of dump.
      const pathBefore = process.env.PATH;
      process.env.PATH = tmp;
      try {
        const missing = await fetch(`${base}/mrt/bview?compress=bzip2`);
        expect(missing.status).toBe(400);
        expect(await missing.json()).toMatchObject({ field: 'compress', error: expect.stringMatching(/bzip2 is not installed/) });
      } finally {
        process.env.PATH = pathBefore;
      }
    });
  });
}

describe('a reader that goes away', () => {
  for (const native of [true, false]) {
    it(`stops the walk and the codec, and the next dump is whole (${native ? 'uWebSockets.js' : 'node:http'})`, async () => {
      const l = await startLab(add, HOST, [{ address: A, 'remote-as': 65201, ...OPEN_POLICY }], { prefixes: 262144, paths: 262144 });
      const api = new ApiServer(l.speaker, { native, token: TOKEN });
      const port = await api.listen('127.0.0.1', 0);
      add(() => api.close());
      const base = `http://127.0.0.1:${port}`;
      // 120,000 routes of our own: a dump of several MiB, more than the sockets hold.
      const routes = Array.from({ length: 120_000 }, (_, i) => ({ prefix: `10.${80 + (i >> 16)}.${(i >> 8) & 255}.${(i & 255)}/32`, 'next-hop': '198.18.71.1' }));
      const posted = await fetch(`${base}/routes`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ routes }) });
      expect(posted.status).toBe(200);
      const summary = async () => ((await (await fetch(`${base}/rib/summary`)).json()) as { paths: number }).paths;
      for (let t = Date.now(); (await summary()) < routes.length; ) if (Date.now() - t > 20_000) throw new Error('routes not in the RIB');

      const logs = captureLog();
      const res = await fetch(`${base}/mrt/bview?compress=none`);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      await reader.cancel();
      await until(() => logs.some((x) => x.includes('MRT table dump cut short')), 5000, 'the dump stopped');
      expect(logs.some((x) => x.includes('MRT table dump served'))).toBe(false);

      // The next one is whole: every record complete, one RIB entry per route.
      const whole = Buffer.from(await (await fetch(`${base}/mrt/bview?compress=none`)).arrayBuffer());
      const recs = records(whole);
      expect(recs.length).toBe(1 + routes.length);
      expect(whole.length).toBeGreaterThan(4 << 20);
    });
  }
});

describe('ribstorm dump FILE', () => {
  it('writes .gz / .bz2 / plain files that bgpdump reads, through a temporary name', async () => {
    const { port, rows } = await lab(true);
    const expected = ribKeys(await rows(), true);
    const dir = mkdtempSync(path.join(tmp, 'cli-'));
    const lines: string[] = [];
    for (const name of ['bview.gz', 'bview.bz2', 'bview.mrt']) {
      const file = path.join(dir, name);
      expect(await dump([file, '--api', `127.0.0.1:${port}`], (l) => lines.push(l))).toBe(0);
      const head = readFileSync(file).subarray(0, 3);
      if (name.endsWith('.gz')) expect([...head.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
      else if (name.endsWith('.bz2')) expect(head.toString()).toBe('BZh');
      else expect(head.readUInt16BE(0)).toBeGreaterThan(0); // a timestamp, not a compressor's magic
      if (haveBgpdump) expect(bgpdumpKeys(file)).toEqual(expected);
    }
    expect(readdirSync(dir).sort()).toEqual(['bview.bz2', 'bview.gz', 'bview.mrt']); // no temporary left
    expect(lines[0]).toMatch(/bview\.gz: \d+ bytes \(gzip\)/);
  });

  it('a folder that does not exist or cannot be written: one line naming it, exit 2, nothing left', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (errors.push(String(s)), true)) as typeof process.stderr.write;
    const dir = mkdtempSync(path.join(tmp, 'ro-'));
    try {
      expect(await main(['dump', path.join(tmp, 'no-such-dir', 'bview.gz'), '--api', '127.0.0.1:1'])).toBe(2);
      const file = path.join(tmp, 'a-file');
      writeFileSync(file, '');
      expect(await main(['dump', path.join(file, 'bview.gz'), '--api', '127.0.0.1:1'])).toBe(2);
      execFileSync('chmod', ['555', dir]);
      const rootCanWrite = process.getuid?.() === 0;
      const code = await main(['dump', path.join(dir, 'bview.gz'), '--api', '127.0.0.1:1']);
      // root writes anywhere: then the dump fails later (nothing listens on port 1), exit 1.
      expect(code).toBe(rootCanWrite ? 1 : 2);
    } finally {
      process.stderr.write = write;
      execFileSync('chmod', ['755', dir]);
    }
    expect(errors[0]).toMatch(/^ribstorm: FILE: expected an existing directory, got ".*no-such-dir"/);
    expect(errors[1]).toMatch(/^ribstorm: FILE: expected a directory, got ".*a-file"/);
    expect(errors.every((e) => e.trim().split('\n').length === 1)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(path.join(tmp, 'no-such-dir'))).toBe(false);
  });
});
