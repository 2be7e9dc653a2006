// Routes through ribstorm's RIB, IPv4 unicast, against the five Debian BGP daemons, each on its
// own 127.0.4.x addresses, free ports and run directories, ribstorm in-process:
//  - daemon -> ribstorm: routes with MED, communities, large and extended communities land in
//    ribstorm's shared-memory RIB with those attributes as the daemon sent them, and leave it
//    when the daemon withdraws them;
//  - daemon A -> ribstorm -> daemon B (two instances of the same daemon; BIRD as B for GoBGP, see
//    gobgpKind in routeSuite.ts), eBGP on both sides: B's CLI shows ribstorm's AS prepended,
//    ribstorm's address as next hop, no MED, the communities intact; when A withdraws, ribstorm
//    and B lose the routes;
//  - iBGP with each daemon (and one eBGP daemon beside it): LOCAL_PREF and MED from the internal
//    daemon kept in the RIB and not passed to the external one; routes learned over eBGP reach
//    the internal daemon with LOCAL_PREF 100, their MED and next hop kept, and nothing of its own
//    comes back to it;
//  - the real table: a RouteViews dump (497k prefixes) in from one scripted peer and out at
//    another (and at BIRD), prefix for prefix, and withdrawn again when the first peer goes away
//    (the dump comes from the shared data folder: without it the test skips, saying so).
// A test whose daemon cannot run here (not installed, or it needs root) skips with the reason,
// and a line on stderr says so; a daemon that fails to start fails its tests.

import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { DEFAULT_RIB, type ListenAddress, type RibConfig } from '../../src/config/schema.js';
import {
  AttrType,
  buildOpen,
  CapabilityCode,
  encodeOpen,
  HEADER_LENGTH,
  ipv4FromNumber,
  ipv4ToNumber,
  KEEPALIVE,
  MessageType,
  readHeader,
  type Capability,
  type PathAttribute,
} from '../../src/packet/index.js';
import { countPaths, locRib } from '../../src/rib/query.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { readRibDump } from '../../src/harness/tablegen/index.js';
import { Framer } from '../helpers/framer.js';
import { freePort, reportSkipped, sharedFile } from '../helpers/env.js';
import { sleep, until } from '../helpers/rawPeer.js';
import * as bird from '../../src/harness/daemons/bird.js';
import {
  bestViews,
  birdKind,
  byPrefix,
  established,
  eventually,
  expected,
  KINDS,
  ribRoute,
  RouteSuite,
  routeTestHooks,
  type Instance,
  type NeighborSpec,
  type RouteSpec,
} from './routeSuite.js';
import { extendedCommunityFromBytes, normaliseRoute, type RouteView } from '../../src/harness/daemons/routeView.js';

const RIBSTORM_AS = 65040;
const RIBSTORM_ID = '10.255.4.1';

const suite = new RouteSuite({ name: 'routes', family: 'ipv4', asn: RIBSTORM_AS, routerId: RIBSTORM_ID, daemonIdPrefix: '10.4.0' });

// ---------------------------------------------------------------------------------------------
// ribstorm in-process, and reading its RIB.

const { speakers, cleanup } = routeTestHooks();

/** A free port for ribstorm on `address`, for the daemons to be told before it starts. */
async function ribstormAt(address: string): Promise<ListenAddress> {
  return { address, port: await freePort(address) };
}

/** suite.createSpeaker, started, and shut down after the test. */
async function startSpeaker(at: ListenAddress, neighbors: NeighborSpec[], opts: { asn?: number; rib?: RibConfig } = {}): Promise<Speaker> {
  const s = suite.createSpeaker(at.address, at.port, neighbors, opts);
  speakers.push(s);
  await s.start();
  cleanup.push(() => s.shutdown('routes test over', 300));
  return s;
}

/** suite.createInstance, started, and stopped after the test. */
async function startInstance(...args: Parameters<RouteSuite['createInstance']>): Promise<Instance> {
  const inst = await suite.createInstance(...args);
  cleanup.push(() => inst.daemon.stop());
  await inst.daemon.start();
  return inst;
}

function viewOf(prefix: string, attrs: PathAttribute[]): RouteView {
  const v: RouteView = { prefix, asPath: [], nextHop: '', med: null, localPref: null, communities: [], largeCommunities: [], extendedCommunities: [] };
  for (const a of attrs) {
    if (a.type === AttrType.AS_PATH && 'segments' in a) v.asPath = a.segments.flatMap((s) => s.asns);
    else if (a.type === AttrType.NEXT_HOP && 'nextHop' in a) v.nextHop = a.nextHop;
    else if (a.type === AttrType.MULTI_EXIT_DISC && 'med' in a) v.med = a.med;
    else if (a.type === AttrType.LOCAL_PREF && 'localPref' in a) v.localPref = a.localPref;
    else if (a.type === AttrType.COMMUNITIES && 'communities' in a) v.communities = a.communities.map((c) => `${c >>> 16}:${c & 0xffff}`);
    else if (a.type === AttrType.LARGE_COMMUNITY && 'largeCommunities' in a) v.largeCommunities = a.largeCommunities.map((c) => c.join(':'));
    else if (a.type === AttrType.EXTENDED_COMMUNITIES && 'extendedCommunities' in a) v.extendedCommunities = a.extendedCommunities.map(extendedCommunityFromBytes);
  }
  return normaliseRoute(v);
}

/** ribstorm's best paths for `routes`' prefixes, decoded, by prefix (prefixes without one left out). */
const ribViews = (s: Speaker, routes: RouteSpec[]) => bestViews(s, routes, viewOf);

/** Three routes from AS `asn`: all attributes, some, none (no MED either). */
function routesOf(asn: number): RouteSpec[] {
  return [
    { prefix: '198.51.100.0/24', med: 50, communities: [`${asn}:1`, `${asn}:2`], largeCommunities: [`${asn}:1:2`], routeTargets: [`${asn}:7`] },
    { prefix: '203.0.113.0/24', med: 10, communities: [`${asn}:3`], largeCommunities: [`${asn}:3:4`, `${asn}:5:6`], routeTargets: [] },
    { prefix: '203.0.113.128/25', communities: [], largeCommunities: [], routeTargets: [] },
  ];
}

// ---------------------------------------------------------------------------------------------

KINDS.forEach((kind, i) => {
  const k = i + 1;
  // 127.0.4.(10k): ribstorm; 10k+1: daemon A; 10k+2: daemon B. 10k+5: ribstorm, 10k+6: the
  // internal daemon, 10k+7: the external one of the iBGP test.
  const RS = `127.0.4.${10 * k}`;
  const A = `127.0.4.${10 * k + 1}`;
  const B = `127.0.4.${10 * k + 2}`;
  const asA = 65100 + 10 * k + 1;
  const asB = 65100 + 10 * k + 2;
  // The daemon on the receiving end of ribstorm's eBGP routes.
  const sink = kind.ebgpSink === false ? birdKind : kind;

  describe(`routes with ${kind.name}`, () => {
    it(`${kind.name} -> ribstorm: MED, communities, large and extended communities land in the RIB as sent`, async (ctx) => {
      suite.skipUnlessRunnable(ctx, kind);
      const rs = await ribstormAt(RS);
      const routes = routesOf(asA);
      const a = await startInstance(kind, A, asA, rs, routes);
      const s = await startSpeaker(rs, [{ address: A, asn: asA, port: a.port }]);
      await established(s, [A], kind.name);
      await a.announce();
      const want = routes.map((r) => expected(r, [asA], a.nextHop, r.med ?? kind.medSentWhenUnset ?? null, null));
      await eventually(() => expect(ribViews(s, routes)).toEqual(byPrefix(want)), 20_000);
      // Nothing else in the Loc-RIB, every path from A's session.
      expect([...locRib(s.rib!.views).keys()].sort()).toEqual(routes.map((r) => r.prefix).sort());
      expect(countPaths(s.rib!.views)).toEqual({ prefixes: 3, paths: 3 });
      // The per-neighbor count follows the RIB once the batch's result is back on the main thread.
      await eventually(() => expect(s.receivedPaths(s.neighbors.get(A)!)).toBe(3), 5_000);

      await a.withdraw();
      await eventually(() => expect(countPaths(s.rib!.views)).toEqual({ prefixes: 0, paths: 0 }), 20_000);
      await eventually(() => expect(s.receivedPaths(s.neighbors.get(A)!)).toBe(0), 5_000);
    }, 60_000);

    it(
      `${kind.name} A -> ribstorm -> ${sink.name} B: ribstorm's AS prepended, next hop ribstorm, no MED, communities intact; withdrawn at B when A withdraws`,
      async (ctx) => {
        suite.skipUnlessRunnable(ctx, kind, sink);
        const rs = await ribstormAt(RS);
        const routes = routesOf(asA);
        const a = await startInstance(kind, A, asA, rs, routes);
        const b = await startInstance(sink, B, asB, rs, []);
        const s = await startSpeaker(rs, [{ address: A, asn: asA, port: a.port }, { address: B, asn: asB, port: b.port }]);
        await established(s, [A, B], `${kind.name} and ${sink.name}`);
        await a.announce();
        const want = routes.map((r) => expected(r, [RIBSTORM_AS, asA], RS, sink.medShownWhenAbsent ?? null, sink.localPrefShownForEbgp ?? null));
        await eventually(async () => expect(byPrefix(await b.received())).toEqual(byPrefix(want)), 30_000);
        expect(s.advertisedPrefixes(s.neighbors.get(B)!)).toBe(3);
        // Nothing goes back to A, the routes' only source.
        expect(s.advertisedPrefixes(s.neighbors.get(A)!)).toBe(0);

        await a.withdraw();
        await eventually(async () => expect(await b.received()).toEqual([]), 30_000);
        for (const r of routes) expect(ribRoute(s, r.prefix)).toBeNull();
        expect(s.advertisedPrefixes(s.neighbors.get(B)!)).toBe(0);
      },
      90_000,
    );

    it(
      `iBGP with ${kind.name} (${sink.name} on eBGP): its LOCAL_PREF and MED kept in the RIB, neither passed to eBGP; eBGP routes reach it with LOCAL_PREF 100, MED and next hop kept`,
      async (ctx) => {
        suite.skipUnlessRunnable(ctx, kind, sink);
        const RS2 = `127.0.4.${10 * k + 5}`;
        const I = `127.0.4.${10 * k + 6}`;
        const E = `127.0.4.${10 * k + 7}`;
        const asE = 65100 + 10 * k + 7;
        const internal: RouteSpec[] = [
          { prefix: '198.51.100.0/24', localPref: 250, med: 7, communities: [`${RIBSTORM_AS}:1`], largeCommunities: [`${RIBSTORM_AS}:1:1`], routeTargets: [`${RIBSTORM_AS}:9`] },
          { prefix: '198.51.100.128/25', localPref: 90, communities: [], largeCommunities: [], routeTargets: [] },
        ];
        const external: RouteSpec[] = [
          { prefix: '203.0.113.0/24', med: 50, communities: [`${asE}:5`], largeCommunities: [`${asE}:5:5`], routeTargets: [`${asE}:5`] },
          { prefix: '203.0.113.128/25', communities: [], largeCommunities: [], routeTargets: [] },
        ];
        const rs = await ribstormAt(RS2);
        const inner = await startInstance(kind, I, RIBSTORM_AS, rs, internal);
        const outer = await startInstance(sink, E, asE, rs, external);
        const s = await startSpeaker(rs, [{ address: I, asn: RIBSTORM_AS, port: inner.port }, { address: E, asn: asE, port: outer.port }]);
        await established(s, [I, E], `${kind.name} (iBGP) and ${sink.name} (eBGP)`);
        expect(s.neighbors.get(I)!.session!.ebgp).toBe(false);
        await inner.announce();
        await outer.announce();

        // In the RIB: the internal routes as sent (empty AS_PATH, LOCAL_PREF, MED, next hop).
        const fromInternal = internal.map((r) => expected(r, [], inner.nextHop, r.med ?? kind.medSentWhenUnset ?? null, r.localPref ?? null));
        await eventually(() => expect(ribViews(s, internal)).toEqual(byPrefix(fromInternal)), 20_000);

        // At the internal daemon: only the external routes (none of its own reflected back), the
        // external daemon's AS_PATH, next hop and MED, and LOCAL_PREF 100 added by ribstorm.
        const atInternal = external.map((r) =>
          expected(r, [asE], outer.nextHop, r.med ?? sink.medSentWhenUnset ?? kind.medShownWhenAbsent ?? null, 100),
        );
        await eventually(async () => expect(byPrefix(await inner.received())).toEqual(byPrefix(atInternal)), 30_000);

        // At the external daemon: the internal routes with ribstorm's AS and next hop, without
        // the MED and LOCAL_PREF they had inside.
        const atExternal = internal.map((r) => expected(r, [RIBSTORM_AS], RS2, sink.medShownWhenAbsent ?? null, sink.localPrefShownForEbgp ?? null));
        await eventually(async () => expect(byPrefix(await outer.received())).toEqual(byPrefix(atExternal)), 30_000);

        await inner.withdraw();
        await outer.withdraw();
        await eventually(async () => expect(await inner.received()).toEqual([]), 30_000);
        await eventually(async () => expect(await outer.received()).toEqual([]), 30_000);
        expect(countPaths(s.rib!.views)).toEqual({ prefixes: 0, paths: 0 });
      },
      90_000,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The real table: one scripted peer sends a RouteViews dump, another receives what ribstorm
// advertises, and the two prefix sets are compared.

/** Under the shared data folder (test/helpers/env.ts): the test skips, saying so, without it. */
const DUMP_FILE = 'data/mrt/rib/routeviews.route-views.jinx.ribs.1401487200.bz2';
const DUMP_PEER = 5; // AS30844's view: 497321 IPv4 prefixes
/**
 * ribstorm's AS for this test is one that occurs in the table (Google's, in the AS_PATHs of a
 * few hundred prefixes): those routes are stored but not eligible (RFC 4271 §9.1.2, own AS in
 * AS_PATH), so they must be the only prefixes missing at the receiver.
 */
const MRT_RIBSTORM_AS = 15169;
const MRT_RS = '127.0.4.100';
const MRT_SOURCE = '127.0.4.101';
const MRT_SINK = '127.0.4.102';
const MRT_BIRD = '127.0.4.103';
const SOURCE_AS = 65401;
const SINK_AS = 65402;
const BIRD_AS = 65404;

/** BIRD's count of routes imported from its one BGP neighbor. */
async function birdImported(d: bird.BirdDaemon): Promise<number> {
  const m = /Routes:\s+(\d+) imported/.exec(await d.birdc('show', 'protocols', 'all', bird.PROTOCOL));
  return m ? Number(m[1]) : 0;
}

const prefixKey = (addr: number, len: number) => addr * 64 + len;
const keyText = (key: number) => `${ipv4FromNumber(Math.floor(key / 64))}/${key % 64}`;

/** The IPv4 prefixes in b[start, end) as keys (RFC 4271 §4.3 encoding). */
function forEachPrefix(b: Uint8Array, start: number, end: number, fn: (key: number) => void): void {
  for (let p = start; p < end; ) {
    const len = b[p++];
    let addr = 0;
    for (let i = 0; i < 4; i++) addr = addr * 256 + (i < (len + 7) >> 3 ? b[p + i] : 0);
    p += (len + 7) >> 3;
    fn(prefixKey(addr, len));
  }
}

/** AS_PATH's ASNs and NEXT_HOP of a 4-octet-AS attribute block, without the full codec. */
function pathAndNextHop(b: Uint8Array, start: number, end: number): { asns: number[]; nextHop: number } {
  const asns: number[] = [];
  let nextHop = -1;
  for (let p = start; p < end; ) {
    const flags = b[p];
    const type = b[p + 1];
    const len = flags & 0x10 ? (b[p + 2] << 8) | b[p + 3] : b[p + 2];
    const v = p + (flags & 0x10 ? 4 : 3);
    if (type === AttrType.AS_PATH) {
      for (let q = v; q < v + len; ) {
        const n = b[q + 1];
        for (let i = 0; i < n; i++) asns.push(((b[q + 2 + 4 * i] << 24) | (b[q + 3 + 4 * i] << 16) | (b[q + 4 + 4 * i] << 8) | b[q + 5 + 4 * i]) >>> 0);
        q += 2 + 4 * n;
      }
    } else if (type === AttrType.NEXT_HOP) {
      nextHop = ((b[v] << 24) | (b[v + 1] << 16) | (b[v + 2] << 8) | b[v + 3]) >>> 0;
    }
    p = v + len;
  }
  return { asns, nextHop };
}

/** Walks a stream of UPDATE messages (headers included). */
function forEachUpdate(buf: Uint8Array, fn: (msg: Uint8Array) => void): void {
  for (let o = 0; o < buf.length; ) {
    const { length } = readHeader(buf, o, 65535);
    fn(buf.subarray(o, o + length));
    o += length;
  }
}

/** Withdrawn routes, attribute block and NLRI of one UPDATE (header included). */
function updateParts(msg: Uint8Array): { withdrawn: [number, number]; attrs: [number, number]; nlri: [number, number] } {
  const wl = (msg[HEADER_LENGTH] << 8) | msg[HEADER_LENGTH + 1];
  const w0 = HEADER_LENGTH + 2;
  const al = (msg[w0 + wl] << 8) | msg[w0 + wl + 1];
  const a0 = w0 + wl + 2;
  return { withdrawn: [w0, w0 + wl], attrs: [a0, a0 + al], nlri: [a0 + al, msg.length] };
}

/** A scripted peer over a raw socket that connects to ribstorm; the sink keeps ribstorm's Adj-RIB-Out as a prefix set. */
class ScriptedPeer {
  readonly prefixes = new Set<number>();
  updates = 0;
  /** UPDATEs whose AS_PATH or NEXT_HOP was not what ribstorm should send, described. */
  readonly wrong: string[] = [];
  opened = false;
  closed = false;
  private readonly framer = new Framer();
  private ticker: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly expectNextHop: number,
    private readonly expectFirstAs: number[],
  ) {
    socket.on('data', (chunk) =>
      this.framer.push(chunk, (type, msg) => {
        if (type === MessageType.OPEN) this.opened = true;
        else if (type === MessageType.UPDATE) this.onUpdate(msg);
        return true;
      }),
    );
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async connect(local: string, ribstorm: ListenAddress, expectNextHop: string, expectFirstAs: number[]): Promise<ScriptedPeer> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: ribstorm.address, port: ribstorm.port, localAddress: local }, () => resolve(s));
      s.once('error', reject);
    });
    const p = new ScriptedPeer(socket, ipv4ToNumber(expectNextHop), expectFirstAs);
    cleanup.push(() => p.close());
    return p;
  }

  /** OPEN (4-octet AS, IPv4 unicast), ribstorm's OPEN, KEEPALIVE; then a keepalive every 10 s. */
  async handshake(asn: number, id: string): Promise<void> {
    const caps: Capability[] = [
      { code: CapabilityCode.Multiprotocol, afi: 1, safi: 1 },
      { code: CapabilityCode.RouteRefresh },
      { code: CapabilityCode.FourOctetAs, asn },
    ];
    this.socket.write(encodeOpen(buildOpen(asn, 90, id, caps)));
    await until(() => this.opened, 10_000, 'OPEN from ribstorm');
    this.socket.write(KEEPALIVE);
    this.ticker = setInterval(() => this.socket.write(KEEPALIVE), 10_000);
  }

  private onUpdate(msg: Uint8Array): void {
    this.updates++;
    const { withdrawn, attrs, nlri } = updateParts(msg);
    forEachPrefix(msg, withdrawn[0], withdrawn[1], (k) => this.prefixes.delete(k));
    if (nlri[0] === nlri[1]) return;
    const { asns, nextHop } = pathAndNextHop(msg, attrs[0], attrs[1]);
    if (nextHop !== this.expectNextHop || this.expectFirstAs.some((a, i) => asns[i] !== a)) {
      if (this.wrong.length < 10) this.wrong.push(`AS_PATH ${asns.join(' ')} NEXT_HOP ${ipv4FromNumber(Math.max(0, nextHop))}`);
    }
    forEachPrefix(msg, nlri[0], nlri[1], (k) => this.prefixes.add(k));
  }

  close(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.socket.destroy();
  }
}

describe('the real table through ribstorm', () => {
  it('a RouteViews dump (497k prefixes) in from one peer comes out at another prefix for prefix (and at a BIRD that connects afterwards), and is withdrawn when the first goes', async (ctx) => {
    const dumpPath = sharedFile(DUMP_FILE);
    if (!dumpPath) {
      const why = `${DUMP_FILE} not found (set RIBSTORM_SHARED to the folder holding data/, or put it beside the repository as ../shared)`;
      reportSkipped('routes', [`the real table: ${why}`]);
      ctx.skip(why);
    }
    const t0 = Date.now();
    let birdMs: number | undefined;
    let listMs: number | undefined;
    const dump = await readRibDump(dumpPath!, { peers: [DUMP_PEER], nextHop: '198.18.4.101', prependAs: SOURCE_AS });
    expect(dump.truncated).toBe(false);
    const table = dump.peers[0].table;
    // What the dump itself marks unusable (malformed attributes, no next hop, too large) is not
    // in the stream at all; none for this peer.
    expect(dump.skippedEntries).toBe(0);

    // The prefixes the stream announces, and those whose AS_PATH holds ribstorm's own AS.
    const sent = new Set<number>();
    const loops = new Set<number>();
    const pathAsns = new Set<number>();
    forEachUpdate(table.updates, (msg) => {
      const { withdrawn, attrs, nlri } = updateParts(msg);
      expect(withdrawn[1] - withdrawn[0]).toBe(0);
      const { asns } = pathAndNextHop(msg, attrs[0], attrs[1]);
      expect(asns[0]).toBe(SOURCE_AS);
      for (const a of asns.slice(1)) pathAsns.add(a);
      const loop = asns.includes(MRT_RIBSTORM_AS);
      forEachPrefix(msg, nlri[0], nlri[1], (k) => {
        sent.add(k);
        if (loop) loops.add(k);
      });
    });
    expect(sent.size).toBe(table.ipv4Prefixes);
    expect(sent.size).toBe(497_321);
    expect(loops.size).toBeGreaterThan(0);
    // The peers' own ASes are not in the table's paths (BIRD would drop such routes as loops).
    expect([SOURCE_AS, SINK_AS, BIRD_AS].filter((a) => pathAsns.has(a))).toEqual([]);
    const wanted = new Set([...sent].filter((k) => !loops.has(k)));

    // BIRD (when it can run here) connects to ribstorm later; the scripted peers connect now.
    const rs = await ribstormAt(MRT_RS);
    const birdWhy = birdKind.unavailable();
    const birdInst = birdWhy === null ? await suite.createInstance(birdKind, MRT_BIRD, BIRD_AS, rs, [], { ribstormAs: MRT_RIBSTORM_AS, connects: true }) : null;
    if (birdWhy !== null) {
      reportSkipped('routes', [`the real table at BIRD: ${birdWhy}`]);
      await ctx.annotate(`the real table at BIRD skipped: ${birdWhy}`);
    }
    const s = await startSpeaker(
      rs,
      [
        { address: MRT_SOURCE, asn: SOURCE_AS, extra: { passive: true, 'hold-time': 90 } },
        { address: MRT_SINK, asn: SINK_AS, extra: { passive: true, 'hold-time': 90 } },
        { address: MRT_BIRD, asn: BIRD_AS, port: birdInst?.port, extra: { passive: true } },
      ],
      { asn: MRT_RIBSTORM_AS, rib: { ...DEFAULT_RIB, shards: 64, prefixes: 1_000_000, paths: 2_000_000, attributeSets: 262_144 } },
    );
    // The sink first, so the table reaches it as it is learned (ribstorm's export of each batch).
    const sink = await ScriptedPeer.connect(MRT_SINK, rs, MRT_RS, [MRT_RIBSTORM_AS, SOURCE_AS]);
    await sink.handshake(SINK_AS, '10.4.1.2');
    const source = await ScriptedPeer.connect(MRT_SOURCE, rs, MRT_RS, []);
    await source.handshake(SOURCE_AS, '10.4.1.1');
    await established(s, [MRT_SOURCE, MRT_SINK], 'the scripted peers');

    const t1 = Date.now();
    source.socket.write(table.updates);
    source.socket.write(table.endOfRib);
    await until(() => sink.prefixes.size >= wanted.size, 45_000, `${wanted.size} prefixes at the sink (has ${sink.prefixes.size})`);
    await sleep(500); // anything beyond the expected set would arrive now
    const t2 = Date.now();

    expect(sink.wrong).toEqual([]);
    const missing = [...wanted].filter((k) => !sink.prefixes.has(k));
    const extra = [...sink.prefixes].filter((k) => !wanted.has(k));
    expect(missing.slice(0, 10).map(keyText)).toEqual([]);
    expect(extra.slice(0, 10).map(keyText)).toEqual([]);
    expect(sink.prefixes.size).toBe(wanted.size);
    // ribstorm holds every path, the own-AS ones not as best.
    expect(countPaths(s.rib!.views)).toEqual({ prefixes: wanted.size, paths: sent.size });
    expect(s.receivedPaths(s.neighbors.get(MRT_SOURCE)!)).toBe(sent.size);
    expect(s.advertisedPrefixes(s.neighbors.get(MRT_SINK)!)).toBe(wanted.size);

    // BIRD, when it can run here, comes up only now: it gets the table as a new session's
    // initial advertisement (the whole Loc-RIB at once), where the sink got it batch by batch.
    let birdd: bird.BirdDaemon | null = null;
    if (birdInst) {
      birdd = birdInst.daemon as bird.BirdDaemon;
      cleanup.push(() => birdInst.daemon.stop());
      await birdInst.daemon.start();
    }
    const tb = Date.now();
    if (birdd) {
      await established(s, [MRT_BIRD], 'BIRD');
      await eventually(async () => expect(await birdImported(birdd)).toBe(wanted.size), 30_000, 500);
      birdMs = Date.now() - tb;
      // Prefix for prefix, as BIRD lists them.
      const listed = await birdd.birdc('show', 'route', 'table', 'master4', 'protocol', bird.PROTOCOL);
      const atBird = new Set<number>();
      for (const m of listed.matchAll(/^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)/gm)) {
        atBird.add(prefixKey(((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0, +m[5]));
      }
      expect(atBird.size).toBe(wanted.size);
      expect([...wanted].filter((k) => !atBird.has(k)).slice(0, 10).map(keyText)).toEqual([]);
      listMs = Date.now() - tb - birdMs;
      // A sample of routes as BIRD holds them: ribstorm's AS before the source's, its next hop.
      const sample = [...wanted].filter((_, n) => n % 49_999 === 0).map(keyText);
      const routes = bird.parseShowRouteAll(await birdd.birdc('show', 'route', 'all', 'table', 'master4', 'protocol', bird.PROTOCOL, 'where', `net ~ [ ${sample.join(', ')} ]`));
      expect(routes.map((r) => r.prefix).sort()).toEqual([...sample].sort());
      for (const r of routes) {
        expect(r.asPath.slice(0, 2)).toEqual([MRT_RIBSTORM_AS, SOURCE_AS]);
        expect(r.nextHop).toBe(MRT_RS);
      }
      // And none of the routes with ribstorm's AS in their path.
      const looped = [...loops].slice(0, 5).map(keyText);
      expect(await birdd.birdc('show', 'route', 'table', 'master4', 'where', `net ~ [ ${looped.join(', ')} ]`)).not.toMatch(/\d+\.\d+\.\d+\.\d+\/\d+/);
    }

    // The source goes away: ribstorm withdraws everything at the sink (and at BIRD).
    const tw = Date.now();
    source.close();
    await until(() => sink.prefixes.size === 0, 30_000, `withdrawals at the sink (${sink.prefixes.size} left)`);
    await until(() => countPaths(s.rib!.views).paths === 0, 10_000, 'the RIB to empty');
    if (birdd) await eventually(async () => expect(await birdImported(birdd)).toBe(0), 30_000, 500);
    const t3 = Date.now();
    expect(s.advertisedPrefixes(s.neighbors.get(MRT_SINK)!)).toBe(0);
    process.stderr.write(
      `routes: real table: dump read ${t1 - t0} ms, ${wanted.size} prefixes through ribstorm in ${t2 - t1} ms ` +
        `(${sink.updates} UPDATEs at the sink), to BIRD as a new session in ${birdMs ?? '-'} ms (listed in ${listMs ?? '-'} ms), withdrawn in ${t3 - tw} ms; ` +
        `${loops.size} with AS${MRT_RIBSTORM_AS} not advertised\n`,
    );
  }, 90_000);
});

suite.describeSummary();
