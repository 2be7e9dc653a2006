// GET /neighbors and GET /rib?prefix=… are written as text field by field rather than through
// JSON.stringify: the text must be exactly what JSON.stringify gives for the objects the
// views build (summary(), peer(), lookup()'s rows), whatever the peers' states and attributes.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { peerJson, type PeerSummary } from '../../src/api/neighborView.js';
import { ApiServer } from '../../src/api/server.js';
import { AttrType } from '../../src/packet/index.js';
import { captureLog, until } from '../helpers/rawPeer.js';
import { announce, attrs, communities, med, O, OPEN_POLICY, otc, startLab, T, useCleanup } from '../helpers/lab.js';

const add = useCleanup();
beforeAll(() => {
  captureLog();
});

const HOST = '127.0.62.1';
const A = '127.0.62.2';
const B = '127.0.62.3';
const SILENT = '127.0.62.4';

describe('the API written as text', () => {
  it('peerJson: JSON.stringify of any summary, absent and odd fields included', () => {
    const n = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, -0, 2 ** 53));
    const s = fc.string({ unit: 'binary' });
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const fam = fc.record({ pfxRcd: n, pfxAccepted: n, pfxFiltered: n, pfxSnt: n });
    const r7606 = fc.record({ treatAsWithdraw: n, prefixesTreatAsWithdraw: n, attributesDiscarded: n });
    const summary = fc.record({
      remoteAs: n,
      localAs: n,
      description: opt(s),
      state: fc.constantFrom('Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'),
      adminState: fc.constantFrom('up', 'down'),
      peerState: fc.constantFrom('OK', 'Admin', 'Passive', 'Idle'),
      peerUptime: s,
      peerUptimeMsec: n,
      msgRcvd: n,
      msgSent: n,
      outq: n,
      pfxRcd: n,
      pfxAccepted: n,
      pfxFiltered: n,
      pfxSnt: n,
      ipv4Unicast: fam,
      ipv6Unicast: fam,
      connectionsEstablished: n,
      connectionsDropped: n,
      capabilities: fc.record({ local: fc.array(s), remote: fc.array(s) }),
      rfc7606: fc.record({ ipv4Unicast: r7606, ipv6Unicast: r7606, resets: fc.dictionary(s, n) }),
      peerUptimeEstablishedEpoch: opt(n),
      prefixLimit: opt(fc.record({ maxPrefixes: n, action: s, warningThresholdPct: n })),
      lastResetDueTo: opt(s),
      lastResetCode: opt(s),
      holdTime: opt(n),
      keepalive: opt(n),
    });
    fc.assert(
      fc.property(summary, (p) => {
        expect(peerJson(p as PeerSummary)).toBe(JSON.stringify(p));
      }),
      { numRuns: 2000 },
    );
  });

  it('GET /neighbors and GET /rib?prefix=…: the same text as JSON.stringify of the views', async () => {
    const l = await startLab(add, HOST, [
      { address: A, 'remote-as': 65202, description: 'upstream "A"\n', 'max-prefix': { limit: 1000, action: 'warn' }, ...OPEN_POLICY },
      { address: B, 'remote-as': 65203, ...OPEN_POLICY },
      { address: SILENT, 'remote-as': 65204, ...OPEN_POLICY },
    ]);
    const api = new ApiServer(l.speaker);
    const rib = api.rib!;
    const a = await l.peer(A, 65202);
    const b = await l.peer(B, 65203);
    const rich = attrs([65202, 3356, 174], [
      med(7),
      { type: AttrType.LOCAL_PREF, flags: T, localPref: 200 },
      { type: AttrType.ATOMIC_AGGREGATE, flags: T },
      { type: AttrType.AGGREGATOR, flags: O | T, asn: 65202, address: '192.0.2.9' },
      communities(0xfde80001, 0xffffff01),
      { type: AttrType.EXTENDED_COMMUNITIES, flags: O | T, extendedCommunities: [Uint8Array.of(0, 2, 0xfd, 0xe8, 0, 0, 0, 1)] },
      { type: AttrType.LARGE_COMMUNITY, flags: O | T, largeCommunities: [[65202, 1, 2]] },
      otc(65202),
    ]);
    a.send(announce(rich, ['10.62.0.0/16', '10.62.1.0/24', '10.62.1.128/25']));
    b.send(announce(attrs([65203, 174]), ['10.62.1.0/24', '10.62.2.0/24']));
    await until(() => l.speaker.receivedPaths(l.speaker.neighbors.get(A)!) === 3 && l.speaker.receivedPaths(l.speaker.neighbors.get(B)!) === 2, 5000, 'routes held');

    const now = Date.now();
    const counts = rib.counts();
    expect(api.neighbors.summaryJson(counts, now)).toBe(JSON.stringify(api.neighbors.summary(counts, now)));
    expect(api.neighbors.summaryJson(null, now)).toBe(JSON.stringify(api.neighbors.summary(null, now)));

    // Rows carry their age in seconds: compared within one second, or once more.
    const same = (prefix: string, match: 'exact' | 'longest' | 'longer', peer?: number) => {
      for (let i = 0; ; i++) {
        const before = Math.floor(Date.now() / 1000);
        const r = rib.lookup(prefix, match, peer);
        const json = rib.lookupJson(prefix, match, rib.matches(prefix, match, peer));
        const ndjson = rib.lookupNdjson(rib.matches(prefix, match, peer));
        if (Math.floor(Date.now() / 1000) !== before && i < 3) continue;
        expect(json).toBe(JSON.stringify({ prefix, match, routes: r.routes, ...(r.truncated ? { truncated: true } : {}) }));
        expect(ndjson).toBe(r.routes.flatMap((x) => x.paths.map((p) => JSON.stringify(p) + '\n')).join(''));
        return r.routes.length;
      }
    };
    expect(same('10.62.1.200', 'longest')).toBe(1);
    expect(same('10.62.1.7', 'longest')).toBe(1);
    expect(same('10.62.1.0/24', 'exact')).toBe(1);
    expect(same('10.62.0.0/16', 'longer')).toBe(4);
    expect(same('10.62.0.0/16', 'longer', rib.peerFilter(B))).toBe(2);
    expect(same('10.99.0.0/16', 'longer')).toBe(0);
    expect(same('192.0.2.1', 'longest')).toBe(0);
  });
});
