// Routes through the speaker: scripted peers announce and withdraw, ribstorm decides and
// advertises. Checks what a receiving peer is sent, byte for byte decoded with the codec.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RIB, validateNeighbor, type Config } from '../../src/config/schema.js';
import { State } from '../../src/neighbor/fsm.js';
import {
  AsPathSegmentType,
  AttrFlag,
  AttrType,
  CapabilityCode,
  decodeRouteRefresh,
  decodeUpdate,
  encodeRouteRefresh,
  encodeUpdate,
  RouteRefreshSubtype,
  MessageType,
  WellKnownCommunity,
  type Capability,
  type PathAttribute,
} from '../../src/packet/index.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { freePort } from '../helpers/env.js';
import { captureLog, defaultCaps, RawPeer, sleep, until } from '../helpers/rawPeer.js';

const RS = '127.0.6.1';
/** ribstorm's listening port, free on RS, found anew for each test. */
let PORT = 0;
const T = AttrFlag.Transitive;
const O = AttrFlag.Optional;
let logLines: string[] = [];
const cleanup: Array<() => unknown> = [];
beforeAll(() => {
  logLines = captureLog();
});
beforeEach(async () => {
  PORT = await freePort(RS);
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const open = { 'import-policy': 'accept', 'export-policy': 'accept' };

async function speaker(neighbors: Array<Record<string, unknown>>): Promise<Speaker> {
  const config: Config = {
    global: { asn: 65000, routerId: '10.0.0.1', listen: [{ address: RS, port: PORT }] },
    rib: { ...DEFAULT_RIB, workers: 2, shards: 8, prefixes: 4096, paths: 65536, attributeSets: 65536 },
    neighbors: neighbors.map((n, i) => validateNeighbor({ passive: true, ...n }, `n${i}`)),
  };
  const s = new Speaker(config);
  await s.start();
  cleanup.push(() => s.shutdown('test over', 200));
  return s;
}

async function peer(s: Speaker, addr: string, asn: number, ipv6 = false): Promise<RawPeer> {
  const p = await RawPeer.connect(RS, PORT, addr);
  cleanup.push(() => p.close());
  const caps = defaultCaps(asn);
  if (ipv6) caps.push({ code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 });
  p.sendOpen(asn, 90, addr, caps);
  await p.waitFor(MessageType.OPEN);
  p.sendKeepalive();
  await until(() => s.neighbors.get(addr)!.state === State.Established, 3000, `${addr} Established`);
  return p;
}

function attrs(path: number[], extra: PathAttribute[] = []): PathAttribute[] {
  return [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: path.length ? [{ type: AsPathSegmentType.AS_SEQUENCE, asns: path }] : [] },
    { type: AttrType.NEXT_HOP, flags: T, nextHop: '198.18.0.9' },
    ...extra,
  ];
}

const announce = (a: PathAttribute[], ...prefixes: string[]) => encodeUpdate({ withdrawn: [], attributes: a, nlri: prefixes.map((prefix) => ({ prefix })) }, { asn4: true });
const withdraw = (...prefixes: string[]) => encodeUpdate({ withdrawn: prefixes.map((prefix) => ({ prefix })), attributes: [], nlri: [] }, { asn4: true });

/** What a receiving peer holds, rebuilt from every UPDATE it was sent (IPv4 and IPv6). */
function table(p: RawPeer): Map<string, PathAttribute[]> {
  const t = new Map<string, PathAttribute[]>();
  for (const m of p.received) {
    if (m.type !== MessageType.UPDATE) continue;
    const u = decodeUpdate(m.bytes, { asn4: true });
    const reach = u.attributes.find((a) => a.type === AttrType.MP_REACH_NLRI) as { nlri: Array<{ prefix: string }> } | undefined;
    const unreach = u.attributes.find((a) => a.type === AttrType.MP_UNREACH_NLRI) as { withdrawn: Array<{ prefix: string }> } | undefined;
    for (const w of [...u.withdrawn, ...(unreach?.withdrawn ?? [])]) t.delete(w.prefix);
    for (const n of [...u.nlri, ...(reach?.nlri ?? [])]) t.set(n.prefix, u.attributes);
  }
  return t;
}

const pathOf = (a: PathAttribute[] | undefined) => (a?.find((x) => x.type === AttrType.AS_PATH) as { segments: Array<{ asns: number[] }> } | undefined)?.segments.flatMap((s) => s.asns);
const get = <K extends string>(a: PathAttribute[] | undefined, type: number, key: K) => (a?.find((x) => x.type === type) as Record<K, unknown> | undefined)?.[key];

describe('routes through the speaker', () => {
  it('advertises the best path with its AS prepended and itself as next hop, and follows changes', async () => {
    const s = await speaker([
      { address: '127.0.6.2', 'remote-as': 65002, ...open },
      { address: '127.0.6.3', 'remote-as': 65003, ...open },
      { address: '127.0.6.9', 'remote-as': 65009, ...open },
    ]);
    const sink = await peer(s, '127.0.6.9', 65009);
    const a = await peer(s, '127.0.6.2', 65002);
    const b = await peer(s, '127.0.6.3', 65003);
    const communities: PathAttribute = { type: AttrType.COMMUNITIES, flags: O | T, communities: [65002 * 65536 + 7] };
    const large: PathAttribute = { type: AttrType.LARGE_COMMUNITY, flags: O | T, largeCommunities: [[65002, 1, 2]] };
    a.send(announce(attrs([65002, 3356, 15169], [{ type: AttrType.MULTI_EXIT_DISC, flags: O, med: 5 }, communities, large]), '10.1.0.0/16', '10.2.0.0/24'));
    await until(() => table(sink).size === 2, 5000, 'two prefixes at the sink');
    const got = table(sink).get('10.1.0.0/16');
    expect(pathOf(got)).toEqual([65000, 65002, 3356, 15169]);
    expect(get(got, AttrType.NEXT_HOP, 'nextHop')).toBe(RS);
    expect(get(got, AttrType.MULTI_EXIT_DISC, 'med')).toBeUndefined(); // not passed to another AS
    expect(get(got, AttrType.COMMUNITIES, 'communities')).toEqual([65002 * 65536 + 7]);
    expect(get(got, AttrType.LARGE_COMMUNITY, 'largeCommunities')).toEqual([[65002, 1, 2]]);

    // A shorter AS_PATH from B wins; its withdrawal brings A's path back.
    b.send(announce(attrs([65003, 15169]), '10.1.0.0/16'));
    await until(() => pathOf(table(sink).get('10.1.0.0/16'))?.[1] === 65003, 5000, "B's path at the sink");
    expect(pathOf(table(a).get('10.1.0.0/16'))).toEqual([65000, 65003, 15169]); // A hears B's path
    b.send(withdraw('10.1.0.0/16'));
    await until(() => pathOf(table(sink).get('10.1.0.0/16'))?.[1] === 65002, 5000, "A's path back at the sink");
    expect(table(a).has('10.1.0.0/16')).toBe(false); // never A's own path back to A

    // A goes away: everything it gave is withdrawn downstream.
    a.close();
    await until(() => table(sink).size === 0, 5000, 'withdrawals after the session went down');
    expect(s.receivedPaths(s.neighbors.get('127.0.6.3')!)).toBe(0);
  });

  it('carries IPv6 unicast through MP_REACH_NLRI / MP_UNREACH_NLRI with our next hop', async () => {
    const s = await speaker([
      { address: '127.0.6.11', 'remote-as': 65011, ...open },
      { address: '127.0.6.12', 'remote-as': 65012, ...open, 'next-hop-v6': '2001:db8:ff::1' },
      { address: '127.0.6.13', 'remote-as': 65013, ...open },
    ]);
    const sink = await peer(s, '127.0.6.12', 65012, true);
    const v4only = await peer(s, '127.0.6.13', 65013);
    const src = await peer(s, '127.0.6.11', 65011, true);
    const mp = (prefixes: string[]): PathAttribute => ({ type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8:11::1'], nlri: prefixes.map((prefix) => ({ prefix })) });
    src.send(encodeUpdate({ withdrawn: [], attributes: [...attrs([65011, 6939]).filter((a) => a.type !== AttrType.NEXT_HOP), mp(['2001:db8:100::/48', '2001:db8:200::/40'])], nlri: [] }, { asn4: true }));
    await until(() => table(sink).size === 2, 5000, 'two IPv6 prefixes at the sink');
    const got = table(sink).get('2001:db8:100::/48');
    expect(pathOf(got)).toEqual([65000, 65011, 6939]);
    expect(get(got, AttrType.MP_REACH_NLRI, 'nextHops')).toEqual(['2001:db8:ff::1']);
    const unreach: PathAttribute = { type: AttrType.MP_UNREACH_NLRI, flags: O, afi: 2, safi: 1, withdrawn: [{ prefix: '2001:db8:100::/48' }] };
    src.send(encodeUpdate({ withdrawn: [], attributes: [unreach], nlri: [] }, { asn4: true }));
    await until(() => table(sink).size === 1, 5000, 'the IPv6 withdrawal');
    expect([...table(sink).keys()]).toEqual(['2001:db8:200::/40']);
    expect(table(v4only).size).toBe(0); // no IPv6 to a peer that did not negotiate it
  });

  it('answers ROUTE-REFRESH with the Adj-RIB-Out between BoRR and EoRR (RFC 7313)', async () => {
    const s = await speaker([
      { address: '127.0.6.14', 'remote-as': 65014, ...open },
      { address: '127.0.6.15', 'remote-as': 65015, ...open },
    ]);
    const sink = await RawPeer.connect(RS, PORT, '127.0.6.15');
    cleanup.push(() => sink.close());
    sink.sendOpen(65015, 90, '127.0.6.15', [...defaultCaps(65015), { code: CapabilityCode.EnhancedRouteRefresh } as never]);
    await sink.waitFor(MessageType.OPEN);
    sink.sendKeepalive();
    await until(() => s.neighbors.get('127.0.6.15')!.state === State.Established);
    const src = await peer(s, '127.0.6.14', 65014);
    src.send(announce(attrs([65014]), '10.14.0.0/16', '10.14.1.0/24'));
    await until(() => table(sink).size === 2, 5000, 'the table');
    const before = sink.received.length;
    sink.send(encodeRouteRefresh({ afi: 1, safi: 1, subtype: RouteRefreshSubtype.Normal }));
    await until(() => sink.received.filter((m) => m.type === MessageType.ROUTE_REFRESH).length === 2, 5000, 'BoRR and EoRR');
    const after = sink.received.slice(before).map((m) => (m.type === MessageType.ROUTE_REFRESH ? `RR${decodeRouteRefresh(m.bytes).subtype}` : m.type === MessageType.UPDATE ? 'U' : `T${m.type}`));
    expect(after[0]).toBe('RR1');
    expect(after[after.length - 1]).toBe('RR2');
    const resent = sink.received.slice(before).filter((m) => m.type === MessageType.UPDATE).flatMap((m) => decodeUpdate(m.bytes, { asn4: true }).nlri.map((x) => x.prefix));
    expect(resent.sort()).toEqual(['10.14.0.0/16', '10.14.1.0/24']);
    expect(s.advertisedPrefixes(s.neighbors.get('127.0.6.15')!)).toBe(2);
  });

  it('sends path identifiers to a peer that negotiated ADD-PATH receive (RFC 7911)', async () => {
    const s = await speaker([
      { address: '127.0.6.16', 'remote-as': 65016, ...open },
      { address: '127.0.6.17', 'remote-as': 65017, ...open, 'add-path': 'send' },
    ]);
    const sink = await RawPeer.connect(RS, PORT, '127.0.6.17');
    cleanup.push(() => sink.close());
    sink.sendOpen(65017, 90, '127.0.6.17', [...defaultCaps(65017), { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: 1 }] }]);
    await sink.waitFor(MessageType.OPEN);
    sink.sendKeepalive();
    await until(() => s.neighbors.get('127.0.6.17')!.state === State.Established);
    expect(s.neighbors.get('127.0.6.17')!.session!.addPathSend).toEqual(['ipv4-unicast']);
    const src = await peer(s, '127.0.6.16', 65016);
    src.send(announce(attrs([65016]), '10.16.0.0/16'));
    src.send(withdraw('10.16.0.0/16'));
    await until(() => sink.received.filter((m) => m.type === MessageType.UPDATE).length >= 3, 5000, 'announcement and withdrawal');
    const updates = sink.received.filter((m) => m.type === MessageType.UPDATE).map((m) => decodeUpdate(m.bytes, { asn4: true, addPath: { ipv4: true } }));
    expect(updates.flatMap((u) => u.nlri)).toEqual([{ prefix: '10.16.0.0/16', pathId: 1 }]);
    expect(updates.flatMap((u) => u.withdrawn)).toEqual([{ prefix: '10.16.0.0/16', pathId: 1 }]);
  });

  it('keeps a restarting peer\'s paths as stale until its End-of-RIB, or until its restart time (RFC 4724)', async () => {
    const s = await speaker([
      { address: '127.0.6.18', 'remote-as': 65018, ...open, 'idle-hold-time': 0 },
      { address: '127.0.6.19', 'remote-as': 65019, ...open },
    ]);
    const sink = await peer(s, '127.0.6.19', 65019);
    const gr: Capability = { code: CapabilityCode.GracefulRestart, restarting: false, notification: false, restartTime: 4, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] };
    const connect = async () => {
      const p = await RawPeer.connect(RS, PORT, '127.0.6.18');
      cleanup.push(() => p.close());
      p.sendOpen(65018, 90, '127.0.6.18', [...defaultCaps(65018), gr]);
      await p.waitFor(MessageType.OPEN);
      p.sendKeepalive();
      await until(() => s.neighbors.get('127.0.6.18')!.state === State.Established, 5000, 'Established');
      return p;
    };
    let p = await connect();
    p.send(announce(attrs([65018]), '10.18.1.0/24', '10.18.2.0/24'));
    await until(() => table(sink).size === 2, 5000, 'both routes');
    p.socket.destroy(); // the peer restarts: no NOTIFICATION
    await sleep(500);
    expect(table(sink).size).toBe(2); // kept while it restarts
    p = await connect();
    p.send(announce(attrs([65018]), '10.18.1.0/24'));
    p.send(encodeUpdate({ withdrawn: [], attributes: [], nlri: [] }, { asn4: true })); // End-of-RIB
    await until(() => table(sink).size === 1, 5000, 'the stale route swept');
    expect([...table(sink).keys()]).toEqual(['10.18.1.0/24']);
    p.socket.destroy(); // and this time it does not come back
    await sleep(500);
    expect(table(sink).size).toBe(1);
    await until(() => table(sink).size === 0, 15_000, 'stale routes removed after the restart time');
  });

  it('applies import and export policies: prefix and community matches, set LOCAL_PREF, MED, communities, prepend', async () => {
    const s = await speaker([
      {
        address: '127.0.6.20', 'remote-as': 65020, 'export-policy': 'accept',
        import: {
          default: 'accept',
          rules: [
            { prefixes: ['10.20.0.0/16-24'], communities: ['65020:666'], action: 'reject' },
            { communities: ['65020:200'], 'set-local-pref': 200, 'add-communities': ['65000:1'] },
          ],
        },
      },
      { address: '127.0.6.21', 'remote-as': 65021, 'export-policy': 'accept', 'import-policy': 'accept' },
      {
        address: '127.0.6.22', 'remote-as': 65022, 'import-policy': 'accept',
        export: { default: 'accept', rules: [{ prefixes: ['10.21.9.0/24'], action: 'reject' }, { 'origin-as': [65021], prepend: 2, 'set-med': 7 }] },
      },
    ]);
    const sink = await peer(s, '127.0.6.22', 65022);
    const a = await peer(s, '127.0.6.20', 65020);
    const b = await peer(s, '127.0.6.21', 65021);
    const comm = (...c: number[]): PathAttribute => ({ type: AttrType.COMMUNITIES, flags: O | T, communities: c });
    a.send(announce(attrs([65020, 1], [comm(65020 * 65536 + 666)]), '10.20.1.0/24', '10.30.0.0/16')); // first filtered, second not (outside the list)
    a.send(announce(attrs([65020, 1, 2, 3], [comm(65020 * 65536 + 200)]), '10.40.0.0/16')); // LOCAL_PREF 200 beats B's shorter path
    b.send(announce(attrs([65021]), '10.40.0.0/16', '10.21.9.0/24', '10.21.10.0/24'));
    await until(() => table(sink).has('10.21.10.0/24') && table(sink).has('10.30.0.0/16') && table(sink).has('10.40.0.0/16'), 5000, 'the policies applied');
    await sleep(300);
    const t = table(sink);
    expect(t.has('10.20.1.0/24')).toBe(false); // import rule 1
    expect(t.has('10.21.9.0/24')).toBe(false); // export rule 1
    expect(pathOf(t.get('10.40.0.0/16'))).toEqual([65000, 65020, 1, 2, 3]); // won on LOCAL_PREF 200
    expect(get(t.get('10.40.0.0/16'), AttrType.COMMUNITIES, 'communities')).toEqual([65020 * 65536 + 200, 65000 * 65536 + 1]);
    expect(get(t.get('10.40.0.0/16'), AttrType.LOCAL_PREF, 'localPref')).toBeUndefined(); // not on eBGP
    expect(pathOf(t.get('10.21.10.0/24'))).toEqual([65000, 65000, 65000, 65021]); // export rule 2: prepend 2
    expect(get(t.get('10.21.10.0/24'), AttrType.MULTI_EXIT_DISC, 'med')).toBe(7);
    expect(get(t.get('10.30.0.0/16'), AttrType.MULTI_EXIT_DISC, 'med')).toBeUndefined();
  });

  it('reflects routes between iBGP peers with ORIGINATOR_ID and CLUSTER_LIST, and drops its own (RFC 4456)', async () => {
    const s = await speaker([
      { address: '127.0.6.23', 'remote-as': 65000, 'route-reflector-client': true },
      { address: '127.0.6.24', 'remote-as': 65000 },
    ]);
    const client = await peer(s, '127.0.6.23', 65000);
    const other = await peer(s, '127.0.6.24', 65000);
    const lp: PathAttribute = { type: AttrType.LOCAL_PREF, flags: T, localPref: 150 };
    client.send(announce([...attrs([]), lp], '10.23.0.0/16'));
    await until(() => table(other).has('10.23.0.0/16'), 5000, 'the reflected route');
    const got = table(other).get('10.23.0.0/16');
    expect(get(got, AttrType.ORIGINATOR_ID, 'originatorId')).toBe('127.0.6.23');
    expect(get(got, AttrType.CLUSTER_LIST, 'clusterList')).toEqual(['10.0.0.1']);
    expect(get(got, AttrType.LOCAL_PREF, 'localPref')).toBe(150);
    expect(pathOf(got)).toEqual([]); // iBGP: no AS prepended
    // A route that already passed through us (our cluster id) is not used.
    const looped: PathAttribute = { type: AttrType.CLUSTER_LIST, flags: O, clusterList: ['10.0.0.1'] };
    other.send(announce([...attrs([]), lp, { type: AttrType.ORIGINATOR_ID, flags: O, originatorId: '10.9.9.9' }, looped], '10.24.0.0/16'));
    other.send(announce([...attrs([]), lp], '10.24.1.0/24'));
    await until(() => table(client).has('10.24.1.0/24'), 5000, 'the non-client route at the client');
    expect(table(client).has('10.24.0.0/16')).toBe(false);
  });

  it('drops paths with its own AS unless allowas-in allows as many', async () => {
    const s = await speaker([
      { address: '127.0.6.25', 'remote-as': 65025, ...open },
      { address: '127.0.6.26', 'remote-as': 65026, ...open, 'allowas-in': 1 },
      { address: '127.0.6.9', 'remote-as': 65009, ...open },
    ]);
    const sink = await peer(s, '127.0.6.9', 65009);
    const a = await peer(s, '127.0.6.25', 65025);
    const b = await peer(s, '127.0.6.26', 65026);
    a.send(announce(attrs([65025, 65000, 1]), '10.25.0.0/16'));
    b.send(announce(attrs([65026, 65000, 1]), '10.26.0.0/16'));
    b.send(announce(attrs([65026, 65000, 65000, 1]), '10.26.1.0/24'));
    await until(() => table(sink).has('10.26.0.0/16'), 5000, 'the allowed route');
    await sleep(200);
    expect(table(sink).has('10.25.0.0/16')).toBe(false);
    expect(table(sink).has('10.26.1.0/24')).toBe(false); // twice is more than allowas-in 1
  });

  it('holds changes for the advertisement interval and sends only their net effect (MRAI)', async () => {
    const s = await speaker([
      { address: '127.0.6.27', 'remote-as': 65027, ...open },
      { address: '127.0.6.28', 'remote-as': 65028, ...open, 'advertisement-interval': 2 },
    ]);
    const sink = await peer(s, '127.0.6.28', 65028);
    const src = await peer(s, '127.0.6.27', 65027);
    const firstSentAt = Date.now();
    src.send(announce(attrs([65027]), '10.27.1.0/24'));
    await until(() => table(sink).has('10.27.1.0/24'), 10_000, 'the first route, at once');
    src.send(announce(attrs([65027]), '10.27.2.0/24'));
    await sleep(100);
    src.send(withdraw('10.27.2.0/24'));
    src.send(announce(attrs([65027]), '10.27.3.0/24'));
    await until(() => table(sink).has('10.27.3.0/24'), 15_000, 'the held route');
    // The interval runs from the first route's UPDATE, which left after the source sent it: the
    // held one cannot reach the sink earlier than 2 s after that (the clock's millisecond aside).
    const heldAt = sink.received.find((m) => m.type === MessageType.UPDATE && decodeUpdate(m.bytes, { asn4: true }).nlri.some((x) => x.prefix === '10.27.3.0/24'))!.at;
    expect(heldAt - firstSentAt).toBeGreaterThanOrEqual(1990);
    const mentioned = sink.received.filter((m) => m.type === MessageType.UPDATE).flatMap((m) => {
      const u = decodeUpdate(m.bytes, { asn4: true });
      return [...u.nlri, ...u.withdrawn].map((x) => x.prefix);
    });
    expect(mentioned).not.toContain('10.27.2.0/24'); // announced and withdrawn within one interval
  });

  it('keeps an eBGP session closed without policies (RFC 8212) and says so once', async () => {
    const s = await speaker([
      { address: '127.0.6.4', 'remote-as': 65004 },
      { address: '127.0.6.9', 'remote-as': 65009, ...open },
    ]);
    const sink = await peer(s, '127.0.6.9', 65009);
    const p = await peer(s, '127.0.6.4', 65004);
    p.send(announce(attrs([65004]), '10.4.0.0/16'));
    await sleep(500);
    expect(table(sink).size).toBe(0);
    expect(s.receivedPaths(s.neighbors.get('127.0.6.4')!)).toBe(0);
    expect(logLines.filter((l) => l.includes('127.0.6.4') && l.includes('RFC 8212'))).toHaveLength(1);
  });

  it('treats a malformed attribute as withdraw (RFC 7606) and keeps the session', async () => {
    const s = await speaker([
      { address: '127.0.6.5', 'remote-as': 65005, ...open },
      { address: '127.0.6.9', 'remote-as': 65009, ...open },
    ]);
    const sink = await peer(s, '127.0.6.9', 65009);
    const p = await peer(s, '127.0.6.5', 65005);
    p.send(announce(attrs([65005]), '10.5.0.0/16'));
    await until(() => table(sink).has('10.5.0.0/16'), 5000, 'the route');
    const bad = attrs([65005]);
    (bad[0] as { origin: number }).origin = 9;
    p.send(announce(bad, '10.5.0.0/16'));
    await until(() => !table(sink).has('10.5.0.0/16'), 5000, 'the withdrawal');
    expect(s.neighbors.get('127.0.6.5')!.state).toBe(State.Established);
  });

  it('resets only the session that sent an UPDATE RFC 7606 still answers with a NOTIFICATION', async () => {
    const s = await speaker([
      { address: '127.0.6.6', 'remote-as': 65006, ...open },
      { address: '127.0.6.7', 'remote-as': 65007, ...open },
    ]);
    const good = await peer(s, '127.0.6.7', 65007);
    const bad = await peer(s, '127.0.6.6', 65006);
    bad.send(announce(attrs([65006], [{ type: 77, flags: T, data: Uint8Array.of(1) }]), '10.6.0.0/16'));
    const n = await bad.notification();
    expect([n.code, n.subcode]).toEqual([3, 2]); // Unrecognized Well-known Attribute
    good.sendKeepalive();
    await sleep(200);
    expect(s.neighbors.get('127.0.6.7')!.state).toBe(State.Established);
  });

  it('honours NO_EXPORT towards eBGP peers', async () => {
    const s = await speaker([
      { address: '127.0.6.8', 'remote-as': 65008, ...open },
      { address: '127.0.6.9', 'remote-as': 65009, ...open },
    ]);
    const sink = await peer(s, '127.0.6.9', 65009);
    const p = await peer(s, '127.0.6.8', 65008);
    const noExport: PathAttribute = { type: AttrType.COMMUNITIES, flags: O | T, communities: [WellKnownCommunity.NO_EXPORT] };
    p.send(announce(attrs([65008], [noExport]), '10.8.0.0/16'));
    p.send(announce(attrs([65008]), '10.8.1.0/24'));
    await until(() => table(sink).has('10.8.1.0/24'), 5000, 'the exportable route');
    expect(table(sink).has('10.8.0.0/16')).toBe(false);
  });

  it('ends a session that exceeds max-prefix with Cease / Maximum Number of Prefixes Reached', async () => {
    const s = await speaker([{ address: '127.0.6.10', 'remote-as': 65010, ...open, 'max-prefix': { limit: 3, action: 'restart', 'restart-after': 60 } }]);
    const p = await peer(s, '127.0.6.10', 65010);
    p.send(announce(attrs([65010]), '10.10.1.0/24', '10.10.2.0/24', '10.10.3.0/24', '10.10.4.0/24'));
    const n = await p.notification();
    expect([n.code, n.subcode]).toEqual([6, 1]);
    expect(logLines.some((l) => l.includes('max-prefix 3 exceeded (4): restart in 60s'))).toBe(true);
  });
});
