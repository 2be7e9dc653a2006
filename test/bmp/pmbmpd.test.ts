// BMP export (RFC 7854; Loc-RIB per RFC 9069) to Debian's pmacct `pmbmpd`, started on a free
// port with its own run directory and its message log as JSON. Two scripted peers feed a few
// thousand routes first (A: IPv4 with RFC 7911 path identifiers, two paths for some prefixes,
// and IPv6; B: a 2-octet AS session), then the station connects late and is sent the tables
// from the RIB, then more routes and withdrawals arrive live. The station's log, replayed,
// must hold every path ribstorm holds per peer (prefix, path id, next hop, AS path) and the
// Loc-RIB's best paths; a peer that sends a Cease and one ribstorm stops give Peer Downs with
// reasons 3 and 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { BmpExporter } from '../../src/bmp/exporter.js';
import { bmpStation } from '../../src/config/bmp.js';
import { Pmbmpd, stationTables, unavailable } from '../../src/harness/daemons/pmbmpd.js';
import { AddPathMode, AttrType, CapabilityCode, cease, CeaseSubcode, encodeNotification, type Capability, type PathAttribute } from '../../src/packet/index.js';
import { reportSkipped } from '../helpers/env.js';
import { announce, attrs, O, OPEN_POLICY, startLab, T, useCleanup, withdraw } from '../helpers/lab.js';
import { captureLog, defaultCaps, sleep, until } from '../helpers/rawPeer.js';

const add = useCleanup();
let logs: string[] = [];
beforeAll(() => {
  logs = captureLog();
});

const HOST = '127.0.72.1';
const A = '127.0.72.2'; // AS 65301: IPv4 with path identifiers, and IPv6
const B = '127.0.72.3'; // AS 65302: 2-octet AS session, IPv4
const missing = unavailable();
if (missing) reportSkipped('bmp', [`pmbmpd ${missing}`]);
const REQUIRE = process.env.RIBSTORM_REQUIRE_INTEROP === '1';
afterAll(() => {
  if (REQUIRE) expect(missing, 'pmbmpd must run under RIBSTORM_REQUIRE_INTEROP=1').toBeNull();
});

const AP = { asn4: true, addPath: { ipv4: true } };
const v4 = (i: number) => `10.${72 + (i >> 8)}.${i & 0xff}.0/24`;
const v6 = (i: number) => `2001:db8:${(0x7200 + i).toString(16)}::/48`;

function route6(path: number[], prefixes: string[]): PathAttribute[] {
  return [
    { type: AttrType.ORIGIN, flags: T, origin: 0 },
    { type: AttrType.AS_PATH, flags: T, segments: [{ type: 2, asns: path }] },
    { type: AttrType.MP_REACH_NLRI, flags: O, afi: 2, safi: 1, nextHops: ['2001:db8:72::a'], nlri: prefixes.map((prefix) => ({ prefix })) },
  ];
}

interface Row {
  prefix: string;
  pathId: number;
  nextHop: string;
  path: string;
  best: boolean;
  fromPeer: string;
}

/** What the RIB holds, as the station's tables are keyed: per peer address and "loc-rib". */
function ribTables(rows: Row[]): Map<string, Map<string, { nextHop: string; asPath: string }>> {
  const out = new Map<string, Map<string, { nextHop: string; asPath: string }>>();
  const put = (t: string, key: string, r: Row) => {
    if (!out.has(t)) out.set(t, new Map());
    out.get(t)!.set(key, { nextHop: r.nextHop, asPath: r.path });
  };
  for (const r of rows) {
    put(r.fromPeer, `${r.prefix}#${r.pathId}`, r);
    if (r.best) put('loc-rib', `${r.prefix}#0`, r);
  }
  return out;
}

const plain = (m: Map<string, Map<string, { nextHop: string; asPath: string }>>) =>
  Object.fromEntries([...m].filter(([, t]) => t.size > 0).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, t]) => [k, Object.fromEntries([...t].sort(([x], [y]) => (x < y ? -1 : 1)).map(([p, r]) => [p, `${r.nextHop} ${r.asPath}`]))]));

describe.skipIf(missing !== null)('BMP to pmbmpd', () => {
  it('a late station holds every path of each peer and the Loc-RIB, then follows live changes and Peer Downs', async () => {
    const l = await startLab(add, HOST, [
      { address: A, 'remote-as': 65301, 'add-path': 'receive', families: ['ipv4-unicast', 'ipv6-unicast'], ...OPEN_POLICY },
      { address: B, 'remote-as': 65302, ...OPEN_POLICY },
    ], { prefixes: 16384, prefixes6: 4096 });
    const api = new ApiServer(l.speaker, { native: false });
    const apiPort = await api.listen('127.0.0.1', 0);
    add(() => api.close());
    const rows = async (): Promise<Row[]> => {
      const text = await (await fetch(`http://127.0.0.1:${apiPort}/rib?format=ndjson`)).text();
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Row);
    };

    const a = await l.peer(A, 65301, {
      caps: [
        ...defaultCaps(65301),
        { code: CapabilityCode.Multiprotocol, afi: 2, safi: 1 } as Capability,
        { code: CapabilityCode.AddPath, families: [{ afi: 1, safi: 1, mode: AddPathMode.Send }] } as Capability,
      ],
    });
    const b = await l.peer(B, 65302, { caps: defaultCaps(65302).filter((c) => c.code !== CapabilityCode.FourOctetAs) });
    // A: 3,000 IPv4 prefixes in UPDATEs of 100 (path id 1), a second path (id 2) for 300 of
    // them, 300 IPv6 prefixes. B: 2,000, half of them A's.
    for (let g = 0; g < 30; g++) {
      const prefixes = Array.from({ length: 100 }, (_, k) => ({ prefix: v4(g * 100 + k), pathId: 1 }));
      a.send(announce(attrs([65301, 3356, 64500 + g], [], '198.18.72.2'), prefixes, AP));
    }
    for (let g = 0; g < 3; g++) {
      a.send(announce(attrs([65301, 1299, 200000 + g], [], '198.18.72.22'), Array.from({ length: 100 }, (_, k) => ({ prefix: v4(g * 100 + k), pathId: 2 })), AP));
      a.send(announce(route6([65301, 6939, 64600 + g], Array.from({ length: 100 }, (_, k) => v6(g * 100 + k))), [], AP));
    }
    for (let g = 0; g < 20; g++) {
      b.send(announce(attrs([65302, 174, 64700 + g], [], '198.18.72.3'), Array.from({ length: 100 }, (_, k) => v4(1500 + g * 100 + k)), { asn4: false }));
    }
    const held = (addr: string) => l.speaker.receivedPaths(l.speaker.neighbors.get(addr)!);
    await until(() => held(A) === 3600 && held(B) === 2000, 15000, 'every path held');

    // The station comes late: everything so far comes from the RIB.
    const station = await Pmbmpd.start('127.0.0.1');
    add(() => station.stop());
    const bmp = new BmpExporter(l.speaker, [bmpStation(`127.0.0.1:${station.port}`, 'test', { monitoring: ['pre-policy', 'local-rib'], statisticsInterval: 1 })]);
    bmp.start();
    add(() => bmp.stop());
    await until(() => station.events().some((e) => e.bmp_msg_type === 'peer_up' && e.is_loc === 1), 10000, 'the Peer Ups at the station');

    // Live: A withdraws 200 paths and announces 500 new prefixes; B replaces 100 paths.
    a.send(withdraw(Array.from({ length: 200 }, (_, k) => ({ prefix: v4(1000 + k), pathId: 1 })), AP));
    a.send(announce(attrs([65301, 2914], [], '198.18.72.2'), Array.from({ length: 500 }, (_, k) => ({ prefix: v4(4000 + k), pathId: 1 })), AP));
    b.send(announce(attrs([65302, 3257], [], '198.18.72.3'), Array.from({ length: 100 }, (_, k) => v4(3000 + k)), { asn4: false }));
    await until(() => held(A) === 3900, 10000, 'the live changes held');

    let expected = plain(ribTables(await rows()));
    let got = {};
    for (const deadline = Date.now() + 30000; Date.now() < deadline; await sleep(300)) {
      got = plain(stationTables(station.events()));
      if (JSON.stringify(got) === JSON.stringify(expected)) break;
      expected = plain(ribTables(await rows()));
    }
    expect(Object.keys(expected).sort()).toEqual([A, B, 'loc-rib'].sort());
    expect(Object.keys((expected as Record<string, object>)[A]).length).toBe(3900);
    expect(got).toEqual(expected);

    const events = station.events();
    const init = events.find((e) => e.bmp_msg_type === 'init');
    expect(String(init?.bmp_init_info_sysdescr)).toMatch(/^ribstorm/);
    const ups = events.filter((e) => e.bmp_msg_type === 'peer_up');
    expect(ups.map((e) => [e.peer_ip, e.peer_asn, e.peer_type])).toEqual([[A, 65301, 0], [B, 65302, 0], ['0.0.0.0', 65000, 3]]);
    expect(ups.find((e) => e.peer_ip === A)?.local_ip).toBe(HOST);
    expect(ups.find((e) => e.peer_ip === A)?.remote_port).toBe(a.socket.localPort);
    await until(() => station.events().some((e) => e.bmp_msg_type === 'stats' && e.peer_ip === A && e.counter_type === 7 && e.counter_value === 3900), 5000, 'a Statistics Report with A’s 3,900 paths');

    // B sends a Cease: Peer Down reason 3 (remote, NOTIFICATION follows); its routes leave the Loc-RIB.
    b.send(encodeNotification(cease(CeaseSubcode.AdministrativeShutdown, 'bye')));
    // ribstorm stops A: Peer Down reason 1 (local, NOTIFICATION follows).
    await until(() => held(B) === 0, 5000, 'B flushed');
    l.speaker.neighbors.get(A)!.stop('maintenance');
    await until(() => held(A) === 0, 5000, 'A flushed');
    await until(() => station.events().filter((e) => e.bmp_msg_type === 'peer_down').length === 2, 5000, 'two Peer Downs at the station');
    const downs = station.events().filter((e) => e.bmp_msg_type === 'peer_down');
    expect(downs.map((e) => [e.peer_ip, e.reason_type])).toEqual([[B, 3], [A, 1]]);
    await until(() => (stationTables(station.events()).get('loc-rib')?.size ?? 0) === 0, 5000, 'the Loc-RIB emptied at the station');
    expect([...stationTables(station.events()).keys()].filter((k) => k !== 'loc-rib')).toEqual([]);
    expect(logs.some((line) => line.includes(`BMP station 127.0.0.1:${station.port}: connected`))).toBe(true);
  }, 90_000);
});
