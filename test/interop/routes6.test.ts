// IPv6 unicast through ribstorm's RIB (RFC 4760 MP_REACH_NLRI / MP_UNREACH_NLRI, RFC 2545 next
// hops), against the five Debian BGP daemons over IPv4 sessions on loopback, each on its own
// 127.0.7.x addresses, free ports and run directories, ribstorm in-process. Per daemon, one
// setup (daemon A and daemon B of the same kind, ribstorm between them, eBGP on both sides) and
// three steps:
//  - A -> ribstorm: two IPv6 prefixes with MED (on one), communities and large communities land
//    in ribstorm's RIB as A sent them: the stored attribute block, decoded with the codec, holds
//    A's AS_PATH, MED and communities, and A's next hop as an MP_REACH_NLRI without NLRI
//    (AFI 2, SAFI 1) and no NEXT_HOP; nothing else is in the RIB, nothing goes back to A;
//  - ribstorm -> B: B's CLI shows both prefixes with ribstorm's AS prepended, ribstorm's IPv6
//    next hop (its `next-hop-v6` towards B, from 2001:db8::/32), no MED, the communities intact;
//  - A withdraws: ribstorm's RIB and B lose both prefixes (MP_UNREACH_NLRI on both sessions).
// Every daemon takes IPv6 over the IPv4 session both ways, so no step is skipped for any of them.
// ribstorm's next hop towards B is always a configured `next-hop-v6`: without one it sends the
// IPv4-mapped ::ffff:127.0.7.x, which (checked by hand with these versions) BIRD treats as
// withdraw ("Invalid NEXT_HOP attribute - mismatched address family (127.0.7.10 for ipv6)"),
// GoBGP shows as the IPv4 address 127.0.7.20 and FRR as ::ffff:7f00:71e, while OpenBGPD and
// ExaBGP show it as sent.
// Steps whose daemon cannot run here (not installed, or it needs root) skip with the reason, and a
// line on stderr says so; a daemon that fails to start fails them.

import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { AttrType, type PathAttribute } from '../../src/packet/index.js';
import { countPaths, locRib } from '../../src/rib/query.js';
import type { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from '../helpers/env.js';
import { captureLog } from '../helpers/rawPeer.js';
import {
  bestViews,
  byPrefix,
  established,
  eventually,
  expected,
  KINDS,
  RouteSuite,
  runCleanup,
  writeRibstormLog,
  type Instance,
  type RouteSpec,
} from './routeSuite.js';
import { normaliseRoute, type RouteView } from '../../src/harness/daemons/routeView.js';

const RIBSTORM_AS = 65070;
const RIBSTORM_ID = '10.255.7.1';

const suite = new RouteSuite({ name: 'routes6', family: 'ipv6', asn: RIBSTORM_AS, routerId: RIBSTORM_ID, daemonIdPrefix: '10.7.0' });

// ---------------------------------------------------------------------------------------------
// ribstorm in-process, and reading its RIB.

let logLines: string[] = [];
beforeAll(() => {
  logLines = captureLog();
});

/**
 * A stored IPv6 path as a RouteView, its next hop from the MP_REACH_NLRI it is stored with (all
 * of them, space-separated, so a link-local one would show), plus what the view leaves out:
 * that MP_REACH_NLRI's family and NLRI, and whether a NEXT_HOP came along.
 */
function viewOf(prefix: string, attrs: PathAttribute[]): RouteView & { mpReach: string; hasNextHop: boolean } {
  const v: RouteView = { prefix, asPath: [], nextHop: '', med: null, localPref: null, communities: [], largeCommunities: [], extendedCommunities: [] };
  let mpReach = 'none';
  let hasNextHop = false;
  for (const a of attrs) {
    if (a.type === AttrType.AS_PATH && 'segments' in a) v.asPath = a.segments.flatMap((s) => s.asns);
    else if (a.type === AttrType.NEXT_HOP) hasNextHop = true;
    else if (a.type === AttrType.MP_REACH_NLRI && 'nextHops' in a) {
      v.nextHop = a.nextHops.join(' ');
      mpReach = `afi ${a.afi} safi ${a.safi}, ${a.nlri.length} NLRI`;
    } else if (a.type === AttrType.MULTI_EXIT_DISC && 'med' in a) v.med = a.med;
    else if (a.type === AttrType.LOCAL_PREF && 'localPref' in a) v.localPref = a.localPref;
    else if (a.type === AttrType.COMMUNITIES && 'communities' in a) v.communities = a.communities.map((c) => `${c >>> 16}:${c & 0xffff}`);
    else if (a.type === AttrType.LARGE_COMMUNITY && 'largeCommunities' in a) v.largeCommunities = a.largeCommunities.map((c) => c.join(':'));
  }
  return { ...normaliseRoute(v), mpReach, hasNextHop };
}

/** ribstorm's best paths for `routes`' prefixes, decoded, by prefix (prefixes without one left out). */
const ribViews = (s: Speaker, routes: RouteSpec[]) => bestViews(s, routes, viewOf);

/** Two IPv6 routes from AS `asn` (suite `k`): a /48 with MED and communities, a /56 with communities only. */
function routesOf(k: number, asn: number): RouteSpec[] {
  return [
    { prefix: `2001:db8:7${k}1::/48`, med: 50, communities: [`${asn}:1`, `${asn}:2`], largeCommunities: [`${asn}:1:2`] },
    { prefix: `2001:db8:7${k}2:ff00::/56`, communities: [`${asn}:3`], largeCommunities: [`${asn}:3:4`, `${asn}:5:6`] },
  ];
}

// ---------------------------------------------------------------------------------------------

KINDS.forEach((kind, i) => {
  const k = i + 1;
  // 127.0.7.(10k): ribstorm; 10k+1: daemon A; 10k+2: daemon B.
  const RS = `127.0.7.${10 * k}`;
  const A = `127.0.7.${10 * k + 1}`;
  const B = `127.0.7.${10 * k + 2}`;
  const asA = 65200 + 10 * k + 1;
  const asB = 65200 + 10 * k + 2;
  /** ribstorm's IPv6 next hop towards B (GoBGP drops loopback-derived ones). */
  const RS_NEXT_HOP6 = `2001:db8:70::${k}`;
  const routes = routesOf(k, asA);

  describe(`IPv6 routes with ${kind.name}`, () => {
    let s: Speaker;
    let a: Instance;
    let b: Instance;
    const cleanup: Array<() => unknown> = [];

    // Nothing to set up for a daemon that cannot run here: each step skips with the reason.
    beforeAll(async () => {
      if (kind.unavailable() !== null) return;
      const rs = { address: RS, port: await freePort(RS) };
      a = await suite.createInstance(kind, A, asA, rs, routes);
      b = await suite.createInstance(kind, B, asB, rs, []);
      cleanup.push(() => a.daemon.stop(), () => b.daemon.stop());
      await Promise.all([a.daemon.start(), b.daemon.start()]);
      s = suite.createSpeaker(rs.address, rs.port, [
        { address: A, asn: asA, port: a.port },
        { address: B, asn: asB, port: b.port, extra: { 'next-hop-v6': RS_NEXT_HOP6 } },
      ]);
      cleanup.push(() => s.shutdown('routes6 test over', 300));
      await s.start();
      await established(s, [A, B], `${kind.name} A and B`);
      for (const x of [A, B]) expect(s.neighbors.get(x)!.session!.families).toContain('ipv6-unicast');
    }, 45_000);

    afterAll(() => runCleanup(cleanup));

    // ribstorm's own account of what happened, for a failed step.
    const explain = async (ctx: TestContext, step: () => Promise<void>) => {
      suite.skipUnlessRunnable(ctx, kind);
      try {
        await step();
      } catch (e) {
        writeRibstormLog(`${kind.name}, IPv6`, logLines.slice(-30), [s]);
        throw e;
      }
    };

    it(`${kind.name} A -> ribstorm: two IPv6 prefixes with MED and (large) communities in the RIB as sent, next hop in an MP_REACH_NLRI without NLRI`, (ctx) =>
      explain(ctx, async () => {
        await a.announce();
        const want = routes.map((r) => ({
          ...expected(r, [asA], a.nextHop, r.med ?? kind.medSentWhenUnset ?? null, null),
          mpReach: 'afi 2 safi 1, 0 NLRI',
          hasNextHop: false,
        }));
        await eventually(() => expect(ribViews(s, routes)).toEqual(byPrefix(want)), 20_000);
        // Nothing else in the Loc-RIB (no IPv4), A's paths the best ones; nothing back to A. B
        // may have sent the routes back already (FRR 8.4 advertises a route to the peer it came
        // from): with ribstorm's AS in their AS_PATH those are stored but never best (RFC 4271
        // §9.1.2), so every path beyond A's two must be B's.
        expect([...locRib(s.rib!.views).keys()].sort()).toEqual(routes.map((r) => r.prefix).sort());
        await eventually(() => expect(s.receivedPaths(s.neighbors.get(A)!)).toBe(2), 5_000);
        await eventually(() => expect(countPaths(s.rib!.views)).toEqual({ prefixes: 2, paths: 2 + s.receivedPaths(s.neighbors.get(B)!) }), 5_000);
        expect(s.advertisedPrefixes(s.neighbors.get(A)!)).toBe(0);
        expect(await a.received()).toEqual([]);
      }), 30_000);

    it(`ribstorm -> ${kind.name} B: ribstorm's AS prepended, its next-hop-v6 as next hop, no MED, communities intact`, (ctx) =>
      explain(ctx, async () => {
        const want = routes.map((r) => expected(r, [RIBSTORM_AS, asA], RS_NEXT_HOP6, kind.medShownWhenAbsent ?? null, kind.localPrefShownForEbgp ?? null));
        await eventually(async () => expect(byPrefix(await b.received())).toEqual(byPrefix(want)), 20_000);
        expect(s.advertisedPrefixes(s.neighbors.get(B)!)).toBe(2);
      }), 30_000);

    it(`${kind.name} A withdraws: ribstorm's RIB and B lose both prefixes`, (ctx) =>
      explain(ctx, async () => {
        await a.withdraw();
        await eventually(() => expect(countPaths(s.rib!.views)).toEqual({ prefixes: 0, paths: 0 }), 20_000);
        await eventually(async () => expect(await b.received()).toEqual([]), 20_000);
        expect(s.receivedPaths(s.neighbors.get(A)!)).toBe(0);
        expect(s.advertisedPrefixes(s.neighbors.get(B)!)).toBe(0);
      }), 30_000);
  });
});

suite.describeSummary();
