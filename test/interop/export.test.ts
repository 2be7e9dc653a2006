// What ribstorm does to a route's attributes on the way out, for every kind of session pair
// (RFC 4271 §5.1, RFC 4456, RFC 7947), seen by real receivers: a scripted peer (RawPeer) sends
// UPDATEs with exactly the attributes a case needs, ribstorm (in-process) sits in the middle,
// and BIRD and GoBGP receive, their RIBs read through their CLIs (BIRD `show route all`, GoBGP's
// Adj-RIB-In, which lists the attributes as received, LOCAL_PREF and the reflection attributes
// included, even on eBGP). BIRD drops LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST received over
// eBGP and logs "Discarding X attribute received from EBGP neighbor", so on eBGP sessions its log
// must not have such a line.
//  1. eBGP -> iBGP: LOCAL_PREF from the external peer ignored, 100 (ribstorm's default) sent
//     instead (§5.1.5); NEXT_HOP (§5.1.3), AS_PATH and MED as received. Routes of another
//     internal peer are not passed on at all (§9.2, no reflection between non-clients).
//  2. iBGP -> eBGP and eBGP -> eBGP: ribstorm's AS prepended, NEXT_HOP ribstorm's address, no
//     LOCAL_PREF, no ORIGINATOR_ID / CLUSTER_LIST, and no MED. §5.1.4 forbids passing a MED
//     received from a neighboring AS to other neighboring ASes; one learnt over iBGP may well have
//     come from one (ribstorm cannot tell), so ribstorm sends MED to eBGP peers only when its own
//     export policy sets one.
//  3. Route reflection, client -> client: ORIGINATOR_ID the originating client's BGP Identifier
//     (kept when the route has one), CLUSTER_LIST starting with ribstorm's cluster id (its router
//     id), NEXT_HOP, LOCAL_PREF, MED and AS_PATH unchanged (RFC 4456 §8).
//  4. Route server (RFC 7947 §2.2): AS_PATH without ribstorm's AS, NEXT_HOP and MED unchanged,
//     no LOCAL_PREF (eBGP all the same).
// Each case runs once per receiver, IPv4 and IPv6 (over the IPv4 sessions). GoBGP 3.10 treats an
// IPv4 route whose NEXT_HOP is a loopback address as withdrawn (see gobgpKind in routeSuite.ts),
// which is what ribstorm's own address is in case 2: there GoBGP is checked on IPv6 only, where
// ribstorm's next hop is its configured `next-hop-v6`.
// A receiver that cannot run here (not installed, or it needs root) makes its tests skip with the
// reason, and a line on stderr says so; one that fails to start fails them.

import { describe, expect, it, type TestContext } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateNeighbor } from '../../src/config/schema.js';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  CapabilityCode,
  encodeUpdate,
  MessageType,
  type PathAttribute,
} from '../../src/packet/index.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort, reportSkipped } from '../helpers/env.js';
import { defaultCaps, RawPeer } from '../helpers/rawPeer.js';
import type { Daemon, DaemonOptions } from '../../src/harness/daemons/daemon.js';
import * as bird from '../../src/harness/daemons/bird.js';
import * as gobgp from '../../src/harness/daemons/gobgp.js';
import { established, eventually, routeTestHooks, SMALL_RIB } from './routeSuite.js';

const RIBSTORM_AS = 65120;
const RIBSTORM_ID = '10.255.12.1';
/** ribstorm's cluster id as a route reflector: its router id (RFC 4456 §7). */
const CLUSTER_ID = RIBSTORM_ID;
const HOLD_TIME = 30;
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;

type Family = 'ipv4' | 'ipv6';

/** A route as the scripted sender sends it. */
interface Sent {
  prefix: string;
  asPath: number[];
  nextHop: string;
  med?: number;
  localPref?: number;
  originatorId?: string;
  clusterList?: string[];
}

/** A route as a receiver holds it. */
interface Seen {
  prefix: string;
  asPath: number[];
  nextHop: string;
  med: number | null;
  localPref: number | null;
  originatorId: string | null;
  clusterList: string[];
}

const family = (prefix: string): Family => (prefix.includes(':') ? 'ipv6' : 'ipv4');
const byPrefix = (routes: Seen[]) => [...routes].sort((a, b) => a.prefix.localeCompare(b.prefix));

// ---------------------------------------------------------------------------------------------
// The receivers.

interface Receiver {
  name: string;
  unavailable(): string | null;
  create(opts: DaemonOptions): Daemon;
  /** The routes of `fam` it holds from ribstorm. */
  seen(d: Daemon, fam: Family): Promise<Seen[]>;
  /** The attributes it says it dropped on receipt because they came over eBGP. */
  droppedFromEbgp(d: Daemon): string[];
  /** The LOCAL_PREF it shows for a route received over eBGP without one. */
  localPrefForEbgp: number | null;
}

const birdReceiver: Receiver = {
  name: 'BIRD 2',
  unavailable: bird.unavailable,
  create: (opts) => bird.create(opts),
  async seen(d, fam) {
    const routes = await (d as bird.BirdDaemon).receivedAttributes(fam);
    return routes.map(({ prefix, attributes: a }) => {
      // "198.18.12.11" (IPv4, possibly ::ffff:-mapped) or "2001:db8::12:11 fe80::..." (IPv6).
      let nextHop = (a.next_hop ?? '').split(/\s+/)[0];
      if (fam === 'ipv4') nextHop = nextHop.replace(/^::ffff:/, '');
      return {
        prefix,
        asPath: (a.as_path ?? '').match(/\d+/g)?.map(Number) ?? [],
        nextHop,
        med: a.med !== undefined ? Number(a.med) : null,
        localPref: a.local_pref !== undefined ? Number(a.local_pref) : null,
        originatorId: a.originator_id ?? null,
        clusterList: (a.cluster_list ?? '').split(/\s+/).filter(Boolean),
      };
    });
  },
  droppedFromEbgp(d) {
    const log = readFileSync((d as bird.BirdDaemon).logFile, 'utf8');
    return [...log.matchAll(/Discarding (\S+) attribute received from EBGP neighbor/g)].map((m) => m[1]);
  },
  // BIRD gives a route that came without LOCAL_PREF its `default bgp_local_pref` (100); one that
  // came with it over eBGP has it discarded, and then none.
  localPrefForEbgp: 100,
};

interface GoBgpAttr {
  as_paths?: Array<{ asns?: number[] }>;
  nexthop?: string;
  metric?: number;
  value?: unknown;
}

const gobgpReceiver: Receiver = {
  name: 'GoBGP',
  unavailable: gobgp.unavailable,
  create: (opts) => gobgp.create(opts),
  async seen(d, fam) {
    const paths = await (d as gobgp.GoBgpDaemon).receivedAttributes(fam);
    return paths.map(({ prefix, attributes }) => {
      const a = (type: number) => attributes.get(type) as GoBgpAttr | undefined;
      return {
        prefix,
        asPath: (a(AttrType.AS_PATH)?.as_paths ?? []).flatMap((s) => s.asns ?? []),
        // IPv6: MP_REACH_NLRI's global next hop.
        nextHop: a(AttrType.NEXT_HOP)?.nexthop ?? a(AttrType.MP_REACH_NLRI)?.nexthop ?? '',
        med: a(AttrType.MULTI_EXIT_DISC)?.metric ?? null,
        localPref: a(AttrType.LOCAL_PREF) ? Number(a(AttrType.LOCAL_PREF)!.value) : null,
        originatorId: a(AttrType.ORIGINATOR_ID) ? String(a(AttrType.ORIGINATOR_ID)!.value) : null,
        clusterList: a(AttrType.CLUSTER_LIST) ? (a(AttrType.CLUSTER_LIST)!.value as string[]) : [],
      };
    });
  },
  // Its Adj-RIB-In keeps what was received; nothing is dropped silently.
  droppedFromEbgp: () => [],
  localPrefForEbgp: null,
};

const RECEIVERS: Receiver[] = [birdReceiver, gobgpReceiver];

const skipped = RECEIVERS.filter((r) => r.unavailable() !== null);
reportSkipped('export', skipped.map((r) => `${r.name}: ${r.unavailable()}`));

// ---------------------------------------------------------------------------------------------
// The cases.

interface SenderSpec {
  address: string;
  asn: number;
  /** Its BGP Identifier (in its OPEN). */
  id: string;
  /** ribstorm's neighbor settings for it beyond the defaults (route-reflector-client...). */
  extra?: Record<string, unknown>;
  routes: Sent[];
}

interface Case {
  name: string;
  /** ribstorm's address. */
  rs: string;
  senders: SenderSpec[];
  /** The receiver: address per receiver kind, its AS, ribstorm's settings for it. */
  receiver: { address: Record<string, string>; asn: number | ((r: Receiver) => number); extra?: Record<string, unknown> };
  /** What the receiver must hold, per family (a family left out is not checked). */
  expected(r: Receiver, rs: string): Partial<Record<Family, Seen[]>>;
  /** Whether the receiver's session with ribstorm is eBGP (its dropped-attribute log is checked). */
  ebgp: boolean;
  /** How many prefixes ribstorm advertises to the receiver, both families. */
  advertised: number;
}

/** Next hop ribstorm puts on IPv6 routes it sends with its own next hop (every receiver has one). */
const nextHop6 = (rs: string) => `2001:db8:12::${rs.split('.')[3]}`;

/** The receiver's view of a route sent as `s` and passed on with `change` applied. */
function passed(s: Sent, change: Partial<Seen> = {}): Seen {
  return {
    prefix: s.prefix,
    asPath: s.asPath,
    nextHop: s.nextHop,
    med: s.med ?? null,
    localPref: s.localPref ?? null,
    originatorId: s.originatorId ?? null,
    clusterList: s.clusterList ?? [],
    ...change,
  };
}

const inFamily = (routes: Seen[]): Partial<Record<Family, Seen[]>> => ({
  ipv4: routes.filter((r) => family(r.prefix) === 'ipv4'),
  ipv6: routes.filter((r) => family(r.prefix) === 'ipv6'),
});

// 1. eBGP -> iBGP.
const E1: SenderSpec = {
  address: '127.0.12.11',
  asn: 65121,
  id: '10.12.0.11',
  routes: [
    { prefix: '198.51.100.0/24', asPath: [65121, 64496], nextHop: '198.18.12.11', med: 50, localPref: 500 },
    { prefix: '198.51.101.0/24', asPath: [65121], nextHop: '198.18.12.11' },
    { prefix: '2001:db8:1201::/48', asPath: [65121, 64496], nextHop: '2001:db8::12:11', med: 50, localPref: 500 },
  ],
};

// An internal peer beside it: its route must not reach the (non-client) iBGP receiver (§9.2).
const I1: SenderSpec = {
  address: '127.0.12.14',
  asn: RIBSTORM_AS,
  id: '10.12.0.14',
  routes: [
    { prefix: '192.0.2.0/24', asPath: [], nextHop: '198.18.12.14', localPref: 100 },
    { prefix: '2001:db8:1214::/48', asPath: [], nextHop: '2001:db8::12:14', localPref: 100 },
  ],
};

const ebgpToIbgp: Case = {
  name: 'eBGP -> iBGP: LOCAL_PREF 100 instead of the external peer\'s 500, NEXT_HOP, AS_PATH and MED as received; nothing from another iBGP peer',
  rs: '127.0.12.10',
  senders: [E1, I1],
  receiver: { address: { 'BIRD 2': '127.0.12.12', GoBGP: '127.0.12.13' }, asn: RIBSTORM_AS },
  expected: () => inFamily(E1.routes.map((s) => passed(s, { localPref: 100 }))),
  ebgp: false,
  advertised: E1.routes.length,
};

// 2. iBGP -> eBGP, and eBGP -> eBGP.
const I2: SenderSpec = {
  address: '127.0.12.21',
  asn: RIBSTORM_AS,
  id: '10.12.0.21',
  routes: [
    // Originated in the AS, and reflected to the sender by a reflector of another cluster.
    { prefix: '198.51.100.0/24', asPath: [], nextHop: '198.18.12.21', med: 7, localPref: 250, originatorId: '10.12.0.99', clusterList: ['10.12.0.98'] },
    // Learnt by the sender from AS 64500, whose MED it carries.
    { prefix: '198.51.101.0/24', asPath: [64500], nextHop: '198.18.12.21', med: 9, localPref: 250 },
    { prefix: '2001:db8:1221::/48', asPath: [], nextHop: '2001:db8::12:21', med: 7, localPref: 250, originatorId: '10.12.0.99', clusterList: ['10.12.0.98'] },
  ],
};
const E2: SenderSpec = {
  address: '127.0.12.22',
  asn: 65122,
  id: '10.12.0.22',
  routes: [
    { prefix: '203.0.113.0/24', asPath: [65122, 64497], nextHop: '198.18.12.22', med: 50 },
    { prefix: '2001:db8:1222::/48', asPath: [65122, 64497], nextHop: '2001:db8::12:22', med: 50 },
  ],
};

const toEbgp: Case = {
  name: 'iBGP -> eBGP and eBGP -> eBGP: ribstorm\'s AS prepended, NEXT_HOP ribstorm, no LOCAL_PREF, no MED, no ORIGINATOR_ID / CLUSTER_LIST',
  rs: '127.0.12.20',
  senders: [I2, E2],
  receiver: { address: { 'BIRD 2': '127.0.12.23', GoBGP: '127.0.12.24' }, asn: (r) => (r === birdReceiver ? 65123 : 65124) },
  expected: (r, rs) => {
    const all = inFamily(
      [...I2.routes, ...E2.routes].map((s) => ({
        prefix: s.prefix,
        asPath: [RIBSTORM_AS, ...s.asPath],
        nextHop: family(s.prefix) === 'ipv4' ? rs : nextHop6(rs),
        med: null,
        localPref: r.localPrefForEbgp,
        originatorId: null,
        clusterList: [],
      })),
    );
    // GoBGP 3.10 drops IPv4 routes with a loopback NEXT_HOP: IPv6 only (see the top of the file).
    return r === gobgpReceiver ? { ipv6: all.ipv6 } : all;
  },
  ebgp: true,
  advertised: I2.routes.length + E2.routes.length,
};

// 3. Route reflection, client -> client.
const C3: SenderSpec = {
  address: '127.0.12.31',
  asn: RIBSTORM_AS,
  id: '10.12.0.31',
  extra: { 'route-reflector-client': true },
  routes: [
    { prefix: '198.51.100.0/24', asPath: [64501], nextHop: '198.18.12.31', med: 7, localPref: 250 },
    // Already reflected once, in the client's own cluster: its ORIGINATOR_ID stays.
    { prefix: '198.51.101.0/24', asPath: [], nextHop: '198.18.12.31', localPref: 200, originatorId: '10.12.0.77', clusterList: ['10.12.0.78'] },
    { prefix: '2001:db8:1231::/48', asPath: [64501], nextHop: '2001:db8::12:31', med: 7, localPref: 250 },
  ],
};

const reflection: Case = {
  name: 'route reflection, client -> client: ORIGINATOR_ID the client\'s, CLUSTER_LIST from ribstorm\'s cluster id, NEXT_HOP, LOCAL_PREF, MED, AS_PATH unchanged',
  rs: '127.0.12.30',
  senders: [C3],
  receiver: { address: { 'BIRD 2': '127.0.12.32', GoBGP: '127.0.12.33' }, asn: RIBSTORM_AS, extra: { 'route-reflector-client': true } },
  expected: () =>
    inFamily(C3.routes.map((s) => passed(s, { originatorId: s.originatorId ?? C3.id, clusterList: [CLUSTER_ID, ...(s.clusterList ?? [])] }))),
  ebgp: false,
  advertised: C3.routes.length,
};

// 4. Route server.
const E4: SenderSpec = {
  address: '127.0.12.41',
  asn: 65141,
  id: '10.12.0.41',
  extra: { 'route-server-client': true },
  routes: [
    { prefix: '198.51.100.0/24', asPath: [65141, 64502], nextHop: '198.18.12.41', med: 50, localPref: 500 },
    { prefix: '198.51.101.0/24', asPath: [65141], nextHop: '198.18.12.41' },
    { prefix: '2001:db8:1241::/48', asPath: [65141, 64502], nextHop: '2001:db8::12:41', med: 50, localPref: 500 },
  ],
};

const routeServer: Case = {
  name: 'route server: AS_PATH without ribstorm\'s AS, NEXT_HOP and MED unchanged, no LOCAL_PREF',
  rs: '127.0.12.40',
  senders: [E4],
  receiver: { address: { 'BIRD 2': '127.0.12.42', GoBGP: '127.0.12.43' }, asn: (r) => (r === birdReceiver ? 65142 : 65143), extra: { 'route-server-client': true } },
  expected: (r) => inFamily(E4.routes.map((s) => passed(s, { localPref: r.localPrefForEbgp }))),
  ebgp: true,
  advertised: E4.routes.length,
};

const CASES: Case[] = [ebgpToIbgp, toEbgp, reflection, routeServer];

// ---------------------------------------------------------------------------------------------
// Running a case.

const { speakers, cleanup } = routeTestHooks();

const segments = (asPath: number[]) => (asPath.length ? [{ type: AsPathSegmentType.AS_SEQUENCE, asns: asPath }] : []);

/** One UPDATE announcing `s`: NLRI and NEXT_HOP for IPv4, MP_REACH_NLRI for IPv6. */
function announce(s: Sent): Uint8Array {
  const attrs: PathAttribute[] = [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: segments(s.asPath) },
  ];
  if (family(s.prefix) === 'ipv4') attrs.push({ type: AttrType.NEXT_HOP, flags: T, nextHop: s.nextHop });
  if (s.med !== undefined) attrs.push({ type: AttrType.MULTI_EXIT_DISC, flags: O, med: s.med });
  if (s.localPref !== undefined) attrs.push({ type: AttrType.LOCAL_PREF, flags: T, localPref: s.localPref });
  if (s.originatorId !== undefined) attrs.push({ type: AttrType.ORIGINATOR_ID, flags: O, originatorId: s.originatorId });
  if (s.clusterList !== undefined) attrs.push({ type: AttrType.CLUSTER_LIST, flags: O, clusterList: s.clusterList });
  if (family(s.prefix) === 'ipv6') {
    attrs.push({ type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: [s.nextHop], nlri: [{ prefix: s.prefix }] });
    return encodeUpdate({ withdrawn: [], attributes: attrs, nlri: [] }, { asn4: true });
  }
  return encodeUpdate({ withdrawn: [], attributes: attrs, nlri: [{ prefix: s.prefix }] }, { asn4: true });
}

/** A scripted peer connected to ribstorm, through the OPEN exchange, sending keepalives. */
async function connectSender(rs: { address: string; port: number }, spec: SenderSpec): Promise<RawPeer> {
  const p = await RawPeer.connect(rs.address, rs.port, spec.address);
  cleanup.push(() => p.close());
  p.sendOpen(spec.asn, 90, spec.id, [...defaultCaps(spec.asn), { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 }]);
  await p.waitFor(MessageType.OPEN, 10_000);
  p.sendKeepalive();
  const ticker = setInterval(() => p.sendKeepalive(), 10_000);
  cleanup.push(() => clearInterval(ticker));
  return p;
}

async function runCase(ctx: TestContext, c: Case, r: Receiver): Promise<void> {
  const why = r.unavailable();
  if (why !== null) ctx.skip(`${r.name}: ${why}`);
  const rs = { address: c.rs, port: await freePort(c.rs) };
  const address = c.receiver.address[r.name];
  const asn = typeof c.receiver.asn === 'function' ? c.receiver.asn(r) : c.receiver.asn;
  const port = await freePort(address);
  const d = r.create({
    runDir: mkdtempSync(join(tmpdir(), `ribstorm-export-${address.split('.')[3]}-`)),
    address,
    port,
    asn,
    routerId: `10.12.0.${address.split('.')[3]}`,
    peer: { address: rs.address, port: rs.port, asn: RIBSTORM_AS, passive: true, holdTime: HOLD_TIME },
  });
  cleanup.push(() => d.stop());
  await d.start();

  const open = { 'import-policy': 'accept', 'export-policy': 'accept', 'hold-time': HOLD_TIME, 'next-hop-v6': nextHop6(c.rs) };
  const s = new Speaker({
    global: { asn: RIBSTORM_AS, routerId: RIBSTORM_ID, listen: [rs] },
    rib: SMALL_RIB,
    neighbors: [
      ...c.senders.map((x) => validateNeighbor({ address: x.address, 'remote-as': x.asn, passive: true, ...open, ...x.extra }, 'export')),
      validateNeighbor({ address, 'remote-as': asn, port, 'connect-retry': 2, 'idle-hold-time': 1, ...open, ...c.receiver.extra }, 'export'),
    ],
  });
  speakers.push(s);
  await s.start();
  cleanup.push(() => s.shutdown('export test over', 300));

  const senders = await Promise.all(c.senders.map((x) => connectSender(rs, x)));
  await established(s, [...c.senders.map((x) => x.address), address], `the senders and ${r.name}`);
  expect(s.neighbors.get(address)!.session!.ebgp).toBe(c.ebgp);
  c.senders.forEach((x, i) => {
    for (const route of x.routes) senders[i].send(announce(route));
  });

  // Every route sent is in ribstorm's RIB before the receiver is looked at, so what the
  // receiver lacks was not advertised rather than not yet.
  await eventually(() => c.senders.forEach((x) => expect(s.receivedPaths(s.neighbors.get(x.address)!), `paths from ${x.address}`).toBe(x.routes.length)), 20_000);
  const want = c.expected(r, c.rs);
  for (const fam of ['ipv4', 'ipv6'] as const) {
    const routes = want[fam];
    if (!routes) continue;
    await eventually(async () => expect(byPrefix(await r.seen(d, fam))).toEqual(byPrefix(routes)), 30_000);
  }
  expect(s.advertisedPrefixes(s.neighbors.get(address)!)).toBe(c.advertised);
  if (c.ebgp) expect(r.droppedFromEbgp(d), `attributes ${r.name} dropped as received over eBGP`).toEqual([]);
  // The senders' sessions stayed up throughout (nothing they sent was refused).
  for (const x of senders) expect(x.closed).toBe(false);
}

for (const c of CASES) {
  describe(`export rewriting, ${c.name}`, () => {
    for (const r of RECEIVERS) {
      it(`at ${r.name}`, (ctx) => runCase(ctx, c, r), 60_000);
    }
  });
}

describe('export suites', () => {
  it(`ran ${RECEIVERS.length - skipped.length} of ${RECEIVERS.length} receivers${skipped.length ? `; SKIPPED: ${skipped.map((r) => `${r.name} (${r.unavailable()})`).join(', ')}` : ''}`, () => {
    // Fails only when RIBSTORM_REQUIRE_INTEROP=1 (set by .ci/run) and a receiver cannot run.
    if (process.env.RIBSTORM_REQUIRE_INTEROP === '1') expect(skipped.map((r) => r.name)).toEqual([]);
  });
});
