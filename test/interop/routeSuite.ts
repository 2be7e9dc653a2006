// What the two routes-through-the-RIB interop suites share: routes.test.ts (IPv4 unicast,
// 127.0.4.x) and routes6.test.ts (IPv6 unicast over IPv4 sessions, 127.0.7.x). The five Debian
// BGP daemons as route originators and receivers for either family, ribstorm in-process with a
// small RIB, and the helpers that read its RIB and wait for the daemons.

import { afterEach, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RIB, validateNeighbor, type Config, type ListenAddress, type RibConfig } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import { decodeUpdate, encodeMessage, MessageType, type PathAttribute } from '../../src/packet/index.js';
import { attributeBytes } from '../../src/rib/attrs.js';
import { lookup, type PathView } from '../../src/rib/query.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort, reportSkipped } from '../helpers/env.js';
import { captureLog, sleep, until } from '../helpers/rawPeer.js';
import type { Daemon, DaemonOptions } from '../../src/harness/daemons/daemon.js';
import * as bird from '../../src/harness/daemons/bird.js';
import * as exabgp from '../../src/harness/daemons/exabgp.js';
import * as frr from '../../src/harness/daemons/frr.js';
import * as gobgp from '../../src/harness/daemons/gobgp.js';
import * as openbgpd from '../../src/harness/daemons/openbgpd.js';
import { normaliseRoute, type RouteView } from '../../src/harness/daemons/routeView.js';

export type Family = 'ipv4' | 'ipv6';

export const HOLD_TIME = 30;

/**
 * A route a daemon originates. Communities are spelled "asn:value", large ones "asn:a:b", route
 * targets "asn:value" (IPv4 only).
 */
export interface RouteSpec {
  prefix: string;
  med?: number;
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
  routeTargets?: string[];
}

/** One daemon instance peered with ribstorm (over IPv4), with what the tests need from it. */
export interface Instance {
  daemon: Daemon;
  /** The port it listens on (at its own address), found free before it started. */
  port: number;
  /** The next hop it puts on the routes it originates (IPv4: 198.18.0.0/15, IPv6: 2001:db8::/32). */
  nextHop: string;
  announce(): Promise<void>;
  withdraw(): Promise<void>;
  /** The routes of the suite's family it holds from ribstorm. */
  received(): Promise<RouteView[]>;
}

export interface Kind {
  name: string;
  /** Why it cannot run here (not installed, needs root), or null. */
  unavailable(): string | null;
  /** Creates (not starts) an instance that will originate `routes` (of `family`) once told to announce. */
  create(opts: DaemonOptions, routes: RouteSpec[], family: Family): Instance;
  /** What the daemon's CLI shows as MED for a route that has none (null: it tells them apart). */
  medShownWhenAbsent?: number;
  /** The LOCAL_PREF it gives routes learned over eBGP (null: none, so one received would show). */
  localPrefShownForEbgp?: number;
  /** The MED the daemon sends for a route it originates without one (null: none). */
  medSentWhenUnset?: number;
  /** False: it cannot receive ribstorm's eBGP IPv4 routes on loopback; BIRD stands in as receiver B. */
  ebgpSink?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Per daemon: how it originates routes with attributes, and how it shows what it received. IPv6
// goes over the IPv4 session: every driver already negotiates ipv6-unicast and puts a
// 2001:db8::/32 next hop on what it sends (BIRD's `next hop address`, GoBGP's and FRR's outbound
// policy, OpenBGPD's second local-address).

export const birdKind: Kind = {
  name: 'BIRD 2',
  unavailable: bird.unavailable,
  localPrefShownForEbgp: 100,
  create(opts, routes, family) {
    const attrs = (r: RouteSpec) => {
      const set: string[] = [];
      if (r.localPref !== undefined) set.push(`bgp_local_pref = ${r.localPref};`);
      if (r.med !== undefined) set.push(`bgp_med = ${r.med};`);
      for (const c of r.communities) set.push(`bgp_community.add((${c.replace(':', ',')}));`);
      for (const c of r.largeCommunities) set.push(`bgp_large_community.add((${c.split(':').join(',')}));`);
      for (const c of r.routeTargets ?? []) set.push(`bgp_ext_community.add((rt, ${c.split(':').join(', ')}));`);
      return set.join(' ');
    };
    const protocol = family === 'ipv4' ? 'announce4' : 'announce6';
    // Blackhole routes: BGP puts the channel's own next hop on them (the driver's `next hop address`).
    const extraConfig = routes.length
      ? `protocol static ${protocol} {\n  disabled yes;\n  ${family};\n${routes.map((r) => `  route ${r.prefix} blackhole { ${attrs(r)} };\n`).join('')}}\n`
      : '';
    // BIRD sends a MED over eBGP only when the export filter sets it (a static route's does not count).
    const withMed = routes.filter((r) => r.med !== undefined);
    const exportFilter = withMed.length
      ? `filter { ${withMed.map((r) => `if net = ${r.prefix} then bgp_med = ${r.med};`).join(' ')} accept; }`
      : 'all';
    const d = bird.create(opts, family === 'ipv4' ? { extraConfig, ipv4Export: exportFilter } : { extraConfig, ipv6Export: exportFilter });
    return {
      daemon: d,
      port: opts.port,
      nextHop: bird.nextHops(opts.address)[family],
      announce: async () => void (await d.birdc('enable', protocol)),
      withdraw: async () => void (await d.birdc('disable', protocol)),
      received: () => d.receivedRoutes(family),
    };
  },
};

const gobgpKind: Kind = {
  name: 'GoBGP',
  unavailable: gobgp.unavailable,
  // GoBGP 3.10 treats an UPDATE whose NEXT_HOP is a loopback address as a withdrawal ("invalid
  // nexthop address"; later GoBGP allows it when both session ends are loopback). ribstorm's eBGP
  // IPv4 next hop is its own session address, 127.0.4.x in routes.test.ts, so GoBGP cannot be
  // receiver B there; it receives from ribstorm in the iBGP test instead, where the next hop
  // stays 198.18.x. (For IPv6 ribstorm's next hop is a configured 2001:db8:: one, so it can.)
  ebgpSink: false,
  // Its Adj-RIB-In (what the driver reads) shows no LOCAL_PREF for eBGP routes.
  create(opts, routes, family) {
    const d = gobgp.create(opts);
    const nextHop = gobgp.nextHops(opts.address)[family];
    return {
      daemon: d,
      port: opts.port,
      nextHop,
      async announce() {
        for (const r of routes) {
          // Extended communities are the words right after the prefix.
          const args = ['global', 'rib', 'add', '-a', family, r.prefix, ...(r.routeTargets ?? []).flatMap((t) => ['rt', t])];
          args.push('origin', 'igp', 'nexthop', nextHop);
          if (r.med !== undefined) args.push('med', String(r.med));
          if (r.localPref !== undefined) args.push('local-pref', String(r.localPref));
          if (r.communities.length) args.push('community', r.communities.join(','));
          if (r.largeCommunities.length) args.push('large-community', r.largeCommunities.join(','));
          await d.cli(args);
        }
      },
      async withdraw() {
        for (const r of routes) await d.cli(['global', 'rib', 'del', '-a', family, r.prefix]);
      },
      received: () => d.receivedRoutes(family),
    };
  },
};

const frrKind: Kind = {
  name: 'FRR bgpd',
  unavailable: frr.unavailable,
  // A `network` route takes its MED from the IGP metric: 0 without zebra.
  medSentWhenUnset: 0,
  create(opts, routes, family) {
    const d = frr.create(opts);
    const router = `router bgp ${opts.asn}`;
    const addressFamily = `address-family ${family} unicast`;
    const routeMap = (n: number) => `ANNOUNCE${family === 'ipv4' ? '' : '6'}-${n}`;
    return {
      daemon: d,
      port: opts.port,
      // The driver's outbound route-map (next-hop-v6 for IPv6) sets it on everything FRR sends.
      nextHop: frr.nextHops(opts.address)[family],
      async announce() {
        const cmds = ['configure terminal'];
        routes.forEach((r, n) => {
          cmds.push(`route-map ${routeMap(n)} permit 10`);
          if (r.med !== undefined) cmds.push(`set metric ${r.med}`);
          if (r.localPref !== undefined) cmds.push(`set local-preference ${r.localPref}`);
          if (r.communities.length) cmds.push(`set community ${r.communities.join(' ')}`);
          if (r.largeCommunities.length) cmds.push(`set large-community ${r.largeCommunities.join(' ')}`);
          if (r.routeTargets?.length) cmds.push(`set extcommunity rt ${r.routeTargets.join(' ')}`);
          cmds.push('exit');
        });
        cmds.push(router, addressFamily, ...routes.map((r, n) => `network ${r.prefix} route-map ${routeMap(n)}`));
        await d.vtysh(cmds);
      },
      async withdraw() {
        await d.vtysh(['configure terminal', router, addressFamily, ...routes.map((r) => `no network ${r.prefix}`)]);
      },
      received: () => d.receivedRoutes(family),
    };
  },
};

const openbgpdKind: Kind = {
  name: 'OpenBGPD',
  unavailable: openbgpd.unavailable,
  medShownWhenAbsent: 0,
  localPrefShownForEbgp: 100,
  create(opts, routes, family) {
    const d = openbgpd.create(opts);
    const nextHop = openbgpd.nextHops(opts.address)[family];
    return {
      daemon: d,
      port: opts.port,
      nextHop,
      async announce() {
        for (const r of routes) {
          // The driver's `set nexthop no-modify` keeps this next hop on the eBGP session too.
          const args = ['network', 'add', r.prefix, 'nexthop', nextHop];
          if (r.med !== undefined) args.push('med', String(r.med));
          if (r.localPref !== undefined) args.push('localpref', String(r.localPref));
          for (const c of r.communities) args.push('community', c);
          for (const c of r.largeCommunities) args.push('large-community', c);
          for (const t of r.routeTargets ?? []) args.push('ext-community', 'rt', t);
          await d.bgpctl(...args);
        }
      },
      async withdraw() {
        for (const r of routes) await d.bgpctl('network', 'delete', r.prefix);
      },
      received: () => d.receivedRoutes(family),
    };
  },
};

const exabgpKind: Kind = {
  name: 'ExaBGP',
  unavailable: exabgp.unavailable,
  create(opts, routes, family) {
    const d = exabgp.create(opts);
    const nextHop = exabgp.nextHops(opts.address)[family];
    const list = (name: string, items: string[]) => (items.length ? [name, '[', ...items, ']'] : []);
    return {
      daemon: d,
      port: opts.port,
      nextHop,
      async announce() {
        for (const r of routes) {
          await d.command(
            'announce', 'route', r.prefix, 'next-hop', nextHop, 'origin', 'igp',
            ...(r.med !== undefined ? ['med', String(r.med)] : []),
            ...(r.localPref !== undefined ? ['local-preference', String(r.localPref)] : []),
            ...list('community', r.communities),
            ...list('large-community', r.largeCommunities),
            ...list('extended-community', (r.routeTargets ?? []).map((t) => `target:${t}`)),
          );
        }
      },
      async withdraw() {
        for (const r of routes) await d.command('withdraw', 'route', r.prefix, 'next-hop', nextHop);
      },
      received: () => d.receivedRoutes(family),
    };
  },
};

export const KINDS: Kind[] = [birdKind, gobgpKind, frrKind, openbgpdKind, exabgpKind];

// ---------------------------------------------------------------------------------------------
// ribstorm in-process and the daemons around it, per suite.

export const SMALL_RIB: RibConfig = { ...DEFAULT_RIB, workers: 1, shards: 8, prefixes: 16_384, paths: 65_536, attributeSets: 16_384 };

export interface NeighborSpec {
  address: string;
  asn: number;
  /** The neighbor's port, where ribstorm connects to it (an Instance's `port`); unused for a passive neighbor. */
  port?: number;
  extra?: Record<string, unknown>;
}

export interface RouteSuiteOptions {
  /** 'routes' or 'routes6': names run directories, config errors and the SKIPPED lines. */
  name: string;
  family: Family;
  /** ribstorm's AS and router id. */
  asn: number;
  routerId: string;
  /** The daemons' router ids are this plus the last octet of their address ("10.4.0"). */
  daemonIdPrefix: string;
}

export class RouteSuite {
  readonly name: string;
  readonly family: Family;
  readonly asn: number;
  readonly routerId: string;
  readonly daemonIdPrefix: string;
  /** The daemons that cannot run here (reported on stderr once the suite is set up). */
  readonly skipped: Kind[];

  constructor(opts: RouteSuiteOptions) {
    ({ name: this.name, family: this.family, asn: this.asn, routerId: this.routerId, daemonIdPrefix: this.daemonIdPrefix } = opts);
    this.skipped = KINDS.filter((k) => k.unavailable() !== null);
    reportSkipped(this.name, this.skipped.map((k) => `${k.name}: ${k.unavailable()}`));
  }

  /** Skips the running test, with the reason, unless every one of `kinds` can run here. */
  skipUnlessRunnable(ctx: TestContext, ...kinds: Kind[]): void {
    for (const k of kinds) {
      const why = k.unavailable();
      if (why !== null) ctx.skip(`${k.name}: ${why}`);
    }
  }

  /** A ribstorm Speaker (not started) listening on `address`:`port`, accepting and exporting everything. */
  createSpeaker(address: string, port: number, neighbors: NeighborSpec[], opts: { asn?: number; rib?: RibConfig } = {}): Speaker {
    // IPv6 routes go over the IPv4 sessions: both families on every one.
    const families = this.family === 'ipv6' ? { families: ['ipv4-unicast', 'ipv6-unicast'] } : {};
    const config: Config = {
      global: { asn: opts.asn ?? this.asn, routerId: this.routerId, listen: [{ address, port }] },
      rib: opts.rib ?? SMALL_RIB,
      neighbors: neighbors.map((n) =>
        validateNeighbor(
          {
            address: n.address,
            'remote-as': n.asn,
            ...(n.port !== undefined ? { port: n.port } : {}),
            'connect-retry': 2,
            'idle-hold-time': 1,
            'hold-time': HOLD_TIME,
            'import-policy': 'accept',
            'export-policy': 'accept',
            ...families,
            ...n.extra,
          },
          this.name,
        ),
      ),
    };
    return new Speaker(config);
  }

  /**
   * An instance of `kind` (not started) on `address` and a port free there, peered with
   * ribstorm at `ribstorm` (its address and listening port).
   */
  async createInstance(
    kind: Kind,
    address: string,
    asn: number,
    ribstorm: ListenAddress,
    routes: RouteSpec[],
    opts: { ribstormAs?: number; connects?: boolean } = {},
  ): Promise<Instance> {
    const last = address.split('.')[3];
    return kind.create(
      {
        runDir: mkdtempSync(join(tmpdir(), `ribstorm-${this.name}-${last}-`)),
        address,
        port: await freePort(address),
        asn,
        routerId: `${this.daemonIdPrefix}.${last}`,
        // By default the daemon waits and ribstorm connects (at once, rather than after the
        // daemon's own retry timer).
        peer: { address: ribstorm.address, port: ribstorm.port, asn: opts.ribstormAs ?? this.asn, passive: !opts.connects, holdTime: HOLD_TIME },
      },
      routes,
      this.family,
    );
  }

  /** The last test of the file: how many daemons ran, and which were skipped. */
  describeSummary(): void {
    const skipped = this.skipped;
    describe(`${this.name} suites`, () => {
      it(`ran ${KINDS.length - skipped.length} of ${KINDS.length} daemons${skipped.length ? `; SKIPPED: ${skipped.map((k) => `${k.name} (${k.unavailable()})`).join(', ')}` : ''}`, () => {
        // Fails only when RIBSTORM_REQUIRE_INTEROP=1 (set by .ci/run) and a daemon cannot run.
        if (process.env.RIBSTORM_REQUIRE_INTEROP === '1') expect(skipped.map((k) => k.name)).toEqual([]);
      });
    });
  }
}

/** Runs and empties `cleanup`, last in first out, past any that fail. */
/**
 * The hooks of a file of in-process route tests: ribstorm's log captured (its last lines
 * written out for a failed test, with the speakers' state), and `cleanup` run after each test.
 */
export function routeTestHooks(): { speakers: Speaker[]; cleanup: Array<() => unknown> } {
  let logLines: string[] = [];
  const speakers: Speaker[] = [];
  const cleanup: Array<() => unknown> = [];
  beforeAll(() => {
    logLines = captureLog();
  });
  beforeEach(() => {
    logLines.length = 0;
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') writeRibstormLog(ctx.task.name, logLines.slice(-40), speakers);
    speakers.length = 0;
    await runCleanup(cleanup);
  });
  return { speakers, cleanup };
}

export async function runCleanup(cleanup: Array<() => unknown>): Promise<void> {
  while (cleanup.length) {
    try {
      await cleanup.pop()!();
    } catch {
      // keep cleaning
    }
  }
}

/** ribstorm's own account of what happened, for a failed test: its last log lines and its neighbors' last errors. */
export function writeRibstormLog(label: string, lines: string[], speakers: Speaker[]): void {
  const errors = speakers.flatMap((sp) => [...sp.neighbors.values()].filter((n) => n.lastError).map((n) => `${n.name}: last error ${JSON.stringify(n.lastError)}`));
  process.stderr.write(`--- ribstorm log (${label}):\n${lines.join('\n')}\n${errors.join('\n')}\n`);
}

/** Polls an async check until it stops throwing; rethrows its last failure after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(intervalMs);
  }
}

/** Waits for ribstorm's sessions with `addrs` to be Established; the error says where each one is. */
export async function established(s: Speaker, addrs: string[], what: string): Promise<void> {
  try {
    await until(() => addrs.every((a) => s.neighbors.get(a)!.state === State.Established), 30_000, `${what} Established`);
  } catch (e) {
    const states = addrs.map((a) => `${a} ${State[s.neighbors.get(a)!.state]}`).join(', ');
    throw new Error(`${(e as Error).message} (${states})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading ribstorm's RIB, and what the tests expect to find.

/** Decodes a stored 4-octet-AS attribute block with the codec. */
export function decodeAttributes(block: Uint8Array): PathAttribute[] {
  const body = new Uint8Array(4 + block.length);
  body[2] = block.length >> 8;
  body[3] = block.length & 0xff;
  body.set(block, 4);
  const u = decodeUpdate(encodeMessage(MessageType.UPDATE, body), { asn4: true });
  expect(u.problems).toEqual([]);
  return u.attributes;
}

export const byPrefix = <R extends { prefix: string }>(routes: R[]) => [...routes].sort((a, b) => a.prefix.localeCompare(b.prefix));

/** ribstorm's best path for `prefix`, or null. */
export function ribRoute(s: Speaker, prefix: string): PathView | null {
  return lookup(s.rib!.views, prefix).find((p) => p.best) ?? null;
}

/** ribstorm's best paths for `routes`' prefixes, decoded by `viewOf`, by prefix (prefixes without one left out). */
export function bestViews<V extends { prefix: string }>(s: Speaker, routes: RouteSpec[], viewOf: (prefix: string, attrs: PathAttribute[]) => V): V[] {
  const views: V[] = [];
  for (const r of routes) {
    const v = ribRoute(s, r.prefix);
    if (v) views.push(viewOf(r.prefix, decodeAttributes(attributeBytes(s.rib!.views, v.attr))));
  }
  return byPrefix(views);
}

/** The view a daemon should show for a route originated as `r`, as it arrives over one hop. */
export function expected(r: RouteSpec, asPath: number[], nextHop: string, med: number | null, localPref: number | null): RouteView {
  return normaliseRoute({
    prefix: r.prefix,
    asPath,
    nextHop,
    med,
    localPref,
    communities: r.communities,
    largeCommunities: r.largeCommunities,
    extendedCommunities: (r.routeTargets ?? []).map((t) => `rt:${t}`),
  });
}
